"""The governance model: RACI matrix, role assignments, decision rights, SLAs, escalation chains."""

from __future__ import annotations

import re
from typing import Any

from governance_store.importers.context import (
    Row,
    Run,
    fold,
    parse_date,
    parse_int,
    parse_numbered_choice,
    split_list,
)
from governance_store.importers.csvio import CsvFile
from governance_store.importers.index import LINE_LEVELS, People, Places, Systems, Teams
from governance_store.importers.org import first_seen
from governance_store.models import (
    Activity,
    DecisionRight,
    EscalationChain,
    EscalationLevel,
    RaciEntry,
    RaciLetter,
    Role,
    RoleAssignment,
    ScopeType,
    SlaPolicy,
)

RACI_FIXED_COLUMNS = {"activity_id", "process_area", "activity", "scope", "notes", "note", "activity_name"}
LETTERS = {letter.value for letter in RaciLetter}
TARGET_TYPES = {"team", "person", "role"}
# The clock a schedule or an escalation level runs on: around the clock, or the site's business hours.
CLOCKS = {"24x7": "24x7", "24/7": "24x7", "always": "24x7", "business": "business",
          "business hours": "business", "business_hours": "business", "site business hours": "business"}


def parse_clock(value: str) -> str | None:
    if not value:
        return None
    clock = CLOCKS.get(" ".join(value.strip().lower().replace("_", " ").split()))
    if clock is None:
        raise ValueError(f"expected 24x7 or business (the site's business hours), got {value!r}")
    return clock


def scope_kind(value: str) -> str | None:
    """``per site`` is ``site``, ``global`` stays ``global``."""
    v = value.strip().lower()
    if not v:
        return None
    if v.startswith("per "):
        v = v[4:]
    return v.replace(" ", "_")


class Roles:
    def __init__(self, run: Run) -> None:
        self.state = run.table(Role)
        self.by_name = {fold(r.name): r for r in self.state.live()}

    @classmethod
    def of(cls, run: Run) -> Roles:
        if "roles" not in run.cache:
            run.cache["roles"] = cls(run)
        return run.cache["roles"]  # type: ignore[no-any-return]

    def ensure(self, name: str, where: tuple[str, int]) -> tuple[Any, bool]:
        rec = self.by_name.get(fold(name))
        if rec is not None:
            self.state.touch(rec, where)
            return rec, False
        rec = self.state.new(where, name=name.strip())
        self.by_name[fold(name)] = rec
        return rec, True


def parse_cell(value: str) -> list[str]:
    """``A/R`` is both A and R; empty is none.  Anything but R, A, C, I is refused."""
    v = value.strip().upper().replace(" ", "")
    if not v:
        return []
    letters = [p for p in re.split(r"[/,+&]", v) if p]
    if not letters or any(p not in LETTERS for p in letters):
        raise ValueError(f"invalid RACI cell {value!r} (expected R, A, C, I or a combination such as A/R)")
    return sorted(set(letters), key="RACI".index)


def import_raci(run: Run, f: CsvFile) -> None:
    roles = Roles.of(run)
    activities = run.table(Activity)
    entries = run.table(RaciEntry)
    by_activity = {fold(a.activity_id): a for a in activities.live()}
    existing: dict[tuple[int, int, str], Any] = {}
    entries_of: dict[int, list[Any]] = {}
    for e in entries.live():
        existing[(e.activity_id, e.role_id, e.letter)] = e
        entries_of.setdefault(e.activity_id, []).append(e)
    role_columns = [(col, head) for col, head in zip(f.columns, f.header, strict=True)
                    if col not in RACI_FIXED_COLUMNS]
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        activity_id = row.required("activity_id")
        name = row["activity"] or row["activity_name"]
        if not name:
            row.fail("activity is empty")
        cells: list[tuple[str, str]] = []
        for col, role_name in role_columns:
            try:
                for letter in parse_cell(row[col]):
                    cells.append((role_name, letter))
            except ValueError as exc:
                row.fail(f"{role_name}: {exc}")
        if first_seen(seen, activity_id, row, "activity_id") or row.bad:
            continue
        activity = activities.upsert(
            by_activity.get(fold(activity_id)), row.where, activity_id=activity_id, name=name,
            process_area=row["process_area"] or None, scope_kind=scope_kind(row["scope"]),
            notes=row["notes"] or row["note"] or None,
        )
        by_activity[fold(activity_id)] = activity
        wanted: set[int] = set()
        for role_name, letter in cells:
            role, _created = roles.ensure(role_name, row.where)
            key = (activity.id, role.id, letter)
            rec = existing.get(key)
            if rec is None:
                rec = entries.new(row.where, activity_id=activity.id, role_id=role.id, letter=letter)
                existing[key] = rec
            else:
                entries.touch(rec, row.where)
            wanted.add(rec.id)
        for rec in entries_of.get(activity.id, ()):
            if rec.id not in wanted:
                entries.remove(rec)


_ACTING = re.compile(
    r"acting\s+(?:since|for)\s+(?P<who>.+?)(?:\s+(?:left|leaving|departed)(?:\s+on)?\s+(?P<date>\d{4}-\d{2}-\d{2}))?"
    r"\s*(?:[;,)]|$)",
    re.I,
)


def _scope(run: Run, value: str) -> tuple[str, str] | None:
    v = value.strip()
    if v.upper() in ("GLOBAL", "*", "ALL", "ENTERPRISE"):
        return ScopeType.GLOBAL.value, ""
    places = Places.of(run)
    site = places.site_by_code.get(fold(v))
    if site is not None:
        return ScopeType.SITE.value, site.code
    node = places.node(v)
    if node is not None:
        if node.level == "area":
            return ScopeType.AREA.value, node.node_id
        if node.level in LINE_LEVELS or node.level == "work_cell":
            return ScopeType.LINE.value, node.node_id
        if node.level == "site" and node.site_code:
            return ScopeType.SITE.value, node.site_code
        if node.level == "enterprise":
            return ScopeType.GLOBAL.value, ""
    system, _problem = Systems.of(run).find_ref(v)
    if system is not None:
        return ScopeType.SYSTEM.value, system.key
    return None


def import_role_assignments(run: Run, f: CsvFile) -> None:
    roles = Roles.of(run)
    people = People.of(run)
    teams = Teams.of(run)
    state = run.table(RoleAssignment)
    existing: dict[tuple[Any, ...], Any] = {}
    for r in state.live():
        holder = ("person", r.person_id) if r.person_id is not None else ("team", r.team_id)
        existing[(r.role_id, r.scope_type, r.scope_key, *holder)] = r
    seen: dict[str, int] = {}
    created_roles: list[str] = []
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        role_name = row.required("role")
        scope_ref = row.required("scope")
        holder_name = row.required("holder")
        holder_type = (row["holder_type"] or "person").lower()
        if holder_type not in ("person", "team"):
            row.fail(f"holder_type: invalid value {row['holder_type']!r} (expected person or team)")
        scope = _scope(run, scope_ref) if scope_ref else None
        if scope_ref and scope is None:
            row.fail(f"scope: unknown scope {scope_ref!r} (not GLOBAL, a site, an ISA-95 node or a system)")
        valid_from = row.parse(parse_date, "valid_from")
        valid_to = row.parse(parse_date, "valid_to")
        person = team = None
        if holder_type == "person" and holder_name:
            ref = row["holder_upn"] or holder_name
            person, problem = people.find(ref)
            if person is None and row["holder_upn"]:
                person, _ = people.find(holder_name)
            if person is None:
                row.fail(f"holder: {problem}")
        elif holder_type == "team" and holder_name:
            team = teams.find(holder_name)
            if team is None:
                row.fail(f"holder: unknown team {holder_name!r}")
        if row.bad:
            continue
        assert scope is not None and (person is not None or team is not None)
        holder = ("person", person.id) if person is not None else ("team", team.id)  # type: ignore[union-attr]
        if first_seen(seen, f"{fold(role_name)}|{scope[0]}|{scope[1]}|{holder[0]}|{holder[1]}", row,
                      "role assignment"):
            continue
        role, created = roles.ensure(role_name, row.where)
        if created:
            created_roles.append(role_name)
        note = row["note"] or row["notes"] or None
        acting_for = _acting_for(run, people, note, row)
        key = (role.id, scope[0], scope[1], *holder)
        existing[key] = state.upsert(
            existing.get(key), row.where, role_id=role.id, scope_type=scope[0], scope_key=scope[1],
            person_id=person.id if person is not None else None, team_id=team.id if team is not None else None,
            holder_name=holder_name, acting_for_id=acting_for.id if acting_for is not None else None,
            valid_from=valid_from, valid_to=valid_to, note=note,
        )
    if created_roles:
        run.note(f"{f.label}: role(s) not in the RACI matrix were added: {', '.join(created_roles)}")
    stale = [r for r in state.live() if r.id > 0 and not r._touched]
    if stale and not any(e.file == f.label for e in run.errors):
        names = {r.id: r.name for r in roles.state.live()}
        shown = ", ".join(f"{names.get(r.role_id, '?')}@{r.scope_key or 'GLOBAL'} ({r.holder_name})" for r in stale[:5])
        more = f" and {len(stale) - 5} more" if len(stale) > 5 else ""
        run.note(f"{f.label}: {len(stale)} role assignment(s) in the store are not in this file and were kept: "
                 f"{shown}{more}")


def _acting_for(run: Run, people: People, note: str | None, row: Row) -> Any:
    """``acting since G. Maddox left 2025-02-28``: whom the holder stands in for, and when they left."""
    if not note:
        return None
    m = _ACTING.search(note)
    if not m:
        return None
    who = m.group("who").strip(" .")
    person = people.find_initial_surname(who)
    if person is None:
        person, _problem = people.find(who)
    if person is None:
        run.note(f"{row.file.label}:{row.line}: acting for {who!r}, who matches no one; not linked")
        return None
    when = m.group("date")
    if when and not person.active:
        left = parse_date(when)
        if person.left_on != left:
            person.left_on = left
        people.state.touch(person)
    return person


def import_decision_rights(run: Run, f: CsvFile) -> None:
    state = run.table(DecisionRight)
    existing = {fold(r.decision_id): r for r in state.live()}
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        decision_id = row.required("decision_id")
        decision = row.required("decision")
        owner = row.required("decision_owner_role")
        if first_seen(seen, decision_id, row, "decision_id") or row.bad:
            continue
        existing[fold(decision_id)] = state.upsert(
            existing.get(fold(decision_id)), row.where, decision_id=decision_id, decision=decision,
            scope_kind=scope_kind(row["scope"]), owner_role=owner, must_consult=split_list(row["must_consult"]),
            may_veto=row["may_veto"] or None, informed=split_list(row["informed"]),
            escalation_role=row["escalation_role"] or None,
            evidence_required=row["evidence_required"] or None, reference=row["reference"] or None,
        )


def import_sla(run: Run, f: CsvFile) -> None:
    state = run.table(SlaPolicy)
    by_id = {fold(r.policy_id): r for r in state.live()}
    by_cell = {(r.criticality, r.priority): r for r in state.live()}
    seen: dict[str, int] = {}
    seen_cell: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        policy_id = row.required("policy_id")
        crit = row.parse(parse_numbered_choice, "business_criticality", 1, 4, "criticality")
        prio = row.parse(parse_numbered_choice, "priority", 1, 5, "priority")
        response = row.parse(parse_int, "response_target_minutes")
        row.parse(parse_clock, "schedule")
        resolution = row.parse(parse_int, "resolution_target_hours")
        for column, value in (("business_criticality", crit), ("priority", prio),
                              ("response_target_minutes", response), ("resolution_target_hours", resolution)):
            if value is None and not row[column]:
                row.fail(f"{column} is empty")
        if first_seen(seen, policy_id, row, "policy_id") or row.bad:
            continue
        if first_seen(seen_cell, f"{crit}/{prio}", row, "criticality/priority pair"):
            continue
        rec = by_id.get(fold(policy_id))
        other = by_cell.get((crit, prio))
        if other is not None and other is not rec:
            row.fail(f"criticality {crit} / priority {prio} is already covered by policy {other.policy_id}")
            continue
        rec = state.upsert(
            rec, row.where, policy_id=policy_id, criticality=crit, priority=prio, response_minutes=response,
            resolution_hours=resolution, schedule=row["schedule"] or "24x7",
            notify_at_pct=split_list(row["breach_notify_at_pct"]),
        )
        by_id[fold(policy_id)] = rec
        by_cell[(crit, prio)] = rec


def import_escalation(run: Run, f: CsvFile) -> None:
    people = People.of(run)
    teams = Teams.of(run)
    chains = run.table(EscalationChain)
    levels = run.table(EscalationLevel)
    by_chain = {fold(c.chain_id): c for c in chains.live()}
    level_of = {(lv.chain_id, lv.level): lv for lv in levels.live()}
    chain_rows: dict[str, tuple[list[str], str, int]] = {}
    seen: dict[str, int] = {}
    wanted: dict[int, set[int]] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        chain_id = row.required("chain_id")
        level = row.parse(parse_int, "level")
        after = row.parse(parse_int, "after_minutes")
        if level is None and not row["level"]:
            row.fail("level is empty")
        if after is None and not row["after_minutes"]:
            row.fail("after_minutes is empty")
        target_type = row["target_type"].lower()
        if target_type not in TARGET_TYPES:
            row.fail(f"target_type: invalid value {row['target_type']!r} (expected team, person or role)")
        targets = split_list(row["target"])
        if not targets:
            row.fail("target is empty")
        for target in targets:
            if "{" in target:
                continue
            if target_type == "person":
                person, problem = people.find(target)
                if person is None:
                    row.fail(f"target: {problem}")
            elif target_type == "team" and teams.find(target) is None:
                row.fail(f"target: unknown team {target!r}")
        clock = row.parse(parse_clock, "hours")
        groups = split_list(row["applies_to_support_group"] or row["applies_to_groups"])
        site_code = row["site_code"] or "*"
        if chain_id:
            first = chain_rows.setdefault(fold(chain_id), (groups, site_code, line))
            if (first[0], first[1]) != (groups, site_code):
                row.fail(f"chain {chain_id!r} has a different support group or site than on line {first[2]}")
        if first_seen(seen, f"{chain_id}|{level}", row, "chain level") or row.bad:
            continue
        chain = chains.upsert(by_chain.get(fold(chain_id)), row.where, chain_id=chain_id,
                              applies_to_groups=groups, site_code=site_code)
        by_chain[fold(chain_id)] = chain
        key = (chain.id, level)
        rec = levels.upsert(
            level_of.get(key), row.where, chain_id=chain.id, level=level, after_minutes=after,
            target_type=target_type, targets=targets, channels=split_list(row["channel"] or row["channels"]),
            hours=clock or "24x7", note=row["note"] or None,
        )
        level_of[key] = rec
        wanted.setdefault(chain.id, set()).add(rec.id)
    for (chain_id, _level), rec in level_of.items():
        if chain_id in wanted and rec.id not in wanted[chain_id] and not rec._removed:
            levels.remove(rec)
