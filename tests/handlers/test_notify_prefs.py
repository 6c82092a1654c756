"""``notify``: where a person is reached, shown and chosen in chat, kept on the person and audited."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import AuditEntry, OutboxMessage, Person
from handlers.reply import Actor, Command
from handlers.services import Services
from notifications import outbox
from tests.core import handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
LUIS = "luis.ortega@corvane.example"
SERVICES = Services(platforms=("slack", "email"))


def _ask(org: sessionmaker[Session], text: str) -> tuple[str, str]:
    with org() as s, s.begin():
        p = s.scalars(sa.select(Person).where(Person.email == LUIS)).one()
        reply = handle_command(Command(text, Actor(p.id, p.display_name, "slack", p.email)), session=s, now=NOW,
                               services=SERVICES)
    return reply.status, reply.text


def _choice(org: sessionmaker[Session]) -> str | None:
    with org() as s:
        return s.scalars(sa.select(Person.notify_via).where(Person.email == LUIS)).one()


def test_choose_show_and_reset_where_one_is_reached(org: sessionmaker[Session]) -> None:
    status, text = _ask(org, "notify")
    assert status == "answered" and "organisation's order: Slack, then Teams, then e-mail" in text
    assert "Connected here: Slack, e-mail" in text
    with org() as s, s.begin():  # a card waits for Luis: choosing a platform tries it again at once
        luis = s.scalars(sa.select(Person.id).where(Person.email == LUIS)).one()
        msg = outbox.enqueue(s, key="k", now=NOW, person_id=luis, payload={"text": "x"})
        assert msg is not None
        msg.status, msg.next_attempt_at = "waiting", NOW + dt.timedelta(hours=1)
    status, text = _ask(org, "notify me on Teams then e-mail")
    assert status == "answered" and text.startswith("govbot reaches you on Teams, then e-mail.")
    assert "Teams is not connected here yet" in text
    assert _choice(org) == "teams,email"
    with org() as s:
        assert s.scalars(sa.select(OutboxMessage.next_attempt_at).where(OutboxMessage.key == "k")).one() == NOW
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "notify.set")).one()
        assert entry.data == {"order": ["teams", "email"]} and entry.object_key == LUIS
    assert "You chose: Teams, then e-mail" in _ask(org, "notify")[1]
    status, text = _ask(org, "notify default")
    assert status == "answered" and _choice(org) is None


def test_unknown_platforms_get_usage_and_a_guess(org: sessionmaker[Session]) -> None:
    status, text = _ask(org, "notify me on slak")
    assert status == "usage" and "Did you mean Slack?" in text and "notify me on teams|slack|email" in text
    status, _ = _ask(org, "notify me on carrier pigeon")
    assert status == "usage" and _choice(org) is None
