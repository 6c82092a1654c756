"""What a manager notices at once on the dashboard: breaches that disappear, times in UTC beside local ones,
gap counts that disagree, owners who left without their acting holder, raw ids."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import ChangeRequest, System, Timer
from handlers.reply import Action, Actor
from notifications import sweep
from tests.core import handle_action
from tests.dashboard.conftest import LUIS, FakeClock, person_id
from tests.dashboard.test_pages import submit_change, text_of

BRIAN = "brian.caldwell@corvane.example"


def _row(html: str, number: str) -> str:
    match = re.search(rf"<tr[^>]*>\s*<td><a href=\"/changes/{number}\">.*?</tr>", html, re.S)
    assert match, number
    return match.group(0)


def _escalate(org: sessionmaker[Session], clock: FakeClock, number: str, *, until_minutes: int) -> None:
    """Sweep the change's clock through reminders, breach and escalation levels."""
    start = clock.now
    for minutes in range(15, until_minutes + 1, 15):
        clock.now = start + dt.timedelta(minutes=minutes)
        sweep.sweep(org, now=clock())


def _acknowledge(org: sessionmaker[Session], clock: FakeClock, number: str, level: int,
                 email: str = LUIS) -> None:
    with org() as s, s.begin():
        cr = s.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == number)).one()
        timer = s.scalars(sa.select(Timer).where(Timer.change_id == cr.id, Timer.kind == "approval_sla")).one()
        who = Actor(person_id(org, email), email, "test")
        reply = handle_action(Action("esc.ack", f"{timer.id}:{level}", who), session=s, now=clock())
        assert "stops at level" in reply.text, reply.text


def _approve(org: sessionmaker[Session], clock: FakeClock, number: str) -> None:
    with org() as s, s.begin():
        cr = s.scalars(sa.select(ChangeRequest).where(ChangeRequest.number == number)).one()
        luis = Actor(person_id(org, LUIS), "Luis Ortega", "test")
        handle_action(Action("cr.approve", str(cr.id), luis), session=s, now=clock())


async def test_a_breach_stays_on_the_change_page_after_the_decision(client: TestClient, org: sessionmaker[Session],
                                                                    clock: FakeClock) -> None:
    number = submit_change(org, clock, 'change PLC-FIL-L3-07 "Firmware v33"')
    _escalate(org, clock, number, until_minutes=285)  # breach at 240 minutes, then levels 1 to 3
    clock.advance(minutes=10)
    _approve(org, clock, number)
    html = await text_of(client, f"/changes/{number}")
    assert "change.sla_breached" in html
    breached = re.search(r'<dd id="breached">(.*?)</dd>', html, re.S)
    assert breached and "yes" in breached.group(1), "the audit trail says it breached"
    assert "2025-06-04 14:00 EDT" in breached.group(1)  # when the sweep recorded the breach, local time
    assert "L3" in html


async def test_a_late_acknowledgement_does_not_hide_the_breach(client: TestClient, org: sessionmaker[Session],
                                                               clock: FakeClock) -> None:
    number = submit_change(org, clock, 'change PLC-FIL-L3-07 "Firmware v33"')
    _escalate(org, clock, number, until_minutes=255)
    _acknowledge(org, clock, number, level=1)
    row = _row(await text_of(client, "/changes"), number)
    assert 'class="breached"' in row and "breached" in row
    assert "acknowledged at L1" in row


async def test_after_the_decision_the_row_shows_the_decision_in_local_time(client: TestClient,
                                                                           org: sessionmaker[Session],
                                                                           clock: FakeClock) -> None:
    number = submit_change(org, clock, 'change PLC-FIL-L3-07 "Firmware v33"')
    _escalate(org, clock, number, until_minutes=285)
    _acknowledge(org, clock, number, level=3, email=BRIAN)  # level 3 reaches the plant manager
    clock.advance(minutes=5)
    _approve(org, clock, number)
    html = await text_of(client, "/changes")
    row = _row(html, number)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[5] == "—", "no next reminder once the change is decided"
    assert "decided 2025-06-04 14:50 EDT" in cells[7] and "breached" in cells[7]
    assert "UTC" not in html and "America/New_York (EDT)" in html


async def test_a_change_decided_in_time_is_within_target(client: TestClient, org: sessionmaker[Session],
                                                         clock: FakeClock) -> None:
    number = submit_change(org, clock, 'change PLC-FIL-L3-07 "Firmware v33"')
    clock.advance(minutes=30)
    _approve(org, clock, number)
    row = _row(await text_of(client, "/changes"), number)
    assert "within target" in row and "breached" not in row


async def test_the_gap_count_of_the_list_is_the_gaps_on_the_page(client: TestClient,
                                                                 org: sessionmaker[Session]) -> None:
    with org() as s:
        sid = s.scalar(sa.select(System.id).where(System.name == "PLC-FIL-L3-07"))
    listing = await text_of(client, "/systems")
    row = re.search(rf'<a href="/systems/{sid}">PLC-FIL-L3-07</a>.*?</tr>', listing, re.S)
    assert row is not None
    count = int(re.findall(r"<td>(?:<span class=\"badge warn\">)?(\d+)(?:</span>)?</td>", row.group(0))[-1])
    page = await text_of(client, f"/systems/{sid}")
    listed = re.search(r'<div class="warnings" id="gaps">.*?<ul>(.*?)</ul>', page, re.S)
    assert listed is not None
    assert count == listed.group(1).count("<li>") == 3
    assert f"Governance gaps ({count})" in page
    assert "Pending approval waits on someone who left" in listed.group(1)


async def test_owner_who_left_shows_the_acting_holder_and_no_raw_key(client: TestClient,
                                                                     org: sessionmaker[Session]) -> None:
    with org() as s:
        system = s.scalars(sa.select(System).where(System.name == "PLC-FIL-L3-07")).one()
        sid, key = system.id, system.key
    page = await text_of(client, f"/systems/{sid}")
    assert "<dt>Owner</dt><dd>Luis Ortega (acting for Gregory Maddox, who left 2025-02-28)</dd>" in page
    assert "<dt>Key</dt>" not in page
    assert f"ServiceNow CMDB (sys_id {key})" in page  # the source record, named as such
    assert "serial 7A21C9E4" in page and "10.41.13.7" in page
