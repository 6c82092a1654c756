"""ServiceNow change requests and their approval records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from governance_store.importers.context import (
    Row,
    Run,
    fold,
    is_sys_id,
    parse_bool,
    parse_datetime,
    parse_numbered_choice,
)
from governance_store.importers.csvio import CsvFile
from governance_store.importers.index import People, Systems, Teams
from governance_store.importers.org import first_seen
from governance_store.models import Approval, ApprovalState, ChangeRequest, ChangeState, ParticipantKind

CHANGE_STATES = {
    "new": ChangeState.SUBMITTED, "assess": ChangeState.SUBMITTED, "authorize": ChangeState.SUBMITTED,
    "scheduled": ChangeState.SCHEDULED, "implement": ChangeState.IMPLEMENTED, "review": ChangeState.IMPLEMENTED,
    "closed": ChangeState.CLOSED, "canceled": ChangeState.CANCELLED, "cancelled": ChangeState.CANCELLED,
}
RAW_CHANGE_STATES = {
    "-5": "New", "-4": "Assess", "-3": "Authorize", "-2": "Scheduled", "-1": "Implement", "0": "Review",
    "3": "Closed", "4": "Canceled",
}
CHANGE_TYPES = {"normal", "standard", "emergency"}
RAW_RISK = {"1": "Very High", "2": "High", "3": "Moderate", "4": "Low"}
RAW_IMPACT = {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low"}
APPROVAL_STATES = {
    "requested": ApprovalState.REQUESTED, "approved": ApprovalState.APPROVED,
    "rejected": ApprovalState.REJECTED, "not yet requested": ApprovalState.NOT_YET_REQUESTED,
    "not_requested": ApprovalState.NOT_YET_REQUESTED, "cancelled": ApprovalState.CANCELLED,
    "canceled": ApprovalState.CANCELLED, "no longer required": ApprovalState.CANCELLED,
    "not_required": ApprovalState.CANCELLED, "duplicate": ApprovalState.CANCELLED,
}
# Approval rows whose ``sys_updated_on`` says when they ended: decided, or withdrawn (reassigned, another
# approver rejected, the change was cancelled).
ENDED_APPROVALS = (ApprovalState.APPROVED, ApprovalState.REJECTED, ApprovalState.CANCELLED)
# ServiceNow's close code labels and their stored values; an instance may add its own choices, which are
# kept as their value (lower case, words joined by ``_``).
CLOSE_CODES = {
    "successful": "successful", "successful with issues": "successful_issues", "unsuccessful": "unsuccessful",
    "rejected": "rejected", "cancelled": "cancelled", "canceled": "cancelled",
}


def _zones(run: Run, f: CsvFile, *columns: str) -> dict[str, dt.tzinfo]:
    """The time zone of each time column: UTC in a raw export, the exporting user's in a display export."""
    if f.variant == "raw":
        return dict.fromkeys(columns, dt.UTC)
    return {c: run.display_tz(f, c) if c in f.columns else dt.UTC for c in columns}


def parse_close_code(value: str) -> str | None:
    """``"Successful with issues"`` or ``"successful_issues"`` give ``"successful_issues"``."""
    text = " ".join(value.split()).lower()
    if not text:
        return None
    code = CLOSE_CODES.get(text) or text.replace(" ", "_").replace("-", "_")
    if len(code) > 32 or not code.replace("_", "").isalnum():
        raise ValueError(f"not a close code: {value!r}")
    return code


def _person(row: Row, people: People, column: str) -> Any:
    ref = row[column]
    person, problem = people.find(ref)
    if ref and person is None:
        row.fail(f"{column}: {problem}")
    return person


def import_changes(run: Run, f: CsvFile) -> None:
    tz = _zones(run, f, "start_date", "end_date", "sys_created_on", "approval_set", "closed_at")
    people = People.of(run)
    teams = Teams.of(run)
    systems = Systems.of(run)
    state = run.table(ChangeRequest)
    by_number = {fold(c.number): c for c in state.live()}
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        number = row.required("number")
        title = row.required("short_description")
        source_state = row.required("state")
        if source_state in RAW_CHANGE_STATES:
            source_state = RAW_CHANGE_STATES[source_state]
        state_value = CHANGE_STATES.get(source_state.lower())
        if source_state and state_value is None:
            row.fail(f"state: unknown change state {row['state']!r}")
        change_type = (row["type"] or "normal").lower()
        if change_type not in CHANGE_TYPES:
            row.fail(f"type: unknown change type {row['type']!r} (expected normal, standard or emergency)")
        priority = row.parse(parse_numbered_choice, "priority", 1, 5, "priority")
        start = row.parse(parse_datetime, "start_date", tz["start_date"])
        end = row.parse(parse_datetime, "end_date", tz["end_date"])
        created = row.parse(parse_datetime, "sys_created_on", tz["sys_created_on"])
        if created is None and not row["sys_created_on"]:
            row.fail("sys_created_on is empty")
        decided = row.parse(parse_datetime, "approval_set", tz["approval_set"])
        closed = row.parse(parse_datetime, "closed_at", tz["closed_at"])
        close_code = row.parse(parse_close_code, "close_code")
        if created is not None and decided is not None and decided < created:
            row.fail(f"approval_set {row['approval_set']!r} is before sys_created_on {row['sys_created_on']!r}")
        if created is not None and closed is not None and closed < created:
            row.fail(f"closed_at {row['closed_at']!r} is before sys_created_on {row['sys_created_on']!r}")
        if state_value == ChangeState.CANCELLED and (
            close_code == "rejected" or row["approval"].strip().lower() == "rejected"
        ):
            # ServiceNow ends a rejected change as Canceled; its approval (or close code) says it was rejected.
            state_value = ChangeState.REJECTED
        cab = row.parse(parse_bool, "cab_required")
        requester = _person(row, people, "requested_by")
        assignee = _person(row, people, "assigned_to")
        system = None
        if row["cmdb_ci"]:
            system, problem = systems.find_ref(row["cmdb_ci"])
            if system is None:
                row.fail(f"cmdb_ci: {problem}")
        if first_seen(seen, number, row, "number") or row.bad:
            continue
        rec = by_number.get(fold(number))
        if rec is not None and rec.origin != "servicenow":
            run.note(f"{f.label}:{line}: {number} exists as a change raised in govbot; left unchanged")
            continue
        group = row["assignment_group"]
        team = teams.find(group)
        if group and team is None:
            run.tally(f"{f.label}: assignment_group {{key!r}} matches no team ({{n}} row{{s}})", group)
        risk = row["risk"]
        impact = row["impact"]
        rec = state.upsert(
            rec, row.where, number=number, external_id=row["sys_id"] or None, title=title,
            description=row["description"] or None, change_type=change_type,
            state=state_value.value if state_value else None, source_state=source_state,
            risk=RAW_RISK.get(risk, risk) or None, impact=RAW_IMPACT.get(impact, impact) or None,
            priority=priority, category=row["category"] or None,
            system_id=system.id if system is not None else None,
            system_name=(system.name if system is not None and is_sys_id(row["cmdb_ci"]) else row["cmdb_ci"])
            or None,
            requester_id=requester.id if requester is not None else None,
            assigned_to_id=assignee.id if assignee is not None else None,
            assignment_team_id=team.id if team is not None else None,
            planned_start=start, planned_end=end, cab_required=bool(cab), created_at=created, origin="servicenow",
            decided_at=decided, closed_at=closed, close_code=close_code,
        )
        if rec.version is None:
            rec.version = 1
        by_number[fold(number)] = rec


def import_approvals(run: Run, f: CsvFile) -> None:
    tz = _zones(run, f, "due_date", "sys_created_on", "sys_updated_on")
    people = People.of(run)
    changes = run.table(ChangeRequest)
    change_by_ref: dict[str, Any] = {}
    for c in changes.live():
        change_by_ref[fold(c.number)] = c
        if c.external_id:
            change_by_ref[fold(c.external_id)] = c
    state = run.table(Approval)
    by_external = {r.external_id: r for r in state.live() if r.external_id}
    seen: dict[str, int] = {}
    for line, values in f.rows(run.errors):
        row = Row(run, f, line, values)
        sys_id = row.required("sys_id")
        table = row["source_table"]
        if table and table != "change_request":
            run.tally(f"{f.label}: approvals for {{key}} records are not used ({{n}} row{{s}})", table)
            continue
        ref = row.required("sysapproval")
        change = change_by_ref.get(fold(ref)) if ref else None
        if ref and change is None:
            row.fail(f"sysapproval: unknown change {ref!r}")
        approver = _person(row, people, "approver")
        if not row["approver"]:
            row.fail("approver is empty")
        label = row.required("state")
        approval_state = APPROVAL_STATES.get(label.lower())
        if label and approval_state is None:
            row.fail(f"state: unknown approval state {label!r}")
        due = row.parse(parse_datetime, "due_date", tz["due_date"])
        requested = row.parse(parse_datetime, "sys_created_on", tz["sys_created_on"])
        decided = row.parse(parse_datetime, "sys_updated_on", tz["sys_updated_on"]) if row["sys_updated_on"] else None
        if requested is not None and decided is not None and decided < requested \
                and approval_state in ENDED_APPROVALS:
            row.fail(f"sys_updated_on {row['sys_updated_on']!r} is before sys_created_on {row['sys_created_on']!r}")
        if first_seen(seen, sys_id, row, "sys_id") or row.bad:
            continue
        assert change is not None and approver is not None and approval_state is not None
        if approval_state not in ENDED_APPROVALS:
            decided = None
        held = by_external.get(sys_id)
        if held is not None and held.state == ApprovalState.REROUTED.value and approval_state == ApprovalState.REQUESTED:
            # govbot re-routed it because the approver left; the export still names them as pending.
            state.touch(held, row.where)
            continue
        by_external[sys_id] = state.upsert(
            by_external.get(sys_id), row.where, external_id=sys_id, change_id=change.id,
            kind=ParticipantKind.APPROVER.value, person_id=approver.id, state=approval_state.value,
            requested_at=requested, due_at=due, decided_at=decided,
            comment=row["comments"] or row["comment"] or None,
        )


def finish_changes(run: Run) -> None:
    """An imported change was submitted when its approvals were first requested (a change without
    approval records, such as a pre-approved standard change, when it was raised).

    Runs after both change and approval files, over the working copy, so importing either file again
    gives the same value: a re-import changes nothing.
    """
    if not run.loaded(ChangeRequest):
        return
    changes = run.table(ChangeRequest)
    first: dict[int, dt.datetime] = {}
    for a in run.table(Approval).live():
        if a.kind != ParticipantKind.APPROVER.value or a.requested_at is None \
                or a.state == ApprovalState.NOT_YET_REQUESTED.value:
            continue
        seen = first.get(a.change_id)
        if seen is None or a.requested_at < seen:
            first[a.change_id] = a.requested_at
    for c in changes.live():
        if c.origin != "servicenow" or c.state == ChangeState.DRAFT.value:
            continue
        submitted = first.get(c.id, c.created_at)
        if c.submitted_at != submitted:
            c.submitted_at = submitted
