"""Teams: the flat team list and ServiceNow groups merge by name; members come from both."""

from __future__ import annotations

from typing import Any

from governance_store.importers.context import Row, Run, fold, parse_bool, split_list
from governance_store.importers.csvio import CsvFile
from governance_store.importers.index import People, Teams
from governance_store.importers.org import first_seen
from governance_store.models import TeamMember


class Members:
    def __init__(self, run: Run) -> None:
        self.state = run.table(TeamMember)
        self.by_pair = {(r.team_id, r.person_id): r for r in self.state.live()}

    @classmethod
    def of(cls, run: Run) -> Members:
        if "members" not in run.cache:
            run.cache["members"] = cls(run)
        return run.cache["members"]  # type: ignore[no-any-return]

    def ensure(self, team: Any, person: Any, where: tuple[str, int]) -> None:
        key = (team.id, person.id)
        rec = self.by_pair.get(key)
        if rec is None:
            self.by_pair[key] = self.state.new(where, team_id=team.id, person_id=person.id)
        else:
            self.state.touch(rec, where)


def _person(row: Row, people: People, column: str, ref: str) -> Any:
    person, problem = people.find(ref)
    if person is None and ref:
        row.fail(f"{column}: {problem}")
    return person


def import_teams(run: Run, f: CsvFile) -> None:
    people = People.of(run)
    teams = Teams.of(run)
    members = Members.of(run)
    seen_name: dict[str, int] = {}
    seen_key: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        name = row.required("name")
        key = row["team_id"] or None
        manager = _person(row, people, "manager", row["manager"])
        member_recs = [_person(row, people, "members", m) for m in split_list(row["members"])]
        if first_seen(seen_name, name, row, "team name") or first_seen(seen_key, key or "", row, "team_id"):
            continue
        if row.bad:
            continue
        rec = teams.find(name) or (teams.find(key) if key else None)
        site = row["site_code"] or None
        fields = {
            "name": name, "team_key": key, "kind": row["kind"] or None,
            "site_code": None if site and site.upper() == "GLOBAL" else site,
            "manager_id": manager.id if manager is not None else None,
            "email": row["email"] or None, "description": row["description"] or None,
        }
        if row["channel"]:
            fields["channel"] = row["channel"]
        rec = teams.state.upsert(rec, row.where, **fields)
        teams.add(rec)
        for person in member_recs:
            members.ensure(rec, person, row.where)


def import_groups(run: Run, f: CsvFile) -> None:
    people = People.of(run)
    teams = Teams.of(run)
    seen_ids: dict[str, int] = {}
    seen_name: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        sys_id = row.required("sys_id")
        name = row.required("name")
        active = row.parse(parse_bool, "active")
        manager = _person(row, people, "manager", row["manager"])
        if first_seen(seen_ids, sys_id, row, "sys_id") or first_seen(seen_name, name, row, "group name"):
            continue
        if row.bad:
            continue
        rec = teams.find(sys_id) or teams.find(name)
        values_: dict[str, Any] = {
            "manager_id": manager.id if manager is not None else None,
            "email": row["email"] or None, "description": row["description"] or None,
        }
        if rec is None:
            rec = teams.state.new(row.where, name=name, active=active is not False, **values_)
        else:
            teams.state.touch(rec, row.where)
            # The team list is the richer source: the group only fills what it left empty.
            for column, value in values_.items():
                if value is not None and (rec.team_key is None or getattr(rec, column) is None):
                    setattr(rec, column, value)
            rec.active = active is not False
        rec.servicenow_sys_id = sys_id
        teams.add(rec)


def import_group_members(run: Run, f: CsvFile) -> None:
    people = People.of(run)
    teams = Teams.of(run)
    members = Members.of(run)
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        group_ref = row.required("group")
        user_ref = row.required("user")
        team = teams.find(group_ref)
        if group_ref and team is None:
            row.fail(f"group: unknown group {group_ref!r}")
        person = _person(row, people, "user", user_ref)
        pair = f"{fold(group_ref)}\x00{fold(user_ref)}"
        if first_seen(seen, row["sys_id"] or pair, row, "membership") or row.bad:
            continue
        members.ensure(team, person, row.where)


def import_entra_group_members(run: Run, f: CsvFile) -> None:
    """Entra ID group members join the team of the same name (groups no team is named after are noted).

    Like ServiceNow group memberships, members are added; a membership is never removed here."""
    people = People.of(run)
    teams = Teams.of(run)
    members = Members.of(run)
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        group = row.required("group")
        member_id = row.required("member_id")
        if first_seen(seen, f"{row['group_id']}\x00{member_id}", row, "membership") or row.bad:
            continue
        team = teams.find(group)
        if team is None:
            run.tally(f"{f.label}: group {{key!r}} matches no team; its members are not used ({{n}} row{{s}})",
                      group)
            continue
        person = people.get(people.by_aad.get(member_id.lower()))
        if person is None and row["member_userprincipalname"]:
            person, _problem = people.find(row["member_userprincipalname"])
        if person is None:
            run.tally(f"{f.label}: {{n}} member{{s}} of {{key!r}} match nobody in the directory", group)
            continue
        members.ensure(team, person, row.where)
