"""After a decision no card keeps a button that does nothing, on Slack, and every card shows its times in
one labelled zone.

Jessica's change reaches Luis (approval card), the SLA sweep sends him a reminder and the breach, and the
first escalation level reaches the on-call people and channel — all with live buttons, delivered to the
fake Slack by the real outbox sender.  Luis approves with a signed click; the next delivery round updates
every one of those cards in place: Approve / Reject / I'm on it are gone, the card says who decided and
when, in the reader's zone.  A late click on a stale card is told who decided and when.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import Container, configure_delivery
from bot.slack.outbox import SlackOutboxSender
from governance_store.models import ChangeRequest, OutboxMessage, Person, Timer
from handlers.reply import Action, Actor, Command
from notifications import outbox, sla
from notifications.sweep import sweep
from tests.core import handle_action, handle_command
from tests.slack import seed
from tests.slack.conftest import BOT_TOKEN, SlackHost, make_settings
from tests.slack.fake_slack import FakeSlack

START = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)  # Wednesday 10:00 EDT in Findlay
DECISION_BUTTONS = {"cr.approve", "cr.reject", "cr.ask", "esc.ack"}
ZONE = re.compile(r"\b\d{1,2}:\d{2} ([A-Z]{2,5}|UTC[+-]\d{2}(?::\d{2})?)\b")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def container(seeded_target: tuple[str, str | None], fake_slack: FakeSlack, clock: Clock) -> Iterator[Container]:
    box = Container(settings=make_settings(seeded_target, fake_slack), clock=clock)
    yield box
    box.engine.dispose()


def _deliver(container: Container, fake_slack: FakeSlack) -> outbox.DispatchResult:
    sender = SlackOutboxSender.from_settings(container.session_factory, token=BOT_TOKEN, base_url=fake_slack.api_url)
    d = outbox.Dispatcher(container.session_factory, [sender], per_channel_interval=0)
    configure_delivery(d, container.settings)
    return d.run(now=container.clock(), limit=1000)


def _buttons(call: Any) -> set[str]:
    from bot.slack.translate import decode_action_id

    return {decode_action_id(b["action_id"]) for b in call.buttons()}


async def test_a_decision_updates_every_card_it_made_stale(host: SlackHost, container: Container, clock: Clock,
                                                          fake_slack: FakeSlack) -> None:
    with container.unit_of_work() as s:
        p = s.scalars(sa.select(Person).where(Person.email == "jessica.park@corvane.example")).one()
        jessica = Actor(p.id, p.display_name, "slack", p.email)
        preview = handle_command(Command('change PLC-FIL-L3-07 "Firmware v33"', jessica), session=s, now=START)
        cid = int(next(b.value for b in preview.buttons if b.action_id == "cr.submit"))
        handle_action(Action("cr.submit", str(cid), jessica), session=s, now=START)
    await asyncio.to_thread(_deliver, container, fake_slack)
    with container.session_factory() as s:
        timer = s.scalars(sa.select(Timer).where(Timer.change_id == cid, Timer.kind == sla.APPROVAL)).one()
        level1 = next(e.at for e in sla.events(timer, s.get(ChangeRequest, cid), session=s) if e.kind == "level")
    clock.now = level1 + dt.timedelta(minutes=1)
    sweep(container.session_factory, now=clock.now)  # reminders, the breach, level 1: all with buttons
    await asyncio.to_thread(_deliver, container, fake_slack)
    posted = {c.body["metadata"]["event_payload"]["key"]: c for c in fake_slack.calls("chat.postMessage")
              if c.body.get("metadata")}
    live = {k: c for k, c in posted.items() if _buttons(c) & DECISION_BUTTONS}
    kinds = {k.split(":")[2] for k in live}
    assert {"approver", "sla", "escalate"} <= kinds, sorted(live)
    for key, call in posted.items():  # one zone per card
        labels = set(ZONE.findall(call.all_text()))
        assert len(labels) <= 1, (key, labels)

    # Luis approves with a click in Slack.
    clock.now += dt.timedelta(minutes=2)
    await host.click(host.button_click(action_id="cr.approve", value=str(cid), user=seed.LUIS))

    def state() -> str:
        with container.session_factory() as s:
            return s.get(ChangeRequest, cid).state

    for _ in range(200):  # Slack is answered first; the decision follows in the background
        if state() == "approved":
            break
        await asyncio.sleep(0.05)
    assert state() == "approved"
    await fake_slack.settle()
    before = len(fake_slack.calls("chat.update"))
    await asyncio.to_thread(_deliver, container, fake_slack)
    updates = fake_slack.calls("chat.update")[before:]
    updated_ts = {(u.body["channel"], u.body["ts"]) for u in updates}
    with container.session_factory() as s:
        sent = {m.key: m.platform_ref for m in s.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.kind == "message", OutboxMessage.status == "sent"))}
    stale = [k for k in live if (sent[k]["channel"], sent[k]["ts"]) not in updated_ts]
    assert stale == [], f"cards still offering buttons after the decision: {stale}"
    decided_at = clock.now.astimezone(dt.timezone(dt.timedelta(hours=-4))).strftime("%H:%M")
    for update in updates:
        assert not _buttons(update) & DECISION_BUTTONS, update.all_text()[:200]
        text = update.all_text()
        labels = set(ZONE.findall(text))
        assert len(labels) <= 1, labels
    luis_card = next(u for u in updates if (u.body["channel"], u.body["ts"]) ==
                     (sent[f"cr:{cid}:approver:{_pid(container, 'luis.ortega@corvane.example')}"]["channel"],
                      sent[f"cr:{cid}:approver:{_pid(container, 'luis.ortega@corvane.example')}"]["ts"]))
    assert f"approved by Luis Ortega at 2025-06-04 {decided_at} EDT" in luis_card.all_text()

    # A late click on a stale reminder, and an "I'm on it" after the decision: who decided, and when.
    clock.now += dt.timedelta(minutes=5)
    answered = len(fake_slack.calls("response_url"))
    await host.click(host.button_click(action_id="cr.approve", value=str(cid), user=seed.LUIS, ephemeral=True))
    late = (await fake_slack.wait_for("response_url", count=answered + 1, timeout=15))[-1]
    assert f"already approved by Luis Ortega at 2025-06-04 {decided_at} EDT" in late.all_text()


def _pid(container: Container, email: str) -> int:
    with container.session_factory() as s:
        return s.scalars(sa.select(Person.id).where(Person.email == email)).one()
