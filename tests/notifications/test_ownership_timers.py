"""Unanswered attestations, transfers and gaps follow their SLA through the sweep: reminders, then the
person's manager, then the Accountable of the area; each message once, however often the sweep runs."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import AuditEntry, OutboxMessage, Person, Timer, TrackedGap
from governance_store.ownership_policy import DEFAULT_POLICY
from handlers.reply import Action, Actor, Command
from notifications.ownership import ATTESTATION, GAP, REQUEST, start_campaign, sync_and_announce
from notifications.sweep import sweep
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)  # Wednesday 10:00 in Findlay
LUIS, BRIAN = "luis.ortega@corvane.example", "brian.caldwell@corvane.example"


def pid(s: Session, email: str) -> int:
    return s.scalars(sa.select(Person.id).where(Person.email == email)).one()


def keys(s: Session, like: str) -> list[str]:
    return sorted(s.scalars(sa.select(OutboxMessage.key).where(OutboxMessage.key.like(like))).all())


def events(s: Session, kind: str, subject: str) -> dict[str, dt.datetime]:
    timer = s.scalars(sa.select(Timer).where(Timer.kind == kind, Timer.subject_key == subject)).one()
    return {(f"remind:{e['pct']}" if e["kind"] == "remind" else f"L{e['level']}"): dt.datetime.fromisoformat(e["at"])
            for e in timer.data["events"]}


def test_an_unanswered_attestation_reminds_then_escalates_once_each(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        campaign, _ = start_campaign(session=s, now=NOW, policy=DEFAULT_POLICY, started_by="test")
        cid = campaign.id  # type: ignore[union-attr]
        luis, brian = pid(s, LUIS), pid(s, BRIAN)
        at = events(s, ATTESTATION, f"att:{cid}:{luis}")
        # Ten business days in Findlay (06:00-22:00 on weekdays): due on Wednesday 2025-06-18 at 22:00 EDT.
        assert at["L1"] == dt.datetime(2025, 6, 19, 2, 0, tzinfo=dt.UTC)
        assert NOW < at["remind:50"] < at["remind:80"] < at["L1"] < at["L2"]
    # Half the time: one reminder each, with the card's buttons; sweeping again sends nothing more.
    for _ in range(3):
        sweep(org, now=at["remind:50"] + dt.timedelta(minutes=1))
    with org() as s:
        assert keys(s, f"att:{cid}:{luis}:remind:%") == [f"att:{cid}:{luis}:remind:50:{luis}"]
        reminder = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == f"att:{cid}:{luis}:remind:50:{luis}")).one()
        assert reminder.payload["text"].startswith("Reminder: ") and reminder.payload["buttons"][0]["action_id"] == "att.all_mine"
    # Brian answers everything before the deadline: his clock stops, nothing escalates about him.
    with org() as s, s.begin():
        r = handle_action(Action("att.all_mine", str(cid), Actor(brian, "Brian Caldwell", "test")), session=s, now=at["remind:80"])
        assert r.status == "attested_mine"
    # Past the deadline: Luis's manager (Brian) is told; past level 2 the Accountable of the area, which for
    # Luis's systems is Luis himself, so nobody else.  The 80 % reminder, overtaken, is not sent late.
    sweep(org, now=at["L2"] + dt.timedelta(minutes=1))
    sweep(org, now=at["L2"] + dt.timedelta(minutes=2))
    with org() as s:
        assert keys(s, f"att:{cid}:{luis}:%") == sorted([
            f"att:{cid}:{luis}:card", f"att:{cid}:{luis}:remind:50:{luis}", f"att:{cid}:{luis}:escalate:L1:{brian}"])
        assert keys(s, f"att:{cid}:{brian}:escalate:%") == []
        escalation = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like(f"att:{cid}:{luis}:escalate:L1:%"))).one()
        assert "Luis Ortega has not confirmed 5 system(s)" in escalation.payload["text"]
        assert "EDT" in escalation.payload["text"]
        audits = [e.action for e in s.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("attestation.%ed"))
                                              .where(AuditEntry.object_type == "campaign"))]
        # One audit entry per reminder sent (each site's calendar sets its own moments).
        assert audits.count("attestation.reminded") == len(keys(s, "att:%:remind:%"))
        assert audits.count("attestation.escalated") >= len({k.rsplit(":", 1)[0] for k in keys(s, "att:%:escalate:%")})
        state = dict(s.execute(sa.select(Timer.subject_key, Timer.state).where(Timer.kind == ATTESTATION)).tuples().all())
        assert (state[f"att:{cid}:{luis}"], state[f"att:{cid}:{brian}"]) == ("done", "stopped")


def test_someone_without_a_manager_is_escalated_to_the_area_accountable(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        campaign, _ = start_campaign(session=s, now=NOW, policy=DEFAULT_POLICY, started_by="test")
        cid = campaign.id  # type: ignore[union-attr]
        luis, brian = pid(s, LUIS), pid(s, BRIAN)
        at = events(s, ATTESTATION, f"att:{cid}:{brian}")
    sweep(org, now=at["L1"] + dt.timedelta(minutes=1))
    with org() as s:
        # Brian (the plant manager) has no manager: level 1 goes to the Accountable of his first system's area.
        assert keys(s, f"att:{cid}:{brian}:escalate:%") == [f"att:{cid}:{brian}:escalate:L1:{luis}"]


def test_a_transfer_and_a_gap_waiting_on_someone_remind_and_escalate(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        sync_and_announce(session=s, now=NOW, policy=DEFAULT_POLICY)
        marcus = pid(s, "marcus.lee@corvane.example")
        r = handle_command(Command("transfer FS-FDL-01 to Tom Brennan", Actor(marcus, "Marcus Lee", "test")), session=s,
                           now=NOW)
        rid = r.data["request"]
        tom = pid(s, "tom.brennan@corvane.example")
        at_request = events(s, REQUEST, f"own:{rid}:accept")
        gap = s.scalars(sa.select(TrackedGap).where(TrackedGap.subject == "HMI-FIL-L1-01")).one()
        at_gap = events(s, GAP, f"gap:{gap.id}")
    sweep(org, now=max(at_request["L1"], at_gap["L1"]) + dt.timedelta(minutes=1))
    with org() as s:
        assert keys(s, f"own:{rid}:accept:%") == sorted([
            f"own:{rid}:accept:{tom}", f"own:{rid}:accept:escalate:L1:{marcus}"])  # Tom's manager is Marcus
        # Brian (no manager) has not fixed HMI-FIL-L1-01: the Accountable of its area hears of it.
        assert keys(s, f"gap:{gap.id}:0:escalate:%") == [f"gap:{gap.id}:0:escalate:L1:{pid(s, LUIS)}"]
    # Accepting stops the request's clock.
    with org() as s, s.begin():
        assert handle_action(Action("own.accept", str(rid), Actor(tom, "Tom Brennan", "test")), session=s,
                             now=at_request["L1"]).status == "completed"
        assert s.scalars(sa.select(Timer).where(Timer.subject_key == f"own:{rid}:accept")).one().state in ("stopped",
                                                                                                           "pending")
    sweep(org, now=at_request["L2"] + dt.timedelta(minutes=1))
    with org() as s:
        assert keys(s, f"own:{rid}:accept:escalate:L2:%") == []
