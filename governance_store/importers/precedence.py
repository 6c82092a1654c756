"""Facts confirmed in govbot outrank an import that disagrees: :func:`keep_confirmed_facts`.

The import pipeline calls it once, after every file has been applied to the working copy and before the
changes are planned, so every way into the store (``govbot import``, a dry run, a live source's sync)
keeps them alike.  For each confirmed fact (:mod:`governance_store.facts`) on a row the run touched:

* the import agrees: nothing to do (an earlier disagreement, if any, is settled);
* the import disagrees, or would remove the row: the row keeps govbot's value (and stays), the
  disagreement is returned for the import's summary and, unless it is a dry run, recorded on the fact, so
  the governance lint raises it as a finding for the owner until someone keeps one value or the other.

An import that says nothing about a column (a file kind that does not carry it) is silence, not
agreement: only the file kinds in :data:`CARRIED_BY` settle a disagreement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from governance_store.facts import ACCOUNTABLE_ROLE, value_of
from governance_store.importers.context import Run
from governance_store.models import Activity, ConfirmedFact, Person, RaciEntry, Role, Team

# Which file kinds speak for a column: only they can agree with a confirmed value.
CARRIED_BY: dict[tuple[str, str], tuple[str, ...]] = {
    ("systems", "owner_id"): ("cmdb_ci", "cmdb_ci_raw"),
    ("systems", "technical_manager_id"): ("cmdb_ci", "cmdb_ci_raw"),
    ("systems", "install_status"): ("cmdb_ci", "cmdb_ci_raw"),
    ("systems", "managed_by_team_id"): ("cmdb_ci", "cmdb_ci_raw"),
    ("systems", "support_team_id"): ("cmdb_ci", "cmdb_ci_raw"),
    ("systems", "assignment_team_id"): ("cmdb_ci", "cmdb_ci_raw"),
    ("systems", "support_group_name"): ("cmdb_ci", "cmdb_ci_raw"),
    ("systems", "assignment_group_name"): ("cmdb_ci", "cmdb_ci_raw"),
    ("systems", "managed_by_group_name"): ("cmdb_ci", "cmdb_ci_raw"),
    ("teams", "manager_id"): ("servicenow_sys_user_group", "teams"),
    ("chat_identities", "person_id"): ("slack_users",),
    ("escalation_levels", "targets"): ("escalation_chains",),
    ("activities", ACCOUNTABLE_ROLE): ("raci_matrix",),
}
# Columns that name a person or a team: shown (and remembered) by name, not by id.
PERSON_COLUMNS = {"owner_id", "technical_manager_id", "manager_id", "person_id", "data_steward_id"}
TEAM_COLUMNS = {"managed_by_team_id", "support_team_id", "assignment_team_id"}


@dataclass(frozen=True)
class KeptFact:
    """One confirmed fact an import disagreed with, and kept."""

    subject: str  # what the fact is about: "PLC-FIL-L3-07 owner"
    kept: str  # govbot's value, and how it was confirmed
    imported: str  # what the import said ("(removed)" when it would have removed the row)
    fact_id: int
    table: str = ""

    def __str__(self) -> str:
        return f"{self.subject}: the import says {self.imported}; govbot keeps {self.kept}"

    def as_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "kept": self.kept, "imported": self.imported}


def _name(run: Run, table: str, model: Any, attr: str, value: Any) -> str | None:
    """A person's or team's name for an id of the working copy (new rows have negative ids) or the store."""
    if value is None:
        return None
    state = run.tables.get(table)
    rec = state.rows.get(value) if state is not None else None
    if rec is not None:
        return str(getattr(rec, attr))
    row = run.session.get(model, value) if value > 0 else None
    return str(getattr(row, attr)) if row is not None else None


def describe(run: Run, column: str, value: Any) -> tuple[str, dict[str, Any]]:
    """How a value reads to people, and how it is remembered (persons by e-mail, teams by name)."""
    if column in PERSON_COLUMNS:
        name = _name(run, "people", Person, "display_name", value)
        email = _name(run, "people", Person, "email", value)
        return (name or "nobody"), {"v": value if isinstance(value, int) and value > 0 else None, "email": email}
    if column in TEAM_COLUMNS:
        name = _name(run, "teams", Team, "name", value)
        return (name or "no team"), {"v": value if isinstance(value, int) and value > 0 else None, "name": name}
    if isinstance(value, list):
        return (", ".join(str(v) for v in value) or "nothing"), {"v": value}
    return ("nothing" if value in (None, "") else str(value)), {"v": value}


def _subject(fact: ConfirmedFact) -> str:
    return fact.label.split(":", 1)[0].strip() or fact.label


def _kept_text(fact: ConfirmedFact) -> str:
    value = fact.label.split(":", 1)[1].strip() if ":" in fact.label else str(value_of(fact))
    return f"{value} ({fact.how} {fact.confirmed_at:%Y-%m-%d})"


def keep_confirmed_facts(run: Run, *, now: dt.datetime, record: bool) -> list[KeptFact]:
    """Keep every confirmed fact the run would overwrite; returns what was kept (for the summary).

    ``record``: remember each disagreement on its fact (and settle those the import now agrees with);
    false for a dry run, which changes nothing."""
    facts = list(run.session.scalars(select(ConfirmedFact).order_by(ConfirmedFact.id)).all())
    if not facts:
        return []
    kinds = {f.kind for f in run.files}
    kept: list[KeptFact] = []
    for fact in facts:
        table, column = fact.table_name, fact.column_name
        carried = bool(kinds & set(CARRIED_BY.get((table, column), ())))
        if column == ACCOUNTABLE_ROLE:
            imported = _accountable_roles(run, fact.row_id) if carried else None
            if imported is None:
                continue
            held = value_of(fact)
            if imported == [held]:
                _settle(fact, record)
                continue
            label = ", ".join(imported) if imported else "no Accountable"
            kept.append(KeptFact(_subject(fact), _kept_text(fact), f"A: {label}", fact.id, "raci_entries"))
            if record:
                _disagree(fact, {"v": imported}, f"A: {label}", now)
            continue
        state = run.tables.get(table)
        if state is None or column not in state.cols:
            continue  # the run did not load that table, or a decision only govbot keeps
        rec = state.rows.get(fact.row_id)
        if rec is None or rec._orig is None or not (rec._touched or rec._removed):
            continue  # nothing in this import is about that row
        held = value_of(fact)
        value = getattr(rec, column)
        if value == held and not rec._removed:
            if carried:
                _settle(fact, record)
            continue
        text, remembered = describe(run, column, value)
        if rec._removed:
            text, remembered = "(removed)", {"v": None, "removed": True}
            rec._removed = False
        setattr(rec, column, held)
        kept.append(KeptFact(_subject(fact), _kept_text(fact), text, fact.id, table))
        if record:
            _disagree(fact, remembered, text, now)
    return kept


def _disagree(fact: ConfirmedFact, remembered: dict[str, Any], text: str, now: dt.datetime) -> None:
    """Remember what the import said; a value the owner already chose to overrule is not raised again."""
    fact.import_value, fact.import_label = remembered, text[:300]
    if (fact.value or {}).get("settled") != text[:300]:
        fact.disagreed_at = now


def _settle(fact: ConfirmedFact, record: bool) -> None:
    if record and fact.disagreed_at is not None:
        fact.import_value, fact.import_label, fact.disagreed_at = None, None, None


def _accountable_roles(run: Run, activity_pk: int) -> list[str] | None:
    """The roles the run's RACI matrix marks A for one activity (``None``: the run has no RACI matrix)."""
    entries = run.tables.get(RaciEntry.__tablename__)
    if entries is None:
        return None
    roles = run.tables.get(Role.__tablename__)
    names: list[str] = []
    for rec in entries.live():
        if rec.activity_id != activity_pk or rec.letter != "A":
            continue
        role = roles.rows.get(rec.role_id) if roles is not None else None
        if role is not None:
            names.append(role.name)
        else:
            stored = run.session.get(Role, rec.role_id) if rec.role_id > 0 else None
            if stored is not None:
                names.append(stored.name)
    activities = run.tables.get(Activity.__tablename__)
    if activities is not None and activity_pk not in activities.rows:
        return None
    return sorted(names)
