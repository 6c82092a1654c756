"""Change requests end to end through the neutral entry points, on the imported sample org."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store import audit
from governance_store.models import (
    AuditEntry,
    BlackoutWindow,
    ChangeRequest,
    Delegation,
    OutboxMessage,
    Person,
    Role,
    RoleAssignment,
    System,
)
from handlers.reply import Action, Actor, Command, Reply
from handlers.services import Services
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)


def actor(session: Session, email: str) -> Actor:
    p = session.scalar(sa.select(Person).where(Person.email == email))
    assert p is not None
    return Actor(p.id, p.display_name, "test", p.email)


def say(factory: sessionmaker[Session], who: str, text: str, *, services: Services | None = None) -> Reply:
    with factory() as s, s.begin():
        return handle_command(Command(text=text, actor=actor(s, who)), session=s, now=NOW, services=services)


def render_text(reply: Reply) -> str:
    return "\n".join([reply.text, *(f"{f.label}: {f.value}" for sec in reply.sections for f in sec.fields)])


def click(factory: sessionmaker[Session], who: str, action_id: str, value: str, now: dt.datetime = NOW,
          **inputs: str) -> Reply:
    with factory() as s, s.begin():
        return handle_action(Action(action_id, value, actor(s, who), inputs), session=s, now=now)


JESSICA = "jessica.park@corvane.example"
LUIS = "luis.ortega@corvane.example"
OLIVIA = "olivia.grant@corvane.example"
BRIAN = "brian.caldwell@corvane.example"
MIKE = "mike.sullivan@corvane.example"
HANNAH = "hannah.kowalski@corvane.example"


def open_change(factory: sessionmaker[Session], who: str, text: str) -> tuple[int, Reply]:
    preview = say(factory, who, text)
    assert preview.data["status"] == "preview", preview.text
    submit = next(b for b in preview.buttons if b.action_id == "cr.submit")
    done = click(factory, who, "cr.submit", submit.value)
    assert done.data["status"] == "submitted", done.text
    return int(submit.value), preview


def test_routing_preview_for_an_ot_level1_change(org: sessionmaker[Session]) -> None:
    preview = say(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware v33.011" risk=moderate window=2025-06-14T06:00/10:00')
    data = preview.data
    assert data["status"] == "preview"
    assert data["approvers"] == {"OT Engineering Lead": ["Luis Ortega"]}
    assert {"Brian Caldwell", "Mike Sullivan", "Hannah Kowalski", "Nina Castillo", "Ray Dawson"} <= set(data["consulted"])
    assert "Olivia Grant" in data["informed"]
    # Nothing is sent on preview.
    with org() as s:
        assert s.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0
        cr = s.scalar(sa.select(ChangeRequest).where(ChangeRequest.number == data["change"]))
        assert cr is not None and cr.state == "draft"
        # The window was given in Findlay local time (EDT, UTC-4).
        assert cr.planned_start == dt.datetime(2025, 6, 14, 10, 0, tzinfo=dt.UTC)


def test_submit_notifies_every_raci_role_once(org: sessionmaker[Session]) -> None:
    cid, _ = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware v33.011" window=2025-06-14T06:00/10:00')
    with org() as s:
        keys = set(s.scalars(sa.select(OutboxMessage.key)).all())
        luis = s.scalar(sa.select(Person.id).where(Person.email == LUIS))
        assert f"cr:{cid}:approver:{luis}" in keys
        assert any(k.startswith(f"cr:{cid}:consulted:") for k in keys)
        assert any(k.startswith(f"cr:{cid}:informed:") for k in keys)
        assert len(keys) == len(s.scalars(sa.select(OutboxMessage.key)).all())
    # Submitting twice sends nothing more.
    again = click(org, JESSICA, "cr.submit", str(cid))
    assert again.data["status"] == "invalid" and "already submitted" in again.text


def test_approval_authorisation_and_late_click(org: sessionmaker[Session]) -> None:
    cid, _ = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware v33.011"')
    own = click(org, JESSICA, "cr.approve", str(cid))
    assert own.data["status"] == "refused" and "your own change" in own.text
    stranger = click(org, MIKE, "cr.approve", str(cid))
    assert stranger.data["status"] == "refused" and "not an approver" in stranger.text
    ok = click(org, LUIS, "cr.approve", str(cid))
    assert ok.data["status"] == "approved"
    late = click(org, LUIS, "cr.approve", str(cid))
    assert late.data["status"] == "refused"
    assert "already approved by Luis Ortega at 2025-06-04 10:00 EDT" in late.text  # in his zone, labelled
    with org() as s:
        actions = [e.action for e in audit.history(s, object_type="change", object_key=ok.data["change"])]
    assert actions.count("change.approve.refused") == 3
    assert "change.approved" in actions and actions.count("change.state") == 1


def test_reject_needs_a_reason(org: sessionmaker[Session]) -> None:
    cid, _ = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware v33.011"')
    ask_reason = click(org, LUIS, "cr.reject", str(cid))
    assert ask_reason.form is not None and ask_reason.form.fields[0].name == "reason"
    with org() as s:
        assert s.get(ChangeRequest, cid).state == "submitted"
    rejected = click(org, LUIS, "cr.reject", str(cid), reason="Needs a tested backup first")
    assert rejected.data["status"] == "rejected"
    with org() as s:
        informed = s.scalars(sa.select(OutboxMessage.key).where(OutboxMessage.key.like(f"cr:{cid}:notice:rejected:%"))).all()
        assert informed, "the Informed are told about the decision"


def test_separation_of_duties_routes_own_accountability_elsewhere(org: sessionmaker[Session]) -> None:
    preview = say(org, LUIS, 'change PLC-FIL-L3-07 "Tag cleanup"')
    assert preview.data["status"] == "preview"
    approvers = [n for names in preview.data["approvers"].values() for n in names]
    assert "Luis Ortega" not in approvers
    assert approvers == ["Brian Caldwell"], "DR-01 escalates to the Plant Manager"
    assert any("separation of duties" in w for w in preview.data["warnings"])


def test_high_risk_adds_the_change_manager_and_needs_rollback(org: sessionmaker[Session]) -> None:
    invalid = say(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware v33.011" risk=high')
    assert invalid.data["status"] == "invalid" and "rollback_plan" in invalid.data["errors"]
    assert invalid.form is not None
    assert next(f for f in invalid.form.fields if f.name == "title").initial == "Firmware v33.011", "input is kept"
    ok = say(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware v33.011" risk=high rollback="restore v32 project"')
    assert ok.data["approvers"] == {"OT Engineering Lead": ["Luis Ortega"], "Change Manager (CAB Chair)": ["Olivia Grant"]}


def test_process_safety_change_at_psm_site_needs_moc(org: sessionmaker[Session]) -> None:
    missing = say(org, JESSICA, 'change SIS-NH3-01 "Proof test logic" safety=yes')
    assert missing.data["status"] == "invalid" and "moc_reference" in missing.data["errors"]
    ok = say(org, JESSICA, 'change SIS-NH3-01 "Proof test logic" safety=yes moc=MOC-2025-014')
    assert ok.data["status"] == "preview"


def test_departed_approver_is_replaced_by_acting_holder_with_warning(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        maddox = s.scalar(sa.select(Person).where(Person.display_name == "Gregory Maddox"))
        role = s.scalar(sa.select(Role).where(Role.name == "OT Engineering Lead"))
        s.add(RoleAssignment(role_id=role.id, scope_type="system", scope_key="PLC-FIL-L3-07", person_id=maddox.id,
                             holder_name="Gregory Maddox"))
    preview = say(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware v33.011"')
    assert preview.data["approvers"] == {"OT Engineering Lead": ["Luis Ortega"]}
    assert any("Gregory Maddox left the company; Luis Ortega approves as acting holder" in w
               for w in preview.data["warnings"])


def test_out_of_office_delegate_approves(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        luis = s.scalar(sa.select(Person).where(Person.email == LUIS))
        brian = s.scalar(sa.select(Person).where(Person.email == BRIAN))
        s.add(Delegation(person_id=luis.id, delegate_id=brian.id, starts_at=NOW - dt.timedelta(days=1),
                         ends_at=NOW + dt.timedelta(days=6), reason="vacation"))
    cid, preview = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware v33.011"')
    assert preview.data["approvers"] == {"OT Engineering Lead": ["Brian Caldwell"]}
    assert any("approves as delegate" in w for w in preview.data["warnings"])
    assert click(org, BRIAN, "cr.approve", str(cid)).data["status"] == "approved"


def test_conflicts_and_blackouts_are_flagged(org: sessionmaker[Session]) -> None:
    open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware v33.011" window=2025-06-14T06:00/10:00')
    same = say(org, JESSICA, 'change PLC-FIL-L3-07 "Second change" window=2025-06-14T08:00/09:00')
    assert any("overlapping window" in c and "the same system" in c for c in same.data["conflicts"])
    neighbour = say(org, JESSICA, 'change HMI-FIL-L3-02 "Screen update" window=2025-06-14T09:00/11:00')
    assert any("connected to" in c for c in neighbour.data["conflicts"])
    with org() as s, s.begin():
        s.add(BlackoutWindow(site_code="US-FDL", starts_at=dt.datetime(2025, 7, 1, tzinfo=dt.UTC),
                             ends_at=dt.datetime(2025, 7, 8, tzinfo=dt.UTC), reason="summer peak production"))
    blackout = say(org, JESSICA, 'change PLC-MIX-01 "Recipe" window=2025-07-02T06:00/07:00')
    assert any("summer peak production" in c for c in blackout.data["conflicts"])


def test_quorum_waits_for_every_accountable_and_cards_update(org: sessionmaker[Session]) -> None:
    cid, _ = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware" risk=high rollback="restore"')
    first = click(org, OLIVIA, "cr.approve", str(cid))
    assert first.data["status"] == "submitted" and "still waiting on: OT Engineering Lead" in first.text
    # Pretend every card was delivered, then check the second decision refreshes them in place.
    with org() as s, s.begin():
        for m in s.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "message")).all():
            m.status, m.platform_ref = "sent", {"ts": str(m.id)}
    second = click(org, LUIS, "cr.approve", str(cid))
    assert second.data["status"] == "approved"
    with org() as s:
        updates = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "update")).all()
        originals = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "message",
                                                             OutboxMessage.change_id == cid)).all()
        latest = {u.updates_id: u for u in updates}
        assert {o.id for o in originals} <= set(latest)
        approver_card = next(u for u in updates if ":approver:" in u.key and u.payload["data"]["state"] == "approved")
        assert not approver_card.payload["buttons"], "decided cards lose their decision buttons"


def test_lifecycle_and_emergency_retrospective_approval(org: sessionmaker[Session]) -> None:
    cid, _ = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware"')
    click(org, LUIS, "cr.approve", str(cid))
    for step, state in (("schedule", "scheduled"), ("implement", "implemented"), ("close", "closed")):
        assert click(org, JESSICA, f"cr.{step}", str(cid)).data["status"] == state
    emergency_id, _ = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Block SMB" type=emergency')
    # Friday 2025-07-03 14:00 UTC: two business days later skips the weekend and July 4th.
    friday = dt.datetime(2025, 7, 3, 14, 0, tzinfo=dt.UTC)
    done = click(org, JESSICA, "cr.implement", str(emergency_id), now=friday)
    assert done.data["status"] == "implemented"
    with org() as s:
        cr = s.get(ChangeRequest, emergency_id)
        assert cr.retro_due_at is not None
        assert cr.retro_due_at.astimezone(dt.timezone(dt.timedelta(hours=-4))).date() == dt.date(2025, 7, 8)
    approver = "brian.caldwell@corvane.example"  # emergency OT changes: the Plant Manager authorises
    assert click(org, approver, "cr.approve", str(emergency_id)).data["status"] == "implemented"
    with org() as s:
        assert s.get(ChangeRequest, emergency_id).decided_at is not None


def test_withdraw_only_by_requester(org: sessionmaker[Session]) -> None:
    cid, _ = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware"')
    assert click(org, LUIS, "cr.withdraw", str(cid)).data["status"] == "refused"
    assert click(org, JESSICA, "cr.withdraw", str(cid)).data["status"] == "withdrawn"
    assert click(org, LUIS, "cr.approve", str(cid)).data["status"] == "refused"


@pytest.mark.parametrize("text", ['change PLC-FIL-L3-07 "unclosed', "change PLC-FIL-L3-07 colour=blue \"x\"", "change onlyone"])
def test_bad_inline_change_gets_usage(org: sessionmaker[Session], text: str) -> None:
    reply = say(org, JESSICA, text)
    assert reply.data["status"] == "usage" and "Usage: change SYSTEM" in reply.text


def test_empty_change_opens_the_form_and_bad_window_is_shown_next_to_field(org: sessionmaker[Session]) -> None:
    form = say(org, JESSICA, "change")
    assert form.form is not None and form.form.submit_action_id == "cr.preview"
    with org() as s, s.begin():
        bad = handle_action(Action("cr.preview", "new", actor(s, JESSICA), {
            "system": "PLC-FIL-L3-07", "title": "x", "change_type": "normal", "risk": "low", "window": "tomorrow"}),
            session=s, now=NOW)
    assert bad.form is not None
    assert next(f for f in bad.form.fields if f.name == "window").error
    assert next(f for f in bad.form.fields if f.name == "window").initial == "tomorrow"


def test_unknown_person_cannot_open_changes(org: sessionmaker[Session]) -> None:
    with org() as s:
        reply = handle_command(Command(text='change PLC-FIL-L3-07 "x"', actor=Actor(None, "guest", "slack")),
                               session=s, now=NOW)
    assert reply.data["status"] == "unknown_person" and "directory" in reply.text


def test_my_approvals(org: sessionmaker[Session]) -> None:
    cid, submitted = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware"')
    number = submitted.data["change"]
    mine = say(org, LUIS, "approvals")
    # CHG0031201 waits on Gregory Maddox, who left; Luis Ortega acts for him (and decides it in ServiceNow).
    assert mine.data["pending"] == ["CHG0031201", number]
    assert "decide on it in ServiceNow" in render_text(mine) and "Gregory Maddox (left; you act for them)" in render_text(mine)
    assert [b.value for b in mine.buttons] == [str(cid), str(cid)], "imported changes have no buttons"
    assert say(org, MIKE, "approvals").data["pending"] == []


def test_audit_chain_detects_edits_and_deletions(org: sessionmaker[Session]) -> None:
    cid, _ = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware"')
    click(org, LUIS, "cr.approve", str(cid))
    with org() as s:
        assert audit.verify(s) == []
        assert "change.state" in audit.export(s, fmt="csv")
    with org() as s, s.begin():
        entry = s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).first()
        s.execute(sa.update(AuditEntry).where(AuditEntry.id == entry.id).values(actor="someone else"))
    with org() as s:
        problems = audit.verify(s)
        assert problems and "edited" in str(problems[0])
    with org() as s, s.begin():
        entries = s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        s.execute(sa.update(AuditEntry).where(AuditEntry.id == entries[0].id).values(actor=entries[0].actor))
    with org() as s, s.begin():
        middle = s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()[1]
        s.delete(middle)
    with org() as s:
        assert any("deleted" in str(p) for p in audit.verify(s))


def test_concurrent_approvals_make_exactly_one_transition(org: sessionmaker[Session], backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; SQLite has a single writer")
    cid, _ = open_change(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware" risk=high rollback="restore"')
    barrier = threading.Barrier(4)
    results: list[str] = []

    def approve(who: str) -> None:
        barrier.wait()
        results.append(click(org, who, "cr.approve", str(cid)).data["status"])

    threads = [threading.Thread(target=approve, args=(w,)) for w in (LUIS, OLIVIA, LUIS, OLIVIA)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results).count("refused") == 2
    with org() as s:
        cr = s.get(ChangeRequest, cid)
        assert cr.state == "approved"
        transitions = [e for e in audit.history(s, object_type="change", object_key=cr.number) if e.action == "change.state"]
        assert len(transitions) == 1
        assert audit.verify(s) == []


def test_history_was_imported(org: sessionmaker[Session]) -> None:
    with org() as s:
        stalled = s.scalar(sa.select(ChangeRequest).where(ChangeRequest.number == "CHG0031201"))
        assert stalled.state == "submitted"
        assert {a.person.display_name for a in stalled.participants} == {"Gregory Maddox", "Hannah Kowalski", "Brian Caldwell"}
        assert s.scalar(sa.select(System.name).where(System.id == stalled.system_id)) == "PLC-FIL-L3-07"


def test_delegate_command_routes_new_requests_to_the_delegate(org: sessionmaker[Session]) -> None:
    assert "no delegate" in say(org, LUIS, "delegate").text
    assert say(org, LUIS, "delegate Luis Ortega until 2025-06-20").data["status"] == "invalid"
    assert say(org, LUIS, "delegate Gregory Maddox until 2025-06-20").data["status"] == "invalid", "he left"
    assert say(org, LUIS, "delegate Brian whenever").data["status"] == "usage"
    ok = say(org, LUIS, "delegate brian.caldwell@corvane.example until 2025-06-20 vacation")
    assert ok.data["status"] == "answered" and "Brian Caldwell approves in your place" in ok.text
    preview = say(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware"')
    assert preview.data["approvers"] == {"OT Engineering Lead": ["Brian Caldwell"]}
    say(org, LUIS, "delegate off")
    assert say(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware"').data["approvers"] == {"OT Engineering Lead": ["Luis Ortega"]}


def test_quorum_rules_are_configurable_per_activity(org: sessionmaker[Session]) -> None:
    from governance_store.changes import ChangePolicies
    from handlers.services import Services

    services = Services(policies=ChangePolicies.from_config({
        "change_manager_on_high_risk": False, "activities": {"ACT-01": {"change_manager_on_high_risk": True}}}))
    ot = say(org, JESSICA, 'change PLC-FIL-L3-07 "Firmware" risk=high rollback="restore"', services=services)
    assert "Change Manager (CAB Chair)" in ot.data["approvers"]
    level3 = say(org, JESSICA, 'change MES Plant 1 Findlay "Upgrade" risk=high rollback="snapshot"', services=services)
    assert "Change Manager (CAB Chair)" not in level3.data["approvers"]
    with pytest.raises(ValueError, match="unknown change policy keys"):
        ChangePolicies.from_config({"quorum": "majority"})
    with pytest.raises(ValueError, match="unknown change policy keys for ACT-01"):
        ChangePolicies.from_config({"activities": {"ACT-01": {"quorum": "majority"}}})
    # Without them, the defaults apply again: nothing is left behind in a module.
    assert "Change Manager (CAB Chair)" in say(org, JESSICA, 'change MES Plant 1 Findlay "Upgrade" risk=high '
                                                             'rollback="snapshot"').data["approvers"]
