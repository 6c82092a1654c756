"""Who may and who may not: every decision action against every kind of person, in the core.

The adapters add no rules of their own; their tests send the same clicks over HTTP.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import AuditEntry, Person, Timer
from handlers.reply import Action, Actor, Command
from notifications.sweep import sweep
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=1)  # the request has breached and escalated to level 2
PEOPLE = {
    "requester": "jessica.park@corvane.example",
    "approver": "luis.ortega@corvane.example",
    "consulted": "mike.sullivan@corvane.example",
    "stranger": "kevin.tran@corvane.example",
    "change manager": "olivia.grant@corvane.example",
}
# (action, who) -> allowed?
MATRIX = {
    ("approve", "requester"): False, ("approve", "approver"): True, ("approve", "consulted"): False,
    ("approve", "stranger"): False, ("approve", "unknown"): False,
    ("reject", "requester"): False, ("reject", "approver"): True, ("reject", "consulted"): False,
    ("reject", "stranger"): False, ("reject", "unknown"): False,
    ("withdraw", "requester"): True, ("withdraw", "approver"): False, ("withdraw", "consulted"): False,
    ("withdraw", "stranger"): False, ("withdraw", "unknown"): False,
    ("cancel", "change manager"): True, ("cancel", "requester"): False, ("cancel", "stranger"): False,
    ("acknowledge", "approver"): True, ("acknowledge", "requester"): False, ("acknowledge", "stranger"): False,
    ("acknowledge", "unknown"): False,
}


def _actor(s: Session, who: str) -> Actor:
    if who == "unknown":
        return Actor(None, "someone", "slack")
    p = s.scalar(sa.select(Person).where(Person.email == PEOPLE[who]))
    return Actor(p.id, p.display_name, "slack", p.email)


@pytest.mark.parametrize(("action", "who"), sorted(MATRIX))
def test_authorization_matrix(org: sessionmaker[Session], action: str, who: str) -> None:
    with org() as s, s.begin():
        preview = handle_command(Command(text='change PLC-FIL-L3-07 "Firmware"', actor=_actor(s, "requester")),
                                 session=s, now=NOW)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, _actor(s, "requester")), session=s, now=NOW)
    if action == "acknowledge":
        sweep(org, now=LATER)
        with org() as s:
            timer = s.scalar(sa.select(Timer).where(Timer.kind == "approval_sla"))
            # Level 2 of the Findlay OT chain reaches Luis Ortega (acting for Gregory Maddox).
            action_id, value = "esc.ack", f"{timer.id}:2"
    else:
        action_id = {"approve": "cr.approve", "reject": "cr.reject", "withdraw": "cr.withdraw", "cancel": "cr.cancel"}[action]
        value = cid
    with org() as s, s.begin():
        before = s.scalar(sa.select(sa.func.count(AuditEntry.id)))
        reply = handle_action(Action(action_id, value, _actor(s, who), {"reason": "not tested"}), session=s, now=LATER)
    allowed = MATRIX[(action, who)]
    assert (reply.data["status"] not in ("refused", "unknown_person")) == allowed, reply.text
    with org() as s:
        entries = s.scalars(sa.select(AuditEntry).where(AuditEntry.id > before)).all()
    if allowed:
        assert entries and not any(e.action.endswith(".refused") for e in entries)
    else:
        refused = [e for e in entries if e.action.endswith(".refused")]
        assert refused, "every refusal is audited"
        if who == "unknown":  # the trail says who tried, not that govbot did
            assert {e.actor for e in refused} == {"someone (not in the directory)"}
