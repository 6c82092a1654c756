"""``transfer SYSTEM to PERSON`` and ``claim SYSTEM`` in chat: who may ask, who must accept and approve, and
"who owns X" answering with the new owner the moment the last step is done."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import AuditEntry, OutboxMessage, OwnershipRequest, Person, System, Timer
from handlers.reply import Action, Actor, Command
from notifications.ownership import REQUEST
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
MARCUS, TOM = "marcus.lee@corvane.example", "tom.brennan@corvane.example"
LUIS, BRIAN, JESSICA = "luis.ortega@corvane.example", "brian.caldwell@corvane.example", "jessica.park@corvane.example"


def who(s: Session, email: str) -> Actor:
    p = s.scalars(sa.select(Person).where(Person.email == email)).one()
    return Actor(p.id, p.display_name, "test", p.email)


def owner(s: Session, name: str) -> str | None:
    o = s.scalars(sa.select(System).where(System.name == name)).one().owner
    return o.email if o is not None else None


def audit_actions(s: Session) -> list[str]:
    return [e.action for e in s.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("ownership.%"))
                                         .order_by(AuditEntry.id))]


def test_a_transfer_without_approval_completes_when_the_new_owner_accepts(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        r = handle_command(Command("transfer FS-FDL-01 to Tom Brennan because he runs the file servers now",
                                   who(s, MARCUS)), session=s, now=NOW)
        assert r.status == "transfer_requested" and "Tom Brennan is asked to accept FS-FDL-01" in r.text
        req = s.scalars(sa.select(OwnershipRequest)).one()
        assert (req.needs_approval, req.reason) == (False, "he runs the file servers now")  # level 4, criticality 4
        card = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key == f"own:{req.id}:accept:{req.to_id}")).one()
        assert [b["action_id"] for b in card.payload["buttons"]] == ["own.accept", "own.decline"]
        assert s.scalars(sa.select(Timer).where(Timer.kind == REQUEST)).one().state == "pending"
        assert owner(s, "FS-FDL-01") == MARCUS  # nothing changes before the acceptance
        # Only Tom may accept.
        r = handle_action(Action("own.accept", str(req.id), who(s, JESSICA)), session=s, now=NOW)
        assert r.status == "refused" and "addressed to Tom Brennan" in r.text
        r = handle_action(Action("own.accept", str(req.id), who(s, TOM)), session=s, now=NOW)
        assert r.status == "completed" and r.text == "Tom Brennan now owns FS-FDL-01."
        assert handle_command(Command("who owns FS-FDL-01", who(s, JESSICA)), session=s, now=NOW).text == \
            "FS-FDL-01 is owned by Tom Brennan."
        assert audit_actions(s) == ["ownership.transfer.requested", "ownership.accept.refused", "ownership.accepted",
                                    "ownership.changed"]
        assert s.scalars(sa.select(Timer).where(Timer.kind == REQUEST)).one().state == "stopped"
        # Everyone involved hears the outcome; a second click is told what happened.
        told = {m.person_id for m in s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like(f"own:{req.id}:completed:%")))}
        assert told == {who(s, MARCUS).person_id, who(s, TOM).person_id}
        again = handle_action(Action("own.accept", str(req.id), who(s, TOM)), session=s, now=NOW)
        assert again.status == "invalid" and "already completed" in again.text


def test_a_level_1_transfer_also_needs_the_area_accountable(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        r = handle_command(Command("transfer PLC-MIX-01 to Jessica Park", who(s, BRIAN)), session=s, now=NOW)
        req = s.scalars(sa.select(OwnershipRequest)).one()
        assert r.status == "transfer_requested" and req.approver.email == LUIS
        assert handle_action(Action("own.accept", str(req.id), who(s, JESSICA)), session=s, now=NOW).status == \
            "awaiting_approval"
        assert owner(s, "PLC-MIX-01") == BRIAN
        # The new owner cannot approve their own transfer; the Accountable can, or reject it.
        r = handle_action(Action("own.approve", str(req.id), who(s, JESSICA)), session=s, now=NOW)
        assert r.status == "refused" and "Only Luis Ortega approves" in r.text
        card = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like(f"own:{req.id}:approve:%"))).one()
        assert card.person_id == who(s, LUIS).person_id
        r = handle_action(Action("own.reject", str(req.id), who(s, LUIS), {"reason": "Jessica is on leave"}),
                          session=s, now=NOW)
        assert r.status == "rejected" and owner(s, "PLC-MIX-01") == BRIAN
        assert audit_actions(s)[-1] == "ownership.rejected"


def test_only_the_owner_or_the_area_accountable_may_hand_a_system_over(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        r = handle_command(Command("transfer PLC-MIX-01 to Jessica Park", who(s, "kevin.tran@corvane.example")),
                           session=s, now=NOW)
        assert r.status == "refused" and "Only the owner of PLC-MIX-01" in r.text
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "ownership.transfer.refused")).one()
        assert entry.object_key == "PLC-MIX-01"
        # The Accountable of the area may (and need not approve their own hand-over afterwards).
        r = handle_command(Command("transfer PLC-MIX-01 to Jessica Park", who(s, LUIS)), session=s, now=NOW)
        assert r.status == "transfer_requested"
        req = s.scalars(sa.select(OwnershipRequest)).one()
        assert handle_action(Action("own.accept", str(req.id), who(s, JESSICA)), session=s, now=NOW).status == \
            "awaiting_approval"


def test_a_claim_goes_to_the_accountable_and_only_for_a_system_nobody_owns(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        r = handle_command(Command("claim PLC-MIX-01", who(s, JESSICA)), session=s, now=NOW)
        assert r.status == "refused" and "owned by Brian Caldwell" in r.text
        r = handle_command(Command("claim Edge Gateway Line 1 Findlay", who(s, "felix.hartmann@corvane.example")),
                           session=s, now=NOW)
        assert r.status == "claim_requested" and "Elena Petrova is asked to approve" in r.text
        req = s.scalars(sa.select(OwnershipRequest)).one()
        assert (req.kind, req.state) == ("claim", "awaiting_approval")
        # A second claim waits for the first.
        r = handle_command(Command("claim Edge Gateway Line 1 Findlay", who(s, JESSICA)), session=s, now=NOW)
        assert r.status == "invalid" and "already waiting" in r.text
        r = handle_action(Action("own.approve", str(req.id), who(s, "elena.petrova@corvane.example")), session=s,
                          now=NOW)
        assert r.status == "completed" and owner(s, "Edge Gateway Line 1 Findlay") == "felix.hartmann@corvane.example"
        # A system whose owner left can be claimed too.
        r = handle_command(Command("claim HMI-FIL-L3-02", who(s, JESSICA)), session=s, now=NOW)
        assert r.status == "claim_requested"


def test_declining_and_withdrawing(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        handle_command(Command("transfer FS-FDL-01 to Tom Brennan", who(s, MARCUS)), session=s, now=NOW)
        req = s.scalars(sa.select(OwnershipRequest)).one()
        r = handle_action(Action("own.decline", str(req.id), who(s, TOM)), session=s, now=NOW)
        assert r.status == "declined" and owner(s, "FS-FDL-01") == MARCUS
        handle_command(Command("transfer FS-FDL-01 to Sabine Vogel", who(s, MARCUS)), session=s, now=NOW)
        second = s.scalars(sa.select(OwnershipRequest).order_by(OwnershipRequest.id.desc())).first()
        assert handle_action(Action("own.cancel", str(second.id), who(s, TOM)), session=s, now=NOW).status == "refused"
        assert handle_action(Action("own.cancel", str(second.id), who(s, MARCUS)), session=s, now=NOW).status == \
            "cancelled"


def test_bad_input_gets_a_clear_answer(org: sessionmaker[Session]) -> None:
    with org() as s, s.begin():
        marcus = who(s, MARCUS)
        assert handle_command(Command("transfer FS-FDL-01", marcus), session=s, now=NOW).status == "usage"
        assert handle_command(Command("claim", marcus), session=s, now=NOW).status == "usage"
        r = handle_command(Command("transfer FS-FDL-01 to Tom Brenan", marcus), session=s, now=NOW)
        assert r.status == "invalid" and "Did you mean: Tom Brennan" in r.text
        r = handle_command(Command("transfer FS-FDL-01 to Gregory Maddox", marcus), session=s, now=NOW)
        assert r.status == "invalid"  # someone who left cannot take anything over
        r = handle_command(Command("transfer historian to Tom Brennan", marcus), session=s, now=NOW)
        assert r.status == "ambiguous" and all(c.value.startswith("transfer #") and c.value.endswith(" to Tom Brennan")
                                               for c in r.choices)
        r = handle_command(Command("transfer PLC-ZZZ-99 to Tom Brennan", marcus), session=s, now=NOW)
        assert r.status == "not_found"
        r = handle_command(Command("transfer FS-FDL-01 to Marcus Lee", marcus), session=s, now=NOW)
        assert r.status == "invalid" and "already owns" in r.text
        assert handle_action(Action("own.accept", "99999", marcus), session=s, now=NOW).status == "refused"
        assert handle_action(Action("own.accept", "-1; drop", marcus), session=s, now=NOW).status == "refused"
        assert s.scalar(sa.select(sa.func.count(OwnershipRequest.id))) == 0
