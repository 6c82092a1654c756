"""Waking the worker when something falls due, instead of looking on a fixed interval.

The database stays the truth for time: after every cycle the worker reads the
earliest instant at which something becomes due (a pending timer's ``due_at``,
an undelivered message's ``next_attempt_at``) and sleeps until then.  What it
cannot see while asleep — a timer created or moved, a message queued, by any
process — is reported to its :class:`Alarm`:

* **PostgreSQL**: triggers on ``timers`` and ``outbox`` (migration 0007) send
  ``NOTIFY`` on a channel of the schema (:func:`channel_for`) with the instant
  a written row falls due (``timer 1717513200.250000``); a
  :class:`PgListener` thread keeps one ``LISTEN`` connection per worker and
  rings the alarm.  The connection is re-opened with backoff when the database
  restarts or the network fails; meanwhile the worker still wakes at the
  earliest due instant it read last and at least every safety interval.
* **SQLite**: a :class:`CommitHook` on the engine rings the alarm after a
  transaction of this process wrote to those tables; a :class:`DataVersionPoller`
  notices within a quarter of a second that another process (the core
  processes of ``govbot serve``, a command) committed.

A notice only makes the worker look sooner; what is due is always decided by
the sweep and the outbox claims in the database, so a lost, late or spurious
notice costs at most one safety interval or one empty cycle, never a double
escalation.  The safety interval (``GOVBOT_SWEEP_INTERVAL_SECONDS``) caps every
sleep.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from governance_store.models import OutboxMessage, Timer

log = logging.getLogger(__name__)

# How often a sleeper looks at its stop flag and at an accelerated clock (seconds).
STOP_CHECK_SECONDS = 0.5
# The LISTEN connection: how often an idle one is checked with a query, and the reconnection backoff.
LISTEN_CHECK_SECONDS = 30.0
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0
CHANNEL_PREFIX = "govbot_wake_"
# Message states a dispatcher may still claim (as notifications.outbox.CLAIMABLE).
UNDELIVERED = ("pending", "sending")


def channel_for(schema: str) -> str:
    """The NOTIFY channel of the tables in ``schema`` (the triggers of migration 0007 compute the same)."""
    return CHANNEL_PREFIX + hashlib.md5(schema.encode(), usedforsecurity=False).hexdigest()[:16]


def parse_notice(payload: str) -> tuple[str, dt.datetime] | None:
    """``"timer 1717513200.250000"`` -> ("timer", that instant in UTC); None for anything else."""
    kind, _, epoch = payload.partition(" ")
    whole, _, fraction = epoch.partition(".")
    if not whole.lstrip("-").isdigit() or (fraction and not fraction.isdigit()):
        return None
    micros = int((fraction + "000000")[:6]) if fraction else 0
    at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=int(whole), microseconds=micros)
    return kind, at


def next_due(factory: sessionmaker[Session]) -> dt.datetime | None:
    """The earliest instant at which a pending timer or an undelivered message becomes due (one query)."""
    timers = select(func.min(Timer.due_at)).where(Timer.state == "pending").scalar_subquery()
    messages = [select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == status)
                .scalar_subquery() for status in UNDELIVERED]
    with factory() as session:
        row = session.execute(select(timers, *messages)).one()
    found = [at for at in row if at is not None]
    return min(found) if found else None


class Alarm:
    """When the worker should look next: the earliest instant reported since it last looked.

    ``ring(at)`` is thread-safe and cheap; ``ring()`` means "look now".
    Instants are on the worker's clock (the one the timers are written with).
    """

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._noticed: dt.datetime | None = None
        self.rings = 0
        # The thread that runs the worker's loop: it reads what is due after its own writes anyway.
        self.owner: int | None = None

    def ring(self, at: dt.datetime | None = None) -> None:
        with self._cond:
            at = at or self.clock()
            if self._noticed is None or at < self._noticed:
                self._noticed = at
            self.rings += 1
            self._cond.notify_all()

    def take(self) -> None:
        """Forget what was reported: the worker is about to look at the database itself."""
        with self._cond:
            self._noticed = None

    def sleep(self, until: dt.datetime | None, *, cap: float, stop: threading.Event) -> None:
        """Sleep until ``until`` or an earlier reported instant, at most ``cap`` seconds, or until ``stop``."""
        started = time.monotonic()
        with self._cond:
            while not stop.is_set():
                left = cap - (time.monotonic() - started)
                target = min((t for t in (until, self._noticed) if t is not None), default=None)
                if target is not None:
                    left = min(left, (target - self.clock()).total_seconds())
                if left <= 0:
                    return
                self._cond.wait(min(left, STOP_CHECK_SECONDS))


class WakeSource(Protocol):
    """Something that rings an alarm when the database changed in a way the worker must look at."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class PgListener:
    """A thread holding a ``LISTEN`` connection to PostgreSQL; re-connects with backoff when it is lost.

    The connection is opened with psycopg from the engine's URL, with TCP
    keepalives and a connect timeout, so a dead network is noticed too.  After
    every (re)connection the alarm rings once: notices sent while nobody
    listened are lost, so the worker looks at the database instead.
    """

    def __init__(self, engine: Engine, alarm: Alarm, *, check_seconds: float = LISTEN_CHECK_SECONDS) -> None:
        self.engine = engine
        self.alarm = alarm
        self.channel: str | None = None
        self.check_seconds = check_seconds
        self.connected = threading.Event()
        self.connections = 0  # successful (re)connections, for /metrics and tests
        self.backend_pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="govbot-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None

    def _connect(self) -> Any:
        import psycopg

        if self.channel is None:  # the schema the engine's tables are in (its search_path)
            with self.engine.connect() as pooled:
                self.channel = channel_for(str(pooled.exec_driver_sql("select current_schema()").scalar()))
        _args, params = self.engine.dialect.create_connect_args(self.engine.url)
        params = {**params, "autocommit": True}
        params.setdefault("connect_timeout", 10)
        for key, value in (("keepalives", 1), ("keepalives_idle", 30), ("keepalives_interval", 10),
                           ("keepalives_count", 3)):
            params.setdefault(key, value)
        params.setdefault("application_name", "govbot-listen")
        conn = psycopg.connect(**params)
        conn.execute(f'LISTEN "{self.channel}"')
        self.backend_pid = conn.info.backend_pid
        return conn

    def _run(self) -> None:
        delay = RECONNECT_FIRST_SECONDS
        failures = 0
        while not self._stop.is_set():
            try:
                self._conn = self._connect()
            except Exception as exc:  # noqa: BLE001 - the database is away: try again later
                failures += 1
                (log.warning if failures == 1 else log.debug)(
                    "cannot listen for due timers (%s); waking every safety interval until the database is back",
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                self._stop.wait(delay * (0.75 + random.random() / 2))  # noqa: S311 - jitter
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
                continue
            if failures:
                log.info("listening for due timers again after %d failed attempt(s)", failures)
            failures, delay = 0, RECONNECT_FIRST_SECONDS
            self.connections += 1
            self.connected.set()
            self.alarm.ring()  # whatever was notified while nobody listened
            try:
                self._listen(self._conn)
            except Exception as exc:  # noqa: BLE001 - connection lost: reconnect
                if not self._stop.is_set():
                    log.warning("lost the connection listening for due timers (%s); reconnecting",
                                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                    self.alarm.ring()
            finally:
                self.connected.clear()
                self._close()

    def _listen(self, conn: Any) -> None:
        checked = time.monotonic()
        while not self._stop.is_set():
            for notice in conn.notifies(timeout=STOP_CHECK_SECONDS):
                parsed = parse_notice(notice.payload)
                self.alarm.ring(parsed[1] if parsed else None)
                if self._stop.is_set():
                    return
            if time.monotonic() - checked >= self.check_seconds:
                conn.execute("select 1")  # a connection that died silently raises here
                checked = time.monotonic()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                conn.close()


_WRITES = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE)\s+(?:"?\w+"?\.)?"?(timers|outbox)"?[\s(]', re.IGNORECASE)
_MARK = "govbot.wake"


class CommitHook:
    """Rings the alarm when a connection of this engine returns to the pool after writing timers or messages.

    For SQLite, where one process does all the writing.  A connection goes back
    to the pool after its transaction ended, so the worker never looks before
    the rows are visible; a rolled-back write forgets its mark.  The worker's own
    loop (``Alarm.owner``) does not ring: it reads what is due after each cycle.
    """

    def __init__(self, engine: Engine, alarm: Alarm) -> None:
        self.engine = engine
        self.alarm = alarm

    def _executed(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.get_ident() != self.alarm.owner and _WRITES.match(statement):
            conn.info[_MARK] = True

    def _rolled_back(self, conn: Any) -> None:
        conn.info.pop(_MARK, None)

    def _checked_in(self, _dbapi_conn: Any, record: Any) -> None:
        if record is not None and record.info.pop(_MARK, None):
            self.alarm.ring()

    def start(self) -> None:
        event.listen(self.engine, "after_cursor_execute", self._executed)
        event.listen(self.engine, "rollback", self._rolled_back)
        event.listen(self.engine.pool, "checkin", self._checked_in)

    def stop(self) -> None:
        event.remove(self.engine, "after_cursor_execute", self._executed)
        event.remove(self.engine, "rollback", self._rolled_back)
        event.remove(self.engine.pool, "checkin", self._checked_in)


class DataVersionPoller:
    """For SQLite: rings the alarm when another connection (another process) committed to the database file.

    ``PRAGMA data_version`` on a connection of its own changes whenever any other
    connection commits; reading it costs no disk access, so it is read every
    ``POLL_SECONDS``.  The worker's own commits ring it too (one more cycle, which
    finds nothing).
    """

    POLL_SECONDS = 0.25

    def __init__(self, path: str, alarm: Alarm) -> None:
        self.path = path
        self.alarm = alarm
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="govbot-data-version", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        import sqlite3

        last: int | None = None
        conn: sqlite3.Connection | None = None
        while not self._stop.wait(self.POLL_SECONDS):
            try:
                if conn is None:
                    conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
                version = conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                conn, last = None, None  # the file is away for now: the safety interval covers it
                continue
            if last is not None and version != last:
                self.alarm.ring()
            last = version
        if conn is not None:
            conn.close()


def sources(factory: sessionmaker[Session], alarm: Alarm) -> list[WakeSource]:
    """The wake sources for the engine behind ``factory``: LISTEN on PostgreSQL (psycopg); on SQLite the
    commit hook and, for a database file, the data-version poller."""
    engine = factory.kw.get("bind")
    if not isinstance(engine, Engine):
        return []
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        found: list[WakeSource] = [CommitHook(engine, alarm)]
        if path and path != ":memory:" and not path.startswith("file:"):
            found.append(DataVersionPoller(path, alarm))
        return found
    if engine.dialect.name == "postgresql":
        if engine.dialect.driver != "psycopg":
            log.info("waking on due timers needs the psycopg driver (not %s): looking every safety interval",
                     engine.dialect.driver)
            return []
        return [PgListener(engine, alarm)]
    return []


@contextmanager
def listening(factory: sessionmaker[Session], alarm: Alarm) -> Iterator[list[WakeSource]]:
    """Run the wake sources for ``factory`` while the block runs."""
    started = sources(factory, alarm)
    for source in started:
        source.start()
    try:
        yield started
    finally:
        for source in started:
            source.stop()
