"""In a real browser (Debian's chromium, Playwright): after a decision the inbox of the web chat offers no
button that does nothing any more, and every card and page shows its times in one named zone.

Luis's inbox gets his approval card, the SLA reminders, the breach and the first escalation level, all with
live buttons.  He approves from one card; the next delivery round updates every other card in place.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, configure_delivery
from bot.dashboard import ChatMount, DashboardMount, WebInbox
from bot.web import create_app
from governance_store import db
from governance_store.models import ChangeRequest, Person, Timer
from handlers.reply import Action, Actor, Command
from notifications import outbox, sla
from notifications.sweep import sweep
from tests.conftest import CORVANE
from tests.core import handle_action, handle_command
from tests.dashboard import test_browser as rig
from tests.dashboard.conftest import FakeClock, container_on

browser = rig.browser
page = rig.page
STALE = ("cr.approve", "cr.reject", "cr.ask", "esc.ack")
ZONE = re.compile(r"\b\d{1,2}:\d{2} ([A-Z]{2,5}|UTC[+-]\d{2})\b")


class Site:
    def __init__(self, url: str, container: Container, inbox: WebInbox, clock: FakeClock) -> None:
        self.url, self.container, self.inbox, self.clock = url, container, inbox, clock

    def deliver(self) -> None:
        d = outbox.Dispatcher(self.container.session_factory, [self.inbox], per_channel_interval=0)
        configure_delivery(d, self.container.settings)
        d.run(now=self.clock(), limit=1000)

    def person(self, email: str) -> int:
        with self.container.session_factory() as s:
            return int(s.scalars(sa.select(Person.id).where(Person.email == email)).one())


@pytest.fixture
def site(sqlite_template: Path, tmp_path: Path) -> Iterator[Site]:
    from governance_store.importers import import_paths

    path = tmp_path / "govbot.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    factory = db.make_session_factory(engine)
    with db.unit_of_work(factory) as session:
        import_paths([CORVANE], session=session)
    clock = FakeClock()
    container = container_on(factory, clock)
    inbox = WebInbox()
    server = rig.LiveServer(create_app(container, slack=None, mounts=[DashboardMount(container),
                                                                      ChatMount(container, inbox)]))
    url = server.start()
    yield Site(url, container, inbox, clock)
    server.stop()
    engine.dispose()


def _inbox_buttons(page: Any) -> list[str]:
    return page.locator("#inbox button.act").evaluate_all("els => els.map(e => e.dataset.actionId)")


def test_no_stale_buttons_after_a_decision_and_one_zone_per_card_and_page(page: Any, site: Site) -> None:
    factory = site.container.session_factory
    with site.container.unit_of_work() as s:
        p = s.scalars(sa.select(Person).where(Person.email == "jessica.park@corvane.example")).one()
        jessica = Actor(p.id, p.display_name, "web", p.email)
        preview = handle_command(Command('change PLC-FIL-L3-07 "Firmware v33"', jessica), session=s, now=site.clock())
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, jessica), session=s, now=site.clock())
    with factory() as s:
        timer = s.scalars(sa.select(Timer).where(Timer.change_id == int(cid), Timer.kind == sla.APPROVAL)).one()
        level1 = next(e.at for e in sla.events(timer, s.get(ChangeRequest, int(cid)), session=s) if e.kind == "level")
        number = s.get(ChangeRequest, int(cid)).number
    site.deliver()
    site.clock.now = level1 + dt.timedelta(minutes=1)
    sweep(factory, now=site.clock())
    site.deliver()

    luis = site.person("luis.ortega@corvane.example")
    page.goto(f"{site.url}/chat?person_id={luis}")
    page.locator("#inbox .inbox-item").first.wait_for()
    live = [a for a in _inbox_buttons(page) if a in STALE]
    assert live.count("cr.approve") >= 2, live  # the approval card and at least one reminder
    for item in page.locator("#inbox .inbox-item").all_inner_texts():
        assert len(set(ZONE.findall(item))) <= 1, item

    # Luis approves from his approval card in the inbox.
    page.locator("#inbox button.act[data-action-id='cr.approve']").last.click()
    page.locator(".turn.bot").first.wait_for()
    assert "approved" in page.locator(".turn.bot").first.inner_text().lower()
    site.deliver()  # the updates of every card the decision made stale
    page.reload()
    page.locator("#inbox .inbox-item").first.wait_for()
    assert [a for a in _inbox_buttons(page) if a in STALE] == [], "no button that does nothing any more"
    texts = page.locator("#inbox .inbox-item").all_inner_texts()
    assert any(re.search(r"approved by Luis Ortega at 2025-06-04 \d{2}:\d{2} EDT", t) for t in texts), texts
    for item in texts:
        assert len(set(ZONE.findall(item))) <= 1, item

    page.goto(f"{site.url}/changes/{number}")
    assert "America/New_York (EDT)" in page.locator("#zone").inner_text()
    assert set(ZONE.findall(page.locator("main, body").first.inner_text())) == {"EDT"}
