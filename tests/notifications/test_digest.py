"""The weekly digest: contents from real requests, exactly once per scope and week, catch-up when late."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import DigestRun, OutboxMessage, Person
from handlers.reply import Action, Actor, Command
from notifications import digest
from notifications.sweep import sweep
from tests.core import handle_action, handle_command

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
        slowest = next(f["value"] for f in msgs[0].payload["sections"][0]["fields"] if f["label"].startswith("Slowest pending approvals"))
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


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize("digest_at, inside, outside", [
    # Clocks go forward on Sunday 2027-03-14: the week is Mon 00:00 EST (05:00 UTC) .. Mon 00:00 EDT (04:00 UTC).
    (utc(2027, 3, 15, 12), [utc(2027, 3, 8, 5, 30), utc(2027, 3, 15, 3, 30)],
     [utc(2027, 3, 8, 4, 30), utc(2027, 3, 15, 4, 30)]),
    # Clocks go back on Sunday 2027-11-07: the week is Mon 00:00 EDT (04:00 UTC) .. Mon 00:00 EST (05:00 UTC).
    (utc(2027, 11, 8, 13), [utc(2027, 11, 1, 4, 30), utc(2027, 11, 8, 4, 30)],
     [utc(2027, 11, 1, 3, 30), utc(2027, 11, 8, 5, 30)]),
], ids=["march", "november"])
def test_a_week_with_a_clock_change_runs_midnight_to_midnight_local_time(
        org: sessionmaker[Session], digest_at: dt.datetime, inside: list[dt.datetime],
        outside: list[dt.datetime]) -> None:
    for at in inside + outside:  # Sunday 23:30 and Monday 00:30 local time, either side of both Mondays
        change(org, f"at {at:%m-%d %H:%M} UTC", at, dt.timedelta(minutes=20))
    runs = digest.run_due(org, [digest.DigestScope("site:US-FDL", (LUIS,))], now=digest_at)
    assert len(runs) == 1 and not runs[0].delayed
    assert runs[0].payload["week"] == digest.iso_week((digest_at - dt.timedelta(days=7)).date())
    assert (runs[0].payload["opened"], runs[0].payload["decided"]) == (len(inside), len(inside))


@pytest.mark.parametrize("digest_at, week", [
    (utc(2027, 3, 29, 6), "2027-W12"),  # 08:00 CEST, after the clocks went forward on Sunday 2027-03-28
    (utc(2027, 11, 1, 7), "2027-W43"),  # 08:00 CET, after the clocks went back on Sunday 2027-10-31
    (MONDAY_8, "2025-W23"),
])
def test_a_site_east_of_utc_labels_the_week_by_its_own_calendar(
        org: sessionmaker[Session], digest_at: dt.datetime, week: str) -> None:
    # Local midnight on Monday in Regensburg is still Sunday in UTC.
    runs = digest.run_due(org, [digest.DigestScope("site:DE-RGB", (LUIS,))], now=digest_at)
    assert len(runs) == 1 and runs[0].payload["week"] == week


@pytest.mark.parametrize("monday, hours", [(dt.date(2027, 3, 22), 167), (dt.date(2027, 10, 25), 169),
                                           (dt.date(2027, 6, 7), 168)])
def test_the_week_collected_is_local_midnight_to_local_midnight(
        org: sessionmaker[Session], monday: dt.date, hours: int) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=berlin).astimezone(dt.UTC)
    with org() as s:
        data = digest.collect(digest.DigestScope("site:DE-RGB"), session=s, now=start + dt.timedelta(days=8),
                              week_start=start, tz=berlin)
    assert data.start == start and data.end.astimezone(berlin) == dt.datetime.combine(
        monday + dt.timedelta(days=7), dt.time(0), tzinfo=berlin)
    assert data.end - data.start == dt.timedelta(hours=hours)
    assert data.week == digest.iso_week(monday)


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
    from handlers.dashboard_pass import DashboardLinks

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


# --------------------------------------------------------------------------- reading only the week


WEEK = dt.datetime(2025, 6, 2, tzinfo=dt.UTC)  # the Monday the digest of MONDAY_8 covers (UTC)
SCOPES = ("site:US-FDL", "site:DE-RGB", "site:CORP", "ot", "security", "all", "team:nobody")


def _history(org: sessionmaker[Session], n: int = 240, seed: int = 11) -> None:
    """Requests over 20 weeks around ``WEEK`` in every state, with approvals and the week's audit entries."""
    import random

    from governance_store.models import Approval, AuditEntry, ChangeRequest, System

    rng = random.Random(seed)
    with org() as s, s.begin():
        systems = [*s.scalars(sa.select(System).order_by(System.id)).all(), None]
        people = s.scalars(sa.select(Person).order_by(Person.id)).all()
        rows = []
        for i in range(n):
            system = rng.choice(systems)
            opened = WEEK + dt.timedelta(days=rng.uniform(-18 * 7, 2 * 7))
            state = rng.choice(["draft", "submitted", "submitted", "approved", "rejected", "closed", "withdrawn"])
            decided = opened + dt.timedelta(hours=rng.uniform(1, 24 * 20)) if state in ("approved", "rejected", "closed") else None
            rows.append({
                "number": f"HIST{i:05d}", "title": rng.choice(["Firewall rule", "Patch", "VPN access", "Recipe change"]) + f" {i}",
                "change_type": "normal", "state": state, "system_id": system.id if system else None,
                "system_name": system.name if system else None, "requester_id": rng.choice(people).id,
                "created_at": opened, "submitted_at": None if rng.random() < 0.2 else opened, "decided_at": decided,
                "origin": "govbot", "version": 1, "cab_required": False, "process_safety": False,
            })
        s.execute(sa.insert(ChangeRequest), rows)
        approvals, audits = [], []
        for cid, number in s.execute(sa.select(ChangeRequest.id, ChangeRequest.number).where(ChangeRequest.number.like("HIST%"))):
            for _ in range(rng.randint(0, 3)):
                approvals.append({"change_id": cid, "kind": rng.choice(["approver", "approver", "consulted"]),
                                  "person_id": None if rng.random() < 0.1 else rng.choice(people).id,
                                  "state": rng.choice(["requested", "requested", "approved"]), "requested_at": WEEK})
            if rng.random() < 0.3:  # the week's breaches and escalations, also for requests outside the window
                audits.append({"at": WEEK + dt.timedelta(days=rng.uniform(0, 7)), "actor": "govbot", "platform": "system",
                               "action": rng.choice(["change.sla_breached", "change.escalated"]), "object_type": "change",
                               "object_key": number, "data": {"level": rng.randint(1, 3)}, "prev_hash": "0" * 64,
                               "hash": f"{cid:064x}", "id": len(audits) + 1, "seq": len(audits) + 1})
        s.execute(sa.insert(Approval), approvals)
        s.execute(sa.insert(AuditEntry), audits)
        # Two lint snapshots with a difference between them: new and resolved gaps.
        first = digest.snapshot_lint(session=s, now=WEEK - dt.timedelta(days=3))
        digest.snapshot_lint(session=s, now=WEEK + dt.timedelta(days=1))
        dropped = first.keys[:3]
        first.keys = [k for k in first.keys if k not in dropped] + ["NOT_IN_CMDB:gone"]
        first.titles = {**first.titles, "NOT_IN_CMDB:gone": {"text": "Gone", "code": "NOT_IN_CMDB", "sites": []}}


def _reference(s: Session, scope: digest.DigestScope, *, now: dt.datetime, start: dt.datetime) -> dict[str, object]:
    """The digest's figures the straightforward way: every request with its system and participants."""
    import statistics

    from sqlalchemy.orm import selectinload

    from governance_store.models import Approval, AuditEntry, ChangeRequest, LintSnapshot

    end = start + dt.timedelta(days=7)
    everything = s.scalars(sa.select(ChangeRequest).where(ChangeRequest.state != "draft").options(
        selectinload(ChangeRequest.system), selectinload(ChangeRequest.participants).selectinload(Approval.person))).all()
    mine = [cr for cr in everything if scope.matches(cr.system, cr)]

    def opened(cr: ChangeRequest) -> dt.datetime:
        return cr.submitted_at or cr.created_at

    def hours(cr: ChangeRequest) -> float:
        return (cr.decided_at - opened(cr)).total_seconds() / 3600

    def medians(lo: dt.datetime, hi: dt.datetime) -> float | None:
        cycles = [hours(cr) for cr in mine if cr.decided_at and lo <= cr.decided_at < hi]
        return statistics.median(cycles) if cycles else None

    pending = [cr for cr in mine if cr.state == "submitted" and opened(cr) < end]
    slowest = sorted(((cr.number, [a.person.display_name for a in cr.participants if a.kind == "approver"
                                   and a.state == "requested" and a.person], min(now, end) - opened(cr)) for cr in pending),
                     key=lambda x: x[2], reverse=True)
    numbers = {cr.number for cr in mine}
    entries = [e for e in s.scalars(sa.select(AuditEntry).where(AuditEntry.at >= start, AuditEntry.at < end)).all()
               if e.object_key in numbers]
    snaps = s.scalars(sa.select(LintSnapshot).where(LintSnapshot.taken_at <= max(now, start))
                      .order_by(LintSnapshot.taken_at.desc(), LintSnapshot.id.desc())).all()
    cur, prev = set(snaps[0].keys), set(snaps[1].keys) if len(snaps) > 1 else set()
    titles = {**(snaps[1].titles if len(snaps) > 1 else {}), **snaps[0].titles}
    relevant = [k for k in cur | prev if digest._gap_in_scope(scope, titles.get(k, {}))]
    return {
        "opened": sorted(cr.number for cr in mine if start <= opened(cr) < end),
        "decided": sorted(cr.number for cr in mine if cr.decided_at and start <= cr.decided_at < end),
        "pending": sorted(cr.number for cr in pending),
        "cycle_hours": sorted(hours(cr) for cr in mine if cr.decided_at and start <= cr.decided_at < end),
        "weekly_medians": [medians(start - dt.timedelta(weeks=w), start - dt.timedelta(weeks=w - 1)) for w in range(4, -1, -1)],
        "breaches": sum(e.action == "change.sla_breached" for e in entries),
        "escalations": sorted((int(e.data.get("level", 0)), e.object_key) for e in entries if e.action == "change.escalated"),
        "slowest": slowest,
        "new_gaps": sorted(titles.get(k, {}).get("text", k) for k in relevant if k in cur and k not in prev),
        "resolved_gaps": sorted(titles.get(k, {}).get("text", k) for k in relevant if k in prev and k not in cur),
    }


def _figures(data: digest.DigestData) -> dict[str, object]:
    return {
        "opened": sorted(cr.number for cr in data.opened), "decided": sorted(cr.number for cr in data.decided),
        "pending": sorted(cr.number for cr in data.pending), "cycle_hours": sorted(data.cycle_hours),
        "weekly_medians": data.weekly_medians, "breaches": data.breaches,
        "escalations": sorted(data.escalations.elements()),
        "slowest": [(cr.number, holders, age) for cr, holders, age in data.slowest],
        "new_gaps": data.new_gaps, "resolved_gaps": data.resolved_gaps,
    }


def test_reading_only_the_week_gives_the_same_digest_as_reading_everything(org: sessionmaker[Session]) -> None:
    _history(org)
    now = MONDAY_8 + dt.timedelta(hours=1)
    weeks = [WEEK + dt.timedelta(weeks=w) for w in (-9, -3, -1, 0, 1)] + [WEEK + dt.timedelta(hours=4)]  # US-local Monday
    shared = digest.SharedReads()
    checked = 0
    with org() as shared_session:
        for start in weeks:
            for name in SCOPES:
                scope = digest.DigestScope(name)
                with org() as s:
                    expected = _reference(s, scope, now=now, start=start)
                with org() as s:
                    alone = digest.collect(scope, session=s, now=now, week_start=start)
                together = digest.collect(scope, session=shared_session, now=now, week_start=start, shared=shared)
                got, escalations = _figures(alone), expected.pop("escalations")
                assert got.pop("escalations") == sorted(level for level, _ in escalations), (name, start)
                assert got == expected, (name, start)
                assert _figures(together) == _figures(alone), (name, start)
                checked += bool(expected["opened"] or expected["decided"] or expected["pending"])
    assert checked >= 20, "the history gives most scopes and weeks something to report"
    assert len(shared.weeks) == len(weeks), "read once per week, whatever the number of scopes"


def test_requests_outside_the_week_are_not_read(org: sessionmaker[Session]) -> None:
    from governance_store.models import Approval, AuditEntry, ChangeRequest, System

    _history(org)
    now, end = MONDAY_8 + dt.timedelta(hours=1), WEEK + dt.timedelta(days=7)
    with org() as s:
        rows = s.execute(sa.select(ChangeRequest.number, ChangeRequest.state, ChangeRequest.created_at,
                                   ChangeRequest.submitted_at, ChangeRequest.decided_at, System.site_code)
                         .outerjoin(System, System.id == ChangeRequest.system_id)).all()
        audited = set(s.scalars(sa.select(AuditEntry.object_key).where(
            AuditEntry.at >= WEEK, AuditEntry.at < end,
            AuditEntry.action.in_(("change.sla_breached", "change.escalated")))).all())

    def in_window(r: sa.Row[tuple[object, ...]]) -> bool:
        opened = r.submitted_at or r.created_at
        return r.state != "draft" and (WEEK <= opened < end or (r.state == "submitted" and opened < end) or bool(
            r.decided_at and WEEK - dt.timedelta(weeks=4, days=1) <= r.decided_at < end))

    window = {r.number for r in rows if in_window(r)}
    # Read besides the window: only requests that one of the week's breaches or escalations names.
    allowed = window | audited
    never = {r.number for r in rows} - allowed
    assert len(never) > 100 and len(window) > 30
    for name in SCOPES:
        with org() as s:
            loaded = _loaded(s)
            digest.collect(digest.DigestScope(name), session=s, now=now, week_start=WEEK)
        numbers = {o.number for o in loaded if isinstance(o, ChangeRequest)}
        assert numbers <= allowed and not numbers & never, (name, sorted(numbers & never)[:5])
        assert not [o for o in loaded if isinstance(o, Approval)], "pending approvers are read as names, not objects"
        if name.startswith("site:"):  # filtered in SQL: no other site's requests
            assert numbers <= {r.number for r in rows if r.site_code == name[5:]}, name
        if name == "all":
            assert numbers >= window


def _loaded(s: Session) -> list[object]:
    """Every ORM object the session builds from a row."""
    from sqlalchemy import event

    objects: list[object] = []
    event.listen(s, "loaded_as_persistent", lambda _session, instance: objects.append(instance))
    return objects


def _statements(engine: sa.Engine) -> list[str]:
    """Every SQL statement the engine runs from now on."""
    from sqlalchemy import event

    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


def test_the_due_scopes_of_one_job_read_each_week_once(org: sessionmaker[Session]) -> None:
    _history(org)
    scopes = [digest.DigestScope(n, (LUIS,)) for n in ("ot", "security", "all", "site:US-FDL", "site:CORP", "site:DE-RGB")]
    seen = _statements(org.kw["bind"])
    runs = digest.run_due(org, scopes, now=MONDAY_8 + dt.timedelta(hours=1))
    assert len(runs) == 6
    windows = [q for q in seen if "FROM change_requests" in q and "coalesce" in q]
    assert len(windows) == 3, "ot, security and all share the UTC week, the two US sites New York's; Berlin's"
    assert [q for q in windows if "systems.site_code =" in q] == windows[-1:], "a scope alone in its week reads only its share"
    seen.clear()
    assert digest.run_due(org, scopes, now=MONDAY_8 + dt.timedelta(hours=1, seconds=15)) == []
    assert not [q for q in seen if "change_requests" in q or "lint_snapshots" in q or "audit_log" in q], \
        "a cycle with nothing due only looks at the schedule"


def _blocked_by(admin: sa.Engine, pid: int, timeout: float = 20.0) -> int | None:
    """The PostgreSQL backend waiting for a lock that backend ``pid`` holds, once one waits."""
    import time

    deadline = time.monotonic() + timeout
    with admin.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(sa.text("select pid from pg_stat_activity where :pid = any(pg_blocking_pids(pid))"),
                                   {"pid": pid}).scalar()
            conn.rollback()
            if waiting is not None:
                return int(waiting)
            time.sleep(0.05)
    return None


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("first_replica", ["commits", "crashes"])
def test_a_replica_that_loses_the_race_waits_for_the_claim_and_computes_nothing(
        org: sessionmaker[Session], db_target: tuple[str, str | None], first_replica: str) -> None:
    """Two replicas, one scope and week, on PostgreSQL: the second waits on the first's claim.

    The first replica is held inside its transaction after the claim by a lock the test takes on the
    lint snapshots (the first thing it reads after claiming).  If it commits, the second skips without
    reading any history; if it dies, its claim is rolled back and the second sends the digest."""
    import threading

    from governance_store import db

    change(org, "x", dt.datetime(2025, 6, 3, 13, 0, tzinfo=dt.UTC), dt.timedelta(hours=1))
    url, schema = db_target
    scope = digest.DigestScope("site:US-FDL", (LUIS,))
    second_engine, admin = db.make_engine(url, schema=schema), db.make_engine(url, schema=schema)
    second = db.make_session_factory(second_engine)
    statements = _statements(second_engine)
    results: dict[str, object] = {}

    def replica(name: str, factory: sessionmaker[Session], now: dt.datetime) -> None:
        try:
            results[name] = digest.run_due(factory, [scope], now=now)
        except Exception as exc:  # noqa: BLE001 - the crashed replica's error is the expected outcome
            results[name] = exc

    lock = admin.connect()
    try:
        lock.execute(sa.text("lock table lint_snapshots in access exclusive mode"))
        a = threading.Thread(target=replica, args=("a", org, MONDAY_8))
        a.start()
        a_pid = _blocked_by(admin, lock.execute(sa.text("select pg_backend_pid()")).scalar_one())
        assert a_pid is not None, "the first replica reaches the snapshots"
        b = threading.Thread(target=replica, args=("b", second, MONDAY_8 + dt.timedelta(seconds=30)))
        b.start()
        assert _blocked_by(admin, a_pid) is not None, "the second replica waits for the first one's claim"
        assert b.is_alive() and [q for q in statements if q.startswith("INSERT INTO digest_runs")]
        assert not [q for q in statements if "change_requests" in q or "lint_snapshots" in q]
        if first_replica == "crashes":
            with admin.connect() as conn:
                conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": a_pid})
            a.join(20)
            assert isinstance(results["a"], Exception)
    finally:
        lock.rollback()
        lock.close()
        a.join(30)
        if "b" in locals():
            b.join(30)
    assert not a.is_alive() and not b.is_alive()
    if first_replica == "commits":
        assert isinstance(results["a"], list) and len(results["a"]) == 1
        assert results["b"] == [], results["b"]
        assert not [q for q in statements if "change_requests" in q or "lint_snapshots" in q or "audit_log" in q], \
            "the replica that lost the race computed nothing"
    else:
        assert isinstance(results["b"], list) and len(results["b"]) == 1, results["b"]
        assert [q for q in statements if "change_requests" in q], "the survivor computed the digest"
    with org() as s:
        assert s.scalar(sa.select(sa.func.count(DigestRun.id))) == 1
        assert s.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.key.like("digest:%"))) == 1
    second_engine.dispose()
    admin.dispose()


# --------------------------------------------------------------------------- scopes from a file


def test_scopes_file_in_toml_or_json(tmp_path: Path) -> None:
    from notifications.digest_scopes import load_scopes

    toml = tmp_path / "scopes.toml"
    toml.write_text('# comments are fine\n[[scopes]]\nname = "site:US-FDL"\nrecipients = [" luis.ortega@corvane.example "]\n'
                    'weekday = "Tuesday"\ntime = "7:05"\ntimezone = "Europe/Berlin"\n\n'
                    '[[scopes]]\nname = "all"\nchannel = "C0ALL"\n', encoding="utf-8")
    expected = [digest.DigestScope("site:US-FDL", (LUIS,), None, "tue", "07:05", "Europe/Berlin"),
                digest.DigestScope("all", (), "C0ALL")]
    assert load_scopes(toml) == expected
    as_json = tmp_path / "scopes.json"
    as_json.write_text(json.dumps({"scopes": [
        {"name": "site:US-FDL", "recipients": [LUIS], "weekday": "tue", "time": "07:05", "timezone": "Europe/Berlin"},
        {"name": "all", "channel": "C0ALL"}]}), encoding="utf-8")
    assert load_scopes(as_json) == expected
    example = load_scopes(Path(__file__).resolve().parents[2] / "deploy" / "digest-scopes.example.toml")
    assert [s.name for s in example] == ["site:US-FDL", "site:DE-RGB", "ot", "security"]


GOOD = '[[scopes]]\nname = "ot"\nrecipients = ["luis.ortega@corvane.example"]\n\n'


@pytest.mark.parametrize(("name", "text", "problem"), [
    ("s.toml", GOOD + '[[scopes]]\nname = "all"\nrecipients = ["luis"]\n', "scope 2 (all): recipients: not an e-mail address: 'luis'"),
    ("s.toml", GOOD + '[[scopes]]\nname = "all"\nrecipients = ["a@b.example"]\ntime = "8am"\n', "scope 2 (all): time: must be HH:MM"),
    ("s.toml", GOOD + '[[scopes]]\nname = "all"\nchannel = "C1"\ntime = "24:00"\n', "scope 2 (all): time: must be HH:MM"),
    ("s.toml", GOOD + '[[scopes]]\nname = "all"\nchannel = "C1"\ntimezone = "Mars/Olympus"\n',
     "scope 2 (all): timezone: unknown time zone 'Mars/Olympus'"),
    ("s.toml", GOOD + '[[scopes]]\nname = "all"\nchannel = "C1"\nweekday = "someday"\n', "scope 2 (all): weekday: must be a weekday"),
    ("s.toml", GOOD + '[[scopes]]\nname = "all"\nrecipient = ["a@b.example"]\n', "scope 2 (all): recipient: unknown key (an entry has name, recipients, channel"),
    ("s.toml", GOOD + '[[scopes]]\nname = "plant:US-FDL"\nchannel = "C1"\n', "scope 2 (plant:US-FDL): name: must be site:CODE, ot, security or all"),
    ("s.toml", GOOD + '[[scopes]]\nrecipients = ["a@b.example"]\n', "scope 2: name: Field required"),
    ("s.toml", GOOD + '[[scopes]]\nname = "site:DE-RGB"\n', "scope 2 (site:DE-RGB): needs recipients or a channel"),
    ("s.toml", GOOD + GOOD, "scope 2 (ot): scope ot is already listed as scope 1"),
    ("s.toml", GOOD + "[[scopes]\n", "not valid TOML"),
    ("s.toml", '[scope]\nname = "ot"\n', "expected a list of scopes under 'scopes'"),
    ("s.json", '{"scopes": [{"name": "ot", "recipients": ["a@b.example"]},]}', "not valid JSON"),
    ("s.json", '[{"name": "ot"}]', "expected a list of scopes under 'scopes'"),
    ("s.yaml", "scopes: []\n", "use a .toml or .json file"),
])
def test_a_bad_scopes_file_is_refused_naming_the_file_and_the_entry(tmp_path: Path, name: str, text: str, problem: str) -> None:
    from notifications.digest_scopes import DigestScopesError, load_scopes

    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DigestScopesError) as refused:
        load_scopes(path)
    assert str(refused.value).startswith(f"GOVBOT_DIGEST_SCOPES_FILE {path}"), refused.value
    assert problem in str(refused.value), refused.value
    with pytest.raises(DigestScopesError, match="cannot read it"):
        load_scopes(tmp_path / "missing.toml")
