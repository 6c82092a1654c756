"""The rules of who may change what, each where it was once broken: people who left, requesters silencing
their SLA, imported history, approvals stuck on someone who left, change numbers under concurrency,
delegation windows.  Every refusal is also in the audit trail."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from governance_store import audit
from governance_store.changes import approvals_waiting_on, reroute_departed
from governance_store.models import Approval, AuditEntry, ChangeRequest, Delegation, Person, Timer
from handlers.reply import Action, Actor, Command, Reply
from notifications import sla
from notifications.sweep import sweep
from tests.conftest import CORVANE
from tests.core import handle_action, handle_command, home

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)  # Wednesday 10:00 in Findlay
JESSICA = "jessica.park@corvane.example"
LUIS = "luis.ortega@corvane.example"
GREGORY = "gregory.maddox@corvane.example"  # left on 2025-02-28
HANNAH = "hannah.kowalski@corvane.example"
BRIAN = "brian.caldwell@corvane.example"  # Plant Manager US-FDL: level 3 of the Findlay OT chain
DANIEL = "daniel.okafor@corvane.example"  # CISO: level 4


def actor(s: Session, email: str) -> Actor:
    p = s.scalars(sa.select(Person).where(Person.email == email)).one()
    return Actor(p.id, p.display_name, "test", p.email)


def say(org: sessionmaker[Session], who: str, text: str, *, now: dt.datetime = NOW) -> Reply:
    with org() as s, s.begin():
        return handle_command(Command(text=text, actor=actor(s, who)), session=s, now=now)


def click(org: sessionmaker[Session], who: str, action_id: str, value: str, *, now: dt.datetime = NOW,
          **inputs: str) -> Reply:
    with org() as s, s.begin():
        return handle_action(Action(action_id, value, actor(s, who), inputs), session=s, now=now)


def submitted(org: sessionmaker[Session], title: str = "Firmware v33", *, now: dt.datetime = NOW) -> int:
    preview = say(org, JESSICA, f'change PLC-FIL-L3-07 "{title}"', now=now)
    cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
    assert click(org, JESSICA, "cr.submit", cid, now=now).status == "submitted"
    return int(cid)


def refusals(org: sessionmaker[Session], after: int) -> list[tuple[str, str]]:
    with org() as s:
        return [(e.action, e.data.get("reason", "")) for e in s.scalars(
            sa.select(AuditEntry).where(AuditEntry.id > after, AuditEntry.action.like("%.refused"))
            .order_by(AuditEntry.id))]


def last_audit_id(org: sessionmaker[Session]) -> int:
    with org() as s:
        return s.scalar(sa.select(sa.func.max(AuditEntry.id))) or 0


# --------------------------------------------------------------------------- people who left


def test_a_person_who_left_cannot_approve_from_the_console(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The reproduction: ``printf 'approvals\\n1\\n' | govbot chat --as gregory.maddox@…``."""
    url = f"sqlite:///{tmp_path / 'govbot.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["--database-url", url, "import", str(CORVANE)]).exit_code == 0
    result = runner.invoke(main, ["--database-url", url, "chat", "--as", GREGORY], input="approvals\n1\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "You approved" not in result.output
    assert "inactive" in result.output and "left on 2025-02-28" in result.output
    listing = runner.invoke(main, ["--database-url", url, "audit", "export", "--format", "json"])
    assert '"change.approve.refused"' not in listing.output  # he never got as far as a button
    with sa.create_engine(url).connect() as conn:
        approvals = conn.execute(sa.text(
            "select a.state from approvals a join change_requests c on c.id = a.change_id "
            "join people p on p.id = a.person_id where c.number = 'CHG0031201' and p.email = :e"), {"e": GREGORY}).all()
    assert approvals == [("requested",)] or approvals == [("rerouted",)]


def test_a_person_who_left_changes_nothing_and_every_refusal_is_audited(org: sessionmaker[Session]) -> None:
    cid = submitted(org)
    before = last_audit_id(org)
    with org() as s:
        stalled = s.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == "CHG0031201")).one().id
    replies = [
        say(org, GREGORY, 'change PLC-FIL-L3-07 "Sneaky"'),
        say(org, GREGORY, "delegate Luis Ortega until 2025-06-20"),
        say(org, GREGORY, "dashboard"),
        click(org, GREGORY, "cr.approve", str(stalled)),
        click(org, GREGORY, "cr.reject", str(cid), reason="no"),
    ]
    assert all(r.status == "refused" and "inactive" in r.text for r in replies), [r.text for r in replies]
    assert refusals(org, before) == [("change.request.refused", "inactive"), ("delegation.refused", "inactive"),
                                     ("dashboard.view.refused", "inactive"), ("change.approve.refused", "inactive"),
                                     ("change.reject.refused", "inactive")]
    with org() as s:
        assert s.scalar(sa.select(sa.func.count(Delegation.id))) == 0
        assert s.get(ChangeRequest, stalled).state == "submitted"


def test_an_approver_who_leaves_after_routing_cannot_approve_and_the_approval_moves_on(
        org: sessionmaker[Session]) -> None:
    cid = submitted(org)  # routed to Luis Ortega (OT Engineering Lead)
    with org() as s, s.begin():
        luis = s.scalars(sa.select(Person).where(Person.email == LUIS)).one()
        luis.active, luis.left_on = False, dt.date(2025, 6, 4)
    before = last_audit_id(org)
    refused = click(org, LUIS, "cr.approve", str(cid))
    assert refused.status == "refused" and "inactive" in refused.text
    assert refusals(org, before) == [("change.approve.refused", "inactive")]
    # Nobody acts for Luis: the approval goes to the decision right's escalation role, with the reason audited.
    with org() as s, s.begin():
        moved = reroute_departed(session=s, now=NOW)
    assert [(m.change.id, m.left.email) for m in moved if m.change.id == cid] == [(cid, LUIS)]
    with org() as s:
        rows = s.scalars(sa.select(Approval).where(Approval.change_id == cid, Approval.kind == "approver")).all()
        states = {(a.person.email, a.state) for a in rows}
        assert (LUIS, "rerouted") in states
        substitutes = [a.person.email for a in rows if a.state == "requested"]
        assert substitutes and LUIS not in substitutes and JESSICA not in substitutes
        [entry] = [e for e in audit.history(s, object_type="change", object_key=rows[0].change.number)
                   if e.action == "change.approval_rerouted"]
        assert entry.data["from"] == LUIS and "left on 2025-06-04" in entry.data["reason"]
    # Running it again changes nothing.
    with org() as s, s.begin():
        assert [m for m in reroute_departed(session=s, now=NOW) if m.change.id == cid] == []
    assert click(org, substitutes[0], "cr.approve", str(cid)).status == "approved"


def test_approvals_stuck_on_someone_who_left_reach_the_acting_holder(org: sessionmaker[Session]) -> None:
    """CHG0031201 waits on Gregory Maddox; Luis Ortega acts for him (role assignments)."""
    listing = say(org, LUIS, "approvals")
    assert "CHG0031201" in listing.data["pending"]
    with org() as s:
        luis_home = home(actor(s, LUIS), session=s, now=NOW)
    approvals = next(sec.text for sec in luis_home.sections if sec.title == "My pending approvals")
    assert "CHG0031201" in (approvals or "") and "Gregory Maddox (left; you act for them)" in (approvals or "")
    # The worker re-routes it: the approval is Luis's own now, and Gregory's is marked as moved.
    with org() as s, s.begin():
        moved = reroute_departed(session=s, now=NOW)
    assert [(m.change.number, m.left.email, [p.email for p in m.to]) for m in moved] == [
        ("CHG0031201", GREGORY, [LUIS])]
    with org() as s:
        luis = s.scalars(sa.select(Person).where(Person.email == LUIS)).one()
        [(change, approval)] = [(c, a) for c, a in approvals_waiting_on(luis, session=s) if c.number == "CHG0031201"]
        assert approval.person_id == luis.id and approval.acting_for is not None
        assert approval.acting_for.email == GREGORY
    # It was imported from ServiceNow: it is decided there, not in govbot.
    refused = click(org, LUIS, "cr.approve", str(change.id))
    assert refused.status == "refused" and "ServiceNow" in refused.text


def test_systems_held_as_acting_holder_are_his_on_the_home_page_and_in_owns(org: sessionmaker[Session]) -> None:
    with org() as s:
        luis_home = home(actor(s, LUIS), session=s, now=NOW)
    systems = next(sec.text for sec in luis_home.sections if sec.title == "Systems I own") or ""
    assert luis_home.data["systems_owned"] == 5
    for name in ("PLC-FIL-L3-07", "HMI-FIL-L3-02", "SIS-NH3-01", "EWS-FDL-01"):
        assert f"• {name}" in systems
    assert "acting for Gregory Maddox (left)" in systems
    owns = say(org, JESSICA, "what does Luis Ortega own")
    assert "PLC-FIL-L3-07" in owns.data["systems"]["acting owner (for someone who left)"]


# --------------------------------------------------------------------------- acknowledging an escalation


def _escalated_to_level_3(org: sessionmaker[Session], cid: int) -> tuple[Timer, dt.datetime]:
    """Sweep at the moment level 3 has fired and level 4 has not."""
    with org() as s:
        timer = s.scalars(sa.select(Timer).where(Timer.change_id == cid, Timer.kind == sla.APPROVAL)).one()
        events = sla.events(timer, s.get(ChangeRequest, cid), session=s)
    at = {e.level: e.at for e in events if e.kind == "level"}
    when = at[3] + dt.timedelta(minutes=1)
    assert at[4] > when
    sweep(org, now=when)
    with org() as s:
        timer = s.get(Timer, timer.id)
        assert timer.level == 3
        return timer, when


def test_an_acknowledgement_needs_a_fired_level_that_reaches_you_and_never_the_requester(
        org: sessionmaker[Session]) -> None:
    cid = submitted(org)
    timer, when = _escalated_to_level_3(org, cid)
    before = last_audit_id(org)
    # Jessica (requester, and in the level 1 team) cannot silence her own SLA; Daniel Okafor is level 4,
    # which has not fired; Hannah is not reached by level 3.
    assert click(org, JESSICA, "esc.ack", f"{timer.id}:1", now=when).status == "refused"
    assert click(org, DANIEL, "esc.ack", f"{timer.id}:4", now=when).status == "refused"
    assert click(org, HANNAH, "esc.ack", f"{timer.id}:3", now=when).status == "refused"
    assert [reason for _, reason in refusals(org, before)] == ["requester", "not fired", "not addressed"]
    with org() as s:
        assert s.get(Timer, timer.id).state == "pending"
    # The Plant Manager, whom level 3 reached, may.
    ok = click(org, BRIAN, "esc.ack", f"{timer.id}:3", now=when)
    assert ok.status == "acknowledged" and "level 3" in ok.text
    with org() as s:
        assert s.get(Timer, timer.id).state == "acknowledged"


def test_no_acknowledgement_once_the_change_is_decided(org: sessionmaker[Session]) -> None:
    cid = submitted(org)
    timer, when = _escalated_to_level_3(org, cid)
    assert click(org, LUIS, "cr.approve", str(cid), now=when).status == "approved"
    before = last_audit_id(org)
    late = click(org, BRIAN, "esc.ack", f"{timer.id}:3", now=when)
    assert late.status == "refused" and "approved" in late.text
    assert refusals(org, before) == [("escalation.ack.refused", "decided")]


# --------------------------------------------------------------------------- imported history


def test_imported_servicenow_changes_are_read_only(org: sessionmaker[Session]) -> None:
    with org() as s:
        ids = {c.number: c.id for c in s.scalars(sa.select(ChangeRequest).where(ChangeRequest.origin == "servicenow"))}
    before = last_audit_id(org)
    # Hannah Kowalski is the pending approver of CHG0031188 in the export.
    approve = click(org, HANNAH, "cr.approve", str(ids["CHG0031188"]))
    assert approve.status == "refused" and "ServiceNow" in approve.text
    withdraw = click(org, "felix.hartmann@corvane.example", "cr.withdraw", str(ids["CHG0031188"]))
    assert withdraw.status == "refused" and "ServiceNow" in withdraw.text
    assert [a for a, _ in refusals(org, before)] == ["change.approve.refused", "change.withdraw.refused"]
    with org() as s:
        assert s.get(ChangeRequest, ids["CHG0031188"]).state == "submitted"


# --------------------------------------------------------------------------- change numbers


def test_change_numbers_are_unique_under_concurrency(org: sessionmaker[Session], backend: str) -> None:
    """20 people open a change at the same moment: every one gets a number, no two the same."""
    barrier = threading.Barrier(20)
    replies: list[Reply] = []
    errors: list[BaseException] = []

    def open_one(i: int) -> None:
        try:
            barrier.wait(10)
            for attempt in range(20):
                try:
                    replies.append(say(org, JESSICA, f'change PLC-FIL-L3-07 "Parallel {i}"'))
                    return
                except sa.exc.OperationalError as exc:  # SQLite: another writer holds the database; retry
                    if backend != "sqlite" or "locked" not in str(exc) or attempt == 19:
                        raise
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert [r.status for r in replies] == ["preview"] * 20, [r.text for r in replies if r.status != "preview"]
    numbers = [r.data["change"] for r in replies]
    assert len(set(numbers)) == 20
    # Numbers go on after what exists, and a new one follows them.
    assert say(org, JESSICA, 'change PLC-FIL-L3-07 "After"').data["change"] not in numbers


# --------------------------------------------------------------------------- delegation


@pytest.mark.parametrize("text", ["delegate Brian Caldwell until 9999-12-31", "delegate Brian Caldwell until 2027-01-01",
                                  "delegate Brian Caldwell until 2025-02-30", "delegate Brian Caldwell until tomorrow",
                                  "delegate Brian Caldwell until 2025-06-01"])
def test_delegation_windows_are_bounded_and_validated(org: sessionmaker[Session], text: str) -> None:
    reply = say(org, LUIS, text)
    assert reply.status in ("usage", "invalid") and "went wrong" not in reply.text, reply.text
    with org() as s:
        assert s.scalar(sa.select(sa.func.count(Delegation.id))) == 0


def test_a_delegate_decides_on_pending_approvals_in_the_delegators_place(org: sessionmaker[Session]) -> None:
    cid = submitted(org)  # routed to Luis
    assert say(org, LUIS, "delegate Rachel Nguyen until 2025-06-20").status == "answered"
    assert cid in [int(b.value) for b in say(org, "rachel.nguyen@corvane.example", "approvals").buttons]
    done = click(org, "rachel.nguyen@corvane.example", "cr.approve", str(cid))
    assert done.status == "approved"
    with org() as s:
        approval = s.scalars(sa.select(Approval).where(Approval.change_id == cid, Approval.kind == "approver")).one()
        assert approval.person.email == "rachel.nguyen@corvane.example" and approval.delegate_of.email == LUIS
        entry = [e for e in audit.history(s, object_type="change", object_key=approval.change.number)
                 if e.action == "change.approved"][0]
        assert entry.data["as_delegate_for"] == [LUIS]


def test_the_core_itself_refuses_people_who_left_whoever_calls_it(org: sessionmaker[Session]) -> None:
    """The router refuses first; the change rules in ``governance_store`` hold on their own as well (scripts,
    future surfaces)."""
    from governance_store import changes as core
    from governance_store.escalations import acknowledge

    cid = submitted(org)
    timer, when = _escalated_to_level_3(org, cid)
    with org() as s, s.begin():
        luis = s.scalars(sa.select(Person).where(Person.email == LUIS)).one()
        brian = s.scalars(sa.select(Person).where(Person.email == BRIAN)).one()
        luis.active = brian.active = False
    with org() as s, s.begin():
        luis = s.scalars(sa.select(Person).where(Person.email == LUIS)).one()
        brian = s.scalars(sa.select(Person).where(Person.email == BRIAN)).one()
        with pytest.raises(core.NotAllowed, match="inactive"):
            core.decide(cid, actor=luis, approve=True, reason=None, session=s, now=when, platform="script")
        assert not acknowledge(timer.id, 3, person=brian, session=s, now=when, platform="script").accepted
    with org() as s:
        assert s.get(ChangeRequest, cid).state == "submitted" and s.get(Timer, timer.id).state == "pending"
