"""governance_store.identity: chat accounts joined to people, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from governance_store import identity
from governance_store.models import ChatIdentity, Person


@pytest.fixture
def people(session: Session) -> dict[str, Person]:
    rows = {
        "luis": Person(email="Luis.Ortega@corvane.example", display_name="Luis Ortega"),
        "ray": Person(email="ray.dawson@brightlinecontrols.example", display_name="Ray Dawson",
                      upn="ray.dawson_brightlinecontrols.example#EXT#@corvane.onmicrosoft.example"),
    }
    session.add_all(rows.values())
    session.flush()
    session.add_all([
        ChatIdentity(platform="slack", external_id="U1", person_id=rows["luis"].id),
        ChatIdentity(platform="slack", external_id="U2", person_id=None, email="jo.weber@corvane.example"),
        ChatIdentity(platform="teams", external_id="U1", person_id=None),
    ])
    session.commit()
    return rows


def test_person_for_chat(session: Session, people: dict[str, Person]) -> None:
    assert identity.person_for_chat(session, platform="slack", external_id="U1") is people["luis"]
    assert identity.person_for_chat(session, platform="slack", external_id="U2") is None
    assert identity.person_for_chat(session, platform="slack", external_id="U404") is None
    assert identity.person_for_chat(session, platform="teams", external_id="U1") is None


def test_person_by_email_ignores_case_and_knows_upns(session: Session, people: dict[str, Person]) -> None:
    assert identity.person_by_email(session, "luis.ortega@CORVANE.example ") is people["luis"]
    assert identity.person_by_email(session, people["ray"].upn or "") is people["ray"]
    assert identity.person_by_email(session, "jo.weber@corvane.example") is None
    assert identity.person_by_email(session, "  ") is None


def test_link_creates_then_updates(session: Session, people: dict[str, Person]) -> None:
    row = identity.link_chat_identity(session, platform="slack", external_id="U3", person=people["ray"],
                                      email="ray.dawson@brightlinecontrols.example", workspace_id="T1")
    session.commit()
    assert identity.person_for_chat(session, platform="slack", external_id="U3") is people["ray"]
    again = identity.link_chat_identity(session, platform="slack", external_id="U2", person=people["luis"],
                                        display_name="Johanna")
    session.commit()
    assert again.email == "jo.weber@corvane.example" and again.display_name == "Johanna"
    assert again.person_id == people["luis"].id
    assert row.workspace_id == "T1"
    assert len(session.scalars(select(ChatIdentity).where(ChatIdentity.platform == "slack")).all()) == 3


def test_link_survives_a_concurrent_insert_of_the_same_account(
    session: Session, session_factory: sessionmaker[Session], people: dict[str, Person],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another turn of the same new user inserted the row between our look-up and our insert.
    with session_factory() as other:
        other.add(ChatIdentity(platform="slack", external_id="U9", email="first@corvane.example"))
        other.commit()
    real = identity.chat_identity
    calls = {"n": 0}

    def stale_first(session: Session, *, platform: str, external_id: str) -> ChatIdentity | None:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(session, platform=platform, external_id=external_id)

    monkeypatch.setattr(identity, "chat_identity", stale_first)
    row = identity.link_chat_identity(session, platform="slack", external_id="U9", person=people["luis"])
    session.commit()
    assert calls["n"] == 2
    assert row.person_id == people["luis"].id and row.email == "first@corvane.example"
