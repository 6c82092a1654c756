"""The ownership page and gauges: campaigns, coverage, who owes an answer, gaps per site and week."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.orm import Session, sessionmaker

from bot.bootstrap import Container
from governance_store.models import Person
from governance_store.ownership_policy import DEFAULT_POLICY
from handlers.reply import Action, Actor
from notifications.ownership import start_campaign, sync_and_announce
from tests.core import handle_action
from tests.dashboard.conftest import FakeClock


def _campaign(org: sessionmaker[Session], now: dt.datetime) -> None:
    with org() as s, s.begin():
        campaign, _ = start_campaign(session=s, now=now, policy=DEFAULT_POLICY, started_by="test")
        sync_and_announce(session=s, now=now, policy=DEFAULT_POLICY)
        brian = s.scalars(sa.select(Person).where(Person.email == "brian.caldwell@corvane.example")).one()
        handle_action(Action("att.all_mine", str(campaign.id), Actor(brian.id, brian.display_name, "test")),  # type: ignore[union-attr]
                      session=s, now=now + dt.timedelta(hours=3))


async def test_the_ownership_page_shows_campaigns_coverage_and_who_owes_an_answer(
        client: TestClient, org: sessionmaker[Session], clock: FakeClock, container: Container) -> None:
    empty = await client.get("/attestation")
    assert empty.status == 200 and "No campaign yet" in await empty.text()
    _campaign(org, clock())
    clock.advance(days=1)
    resp = await client.get("/attestation")
    html = await resp.text()
    assert resp.status == 200
    assert "10 / 45" in html and "22.2 %" in html and "3.0 h" in html  # answered, response rate, median
    assert "US-FDL" in html and "Luis Ortega" in html and "Brian Caldwell" not in html.split("Waiting for an answer")[1].split("Week by week")[0]
    assert "criticality 1: every 91 days" in html and 'href="/attestation"' in html
    assert "2025-W23" in html


async def test_metrics_has_the_ownership_gauges(client: TestClient, org: sessionmaker[Session], clock: FakeClock) -> None:
    _campaign(org, clock())
    clock.advance(days=1)
    text = await (await client.get("/metrics")).text()
    assert 'govbot_ownership_coverage_ratio{site="US-FDL"} 0.4' in text
    assert 'govbot_ownership_coverage_ratio{site="all"} 0.2174' in text
    assert 'govbot_attestation_response_ratio{campaign="1"} 0.2222' in text
    assert 'govbot_attestation_median_response_hours{campaign="1"} 3.0' in text
    assert 'govbot_gaps_open{site="DE-RGB"} 1' in text and 'govbot_gaps_opened_7d{site="US-FDL"}' in text


def test_the_demo_campaign_answers_within_business_hours_of_the_demo_clock(container: Container,
                                                                          clock: FakeClock) -> None:
    from bot.demo_campaign import start_demo_campaign
    from governance_store.models import Timer

    campaign_id, asked = start_demo_campaign(container)
    assert campaign_id is not None and asked == 45
    with container.session_factory() as s:
        luis = s.scalars(sa.select(Person.id).where(Person.email == "luis.ortega@corvane.example")).one()
        timer = s.scalars(sa.select(Timer).where(Timer.subject_key == f"att:{campaign_id}:{luis}")).one()
        # Eight business hours in Findlay from Wednesday 10:00: due 18:00 the same day.
        assert timer.target_at == clock() + dt.timedelta(hours=8)
    assert start_demo_campaign(container) == (None, 0)
