"""SLA clocks and escalation with an injected clock: reminders, breach, levels, acknowledgement."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import Approval, AuditEntry, OutboxMessage, Person, Timer
from handlers.reply import Action, Actor, Command, Reply
from notifications.sweep import sweep
from tests.core import handle_action, handle_command

SUBMIT = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)  # Wednesday 10:00 EDT in Findlay
JESSICA = "jessica.park@corvane.example"
LUIS = "luis.ortega@corvane.example"
BRIAN = "brian.caldwell@corvane.example"


def actor(session: Session, email: str) -> Actor:
    p = session.scalar(sa.select(Person).where(Person.email == email))
    return Actor(p.id, p.display_name, "test", p.email)


def submit_change(org: sessionmaker[Session], text: str, at: dt.datetime = SUBMIT) -> int:
    with org() as s, s.begin():
        preview = handle_command(Command(text=text, actor=actor(s, JESSICA)), session=s, now=at)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, actor(s, JESSICA)), session=s, now=at)
    return int(cid)


def keys(org: sessionmaker[Session], like: str) -> list[str]:
    with org() as s:
        return sorted(s.scalars(sa.select(OutboxMessage.key).where(OutboxMessage.key.like(like))).all())


def person_id(org: sessionmaker[Session], email: str) -> int:
    with org() as s:
        return s.scalar(sa.select(Person.id).where(Person.email == email))


def at_edt(hour: int, minute: int = 0, day: int = 4) -> dt.datetime:
    return dt.datetime(2025, 6, day, hour, minute, tzinfo=dt.UTC) + dt.timedelta(hours=4)


def test_reminders_breach_and_levels_fire_once_each(org: sessionmaker[Session]) -> None:
    cid = submit_change(org, 'change PLC-FIL-L3-07 "Firmware"')
    with org() as s:
        timer = s.scalar(sa.select(Timer).where(Timer.kind == "approval_sla"))
        # Criticality 1 x priority 3 (moderate): 240 business minutes, business hours in Findlay.
        assert timer.data["policy"] == "SLA-C1-P3"
        assert timer.target_at == at_edt(14)
        assert timer.due_at == at_edt(12)  # 50 %
    assert sweep(org, now=at_edt(11, 59)).fired == 0
    assert sweep(org, now=at_edt(12)).fired == 1
    luis = person_id(org, LUIS)
    assert keys(org, f"cr:{cid}:sla:warn:%") == [f"cr:{cid}:sla:warn:50:{luis}"]
    sweep(org, now=at_edt(13))
    sweep(org, now=at_edt(14))  # breach and level 1 (after 0 minutes)
    assert keys(org, f"cr:{cid}:sla:breach:%")
    level1 = keys(org, f"cr:{cid}:escalate:L1:%")
    assert f"cr:{cid}:escalate:L1:ch:#ot-fdl-oncall" in level1
    sweep(org, now=at_edt(14, 15))
    # Level 2 names Gregory Maddox, who left: his acting holder is reached instead.
    assert keys(org, f"cr:{cid}:escalate:L2:%") == [f"cr:{cid}:escalate:L2:{luis}"]
    with org() as s:
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "change.escalated")
                          .order_by(AuditEntry.id.desc())).first()
        assert entry.data["text"] == "escalated to level 2: Luis Ortega (acting for Gregory Maddox) at 14:15 EDT"
        assert any("Gregory Maddox left" in p for p in entry.data["problems"])
    # Sweeping again at the same instant, or many times, repeats nothing.
    before = keys(org, f"cr:{cid}:%")
    for _ in range(3):
        assert sweep(org, now=at_edt(14, 15)).fired == 0
    assert keys(org, f"cr:{cid}:%") == before


def test_a_late_sweep_sends_each_level_once_and_skips_stale_reminders(org: sessionmaker[Session]) -> None:
    cid = submit_change(org, 'change PLC-FIL-L3-07 "Firmware"')
    result = sweep(org, now=at_edt(20))  # the bot was down all afternoon
    assert keys(org, f"cr:{cid}:sla:warn:%") == [], "stale reminders are not sent after the breach"
    for level in (1, 2, 3, 4):
        assert keys(org, f"cr:{cid}:escalate:L{level}:%"), level
    repeats = keys(org, f"cr:{cid}:escalate:L%:repeat:%")
    assert len({k.rsplit(":", 1)[0] for k in repeats}) <= 1, "only the newest repeat is sent"
    assert result.fired >= 5 and result.skipped >= 2


def test_acknowledging_stops_the_escalation(org: sessionmaker[Session]) -> None:
    cid = submit_change(org, 'change PLC-FIL-L3-07 "Firmware"')
    sweep(org, now=at_edt(14, 15))
    with org() as s:
        timer_id = s.scalar(sa.select(Timer.id).where(Timer.kind == "approval_sla"))
    with org() as s, s.begin():
        refused = handle_action(Action("esc.ack", f"{timer_id}:2", actor(s, BRIAN)), session=s, now=at_edt(14, 16))
    assert refused.data["status"] == "refused", "Brian is not on level 2"
    with org() as s, s.begin():
        ok = handle_action(Action("esc.ack", f"{timer_id}:2", actor(s, LUIS)), session=s, now=at_edt(14, 16))
    assert ok.data["status"] == "acknowledged"
    sweep(org, now=at_edt(18))
    assert keys(org, f"cr:{cid}:escalate:L3:%") == []
    with org() as s, s.begin():
        tampered = handle_action(Action("esc.ack", "999999:2", actor(s, LUIS)), session=s, now=at_edt(18))
    assert tampered.data["status"] == "refused"


def test_decision_stops_the_clock(org: sessionmaker[Session]) -> None:
    cid = submit_change(org, 'change PLC-FIL-L3-07 "Firmware"')
    with org() as s, s.begin():
        handle_action(Action("cr.approve", str(cid), actor(s, LUIS)), session=s, now=at_edt(11))
    sweep(org, now=at_edt(20))
    assert keys(org, f"cr:{cid}:sla:%") == [] and keys(org, f"cr:{cid}:escalate:%") == []


def test_waiting_on_the_requester_pauses_the_clock(org: sessionmaker[Session]) -> None:
    cid = submit_change(org, 'change PLC-FIL-L3-07 "Firmware"')
    with org() as s, s.begin():
        handle_action(Action("cr.ask", str(cid), actor(s, LUIS), {"text": "Tested on the spare CPU?"}), session=s,
                      now=at_edt(11))
    assert sweep(org, now=at_edt(16)).fired == 0, "paused: nothing fires"
    with org() as s, s.begin():
        handle_action(Action("cr.answer", str(cid), actor(s, JESSICA), {"text": "Yes"}), session=s, now=at_edt(13))
        timer = s.scalar(sa.select(Timer).where(Timer.kind == "approval_sla"))
        # Two business hours were spent waiting on the requester: the target moves by two hours.
        assert timer.target_at == at_edt(16)


def test_business_hours_move_the_breach_to_the_next_morning(org: sessionmaker[Session]) -> None:
    evening = at_edt(20)  # 20:00 EDT, two hours before Findlay closes
    submit_change(org, 'change PLC-FIL-L3-07 "Firmware"', at=evening)
    with org() as s:
        timer = s.scalar(sa.select(Timer).where(Timer.kind == "approval_sla"))
        assert timer.target_at == at_edt(8, day=5)  # 2 h tonight + 2 h from 06:00 tomorrow


def test_unanswered_consultation_is_chased(org: sessionmaker[Session]) -> None:
    cid = submit_change(org, 'change PLC-FIL-L3-07 "Firmware"')
    sweep(org, now=at_edt(14))  # the consult target is the same 240 business minutes
    with org() as s:
        brian = s.scalar(sa.select(Approval.id).join(Person, Approval.person_id == Person.id).where(
            Approval.change_id == cid, Approval.kind == "consulted", Person.email == BRIAN))
    reminders = keys(org, f"cr:{cid}:consult_reminder:%")
    assert f"cr:{cid}:consult_reminder:{brian}" in reminders and len(reminders) >= 4
    assert keys(org, f"cr:{cid}:consult_overdue:%") == []
    with org() as s, s.begin():
        handle_action(Action("cr.consult_ok", str(cid), actor(s, BRIAN)), session=s, now=at_edt(15))
    sweep(org, now=at_edt(18))  # twice the target
    overdue = keys(org, f"cr:{cid}:consult_overdue:%")
    assert overdue and all(f":{brian}:" not in k for k in overdue), "an answered consultation is not chased"
    assert any(k.endswith(":requester") for k in overdue)


def test_reply_texts_are_plain(org: sessionmaker[Session]) -> None:
    cid = submit_change(org, 'change PLC-FIL-L3-07 "Firmware"')
    sweep(org, now=at_edt(14, 15))
    with org() as s:
        msg = s.scalar(sa.select(OutboxMessage).where(OutboxMessage.key.like(f"cr:{cid}:escalate:L2:%")))
        reply = Reply(**{k: v for k, v in msg.payload.items() if k in ("text",)})
        assert "Escalation level 2" in reply.text
        assert msg.payload["buttons"][0]["action_id"] == "esc.ack"
