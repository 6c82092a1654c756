"""Changes raised and decided in govbot, through the same use cases a chat turn runs (test helper)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import Approval, ChangeRequest, Person
from handlers.reply import Action, Actor, Command
from tests.core import handle_action, handle_command

JESSICA = "jessica.park@corvane.example"


def actor(session: Session, email: str) -> Actor:
    person = session.scalars(sa.select(Person).where(Person.email == email)).one()
    return Actor(person.id, person.display_name, "test", email=person.email)


def submit(factory: sessionmaker[Session], text: str, *, at: dt.datetime, requester: str = JESSICA) -> str:
    """Open and submit a change as ``requester``; returns its number."""
    with factory() as s, s.begin():
        who = actor(s, requester)
        preview = handle_command(Command(text=text, actor=who), session=s, now=at)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, who), session=s, now=at)
        return str(s.get(ChangeRequest, int(cid)).number)  # type: ignore[union-attr]


def approve_all(factory: sessionmaker[Session], number: str, *, at: dt.datetime) -> None:
    """Every pending approver approves at ``at``."""
    with factory() as s, s.begin():
        cr = s.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == number)).one()
        pending = s.scalars(sa.select(Approval).where(Approval.change_id == cr.id, Approval.kind == "approver",
                                                      Approval.state == "requested")).all()
        for approval in pending:
            person = s.get(Person, approval.person_id)
            assert person is not None
            reply = handle_action(Action("cr.approve", str(cr.id), actor(s, person.email)), session=s, now=at)
            assert "approved" in reply.text.lower() or "already" in reply.text.lower(), reply.text


def decided_in_govbot(factory: sessionmaker[Session], text: str, *, at: dt.datetime, after: dt.timedelta) -> str:
    number = submit(factory, text, at=at)
    approve_all(factory, number, at=at + after)
    return number
