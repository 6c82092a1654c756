"""The composition root: the one place that wires settings, database, use cases and surfaces together.

* :func:`build` makes the :class:`Container`: settings, clock, engine and unit of work, the services use
  cases are given (catalog index, change quorum rules, dashboard links), the router built from the
  explicit list :data:`USE_CASES`, and the turn pipeline every surface calls.
* :func:`build_senders`, :func:`build_worker`, :func:`build_slack`, :func:`build_mounts` and
  :func:`build_demo` make what ``govbot serve``, ``govbot worker`` and ``govbot demo`` run; those commands
  only run what they are given.

Nothing registers itself at import time and no module keeps mutable state of its own: a worker
process gets the whole settings object and builds its own container here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from bot.turn import Pipeline
from governance_store import db
from governance_store.audit_keys import KEYRING_INFO, AuditKeyMissing, AuditKeyring
from governance_store.changes import ChangePolicies
from governance_store.ownership_policy import DEFAULT_POLICY, OwnershipPolicy, load_policy
from handlers import attestation, changes, dashboard, gaps, home, notify_prefs, ownership, transfers
from handlers.catalog import Catalog
from handlers.dashboard_pass import DashboardLinks
from handlers.router import Router
from handlers.services import Services

if TYPE_CHECKING:
    from bot.core_runner import CoreRunner
    from bot.slack.app import SlackAdapter
    from notifications.digest import DigestScope
    from notifications.outbox import Sender
    from notifications.scheduler import Worker

Clock = Callable[[], dt.datetime]

# Every use case govbot answers, in one explicit list: the router's tables are built from these modules'
# ``ROUTES``.  A new use case is a module under ``handlers/`` added here.
USE_CASES: tuple[ModuleType, ...] = (ownership, changes, dashboard, home, notify_prefs, attestation, transfers,
                                      gaps)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_services(settings: Settings, *, catalog: Catalog | None = None) -> Services:
    from notifications.reach import parse_order

    return Services(catalog=catalog or Catalog(directory=settings.index_dir), policies=ChangePolicies.from_config(settings.change_policy),
                    links=dashboard_links(settings), notify_order=parse_order(settings.notify_order),
                    platforms=connected_platforms(settings), ownership=ownership_policy(settings))


def connected_platforms(settings: Settings) -> tuple[str, ...]:
    """The platforms notifications can go out on, as configured (Slack, Teams, e-mail)."""
    from bot.teams.app import teams_enabled

    found = []
    if settings.slack_bot_token is not None:
        found.append("slack")
    if teams_enabled(settings):
        found.append("teams")
    if settings.email_enabled():
        found.append("email")
    return tuple(found)


def ownership_policy(settings: Settings) -> OwnershipPolicy:
    """``GOVBOT_ATTESTATION_POLICY_FILE``, or the default policy; raises
    :class:`governance_store.ownership_policy.PolicyError` naming the file and entry."""
    if settings.attestation_policy_file is None:
        return DEFAULT_POLICY
    return load_policy(settings.attestation_policy_file)


def build_router(services: Services, modules: Sequence[ModuleType] = USE_CASES) -> Router:
    return Router.from_modules(modules, services=services)


@dataclass
class Container:
    settings: Settings
    clock: Clock = field(default=utc_now)
    # A router other than the default use cases (adapter tests): set with :meth:`use_router`.
    router_overridden: bool = False

    @cached_property
    def engine(self) -> Engine:
        self.settings.ensure_sqlite_dir()
        return db.make_engine(self.settings.database_url, schema=self.settings.database_schema)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        # Every session signs audit entries with the configured key; the key is looked up when the first
        # entry is written, so read-only commands work without one and writers fail with a clear message.
        return db.make_session_factory(self.engine, info={KEYRING_INFO: lambda: self.audit_keyring})

    @cached_property
    def audit_keyring(self) -> AuditKeyring:
        """The audit keys (``AuditKeyMissing`` outside development mode without ``GOVBOT_AUDIT_KEY``)."""
        return self.settings.audit_keyring()

    def upgrade_database(self) -> None:
        db.upgrade(self.settings.database_url, schema=self.settings.database_schema, engine=self.engine)
        with contextlib.suppress(AuditKeyMissing), self.unit_of_work() as session:
            # Entries from before the trail was keyed are sealed by a keyed entry that chains onto them.
            from governance_store.audit import seal_unkeyed

            seal_unkeyed(session, now=self.clock())

    @cached_property
    def services(self) -> Services:
        return build_services(self.settings)

    @property
    def dashboard_links(self) -> DashboardLinks:
        """Where chat links to the dashboard point, and the key that signs personal passes."""
        return self.services.links

    @cached_property
    def router(self) -> Router:
        return build_router(self.services)

    def use_router(self, router: Any) -> None:
        """Answer with another router (tests of an adapter's contract); the pipeline follows."""
        self.router = router
        self.router_overridden = True
        self.__dict__.pop("pipeline", None)

    @property
    def wall_clock(self) -> bool:
        return self.clock is utc_now

    def for_worker_process(self) -> tuple[Callable[[Settings], Container], Settings]:
        """How a worker process builds the same container: this composition root and these settings."""
        return build, self.settings

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline(unit_of_work=self.unit_of_work, clock=self.clock, router=self.router)

    @cached_property
    def digest_scopes(self) -> list[DigestScope] | None:
        """The digest scopes of ``GOVBOT_DIGEST_SCOPES_FILE``; ``None``: derived from the role assignments.

        Raises ``notifications.digest_scopes.DigestScopesError`` (naming the file and entry) for a bad file."""
        if self.settings.digest_scopes_file is None:
            return None
        from notifications.digest_scopes import load_scopes

        return load_scopes(self.settings.digest_scopes_file)

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with db.unit_of_work(self.session_factory) as session:
            yield session


def dashboard_links(settings: Settings) -> DashboardLinks:
    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token is not None else None
    return DashboardLinks.configure(settings.dashboard_url(), token=token,
                                    lifetime=dt.timedelta(hours=settings.dashboard_link_hours))


def settings_clock(settings: Settings) -> Clock | None:
    """A development clock from ``GOVBOT_FAKE_NOW`` / ``GOVBOT_CLOCK_OFFSET_SECONDS`` (dev mode only).

    A fake "now" is where the clock starts; it then advances in real time, so
    backoff, Retry-After and pacing behave as in production.
    """
    if not settings.dev_mode or (settings.fake_now is None and not settings.clock_offset_seconds):
        return None
    start = settings.fake_now or utc_now()
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    origin = time.monotonic()
    offset = dt.timedelta(seconds=settings.clock_offset_seconds)

    def clock() -> dt.datetime:
        return start + offset + dt.timedelta(seconds=time.monotonic() - origin)

    return clock


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> Container:
    settings = settings or Settings()
    container = Container(settings=settings, clock=clock or settings_clock(settings) or utc_now)
    container.services  # noqa: B018 - a bad GOVBOT_CHANGE_POLICY stops here, not at the first change request
    return container


# --------------------------------------------------------------------------- what the commands run


def build_senders(container: Container) -> list[Sender]:
    """The outbound ports of the configured platforms: Slack, Teams, e-mail."""
    import logging

    settings = container.settings
    senders: list[Sender] = []
    if settings.slack_bot_token is not None:
        from bot.slack.outbox import SlackOutboxSender

        senders.append(SlackOutboxSender.from_settings(
            container.session_factory, token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url, timeout=settings.outbox_send_timeout(),
        ))
    from bot.teams.sender import teams_sender_from_settings

    teams = teams_sender_from_settings(container)
    if teams is not None:
        senders.append(teams)
    from bot.email.sender import email_sender_from_settings

    email = email_sender_from_settings(container)
    if email is not None:
        senders.append(email)
    if not senders:
        logging.getLogger(__name__).warning(
            "no chat platform is configured: notifications stay queued in the outbox")
    return senders


def reroute_departed(container: Container) -> int:
    """One pass of giving approvals that wait on people who left to their acting holders (or escalating
    them): the worker runs it regularly, ``govbot import`` after every import."""
    with container.unit_of_work() as session:
        return changes.reroute_departed(session=session, now=container.clock())


REROUTE_SECONDS = 60


def build_worker(container: Container, senders: list[Sender] | None = None) -> Worker:
    """The notification worker: SLA sweep, digests, outbox delivery, and re-routing approvals of people who
    left."""
    from notifications.scheduler import Worker

    worker = Worker(
        container.session_factory,
        senders if senders is not None else build_senders(container),
        clock=container.clock,
        interval=container.settings.sweep_interval_seconds,
        per_channel_interval=container.settings.outbox_channel_interval_seconds,
        lease=container.settings.outbox_send_lease_seconds,
    )
    worker.dashboard_links = container.dashboard_links
    worker.digest_scopes = container.digest_scopes  # None: derived from the role assignments
    configure_delivery(worker.dispatcher, container.settings)
    days = container.settings.outbox_retention_days
    worker.retention = dt.timedelta(days=days) if days > 0 else None
    worker.extra_jobs.append((lambda: _safely(reroute_departed, container), {
        "trigger": "interval", "seconds": REROUTE_SECONDS, "id": "reroute", "max_instances": 1, "coalesce": True,
        "next_run_time": dt.datetime.now(dt.UTC)}))
    from bot.sources.schedule import source_jobs
    from notifications.audit_anchor import anchor_job

    worker.extra_jobs.extend(source_jobs(container))  # each configured live source on its own schedule
    settings = container.settings
    worker.extra_jobs.append(anchor_job(container.session_factory, clock=container.clock,
                                        minutes=settings.audit_anchor_minutes, anchor_file=settings.audit_anchor_file))
    worker.extra_jobs.append((lambda: _safely(sync_gaps, container), {
        "trigger": "interval", "minutes": container.settings.gap_sync_minutes, "id": "gaps", "max_instances": 1,
        "coalesce": True, "next_run_time": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)}))
    return worker


def configure_delivery(dispatcher: Any, settings: Settings) -> None:
    """Who is reached where (the organisation's order, e-mail after a wait), and the requester's card told
    who could not be reached yet."""
    from notifications.reach import parse_order

    dispatcher.notify_order = parse_order(settings.notify_order)
    dispatcher.fallback_after = dt.timedelta(minutes=settings.email_fallback_minutes)
    dispatcher.on_reach = changes.on_reach_changed


def sync_gaps(container: Container) -> int:
    """One pass of turning lint findings into tracked gaps (and closing those no longer found): the worker
    runs it every ``GOVBOT_GAP_SYNC_MINUTES``, ``govbot gaps sync`` on demand.  Returns the number of gap cards queued."""
    from notifications.ownership import sync_and_announce

    with container.unit_of_work() as session:
        return sync_and_announce(session=session, now=container.clock(), policy=container.services.ownership)


def _safely(job: Callable[[Container], object], container: Container) -> None:
    import logging

    try:
        job(container)
    except Exception:  # noqa: BLE001 - a scheduled job retries at its next run
        logging.getLogger(__name__).exception("%s failed; retried at its next run", job.__name__)


def build_core_runner(container: Container, *, threads: int = 1, processes: int = 0) -> CoreRunner:
    """Where turns run for every chat surface of ``govbot serve``: one pool of worker processes (or threads)
    shared by Slack and Teams."""
    from bot.core_runner import CoreRunner

    return CoreRunner(container, threads=threads, processes=processes)


def build_slack(container: Container, *, core_threads: int = 1, core_processes: int = 0,
                runner: CoreRunner | None = None) -> SlackAdapter | None:
    """The Slack adapter when a bot token is configured, else ``None`` (logged, not fatal)."""
    import logging

    if container.settings.slack_bot_token is None:
        logging.getLogger(__name__).warning(
            "Slack is not configured (set GOVBOT_SLACK_BOT_TOKEN and GOVBOT_SLACK_SIGNING_SECRET)")
        return None
    from bot.slack.app import SlackAdapter

    return SlackAdapter(container, core_threads=core_threads, core_processes=core_processes, runner=runner)


def build_mounts(container: Container, *, host: str | None = None, dashboard: bool | None = None,
                 runner: CoreRunner | None = None) -> list[Any]:
    """What ``govbot serve`` adds to the web host: Teams at ``/api/messages`` when configured, the
    dashboard and ``/metrics`` (see :func:`bot.dashboard.app.dashboard_mounts`).

    Raises :class:`bot.dashboard.auth.DashboardAuthError` when the dashboard would be open on a network."""
    from bot.dashboard.app import dashboard_mounts
    from bot.email.pages import email_mount_from_settings
    from bot.teams.app import teams_mount_from_settings

    teams = teams_mount_from_settings(container, runner=runner)
    email = email_mount_from_settings(container)
    return ([teams] if teams is not None else []) + ([email] if email is not None else []) \
        + dashboard_mounts(container, host=host, wanted=dashboard)


@dataclass
class Demo:
    """What ``govbot demo`` serves: the dashboard, ``/metrics`` and the web chat, and a worker that
    delivers to the web chat's inbox."""

    mounts: list[Any]
    worker: Worker


def build_demo(container: Container, *, host: str) -> Demo:
    from bot.dashboard import ChatMount, DashboardMount, MetricsMount, WebInbox

    inbox = WebInbox()
    return Demo(mounts=[MetricsMount(container, host=host), DashboardMount(container, host=host),
                        ChatMount(container, inbox, host=host)],
                worker=build_worker(container, senders=[inbox]))
