"""The weekly digest: contents from real requests, exactly once per scope and week, catch-up when late."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import DigestRun, OutboxMessage, Person
from handlers.dispatch import handle_action, handle_command
from handlers.reply import Action, Actor, Command
from notifications import digest
from notifications.sweep import sweep

JESSICA = "jessica.park@corvane.example"
LUIS = "luis.ortega@corvane.example"
# Monday 2025-06-09 08:00 EDT = 12:00 UTC; the digest covers 2025-06-02..08 (ISO week 23).
MONDAY_8 = dt.datetime(2025, 6, 9, 12, 0, tzinfo=dt.UTC)


def actor(s: Session, email: str) -> Actor:
    p = s.scalar(sa.select(Person).where(Person.email == email))
    return Actor(p.id, p.display_name, "test", p.email)


def change(org: sessionmaker[Session], title: str, at: dt.datetime, approve_after: dt.timedelta | None) -> None:
    with org() as s, s.begin():
        preview = handle_command(Command(text=f'change PLC-FIL-L3-07 "{title}"', actor=actor(s, JESSICA)), session=s, now=at)
        cid = next(b.value for b in preview.buttons if b.action_id == "cr.submit")
        handle_action(Action("cr.submit", cid, actor(s, JESSICA)), session=s, now=at)
    if approve_after is not None:
        with org() as s, s.begin():
            handle_action(Action("cr.approve", cid, actor(s, LUIS)), session=s, now=at + approve_after)


def test_digest_contents_and_exactly_once(org: sessionmaker[Session]) -> None:
    tue = dt.datetime(2025, 6, 3, 13, 0, tzinfo=dt.UTC)
    change(org, "fast", tue, dt.timedelta(hours=2))
    change(org, "slow", tue, dt.timedelta(hours=30))
    change(org, "pending", tue + dt.timedelta(days=1), None)
    for w in range(1, 5):  # four earlier weeks with slower decisions
        change(org, f"old {w}", tue - dt.timedelta(days=7 * w), dt.timedelta(hours=48))
    sweep(org, now=tue + dt.timedelta(days=2))  # the pending one breaches and escalates that week
    scope = digest.DigestScope("site:US-FDL", (LUIS,))
    assert digest.run_due(org, [scope], now=MONDAY_8 - dt.timedelta(minutes=1)) == []
    runs = digest.run_due(org, [scope], now=MONDAY_8)
    assert len(runs) == 1 and not runs[0].delayed
    data = runs[0].payload
    assert data["week"] == "2025-W23"
    # Imported history counts too: CHG0031201 was opened that week; it and CHG0031188 still wait.
    assert (data["opened"], data["decided"], data["pending"]) == (4, 2, 3)
    assert data["median_hours"] == 16.0 and data["p90_hours"] == 30.0
    assert data["breaches"] == 1 and data["escalations"].get(1) == 1
    assert "Edge Gateway Line 1 Findlay" in data["no_owner"]
    # Again, and after a "restart" (a new session factory on the same database): nothing more.
    assert digest.run_due(org, [scope], now=MONDAY_8 + dt.timedelta(minutes=5)) == []
    fresh = sessionmaker(bind=org.kw["bind"], expire_on_commit=False)
    assert digest.run_due(fresh, [scope], now=MONDAY_8 + dt.timedelta(hours=3)) == []
    with org() as s:
        msgs = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like("digest:%"))).all()
        assert len(msgs) == 1 and "Governance digest 2025-W23" in msgs[0].payload["sections"][0]["title"]
        slowest = next(f["value"] for f in msgs[0].payload["sections"][0]["fields"] if f["label"] == "Slowest pending approvals")
        assert slowest.splitlines()[0].startswith("CHG0031188") and "Hannah Kowalski" in slowest


def test_a_bot_that_was_down_sends_late_and_says_so(org: sessionmaker[Session]) -> None:
    change(org, "x", dt.datetime(2025, 6, 3, 13, 0, tzinfo=dt.UTC), dt.timedelta(hours=1))
    scope = digest.DigestScope("site:US-FDL", (LUIS,))
    runs = digest.run_due(org, [scope], now=MONDAY_8 + dt.timedelta(hours=5))
    assert len(runs) == 1 and runs[0].delayed
    with org() as s:
        msg = s.scalar(sa.select(OutboxMessage).where(OutboxMessage.key.like("digest:%")))
        assert "delayed" in msg.payload["text"]


def test_local_time_per_scope(org: sessionmaker[Session]) -> None:
    with org() as s:
        week, at = digest.scheduled_instant(digest.DigestScope("site:DE-RGB"), MONDAY_8, session=s)
    assert week == "2025-W24" and at == dt.datetime(2025, 6, 9, 6, 0, tzinfo=dt.UTC)  # 08:00 CEST


def test_nothing_to_say_sends_nothing(org: sessionmaker[Session]) -> None:
    scope = digest.DigestScope("site:DE-RGB", (LUIS,))
    first = digest.run_due(org, [scope], now=MONDAY_8)
    assert len(first) == 1 and not first[0].empty, "the first digest reports the gaps it found"
    quiet_week = digest.run_due(org, [scope], now=MONDAY_8 + dt.timedelta(days=7))
    assert len(quiet_week) == 1 and quiet_week[0].empty
    with org() as s:
        assert s.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.key.like("digest:%"))) == 1
        assert s.scalar(sa.select(sa.func.count(DigestRun.id))) == 2


def test_default_scopes_follow_role_assignments(org: sessionmaker[Session]) -> None:
    with org() as s:
        scopes = {sc.name: sc.recipients for sc in digest.default_scopes(session=s)}
    assert scopes["site:US-FDL"] == ("brian.caldwell@corvane.example",)
    assert scopes["site:DE-RGB"] == ("stefan.huber@corvane.example",)
    assert scopes["security"] == ("daniel.okafor@corvane.example",)
    assert set(scopes["ot"]) == {"luis.ortega@corvane.example", "johanna.weber@corvane.example"}


def test_each_recipient_gets_buttons_that_sign_them_in_and_a_channel_plain_ones(org: sessionmaker[Session]) -> None:
    from handlers import dashboard_pass
    from handlers.dashboard import DashboardLinks

    change(org, "x", dt.datetime(2025, 6, 3, 13, 0, tzinfo=dt.UTC), dt.timedelta(hours=1))
    links = DashboardLinks.configure("https://govbot.plant.example", token="s3cret-dashboard-token")
    scope = digest.DigestScope("site:US-FDL", (LUIS, JESSICA), channel="C0PLANTMGMT")
    assert digest.run_due(org, [scope], now=MONDAY_8, links=links)
    with org() as s:
        ids = {e: s.scalar(sa.select(Person.id).where(Person.email == e)) for e in (LUIS, JESSICA)}
        by_key = {m.key: m.payload for m in s.scalars(sa.select(OutboxMessage).where(OutboxMessage.key.like("digest:%")))}
    assert len(by_key) == 3, sorted(by_key)
    for email, pid in ids.items():
        buttons = by_key[f"digest:site:US-FDL:2025-W24:{pid}"]["buttons"]
        assert [b["label"] for b in buttons] == ["Open changes", "Metrics", "Gaps"]
        assert all(b["action_id"] == "link" for b in buttons)
        for b in buttons:
            assert b["value"].startswith("https://govbot.plant.example/")
            signed = b["value"].split("?pass=", 1)[1]
            assert dashboard_pass.verify(signed, key=links.key, now=MONDAY_8).person_id == pid, email
    channel = by_key["digest:site:US-FDL:2025-W24:ch:C0PLANTMGMT"]["buttons"]
    assert [b["value"] for b in channel] == ["https://govbot.plant.example/changes",
                                            "https://govbot.plant.example/metrics-page",
                                            "https://govbot.plant.example/gaps"]  # nobody's pass in a channel
