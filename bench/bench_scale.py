"""Scale benchmark: how many plants one PostgreSQL serves, and what that costs.

For each organisation size in plants (sites of ``bench.generate``, ~2,000
systems each; the generator makes at least two):

1. **Catalog.**  The organisation is generated (cached in ``bench/out/``), with
   governance files written here in the shapes of ``examples/corvane`` (its
   RACI matrix, decision rights and SLA policies; per plant the role holders
   and an OT escalation chain), and imported by the real importer into a fresh
   PostgreSQL schema.
2. **A year of change history.**  One week is driven through the real code
   paths on two plants (one US, one German; one plant with ``--quick``): five
   change requests per plant
   (``CHANGES_PER_PLANT_WEEK``), each previewed and submitted through
   ``the router (handlers.router)`` with its approvals, consults, SLA timers, outbox
   messages and audit entries; the sweep (``notifications.sweep``) runs at every
   instant a timer falls due and the outbox is delivered to a recording sender
   after every step.  The five are: approved after two consults, then
   scheduled, implemented and closed; left unanswered until escalation level 2
   is acknowledged, then approved and closed; a level-3 system with a question
   to the requester and its answer, then approved and closed; a concern and a
   rejection; withdrawn by the requester.  Those rows (with their real sizes)
   are then copied to every plant for 52 weeks, with people, systems and
   escalation chains mapped to the plant, times shifted and the audit hash
   chain recomputed.  The weekly digest job (``notifications.digest.run_due``,
   default scopes: one per plant manager, OT, security) runs once for the
   driven week and its rows are copied to the other 51 weeks.
3. **Measured on that database:** size (``pg_total_relation_size`` over the
   schema, top tables, rows per table) after the import and after the year;
   a fresh process's RSS after building the catalog index
   (``handlers.catalog.Catalog.index_for``, with the web host's modules loaded) and its
   peak while building, and ``Catalog.resolve`` p50/p99 over 1,000
   queries; the weekly digest job for all plants as the worker runs it (one
   ``run_due`` call for every default scope; the week's lint snapshot, which
   reads the whole catalog, timed apart); a peak hour's due timers
   (``PEAK_TIMERS_PER_PLANT`` per plant, each firing escalation level 2) swept
   by ``notifications.sweep.sweep``; and audit appends per second through the
   chain's advisory lock (one entry per transaction, one process and two at
   once).

Baselines in the same run: the naive full-scan resolver (``extractOne`` /
``WRatio``) on a sample of the queries; the per-timer sweep design of
``bench_sweep`` on a sample of the peak hour's timers; one process appending
audit entries alone.

``run()`` also writes ``bench/out/scale-<sizes>.json`` and the sizing table
derived from it (``sizing_markdown``) to ``bench/out/scale-<sizes>.md``.

CLI: ``python -m bench.bench_scale [--plants 2,5,20,50] [--weeks 52]``;
``--table FILE.json ...`` prints the sizing table of earlier runs again.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import gc
import heapq
import json
import math
import multiprocessing as mp
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

NAME = "scale"
QUICK_SIZES = (2,)
DEFAULT_SIZES = (2, 5, 20, 50)
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
CORVANE = ROOT / "examples" / "corvane"
PG_URL = os.environ.get("GOVBOT_BENCH_POSTGRES_URL",
                        os.environ.get("GOVBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
SEED = 7

# Assumptions (see docs/operations.md, "Sizing").
CHANGES_PER_PLANT_WEEK = 5  # one of each scenario below, per plant and week
WEEKS = 52
# A peak hour: a week's changes (5) with each of their six clocks (one approval, five consults) due at
# once -- the Monday-morning restart of business-hours clocks, every plant in the same time zone.
PEAK_TIMERS_PER_PLANT = 30
WEEK_START = dt.datetime(2025, 6, 2, tzinfo=dt.UTC)  # a Monday; the driven week is this one
DIGEST_AT = WEEK_START + dt.timedelta(days=7, hours=20)  # Monday 20:00 UTC: 08:00 has passed everywhere
PEAK_AT = WEEK_START + dt.timedelta(days=8, hours=13)  # the Tuesday after
SWEEP_INTERVAL_S = 15.0  # GOVBOT_SWEEP_INTERVAL_SECONDS default
GOAL_RESOLVE_P99_MS = 25.0
GOAL_DIGEST_S = 60.0
RETENTION_DAYS = 90  # GOVBOT_OUTBOX_RETENTION_DAYS default
SWEEP_NAIVE_SAMPLE = 100
# Accepted on the command line for compatibility; every digest scope runs.
DIGEST_SAMPLE_SCOPES = None


def _rss_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _hwm_mb() -> float:
    """This process's peak RSS: ``VmHWM``, which unlike ``ru_maxrss`` is not inherited across fork and exec."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _log(msg: str) -> None:
    print(f"  [scale] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the organisation


def systems_for(plants: int, seed: int = SEED) -> int:
    """The generator's system count that yields exactly ``plants`` sites (plus corporate systems)."""
    from bench.generate import SYSTEMS_PER_SITE, Plant

    if plants < 2:
        raise ValueError("the generator makes at least two plants")
    n = math.ceil(plants * SYSTEMS_PER_SITE / 0.99)
    n = min(n, plants * SYSTEMS_PER_SITE + 400)  # corporate systems: min(n // 100, 400)
    got = len(Plant(n, seed).sites)
    if got != plants:
        raise ValueError(f"{n} systems make {got} plants, not {plants}")
    return n


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        w.writerow(header)
        w.writerows(rows)


def write_governance(plant: Any, out: Path) -> None:
    """Role assignments and escalation chains for the generated people, in the corvane shapes.

    The RACI matrix, decision rights and SLA policies are the sample's; each plant
    gets its Plant Manager, Production Shift Lead, OT Engineering Lead and a
    Controls Engineer, and an OT escalation chain (team, OT lead, plant manager,
    OT security lead and CISO), like Findlay and Regensburg in the sample.
    """
    for name in ("raci_matrix.csv", "decision_rights.csv", "sla_policies.csv"):
        shutil.copyfile(CORVANE / name, out / name)
    g = plant.global_people
    since = "2020-01-01"
    rows: list[list[str]] = []
    for s in plant.sites:
        p = s.people
        for role, who in (("Plant Manager", p["pm"][0]), ("Production Shift Lead", p["ops"][0]),
                          ("OT Engineering Lead", p["lead"][0]), ("Controls Engineer", p["eng"][0])):
            rows.append([role, s.code, "person", who.display, who.email, since, ""])

    def person(role: str, who: Any) -> list[str]:
        return [role, "GLOBAL", "person", who.display, who.email, since, ""]

    def team(role: str, name: str, scope: str = "GLOBAL") -> list[str]:
        return [role, scope, "team", name, "", since, ""]

    rows += [person("OT Security Lead", g["otsec"][0]), team("SOC", "Security Operations Center"),
             person("CISO", g["ciso"][0]), team("IT Infrastructure & Network", "IT Infrastructure & Network"),
             person("Change Manager (CAB Chair)", g["desk"][1]), person("Manufacturing Systems Owner", g["mfg"][0]),
             person("Data Platform Owner", g["data"][0]), person("Enterprise Apps Owner", g["sap"][0]),
             team("System Integrator (Vendor)", "Brightline Controls (Vendor)", plant.sites[0].code)]
    _write_csv(out / "role_assignments.csv", ["role", "scope", "holder_type", "holder", "holder_upn", "valid_from",
                                               "note"], rows)
    channel = {r[0]: r[7] for r in plant.site_rows()}
    chains: list[list[str]] = []
    for s in plant.sites:
        cid, grp = f"ESC-OT-{s.short}", s.ot_team
        chains += [
            [cid, grp, s.code, "1", "0", "team", grp, f"slack_channel:{channel[s.code]}; phone:on-call", "24x7", ""],
            [cid, grp, s.code, "2", "15", "role", f"OT Engineering Lead@{s.code}", "slack_dm; phone", "24x7", ""],
            [cid, grp, s.code, "3", "30", "role", f"Plant Manager@{s.code}", "phone; slack_dm", "24x7", ""],
            [cid, grp, s.code, "4", "60", "role", "OT Security Lead@GLOBAL; CISO@GLOBAL", "slack_dm; email", "24x7", ""],
        ]
    it = "IT Infrastructure & Network; Enterprise Applications - SAP; IT Service Desk"
    mfg, sec, data = "Manufacturing Systems (MES/LIMS)", "OT Security; Security Operations Center", "Data & Analytics Platform"
    chains += [
        ["ESC-MFG", mfg, "*", "1", "0", "team", mfg, "slack_channel:#mfg-systems", "24x7", ""],
        ["ESC-MFG", mfg, "*", "2", "30", "role", "Manufacturing Systems Owner@GLOBAL", "slack_dm; phone", "24x7", ""],
        ["ESC-MFG", mfg, "*", "3", "60", "role", "Plant Manager@{ci.site}", "phone", "24x7", ""],
        ["ESC-IT", it, "*", "1", "0", "team", "IT Service Desk", "slack_channel:#it-servicedesk", "business", ""],
        ["ESC-IT", it, "*", "2", "30", "team", "{ci.support_group}", "slack_channel", "business", ""],
        ["ESC-IT", it, "*", "3", "120", "person", g["infra"][0].display, "slack_dm; email", "business", ""],
        ["ESC-IT", it, "*", "4", "240", "person", g["cio"][0].display, "email", "business", ""],
        ["ESC-SEC", sec, "*", "1", "0", "team", "Security Operations Center", "slack_channel:#soc-alerts", "24x7", ""],
        ["ESC-SEC", sec, "*", "2", "15", "person", g["soc"][0].display, "slack_dm; phone", "24x7", ""],
        ["ESC-SEC", sec, "*", "3", "30", "role", "OT Security Lead@{ci.site|GLOBAL}", "slack_dm; phone", "24x7", ""],
        ["ESC-SEC", sec, "*", "4", "60", "role", "CISO@GLOBAL", "phone", "24x7", ""],
        ["ESC-DATA", data, "*", "1", "0", "team", data, "slack_channel:#data-platform", "business", ""],
        ["ESC-DATA", data, "*", "2", "60", "role", "Data Platform Owner@GLOBAL", "slack_dm", "business", ""],
    ]
    _write_csv(out / "escalation_chains.csv", ["chain_id", "applies_to_support_group", "site_code", "level",
                                                "after_minutes", "target_type", "target", "channel", "hours", "note"],
               chains)


def org_dir(plants: int, seed: int = SEED) -> tuple[Path, Any]:
    """The generated organisation with governance files (written once, reused), and its ``Plant``."""
    from bench.generate import Plant, generate_plant

    n = systems_for(plants, seed)
    folder = OUT / f"scale-org-{plants}-{seed}"
    if not (folder / ".complete").exists() or not (folder / "govbot-import.toml").exists():
        folder.mkdir(parents=True, exist_ok=True)
        generate_plant(folder, n, seed=seed)
        write_governance(Plant(n, seed), folder)
        (folder / ".complete").write_text("ok", encoding="utf-8")
    return folder, Plant(n, seed)


# --------------------------------------------------------------------------- the database


@dataclass
class Store:
    schema: str
    engine: Any
    factory: Any


@contextmanager
def pg_store() -> Iterator[Store]:
    """A fresh, migrated PostgreSQL schema; dropped afterwards."""
    from governance_store import db

    schema = f"govbot_scale_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    engine = None
    try:
        db.upgrade(PG_URL, schema=schema)
        engine = db.make_engine(PG_URL, schema=schema)
        yield Store(schema, engine, db.make_session_factory(engine))
    finally:
        if engine is not None:
            engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
        admin.dispose()


def table_sizes(store: Store) -> dict[str, dict[str, int]]:
    """Per table: total bytes (heap + indexes + TOAST), index bytes and exact row count."""
    out: dict[str, dict[str, int]] = {}
    with store.engine.connect() as conn:
        for name, total, indexes in conn.execute(sa.text(
            "select c.relname, pg_total_relation_size(c.oid), pg_indexes_size(c.oid) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = :s and c.relkind = 'r'"),
            {"s": store.schema}).all():
            rows = conn.execute(sa.text(f'select count(*) from "{store.schema}"."{name}"')).scalar_one()
            out[name] = {"bytes": int(total), "index_bytes": int(indexes), "rows": int(rows)}
    return out


def _analyze(store: Store) -> None:
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("analyze"))


# --------------------------------------------------------------------------- one week through the real code


class RecordingSender:
    """Accepts every message and answers like Slack (a channel and a ``ts``), so rows look delivered."""

    platform = "slack"

    def __init__(self) -> None:
        self.n = 0

    def can_reach(self, recipient: Any) -> bool:
        return True

    def _ref(self, recipient: Any) -> dict[str, Any]:
        self.n += 1
        channel = recipient.channel or f"D{(recipient.person_id or 0):010d}"
        return {"channel": channel, "ts": f"{1717000000 + self.n}.{self.n % 1000000:06d}"}

    def send(self, recipient: Any, payload: dict[str, Any]) -> dict[str, Any]:
        return self._ref(recipient)

    def send_keyed(self, recipient: Any, payload: dict[str, Any], *, key: str) -> dict[str, Any]:
        return self._ref(recipient)

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        return ref


@dataclass
class Driven:
    """What the driven week produced."""

    change_ids: dict[str, list[int]] = field(default_factory=dict)  # site code -> change ids
    escalated: dict[str, int] = field(default_factory=dict)  # site code -> the change left to escalate
    actions: int = 0
    sweeps: int = 0
    refused: list[str] = field(default_factory=list)


class _Week:
    """Scheduled actions and timer due instants, run in time order against the real handlers."""

    def __init__(self, factory: Any, sender: RecordingSender) -> None:
        self.factory = factory
        self.sender = sender
        self.queue: list[tuple[dt.datetime, int, Callable[[dt.datetime], None]]] = []
        self.seq = 0
        self.result = Driven()

    def at(self, when: dt.datetime, fn: Callable[[dt.datetime], None]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (when, self.seq, fn))

    def _next_due(self) -> dt.datetime | None:
        from governance_store.models import Timer

        with self.factory() as s:
            return s.scalar(sa.select(sa.func.min(Timer.due_at)).where(Timer.state == "pending"))

    def _tick(self, now: dt.datetime) -> None:
        from notifications import outbox
        from notifications.sweep import sweep

        sweep(self.factory, now=now, limit=10**9)
        self.result.sweeps += 1
        outbox.dispatch(self.factory, [self.sender], now=now, limit=10**6)

    def run(self, until: dt.datetime) -> Driven:
        last: dt.datetime | None = None
        while True:
            due = self._next_due()
            head = self.queue[0][0] if self.queue else None
            candidates = [t for t in (due, head) if t is not None and t <= until]
            if not candidates:
                break
            now = min(candidates)
            if last is not None and now <= last and (head is None or head > now):
                raise RuntimeError(f"a timer stays due at {now} after a sweep")
            last = now
            while self.queue and self.queue[0][0] <= now:
                _when, _seq, fn = heapq.heappop(self.queue)
                fn(now)
                self.result.actions += 1
            self._tick(now)
        return self.result


def _local(site_tz: str, day: int, hhmm: str) -> dt.datetime:
    date = (WEEK_START + dt.timedelta(days=day)).date()
    return dt.datetime.combine(date, dt.time.fromisoformat(hhmm), tzinfo=ZoneInfo(site_tz)).astimezone(dt.UTC)


def drive_week(factory: Any, sites: Sequence[Any]) -> Driven:
    """Five change requests per site through ``the router (handlers.router)``, the sweep and the outbox (module docstring)."""
    week = _Week(factory, RecordingSender())
    for site in sites:
        _plan_site(week, site)
    return week.run(WEEK_START + dt.timedelta(days=7))


def _plan_site(week: _Week, site: Any) -> None:
    from bot.bootstrap import build_router
    from governance_store.models import Approval, ChangeRequest, Person, System, Timer
    from handlers.reply import Action, Actor, Command
    from handlers.services import Services
    from notifications import sla

    router = build_router(Services())
    handle_action, handle_command = router.action, router.command

    factory, tz = week.factory, site.tz
    ids: list[int] = week.result.change_ids.setdefault(site.code, [])

    def actor(s: Any, person_id: int) -> Actor:
        p = s.get(Person, person_id)
        return Actor(p.id, p.display_name, "slack", p.email)

    def pending(s: Any, cid: int, kind: str) -> list[int]:
        return list(s.scalars(sa.select(Approval.person_id).where(
            Approval.change_id == cid, Approval.kind == kind, Approval.state == "requested",
            Approval.person_id.is_not(None)).order_by(Approval.id)).all())

    def press(s: Any, action_id: str, cid: int, pid: int, inputs: dict[str, str] | None, value: str | None,
              now: dt.datetime) -> bool:
        reply = handle_action(Action(action_id, value or str(cid), actor(s, pid), inputs or {}), session=s, now=now)
        if reply.data.get("status") == "refused":
            week.result.refused.append(f"{action_id}: {reply.text}")
            return False
        return True

    def click(action_id: str, cid: int, who: str | int, inputs: dict[str, str] | None = None,
              value: str | None = None) -> Callable[[dt.datetime], None]:
        def fn(now: dt.datetime) -> None:
            with factory() as s, s.begin():
                if who == "approvers":  # each pending approver in turn, until the request is decided
                    for _ in range(5):
                        waiting = pending(s, cid, "approver")
                        if not waiting or not press(s, action_id, cid, waiting[0], inputs, value, now):
                            break
                elif who == "consulted":
                    for pid in pending(s, cid, "consulted")[:2]:
                        press(s, action_id, cid, pid, inputs, value, now)
                else:
                    press(s, action_id, cid, int(who), inputs, value, now)
        return fn

    with factory() as s:
        active = set(s.scalars(sa.select(Person.email).where(Person.active.is_(True))).all())
        requester_email = next(p.email for p in site.people["eng"] + site.people["lead"] if p.email in active)
        requester = s.scalar(sa.select(Person.id).where(Person.email == requester_email))

        def system(*where: Any) -> int | None:
            query = sa.select(System.id).where(System.site_code == site.code, System.in_cmdb.is_(True), *where)
            return s.scalars(query.order_by(System.id).limit(1)).first()

        plc = system(System.class_name == "PLC", ~System.name.like("F-%"))
        hmi = system(System.class_name == "HMI") or plc
        drive = system(System.class_name == "Industrial Drive") or plc
        level3 = system(System.purdue_level == "3") or plc
    me = str(requester)

    def follow_up(day: int, cid: int) -> None:
        if day == 0:  # two consults answer, approval, then the lifecycle
            week.at(_local(tz, 0, "10:00"), click("cr.consult_ok", cid, "consulted"))
            week.at(_local(tz, 0, "11:00"), click("cr.approve", cid, "approvers"))
            week.at(_local(tz, 1, "09:00"), click("cr.schedule", cid, me))
            week.at(_local(tz, 3, "06:00"), click("cr.implement", cid, me))
            week.at(_local(tz, 3, "09:00"), click("cr.close", cid, me))
        elif day == 1:  # nobody answers: reminders, breach, escalation; level 2 acknowledges
            week.result.escalated[site.code] = cid
            with factory() as s:
                timer = s.scalar(sa.select(Timer).where(Timer.change_id == cid, Timer.kind == sla.APPROVAL))
                evs = sla.events(timer, s.get(ChangeRequest, cid), session=s)
                l2 = next(e.at for e in evs if e.key == "escalate:L2")
                lead = pending(s, cid, "approver")[0]
            week.at(l2 + dt.timedelta(minutes=5), click("esc.ack", cid, lead, value=f"{timer.id}:2"))
            week.at(l2 + dt.timedelta(minutes=40), click("cr.approve", cid, "approvers"))
            week.at(_local(tz, 3, "10:00"), click("cr.implement", cid, me))
            week.at(_local(tz, 3, "12:00"), click("cr.close", cid, me))
        elif day == 2:  # a question to the requester, the answer, approval, lifecycle
            with factory() as s:
                approver = pending(s, cid, "approver")[0]
            week.at(_local(tz, 2, "11:00"), click("cr.ask", cid, approver,
                                                  {"text": "Is the rollback tested on the spare?"}))
            week.at(_local(tz, 2, "13:00"), click("cr.answer", cid, me, {"text": "Yes, on the spare on Monday."}))
            week.at(_local(tz, 2, "14:00"), click("cr.approve", cid, "approvers"))
            week.at(_local(tz, 3, "10:00"), click("cr.schedule", cid, me))
            week.at(_local(tz, 4, "06:00"), click("cr.implement", cid, me))
            week.at(_local(tz, 4, "08:00"), click("cr.close", cid, me))
        elif day == 3:  # a concern, then a rejection
            week.at(_local(tz, 3, "10:30"), click("cr.consult_concern", cid, "consulted",
                                                  {"concern": "Line 2 runs a trial batch that day."}))
            week.at(_local(tz, 3, "11:00"), click("cr.reject", cid, "approvers",
                                                  {"reason": "Conflicts with the trial batch; resubmit."}))
        else:  # withdrawn by the requester
            week.at(_local(tz, 4, "10:00"), click("cr.withdraw", cid, me))

    def submit(day: int, text: str) -> Callable[[dt.datetime], None]:
        def fn(now: dt.datetime) -> None:
            with factory() as s, s.begin():
                who = actor(s, requester)
                preview = handle_command(Command(text=text, actor=who), session=s, now=now)
                button = next((b for b in preview.buttons if b.action_id == "cr.submit"), None)
                if button is None:
                    week.result.refused.append(f"preview: {preview.text} {preview.data.get('errors')}")
                    return
                handle_action(Action("cr.submit", button.value, who), session=s, now=now)
            ids.append(int(button.value))
            follow_up(day, int(button.value))
        return fn

    scenarios = [
        (plc, "Firmware update on the line PLC", "2025-06-05T06:00/08:00"),
        (hmi, "HMI screen change for the new format", None),
        (level3, "Upgrade of the site application server", "2025-06-06T06:00/07:00"),
        (drive, "Drive parameter change for conveyor speed", None),
        (plc, "Add a diagnostic routine", None),
    ]
    for day, (system_id, title, window) in enumerate(scenarios):
        text = f'change #{system_id} "{title}"' + (f" window={window}" if window else "")
        week.at(_local(tz, day, "09:00"), submit(day, text))


# --------------------------------------------------------------------------- a year, copied to every plant


@dataclass
class Templates:
    """The driven week's rows, by site, ready to copy."""

    changes: list[dict[str, Any]]
    approvals: list[dict[str, Any]]
    timers: list[dict[str, Any]]
    outbox: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    site_of: dict[int, str]  # change id -> template site code


def _rows(s: Any, table: Any, *where: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in s.execute(sa.select(table).where(*where).order_by(table.c.id)).mappings().all()]


def load_templates(factory: Any, driven: Driven) -> Templates:
    from governance_store.models import Approval, AuditEntry, ChangeRequest, OutboxMessage, Timer

    site_of = {cid: code for code, ids in driven.change_ids.items() for cid in ids}
    with factory() as s:
        changes = _rows(s, ChangeRequest.__table__, ChangeRequest.id.in_(site_of))
        approvals = _rows(s, Approval.__table__, Approval.change_id.in_(site_of))
        timers = _rows(s, Timer.__table__, Timer.change_id.in_(site_of))
        outbox = [r for r in _rows(s, OutboxMessage.__table__, OutboxMessage.key.like("cr:%"))
                  if int(r["key"].split(":")[1]) in site_of]
        numbers = [c["number"] for c in changes]
        audit = _rows(s, AuditEntry.__table__, AuditEntry.object_key.in_(numbers))
    return Templates(changes, approvals, timers, outbox, audit, site_of)


def _shift(row: dict[str, Any], delta: dt.timedelta) -> dict[str, Any]:
    return {k: (v - delta if isinstance(v, dt.datetime) else v) for k, v in row.items()}


class Mapper:
    """People, systems and chains of a template plant -> the same ones at another plant."""

    ROLE_KEYS = ("pm", "lead", "eng", "ops")

    def __init__(self, factory: Any, plant: Any) -> None:
        from governance_store.models import Person, System

        with factory() as s:
            self.person_id = dict(s.execute(sa.select(Person.email, Person.id)).tuples().all())
            systems = s.execute(sa.select(System.id, System.name, System.site_code, System.class_name)
                                .where(System.in_cmdb.is_(True))).tuples().all()
        self.by_name = {name: (sid, name) for sid, name, _site, _cls in systems}
        self.info = {sid: (name, site, cls) for sid, name, site, cls in systems}
        self.by_class: dict[tuple[str | None, str | None], list[tuple[int, str]]] = {}
        for sid, name, site, cls in systems:
            self.by_class.setdefault((site, cls), []).append((sid, name))
        self.sites = {site.code: site for site in plant.sites}

    def people(self, template: Any, target: Any) -> dict[int, int]:
        out: dict[int, int] = {}
        for key in self.ROLE_KEYS:
            for i, p in enumerate(template.people[key]):
                same = target.people[key][i % len(target.people[key])]
                if p.email in self.person_id and same.email in self.person_id:
                    out[self.person_id[p.email]] = self.person_id[same.email]
        return out

    def system(self, system_id: int | None, template: Any, target: Any) -> tuple[int | None, str | None]:
        if system_id is None or system_id not in self.info:
            return system_id, None
        name, _site, cls = self.info[system_id]
        renamed = name.replace(f"-{template.short}-", f"-{target.short}-")
        if renamed in self.by_name and self.info[self.by_name[renamed][0]][1] == target.code:
            return self.by_name[renamed]
        same = self.by_class.get((target.code, cls)) or self.by_class.get((target.code, None)) or [(system_id, name)]
        return same[system_id % len(same)]


class _Copier:
    """Bulk writes through PostgreSQL ``COPY`` in the session's transaction, with ids taken from the sequences."""

    def __init__(self, session: Any) -> None:
        self.conn = session.connection().connection.driver_connection

    def ids(self, table: sa.Table, n: int) -> list[int]:
        if n == 0:
            return []
        cur = self.conn.execute("select nextval(pg_get_serial_sequence(%s, 'id')) from generate_series(1, %s)",
                                (table.name, n))
        return [r[0] for r in cur.fetchall()]

    def copy(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cols = [c.name for c in table.columns]
        json_cols = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
        names = ", ".join(f'"{c}"' for c in cols)
        json_at = [i for i, c in enumerate(cols) if c in json_cols]
        with self.conn.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as cp:
            for r in rows:
                values = [r[c] for c in cols]
                for i in json_at:
                    if values[i] is not None and not isinstance(values[i], str):
                        values[i] = json.dumps(values[i])
                cp.write_row(values)


def _dumped(rows: list[dict[str, Any]], table: sa.Table) -> list[dict[str, Any]]:
    """The same rows with their JSON columns serialised once (as SQLAlchemy would), for repeated copies."""
    json_cols = [c.name for c in table.columns if isinstance(c.type, sa.JSON)]
    return [{**r, **{c: json.dumps(r[c]) for c in json_cols if r[c] is not None}} for r in rows]


def clone_history(factory: Any, plant: Any, templates: Templates, *, weeks: int = WEEKS,
                  skip: set[tuple[str, int]] | None = None) -> dict[str, int]:
    """Copy the driven week to every plant and ``weeks`` weeks back (week 0 is the driven week itself).

    ``skip``: (site code, week) pairs already present (the driven sites' week 0).
    """
    from governance_store import audit as audit_mod
    from governance_store.audit_keys import keyring
    from governance_store.models import Approval, AuditEntry, ChangeRequest, OutboxMessage, Timer

    skip = skip or set()
    mapper = Mapper(factory, plant)
    by_country: dict[str, Any] = {}
    for code in dict.fromkeys(templates.site_of.values()):
        by_country.setdefault(mapper.sites[code].country, mapper.sites[code])
    counts = {"changes": 0, "approvals": 0, "timers": 0, "outbox": 0, "audit": 0}
    with factory() as s:
        head = audit_mod.chain_head(s)
        keys = keyring(s)
    cr_t, ap_t, tm_t, ob_t, au_t = (m.__table__ for m in (ChangeRequest, Approval, Timer, OutboxMessage, AuditEntry))
    outbox = _dumped(templates.outbox, ob_t)
    outbox.sort(key=lambda o: o["updates_id"] is not None)  # originals first
    audit_json = {e["id"]: json.dumps(e["data"]) for e in templates.audit}
    approvals_by_change: dict[int, list[dict[str, Any]]] = {}
    for a in _dumped(templates.approvals, ap_t):
        approvals_by_change.setdefault(a["change_id"], []).append(a)

    def analyze() -> None:
        # What autovacuum does on a live server (it may be off where the benchmark runs): fresh statistics,
        # so that the foreign-key checks of the next plant's COPY are planned for the tables' real size.
        # Without them every check scans its whole table and the copy grows quadratically.
        with factory() as s, s.begin():
            s.execute(sa.text("ANALYZE " + ", ".join(f'"{t.name}"' for t in (cr_t, ap_t, tm_t, ob_t, au_t))))

    analyze()
    for target in plant.sites:
        template = by_country.get(target.country) or next(iter(by_country.values()))
        tchanges = [c for c in templates.changes if templates.site_of[c["id"]] == template.code]
        tids = {c["id"] for c in tchanges}
        pmap = mapper.people(template, target)
        systems = {c["id"]: mapper.system(c["system_id"], template, target) for c in tchanges}
        chain_from, chain_to = f"ESC-OT-{template.short}", f"ESC-OT-{target.short}"
        timers = []
        for t in templates.timers:
            if t["change_id"] in tids:
                data = dict(t["data"] or {})
                if data.get("chain") == chain_from:
                    data["chain"] = chain_to
                timers.append({**t, "data": json.dumps(data)})
        t_outbox = [o for o in outbox if int(o["key"].split(":")[1]) in tids]
        t_audit = [e for e in templates.audit if e["object_key"] in {c["number"] for c in tchanges}]
        weeks_here = [w for w in range(weeks) if (target.code, w) not in skip]
        cr_rows, ap_rows, tm_rows, ob_rows, au_rows = [], [], [], [], []
        with factory() as s, s.begin():
            cp = _Copier(s)
            cr_ids = iter(cp.ids(cr_t, len(tchanges) * len(weeks_here)))
            ap_ids = iter(cp.ids(ap_t, sum(len(approvals_by_change.get(c, [])) for c in tids) * len(weeks_here)))
            tm_ids = iter(cp.ids(tm_t, len(timers) * len(weeks_here)))
            ob_ids = iter(cp.ids(ob_t, len(t_outbox) * len(weeks_here)))
            for w in weeks_here:
                delta = dt.timedelta(weeks=w)
                suffix = f"-{target.short}-W{w:02d}"
                cmap: dict[int, int] = {}
                amap: dict[int, int] = {}
                numbers: dict[str, str] = {}
                for c in tchanges:
                    row = _shift(c, delta)
                    row["id"] = cmap[c["id"]] = next(cr_ids)
                    row["number"] = numbers[c["number"]] = c["number"] + suffix
                    system_id, name = systems[c["id"]]
                    row["system_id"], row["system_name"] = system_id, name or row["system_name"]
                    for k in ("requester_id", "assigned_to_id"):
                        row[k] = pmap.get(row[k], row[k])
                    cr_rows.append(row)
                    for a in approvals_by_change.get(c["id"], []):
                        arow = _shift(a, delta)
                        arow["id"] = amap[a["id"]] = next(ap_ids)
                        arow["change_id"] = row["id"]
                        for k in ("person_id", "acting_for_id", "delegate_of_id"):
                            arow[k] = pmap.get(arow[k], arow[k])
                        ap_rows.append(arow)
                for t in timers:
                    row = _shift(t, delta)
                    row["id"] = next(tm_ids)
                    row["change_id"] = cmap[t["change_id"]]
                    row["approval_id"] = amap.get(t["approval_id"]) if t["approval_id"] else None
                    row["subject_key"] = f"cr:{row['change_id']}" + (
                        f":consult:{row['approval_id']}" if row["approval_id"] else "")
                    tm_rows.append(row)
                omap: dict[int, int] = {}
                for o in t_outbox:
                    row = _shift(o, delta)
                    row["id"] = omap[o["id"]] = next(ob_ids)
                    _cr, old, rest = o["key"].split(":", 2)
                    row["key"] = f"cr:{cmap[int(old)]}:{rest}"
                    row["change_id"] = cmap.get(o["change_id"]) if o["change_id"] else None
                    row["person_id"] = pmap.get(row["person_id"], row["person_id"])
                    row["updates_id"] = omap.get(o["updates_id"]) if o["updates_id"] else None
                    ob_rows.append(row)
                for e in t_audit:
                    shifted = _shift(e, delta)
                    row = audit_mod.next_entry(
                        head, keys, at=shifted["at"], actor_id=pmap.get(shifted["actor_id"], shifted["actor_id"]),
                        actor=shifted["actor"], platform=shifted["platform"], action=shifted["action"],
                        object_type=shifted["object_type"], object_key=numbers[e["object_key"]], data=e["data"])
                    head = audit_mod.Head(row["id"], row["seq"], row["hash"])
                    row["data"] = audit_json[e["id"]]
                    au_rows.append(row)
            for table, rows in ((cr_t, cr_rows), (ap_t, ap_rows), (tm_t, tm_rows), (ob_t, ob_rows), (au_t, au_rows)):
                cp.copy(table, rows)
        for key, rows in (("changes", cr_rows), ("approvals", ap_rows), ("timers", tm_rows), ("outbox", ob_rows),
                          ("audit", au_rows)):
            counts[key] += len(rows)
        analyze()
    return counts


def digest_job(factory: Any, *, sample: int | None = None) -> dict[str, Any]:
    """The weekly digest job as the worker runs it: one ``notifications.digest.run_due`` call for every
    default scope at once.  The week's lint snapshot (which reads the whole catalog) is timed apart first.

    ``sample`` is accepted for older command lines and ignored: every scope runs.
    """
    from notifications import digest

    with factory() as s:
        scopes = digest.default_scopes(session=s)
    started = time.perf_counter()
    with factory() as s, s.begin():
        digest.snapshot_lint(session=s, now=DIGEST_AT)
    lint_s = time.perf_counter() - started
    started = time.perf_counter()
    runs = digest.run_due(factory, None, now=DIGEST_AT)
    job_s = time.perf_counter() - started
    per_scope = job_s / max(1, len(scopes))
    return {"seconds": lint_s + job_s, "measured_s": lint_s + job_s, "scopes": len(scopes), "scopes_run": len(runs),
            "first_scope_s": lint_s + per_scope, "typical_scope_s": per_scope, "lint_s": lint_s, "estimated": False}


def clone_digests(factory: Any, *, weeks: int = WEEKS) -> int:
    """The weekly job's rows (digest runs, lint snapshot, digest messages) copied to the earlier weeks."""
    from governance_store.models import DigestRun, LintSnapshot, OutboxMessage

    copied = 0
    with factory() as s, s.begin():
        runs = _rows(s, DigestRun.__table__)
        snaps = _rows(s, LintSnapshot.__table__)
        msgs = _rows(s, OutboxMessage.__table__, OutboxMessage.key.like("digest:%"))
        for w in range(1, weeks):
            delta = dt.timedelta(weeks=w)
            week_of: dict[str, str] = {}
            run_rows = []
            for r in runs:
                row = _shift({k: v for k, v in r.items() if k != "id"}, delta)
                y, n, _ = (r["scheduled_at"] - delta).isocalendar()
                row["iso_week"] = week_of[r["iso_week"]] = f"{y}-W{n:02d}"
                run_rows.append(row)
            if run_rows:
                s.execute(sa.insert(DigestRun.__table__), run_rows)
            snap_rows = [_shift({k: v for k, v in r.items() if k != "id"}, delta) for r in snaps]
            if snap_rows:
                s.execute(sa.insert(LintSnapshot.__table__), snap_rows)
            msg_rows = []
            for m in msgs:
                row = _shift({k: v for k, v in m.items() if k != "id"}, delta)
                old = next((o for o in week_of if o in m["key"]), None)
                row["key"] = m["key"].replace(old, week_of[old]) if old else f"{m['key']}:w{w}"
                msg_rows.append(row)
            if msg_rows:
                s.execute(sa.insert(OutboxMessage.__table__), msg_rows)
            copied += len(run_rows) + len(snap_rows) + len(msg_rows)
    return copied


# --------------------------------------------------------------------------- measurements


def catalog_child(url: str, schema: str, n_queries: int, naive_queries: int) -> dict[str, Any]:
    """In a fresh process: RSS after building the catalog index; ``Catalog.resolve`` latency."""
    import psutil
    from rapidfuzz import fuzz, process, utils

    from bench.bench_resolve import make_queries
    from governance_store import db
    from governance_store.lookup import SystemRecord
    from governance_store.models import Site, System

    with contextlib.suppress(Exception):  # what a govbot process has loaded; without it, the core alone
        import bot.web  # noqa: F401
    from handlers.catalog import Catalog

    catalog = Catalog()
    proc = psutil.Process()
    engine = db.make_engine(url, schema=schema)
    factory = db.make_session_factory(engine)
    with factory() as s:
        s.execute(sa.text("select 1"))
        gc.collect()
        rss0 = proc.memory_info().rss / 2**20
        started = time.perf_counter()
        index = catalog.index_for(s)
        build_s = time.perf_counter() - started
        gc.collect()
        rss1 = proc.memory_info().rss / 2**20
        peak_build = _hwm_mb()
        s.execute(sa.text("select setseed(0.42)"))
        sample = [
            SystemRecord(id=r.id, name=r.name, aliases=tuple(r.aliases or ()), hostnames=(), ips=tuple(r.ips or ()),
                         macs=tuple(r.macs or ()), serial=r.serial, asset_tag=None, site_code=r.site_code,
                         location=r.location, class_name=r.class_name, context=(r.site_name or "",))
            for r in s.execute(sa.select(System.id, System.name, System.aliases, System.ips, System.macs, System.serial,
                                         System.site_code, System.location, System.class_name,
                                         Site.name.label("site_name"))
                               .outerjoin(Site, Site.code == System.site_code)
                               .order_by(sa.func.random()).limit(3_000)).all()
        ]
        queries = make_queries(sample, n_queries, seed=SEED)
        for _, q, _ in queries[:20]:
            catalog.resolve(q, session=s)
        lat, cpu = [], []
        for _, q, _ in queries:
            c, t = time.process_time(), time.perf_counter()
            catalog.resolve(q, session=s)
            lat.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        names = [utils.default_process(n) for n in s.scalars(sa.select(System.name)).all()]
    naive = []
    for _, q, _ in random.Random(SEED).sample(queries, min(naive_queries, len(queries))):
        t = time.perf_counter()
        process.extractOne(utils.default_process(q), names, scorer=fuzz.WRatio, processor=None)
        naive.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    return {
        "systems": len(index), "build_s": build_s, "rss_before_mb": rss0, "rss_after_index_mb": rss1,
        "index_mb": index.memory_bytes() / 2**20, "peak_after_build_mb": peak_build,
        "peak_rss_mb": _hwm_mb(),
        "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "cpu_p99_ms": _pct(cpu, 99),
        "naive_p50_ms": _pct(naive, 50), "naive_n": len(naive), "queries": len(lat),
        "load": os.getloadavg()[0],
    }


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _catalog(store: Store, n_queries: int, naive_queries: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_scale", "--catalog-child", PG_URL, "--schema", store.schema,
         "--queries", str(n_queries), "--naive-queries", str(naive_queries)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"catalog child failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def peak_hour(store: Store, plant: Any, templates: Templates, driven: Driven, per_plant: int) -> dict[str, Any]:
    """``per_plant`` submitted changes per plant, each due for escalation level 2 now; swept at once."""
    from bench.bench_sweep import _naive
    from governance_store.models import Approval, ChangeRequest, Timer
    from notifications import sla
    from notifications.sweep import sweep

    factory = store.factory
    mapper = Mapper(factory, plant)
    now = PEAK_AT
    by_country: dict[str, tuple[Any, int]] = {}
    for code, cid in driven.escalated.items():
        by_country.setdefault(mapper.sites[code].country, (mapper.sites[code], cid))
    ids_by_template: dict[int, list[int]] = {}
    with factory() as s, s.begin():
        for target in plant.sites:
            template, tcid = by_country.get(target.country) or next(iter(by_country.values()))
            c = next(c for c in templates.changes if c["id"] == tcid)
            pmap = mapper.people(template, target)
            system_id, name = mapper.system(c["system_id"], template, target)
            rows = []
            for i in range(per_plant):
                row = {k: v for k, v in c.items() if k != "id"}
                row.update(number=f"PEAK-{target.short}-{i:04d}", state="submitted", decided_at=None,
                           system_id=system_id, system_name=name or c["system_name"],
                           requester_id=pmap.get(c["requester_id"], c["requester_id"]))
                rows.append(row)
            new = s.scalars(sa.insert(ChangeRequest.__table__).returning(ChangeRequest.id, sort_by_parameter_order=True),
                            rows).all()
            aps = [a for a in templates.approvals if a["change_id"] == tcid and a["kind"] == "approver"]
            s.execute(sa.insert(Approval.__table__), [
                {**{k: v for k, v in a.items() if k != "id"}, "change_id": n, "state": "requested", "decided_at": None,
                 "comment": None, "person_id": pmap.get(a["person_id"], a["person_id"])}
                for n in new for a in aps])
            t = next(t for t in templates.timers if t["change_id"] == tcid and t["kind"] == sla.APPROVAL)
            data = {k: v for k, v in t["data"].items() if k != "stopped"}
            data.update(chain=f"ESC-OT-{target.short}", schedule="24x7")
            got = s.scalars(sa.insert(Timer.__table__).returning(Timer.id, sort_by_parameter_order=True), [
                {**{k: v for k, v in t.items() if k != "id"}, "change_id": n, "subject_key": f"cr:{n}", "state": "pending",
                 "approval_id": None, "step": 0, "level": 0, "repeats": 0, "acknowledged_level": None, "token": 0,
                 "fired_at": None, "paused_at": None, "data": data, "started_at": now, "due_at": now}
                for n in new]).all()
            ids_by_template.setdefault(tcid, []).extend(got)
        s.flush()
        for ids in ids_by_template.values():  # place escalation level 2 one minute before ``now``
            first = s.get(Timer, ids[0])
            evs = sla.events(first, s.get(ChangeRequest, first.change_id), session=s)
            step = next(i for i, e in enumerate(evs) if e.key == "escalate:L2")
            offset = evs[step].at - first.started_at
            s.execute(sa.update(Timer).where(Timer.id.in_(ids)).values(
                started_at=now - offset - dt.timedelta(minutes=1), due_at=now - dt.timedelta(minutes=1), step=step))
    total = sum(len(v) for v in ids_by_template.values())
    _analyze(store)
    sample = min(SWEEP_NAIVE_SAMPLE, total // 4)
    naive_s = _naive(factory, now, sample) if sample else 0.0
    started = time.perf_counter()
    result = sweep(factory, now=now, limit=10**9)
    took = time.perf_counter() - started
    assert result.timers == total - sample and result.fired == total - sample, (result, total, sample)
    return {"timers": total, "swept": result.timers, "seconds": took, "per_s": result.timers / took if took else 0.0,
            "naive_sample": sample, "naive_ms_per_timer": naive_s / sample * 1000 if sample else None}


def _append_child(url: str, schema: str, ready: Any, go: Any, seconds: float, out: Any) -> None:
    from governance_store import audit, db

    engine = db.make_engine(url, schema=schema)
    factory = db.make_session_factory(engine)
    with factory() as s:
        s.execute(sa.text("select 1"))
    ready.put(os.getpid())
    go.wait()
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        with factory() as s, s.begin():
            audit.record(s, at=PEAK_AT, action="change.approved", object_type="change",
                         object_key=f"BENCH-{os.getpid()}-{len(latencies)}", actor_label="bench", platform="slack",
                         data={"roles": ["OT Engineering Lead"], "reason": None})
        latencies.append((time.perf_counter() - t) * 1000)
    out.put((latencies, time.perf_counter() - started))
    engine.dispose()


def audit_rate(store: Store, processes: int, seconds: float) -> dict[str, float]:
    """Audit entries appended, one per transaction, by ``processes`` processes at once: rate and latency."""
    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_append_child, args=(PG_URL, store.schema, ready, go, seconds, out))
             for _ in range(processes)]
    for p in procs:
        p.start()
    for _ in procs:  # every process connected and waiting
        ready.get(timeout=120)
    go.set()
    results = [out.get(timeout=120 + seconds) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    latencies = [x for lat, _ in results for x in lat]
    return {"per_s": len(latencies) / max(w for _, w in results), "p50_ms": _pct(latencies, 50),
            "p99_ms": _pct(latencies, 99), "n": len(latencies)}


# --------------------------------------------------------------------------- one size


def measure(plants: int, *, quick: bool = False, weeks: int = WEEKS,
            digest_sample: int | None = DIGEST_SAMPLE_SCOPES) -> dict[str, Any]:
    """Everything for one organisation size and ``weeks`` of history; a dict of plain values (see ``run``)."""
    from governance_store import db
    from governance_store.importers import import_paths
    from notifications import digest, outbox

    t_all = time.perf_counter()
    res: dict[str, Any] = {"plants": plants, "weeks": weeks}
    folder, plant = org_dir(plants)
    res["systems_generated"] = plant.n_systems
    with pg_store() as store:
        started = time.perf_counter()
        with db.unit_of_work(store.factory) as s:
            import_paths([folder], session=s)
        res["import_s"] = time.perf_counter() - started
        _analyze(store)
        res["after_import"] = table_sizes(store)
        _log(f"{plants} plants: imported in {res['import_s']:.0f} s")

        started = time.perf_counter()
        # One US and one German plant; a smoke test drives one plant and copies it to the other.
        template_sites = plant.sites[:1] if quick else plant.sites[:2]
        driven = drive_week(store.factory, template_sites)
        res["drive_s"] = time.perf_counter() - started
        res["driven"] = {"changes": sum(len(v) for v in driven.change_ids.values()), "actions": driven.actions,
                         "sweeps": driven.sweeps, "refused": driven.refused[:5]}
        templates = load_templates(store.factory, driven)
        n_t = len(templates.changes)
        res["per_change"] = {
            "approvals": len(templates.approvals) / n_t, "timers": len(templates.timers) / n_t,
            "outbox": len(templates.outbox) / n_t, "audit": len(templates.audit) / n_t,
        }
        _log(f"{plants} plants: drove {n_t} changes through the core in {res['drive_s']:.0f} s; per change "
             + ", ".join(f"{k} {v:.1f}" for k, v in res["per_change"].items()))

        started = time.perf_counter()
        skip = {(code, 0) for code in driven.change_ids}
        res["cloned"] = clone_history(store.factory, plant, templates, weeks=weeks, skip=skip)
        res["clone_s"] = time.perf_counter() - started
        _analyze(store)
        _log(f"{plants} plants: {weeks} weeks of history copied in {res['clone_s']:.0f} s: {res['cloned']}")

        res["digest"] = digest_job(store.factory, sample=digest_sample)
        res["digest_s"] = res["digest"]["seconds"]
        res["digest_scopes"] = res["digest"]["scopes"]
        outbox.dispatch(store.factory, [RecordingSender()], now=DIGEST_AT, limit=10**6)
        with store.factory() as s:
            scope = digest.DigestScope("all")
            times = []
            for _ in range(1 if quick else 3):
                t = time.perf_counter()
                data = digest.collect(scope, session=s, now=DIGEST_AT, week_start=WEEK_START)
                digest.render(data, scope)
                times.append(time.perf_counter() - t)
            res["digest_all_scope_s"] = statistics.median(times)
            res["digest_all_decided"] = len(data.decided)
        res["digest_rows_copied"] = clone_digests(store.factory, weeks=weeks)
        _analyze(store)
        _log(f"{plants} plants: weekly digest job ({res['digest_scopes']} scopes) {res['digest_s']:.1f} s"
             + (f" (estimated from {res['digest']['scopes_run']} scopes)" if res["digest"]["estimated"] else ""))

        res["year1"] = table_sizes(store)
        # The outbox retention the worker applies, then compacted, to measure what a year leaves behind.
        started = time.perf_counter()
        res["pruned"] = outbox.prune(store.factory, now=DIGEST_AT, older_than=dt.timedelta(days=RETENTION_DAYS))
        res["prune_s"] = time.perf_counter() - started
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'VACUUM FULL "{store.schema}".outbox'))
        res["year1_retained"] = table_sizes(store)
        _log(f"{plants} plants: {RETENTION_DAYS}-day outbox retention deleted {res['pruned']:,} messages in "
             f"{res['prune_s']:.1f} s: {_mb(_total(res['year1_retained']))} left")
        res["catalog"] = _catalog(store, 300 if quick else 1_000, 10 if quick else 20)
        _log(f"{plants} plants: catalog index RSS {res['catalog']['rss_after_index_mb']:.0f} MB, resolve p99 "
             f"{res['catalog']['p99_ms']:.1f} ms")
        res["sweep"] = peak_hour(store, plant, templates, driven, PEAK_TIMERS_PER_PLANT)
        _log(f"{plants} plants: peak hour {res['sweep']['timers']} timers swept in {res['sweep']['seconds']:.2f} s")
        res["audit_1"] = audit_rate(store, 1, 1.0 if quick else 2.0)
        res["audit_2"] = audit_rate(store, 2, 1.0 if quick else 3.0)
        _log(f"{plants} plants: audit appends/s: 1 process {res['audit_1']['per_s']:.0f}, 2 processes "
             f"{res['audit_2']['per_s']:.0f}")
    res["load"] = os.getloadavg()[0]
    res["seconds"] = time.perf_counter() - t_all
    res["peak_rss_mb"] = _rss_mb()
    return res


def _total(sizes: dict[str, dict[str, int]]) -> int:
    return sum(t["bytes"] for t in sizes.values())


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB" if n < 10 * 2**30 else f"{n / 2**30:,.1f} GB"


def rows_for(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The house-format rows for one measured size."""
    p = res["plants"]
    years = res.get("weeks", WEEKS) / WEEKS
    span = "a year" if years == 1 else f"{res['weeks']} weeks"
    cat = res["catalog"]
    after, year = _total(res["after_import"]), _total(res["year1"])
    top = sorted(res["year1"].items(), key=lambda kv: -kv[1]["bytes"])[:4]
    top_s = ", ".join(f"{k} {_mb(v['bytes'])} ({v['rows']:,} rows)" for k, v in top)
    busy = cat["load"] > (os.cpu_count() or 1)
    judged = cat["cpu_p99_ms"] if busy else cat["p99_ms"]
    goal = f"resolve p99 < {GOAL_RESOLVE_P99_MS:.0f} ms" + (" (met)" if judged < GOAL_RESOLVE_P99_MS else " (MISSED)")
    if busy:
        goal += f" on CPU time p99 {cat['cpu_p99_ms']:.1f} ms: load {cat['load']:.1f}"
    sw = res["sweep"]
    capacity_h = sw["per_s"] * 3600
    sweep_goal = f"peak hour in < {SWEEP_INTERVAL_S:.0f} s" + (" (met)" if sw["seconds"] < SWEEP_INTERVAL_S else " (MISSED)")
    digest_goal = f"weekly job < {GOAL_DIGEST_S:.0f} s" + (" (met)" if res["digest_s"] < GOAL_DIGEST_S else " (MISSED)")
    common = {"backend": "postgresql", "size": p, "peak_rss_mb": res["peak_rss_mb"]}
    return [
        {**common, "benchmark": "scale", "p50_ms": round(cat["p50_ms"], 2), "p99_ms": round(cat["p99_ms"], 2),
         "peak_rss_mb": round(cat["peak_rss_mb"]), "goal": goal,
         "baseline": f"naive extractOne/WRatio: p50 {cat['naive_p50_ms']:.0f} ms (n={cat['naive_n']})",
         "notes": (f"plants; {cat['systems']:,} systems; PostgreSQL {_mb(after)} after import, {_mb(year)} after {span} "
                   f"(+{_mb((year - after) / p / years)} per plant-year), {_mb(_total(res['year1_retained']))} with "
                   f"{RETENTION_DAYS}-day outbox retention ({res['pruned']:,} messages deleted in {res['prune_s']:.1f} s); "
                   f"top: {top_s}; govbot process RSS "
                   f"{cat['rss_after_index_mb']:.0f} MB after the catalog index ({cat['build_s']:.1f} s to build); "
                   f"Catalog.resolve over {cat['queries']} queries, CPU p99 {cat['cpu_p99_ms']:.1f} ms")},
        {**common, "benchmark": "scale-sweep", "median_s": round(sw["seconds"], 2), "p99_ms": None, "goal": sweep_goal,
         "baseline": (f"per-timer claim + transaction: {sw['naive_ms_per_timer']:.1f} ms/timer (sample {sw['naive_sample']})"
                      if sw["naive_sample"] else "-"),
         "notes": (f"plants; a peak hour: {sw['timers']:,} due timers ({PEAK_TIMERS_PER_PLANT} per plant), each firing "
                   f"escalation level 2, on {span} of history; {sw['per_s']:,.0f} timers/s, i.e. ~{capacity_h:,.0f} "
                   f"per hour of sweeping ({capacity_h / max(1, sw['timers']):,.0f}x the peak hour)")},
        {**common, "benchmark": "scale-digest", "median_s": round(res["digest_s"], 2), "p99_ms": None, "goal": digest_goal,
         "baseline": f"reference (same run): the 'all' scope alone {res['digest_all_scope_s']:.2f} s",
         "notes": (f"plants; notifications.digest.run_due for every default scope ({res['digest_scopes']}: one per plant "
                   f"manager, OT, security), incl. the week's lint snapshot, on {res['year1']['change_requests']['rows']:,} "
                   f"change requests ({span}); the lint snapshot {res['digest']['lint_s']:.1f} s, then "
                   f"{res['digest']['typical_scope_s'] * 1000:.0f} ms per scope")},
        {**common, "benchmark": "scale-audit", "p50_ms": round(res["audit_2"]["p50_ms"], 2),
         "p99_ms": round(res["audit_2"]["p99_ms"], 2), "goal": "-",
         "baseline": (f"1 process alone: {res['audit_1']['per_s']:,.0f} appends/s, p50 "
                      f"{res['audit_1']['p50_ms']:.1f} ms"),
         "notes": (f"plants; 2 processes appending one audit entry per transaction (the chain's advisory lock): "
                   f"{res['audit_2']['per_s']:,.0f} appends/s in all; latency per append above; "
                   f"{res['year1']['audit_log']['rows']:,} entries already in the chain")},
    ]


# --------------------------------------------------------------------------- the sizing table


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line y = a + b x."""
    if len(xs) == 1:
        return 0.0, ys[0] / xs[0]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def _gb_up(n_bytes: float, step: float = 1.0) -> float:
    return max(step, math.ceil(n_bytes / 2**30 / step) * step)


def sizing(results: Sequence[dict[str, Any]], plants: Sequence[int] = (2, 5, 20, 50, 100, 200)) -> list[dict[str, Any]]:
    """The sizing table: measured where a size was run, extrapolated from fits over the measured sizes otherwise.

    Catalog and a year's history grow linearly with plants (least-squares lines).  The weekly digest
    job is the week's lint snapshot (a line in plants) and (plants + 2) scopes, each reading only the
    weeks it reports on (one scope's time a line in plants), so it does not grow with the history.
    """
    years_of = [r.get("weeks", WEEKS) / WEEKS for r in results]
    measured = {r["plants"]: r for r, y in zip(results, years_of, strict=True) if y == 1}
    xs = [float(r["plants"]) for r in results]
    cat = _fit(xs, [float(_total(r["after_import"])) for r in results])
    hist = _fit(xs, [float(_total(r["year1"]) - _total(r["after_import"])) / y
                     for r, y in zip(results, years_of, strict=True)])
    all_ob = _fit(xs, [float(r["year1"]["outbox"]["bytes"]) / y for r, y in zip(results, years_of, strict=True)])
    kept_ob = _fit(xs, [float(r["year1_retained"]["outbox"]["bytes"]) for r in results])
    systems = [float(r["catalog"]["systems"]) for r in results]
    rss = _fit(systems, [r["catalog"]["rss_after_index_mb"] for r in results])
    peak = _fit(systems, [r["catalog"]["peak_after_build_mb"] for r in results])
    scope = _fit(xs, [r["digest"]["typical_scope_s"] for r in results])
    lint = _fit(xs, [max(0.0, r["digest"]["first_scope_s"] - r["digest"]["typical_scope_s"]) for r in results])
    sweep_rate = statistics.median(r["sweep"]["per_s"] for r in results)
    audit_rate_ = statistics.median(r["audit_2"]["per_s"] for r in results)
    per_sys = statistics.fmean(r["catalog"]["systems"] / r["plants"] for r in results)
    audit_per_change = statistics.fmean(r["per_change"]["audit"] for r in results)

    def job(p: int, years: int) -> float:
        # Each scope reads the five weeks it reports on, whatever the history's length.
        return (p + 2) * max(0.0, scope[0] + scope[1] * p) + max(0.0, lint[0] + lint[1] * p)

    out = []
    # Lines need two sizes: with one, only that size is reported.
    for p in sorted(set(plants) | set(measured)) if len(results) > 1 else sorted(measured):
        m = measured.get(p)
        n_sys = m["catalog"]["systems"] if m else round(per_sys * p)
        catalog_b = _total(m["after_import"]) if m else cat[0] + cat[1] * p
        y1_all = _total(m["year1"]) if m else catalog_b + hist[0] + hist[1] * p
        y3_all = y1_all + 2 * (y1_all - catalog_b)
        # With the outbox retention the outbox stops growing after its retention period: what a year
        # leaves behind, plus two more years of everything else.
        kept = m["year1_retained"] if m else None
        kept_outbox = kept["outbox"]["bytes"] if kept else kept_ob[0] + kept_ob[1] * p
        y1 = _total(kept) if kept else y1_all - (all_ob[0] + all_ob[1] * p) + kept_outbox
        y3 = y1 + 2 * (y1 - catalog_b - kept_outbox)
        outbox_y3 = kept_outbox
        proc_rss = m["catalog"]["rss_after_index_mb"] if m else rss[0] + rss[1] * n_sys
        proc_peak = m["catalog"]["peak_after_build_mb"] if m else peak[0] + peak[1] * n_sys
        peak_timers = p * PEAK_TIMERS_PER_PLANT
        # Audit appends in a peak hour: the peak timers' escalations plus every step of a week's changes.
        peak_appends = peak_timers + p * CHANGES_PER_PLANT_WEEK * audit_per_change
        digest_y1 = m["digest_s"] if m else job(p, 1)
        sweep_per_s = m["sweep"]["per_s"] if m else sweep_rate
        appends_per_s = m["audit_2"]["per_s"] if m else audit_rate_
        out.append({
            "plants": p, "measured": m is not None, "systems": n_sys,
            "catalog_bytes": catalog_b, "db_year1_bytes": y1, "db_year3_bytes": y3, "db_year3_unpruned_bytes": y3_all,
            "hot_year3_bytes": y3 - outbox_y3,
            # RAM: the database without the outbox (cold once delivered) twice over, plus 1 GB.  vCPUs: 2 measured; 4 beyond the measured sizes is a margin, not a measurement.
            "pg_ram_gb": _gb_up(2 * (y3 - outbox_y3) + 2**30, 2.0), "pg_vcpu": 2 if p <= max(measured) else 4,
            "process_rss_mb": proc_rss, "process_peak_mb": proc_peak,
            # serve + its core processes (one per CPU, 2 here), each with its own index, at their build peak.
            "replica_mb": math.ceil(proc_peak * 3 * 1.25 / 256) * 256,
            "digest_s": digest_y1, "digest_s_year3": job(p, 3) * (digest_y1 / job(p, 1) if m and job(p, 1) else 1.0),
            "peak_timers": peak_timers, "sweep_s": peak_timers / sweep_per_s,
            "sweep_headroom": sweep_per_s * 3600 / peak_timers,
            "peak_appends": peak_appends, "audit_headroom": appends_per_s * 3600 / peak_appends,
        })
    return out


def _s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:,.0f} s"


def sizing_markdown(results: Sequence[dict[str, Any]]) -> str:
    rows = sizing(results)
    lines = [
        "| plants | systems | PostgreSQL after 1 year | after 3 years (without retention) | PostgreSQL RAM / vCPU "
        "| govbot replica memory | weekly digest job, 1 y / 3 y | peak-hour sweep | sweep headroom | audit-lock headroom |",
        "|---:|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        mark = "" if r["measured"] else " *"
        lines.append(
            f"| {r['plants']}{mark} | {r['systems']:,} | {_mb(r['db_year1_bytes'])} | {_mb(r['db_year3_bytes'])} "
            f"({_mb(r['db_year3_unpruned_bytes'])}) | "
            f"{r['pg_ram_gb']:.0f} GB / {r['pg_vcpu']} | {r['replica_mb']:,} MB ({r['process_peak_mb']:.0f} MB peak, "
            f"{r['process_rss_mb']:.0f} MB steady per process) | {_s(r['digest_s'])} / {_s(r['digest_s_year3'])} | "
            f"{r['sweep_s']:.1f} s for {r['peak_timers']:,} timers | {r['sweep_headroom']:,.0f}x | "
            f"{r['audit_headroom']:,.0f}x |")
    lines.append("")
    lines.append(f"`*` extrapolated from fits over the measured sizes.  Sizes are with the default {RETENTION_DAYS}-day "
                 "outbox retention (measured: pruned and compacted after the year); in brackets without it.  3-year "
                 "figures are extrapolated for every row: the year's rows other than the outbox three times over, "
                 "and the digest job, which reads only the weeks it reports on, as long as in the first "
                 "year.  Headroom: measured sweep rate (timers/s x 3600) over the "
                 "peak hour's timers; measured audit appends/s (2 processes) x 3600 over the peak hour's appends "
                 "(its escalations plus every step of a week's changes); extrapolated rows use the median rates.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry points


def run(sizes: Sequence[int] = DEFAULT_SIZES, *, weeks: int = WEEKS,
        digest_sample: int | None = DIGEST_SAMPLE_SCOPES) -> list[dict[str, Any]]:
    from governance_store.db import connection_problem

    problem = connection_problem(PG_URL)
    if problem:
        return [{"benchmark": NAME, "backend": "postgresql", "size": s, "median_s": None, "p99_ms": None,
                 "peak_rss_mb": None, "goal": "-", "baseline": "-",
                 "notes": f"skipped: PostgreSQL unreachable ({problem})"} for s in sizes]
    quick = max(sizes) <= QUICK_SIZES[-1]
    results = [measure(p, quick=quick, weeks=weeks, digest_sample=digest_sample) for p in sizes]
    OUT.mkdir(parents=True, exist_ok=True)
    tag = "-".join(str(p) for p in sizes) + ("" if weeks == WEEKS else f"-w{weeks}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    (OUT / f"scale-{tag}.json").write_text(json.dumps({"date": stamp, "results": results}, indent=1, default=str),
                                           encoding="utf-8")
    (OUT / f"scale-{tag}.md").write_text(f"Measured {stamp}.\n\n" + sizing_markdown(results) + "\n", encoding="utf-8")
    rows = [row for res in results for row in rows_for(res)]
    rows[0]["sizing"] = sizing(results)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plants", default=",".join(str(p) for p in DEFAULT_SIZES), help="sizes, comma-separated")
    parser.add_argument("--weeks", type=int, default=WEEKS, help=f"weeks of history (default {WEEKS})")
    parser.add_argument("--digest-sample", type=int, default=DIGEST_SAMPLE_SCOPES,
                        help="ignored: the digest job always runs every scope, as the worker does")
    parser.add_argument("--table", type=Path, nargs="+",
                        help="print the sizing table of earlier runs' JSON files and exit")
    parser.add_argument("--catalog-child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=int, default=1_000, help=argparse.SUPPRESS)
    parser.add_argument("--naive-queries", type=int, default=20, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.catalog_child:
        print(json.dumps(catalog_child(args.catalog_child, args.schema, args.queries, args.naive_queries)))
        return
    if args.table:
        files = [json.loads(f.read_text(encoding="utf-8")) for f in args.table]
        results = [r for data in files for r in data["results"]]
        print(f"Measured {', '.join(data['date'] for data in files)}.\n\n{sizing_markdown(results)}")
        return
    rows = run(tuple(int(p) for p in args.plants.split(",")), weeks=args.weeks,
               digest_sample=args.digest_sample or None)
    for row in rows:
        print(json.dumps({k: v for k, v in row.items() if k != "sizing"}))


if __name__ == "__main__":
    main()
