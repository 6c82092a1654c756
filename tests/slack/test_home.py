"""handlers.home: the five Home sections from the store (platform-neutral)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import Approval, ChangeRequest, Person, System
from handlers import home
from handlers.reply import Actor
from tests.slack import seed

NOW = dt.datetime(2025, 6, 2, 14, 0, tzinfo=dt.UTC)


@pytest.fixture
def jessica(session: Session, corvane_dir: Path) -> Actor:
    seed.seed_org(session, corvane_dir)
    pid = seed.person_id(session, "jessica.park@corvane.example")
    luis = seed.person_id(session, "luis.ortega@corvane.example")
    plc = session.query(System).filter_by(name=seed.PLC).one()
    mine = ChangeRequest(number="CHG9990002", title="Swap HMI panel", state="submitted", requester_id=pid,
                         system_id=plc.id, system_name=plc.name, created_at=NOW - dt.timedelta(days=1))
    closed = ChangeRequest(number="CHG9990003", title="Old thing", state="closed", requester_id=pid,
                           created_at=NOW - dt.timedelta(days=9))
    theirs = ChangeRequest(number="CHG9990001", title="Firmware upgrade", state="submitted", requester_id=luis,
                           system_name=plc.name, created_at=NOW - dt.timedelta(days=2))
    session.add_all([mine, closed, theirs])
    session.flush()
    session.add_all([
        Approval(change_id=theirs.id, person_id=pid, state="requested", due_at=NOW - dt.timedelta(hours=3)),
        Approval(change_id=mine.id, person_id=pid, state="approved"),
    ])
    session.add_all([System(key=f"HMI-TEST-{i:02d}", name=f"HMI-TEST-{i:02d}", owner_id=pid, site_code="US-FDL",
                            support_group_name="OT Support Findlay") for i in range(12)])
    session.add(System(key="HMI-RETIRED", name="HMI-RETIRED", owner_id=pid, install_status="Retired"))
    session.flush()
    person = session.get(Person, pid)
    assert person is not None
    return Actor(person_id=pid, display_name=person.display_name, platform="slack")


def _section(reply, title: str) -> str:  # type: ignore[no-untyped-def]
    return next(s.text for s in reply.sections if s.title == title) or ""


def test_home_sections_in_order(session: Session, jessica: Actor) -> None:
    reply = home.home_for(jessica, session=session, now=NOW)
    assert [s.title for s in reply.sections] == [
        home.SECTION_APPROVALS, home.SECTION_ASKED, home.SECTION_REQUESTS, home.SECTION_SYSTEMS, home.SECTION_GAPS]
    approvals = _section(reply, home.SECTION_APPROVALS)
    assert "CHG9990001" in approvals and "overdue" in approvals
    requests = _section(reply, home.SECTION_REQUESTS)
    assert "CHG9990002" in requests and "CHG9990003" not in requests
    systems = _section(reply, home.SECTION_SYSTEMS)
    assert "HMI-TEST-00" in systems and "HMI-RETIRED" not in systems
    assert "more" in systems  # 12 owned, 10 shown
    assert reply.data["systems_owned"] >= 12
    gaps = _section(reply, home.SECTION_GAPS)
    lines = gaps.splitlines()
    plc = next(line for line in lines if line.startswith(f"• {seed.PLC}: "))
    assert f"{seed.PLC_OWNER} left the company" in plc
    # Worst first: systems whose owner left come before team problems.
    assert "left the company" in lines[0]
    assert "`govbot lint` lists every gap" in lines[-1]
    assert reply.data["gaps"] == 10 and reply.data["pending_approvals"] == 1


def test_home_for_someone_unknown(session: Session) -> None:
    reply = home.home_for(Actor(person_id=None, display_name="?"), session=session, now=NOW)
    assert reply.status == "unknown_person" and not reply.sections


def test_home_when_there_is_nothing(session: Session) -> None:
    person = Person(email="new@corvane.example", display_name="New Person")
    session.add(person)
    session.flush()
    reply = home.home_for(Actor(person_id=person.id, display_name="New Person"), session=session, now=NOW)
    assert all(s.text for s in reply.sections)
    assert reply.data == {"status": "answered", "pending_approvals": 0, "asked": 0, "open_requests": 0,
                          "systems_owned": 0, "gaps": 0}


def test_home_lists_what_is_asked_of_the_person(org: sessionmaker[Session]) -> None:
    """Systems to confirm, ownership to accept and gaps to fix are on the home page, each with its command."""
    from governance_store import attestation, gaps, transfers
    from governance_store.changes import reroute_departed
    from governance_store.models import OwnershipRequestKind
    from governance_store.ownership_policy import DEFAULT_POLICY
    from notifications.ownership import sync_and_announce

    def _person(s: Session, email: str) -> Person:
        return s.query(Person).filter_by(email=email).one()

    with org() as s, s.begin():
        reroute_departed(session=s, now=NOW)
        sync_and_announce(session=s, now=NOW, policy=DEFAULT_POLICY)
        campaign, _ = attestation.start(session=s, now=NOW, policy=DEFAULT_POLICY, started_by="test",
                                        name="Q2 review", everything=True)
        assert campaign is not None
        brian, jessica = _person(s, "brian.caldwell@corvane.example"), _person(s, "jessica.park@corvane.example")
        plc = s.query(System).filter_by(name="PLC-CIP-01").one()
        assert plc.owner_id == brian.id
        transfers.request(plc, kind=OwnershipRequestKind.TRANSFER, to=jessica, actor=brian, session=s, now=NOW,
                          platform="test", policy=DEFAULT_POLICY)
    with org() as s:
        brian, jessica = _person(s, "brian.caldwell@corvane.example"), _person(s, "jessica.park@corvane.example")
        luis = _person(s, "luis.ortega@corvane.example")
        mine = attestation.pending_for(brian, session=s)
        assert mine
        asked = _section(home.home_for(Actor(brian.id, brian.display_name), session=s, now=NOW), home.SECTION_ASKED)
        assert f"Confirm {len(mine)} system(s) as yours" in asked and "“Q2 review”" in asked and "`attest`" in asked
        assert mine[0].system.name in asked
        reply = home.home_for(Actor(jessica.id, jessica.display_name), session=s, now=NOW)
        assert "Accept ownership of PLC-CIP-01 from Brian Caldwell: `attest`" in _section(reply, home.SECTION_ASKED)
        reply = home.home_for(Actor(luis.id, luis.display_name), session=s, now=NOW)
        asked = _section(reply, home.SECTION_ASKED)
        assigned = gaps.assigned_to(luis, session=s)
        assert assigned and reply.data["asked"] >= len(assigned)
        assert f"• Fix: {assigned[0].title} ({assigned[0].subject}): `gaps`" in asked
