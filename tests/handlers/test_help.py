"""Help's plain-words examples name the asker's own plant, in the asker's language, and every one of them is a
question govbot answers."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance_store.models import Person, System, Team, TeamMember
from handlers.help import EXAMPLES
from handlers.reply import Actor, Command, Reply
from tests.core import handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)
LANGUAGES = ("en", "de", "es", "pl", "fr", "it", "pt", "cs")


def ask(session: Session, text: str, *, person_id: int | None = None, locale: str | None = None) -> Reply:
    actor = Actor(person_id=person_id, display_name="test", platform="test", locale=locale)
    return handle_command(Command(text=text, actor=actor), session=session, now=NOW)


def examples(reply: Reply) -> list[str]:
    [section] = [s for s in reply.sections if s.text and s.text.startswith("• ")]
    lines = [line.removeprefix("• ") for line in (section.text or "").splitlines()]
    assert len(lines) == len(EXAMPLES)
    return lines


def member_of_a_team_at(session: Session, site: str) -> Person:
    return session.scalars(sa.select(Person).join(TeamMember, TeamMember.person_id == Person.id)
                           .join(Team, Team.id == TeamMember.team_id)
                           .where(Team.site_code == site, Person.active.is_(True)).order_by(Person.id)).first()


def site_of(session: Session, name: str) -> str | None:
    return session.scalar(sa.select(System.site_code).where(System.name == name))


@pytest.mark.parametrize("site", ["US-FDL", "DE-RGB"])
def test_the_examples_name_systems_of_the_askers_own_site(corvane: Session, site: str) -> None:
    person = member_of_a_team_at(corvane, site)
    lines = examples(ask(corvane, "help", person_id=person.id, locale="en"))
    owns = lines[0].removeprefix("who owns ").removesuffix("?")
    assert site_of(corvane, owns) == site, lines
    depends = lines[4].removeprefix("what depends on ").removesuffix("?")
    assert site_of(corvane, depends) == site, lines
    assert "SYSTEM" not in " ".join(lines) and "PERSON" not in " ".join(lines)


def test_a_second_plant_sees_its_own_systems_not_the_first_samples(valdera: Session) -> None:
    person = member_of_a_team_at(valdera, "PL-LDZ")
    text = "\n".join(examples(ask(valdera, "help", person_id=person.id, locale="pl")))
    assert "PLC-FIL-L3-07" not in text and "Regensburg" not in text
    named = [n for n in valdera.scalars(sa.select(System.name).where(System.site_code == "PL-LDZ")) if n in text]
    assert named, text


def test_a_question_not_understood_shows_the_plants_examples(valdera: Session) -> None:
    reply = ask(valdera, "hmm, lorem ipsum dolor", locale="es")
    assert reply.data["status"] == "not_understood"
    text = "\n".join(examples(reply))
    assert any(name in text for name in valdera.scalars(sa.select(System.name)))


def test_an_empty_store_shows_the_shape_of_each_question(session: Session) -> None:
    lines = examples(ask(session, "help", locale="en"))
    assert lines[0] == "who owns SYSTEM?"
    assert lines[3] == "who must be consulted for ACTIVITY on SYSTEM?"
    assert lines[5] == "what does PERSON own?"


def test_every_example_in_every_language_is_a_question_govbot_answers_corvane(corvane: Session) -> None:
    every_example_is_answered(corvane)


def test_every_example_in_every_language_is_a_question_govbot_answers_valdera(valdera: Session) -> None:
    every_example_is_answered(valdera)


def every_example_is_answered(session: Session) -> None:
    person = session.scalars(sa.select(Person).join(TeamMember, TeamMember.person_id == Person.id)
                             .where(Person.active.is_(True)).order_by(Person.id)).first()
    for code in LANGUAGES:
        lines = examples(ask(session, "help", person_id=person.id, locale=code))
        for i, line in enumerate(lines):
            reply = ask(session, line, person_id=person.id, locale=code)
            assert reply.data["status"] == "answered", (code, line, reply.text)
            if i < 5:  # the ones about a system: the very system the example names
                assert reply.data["system"]["name"] in line, (code, line, reply.data["system"]["name"])
