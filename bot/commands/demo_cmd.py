"""``govbot demo``: the dashboard, the web chat and the notification worker on an accelerated clock.

Creates (or reuses) an SQLite demo store loaded with the Corvane sample org and
serves it on 127.0.0.1.  The demo clock starts on a working Wednesday morning in
Findlay and runs ``--speed`` times faster than real time, so an unanswered
approval reaches its reminders, breach and escalation levels within minutes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from pathlib import Path

import click

from bot.bootstrap import Clock

DEFAULT_START = "2025-06-04T14:00:00+00:00"  # Wednesday 10:00 in Findlay, 16:00 in Regensburg
EXAMPLES_ROOT = Path(__file__).resolve().parents[2] / "examples"
# The sample org, then its year of change history (the baseline the metrics compare against).
EXAMPLES = (EXAMPLES_ROOT / "corvane", EXAMPLES_ROOT / "corvane-history")


def accelerated_clock(start: dt.datetime, speed: float) -> Clock:
    """Demo time: ``start`` plus the real time elapsed since now, multiplied by ``speed``."""
    origin = time.monotonic()

    def now() -> dt.datetime:
        return start + dt.timedelta(seconds=(time.monotonic() - origin) * speed)

    return now


def prepare_store(database_url: str, *, examples: tuple[Path, ...] = EXAMPLES) -> bool:
    """Migrate the demo store and import the sample org when it is empty; ``True`` when it imported."""
    from sqlalchemy import func, select

    from bot.bootstrap import build
    from bot.settings import Settings
    from governance_store.importers import import_paths
    from governance_store.models import System

    container = build(Settings(database_url=database_url))
    container.upgrade_database()
    with container.unit_of_work() as session:
        if session.scalar(select(func.count(System.id))):
            container.engine.dispose()
            return False
        import_paths(list(examples), session=session)
    container.engine.dispose()
    return True


def register(main: click.Group) -> None:
    @main.command("demo")
    @click.option("--port", type=int, default=8080, show_default=True, help="Port on 127.0.0.1.")
    @click.option("--speed", type=click.FloatRange(min=1.0), default=60.0, show_default=True,
                  help="Demo seconds per real second (60: one real second is one demo minute).")
    @click.option("--start", "start_at", default=DEFAULT_START, show_default=True,
                  help="Demo time when the host starts (ISO 8601).")
    @click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="SQLite file of the demo store (default: demo/govbot-demo.db, or --database-url).")
    @click.option("--sweep-seconds", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
                  help="Real seconds between SLA sweeps.")
    @click.option("--log-level", default="INFO", show_default=True,
                  type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
    @click.option("--attest", is_flag=True, help="Start an ownership attestation campaign on the demo clock "
                  "(owners answer in the web chat; 8 business hours to answer).")
    @click.pass_obj
    def demo_cmd(state, port: int, speed: float, start_at: str, db_path: Path | None,  # type: ignore[no-untyped-def]
                 sweep_seconds: float, log_level: str, attest: bool = False) -> None:
        """Serve the dashboard and the web chat on 127.0.0.1 with an accelerated clock."""
        from bot.bootstrap import build, build_demo
        from bot.settings import Settings
        from bot.web import serve

        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if db_path is not None:
            url = f"sqlite:///{db_path.resolve()}"
        elif state._url:
            url = state._url
        else:
            url = f"sqlite:///{(Path.cwd() / 'demo' / 'govbot-demo.db').resolve()}"
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        if prepare_store(url):
            click.echo("demo store created and loaded with the Corvane sample org and its change history")
        start = dt.datetime.fromisoformat(start_at)
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        host = "127.0.0.1"
        # Development mode: the local demo signs its audit trail with the development key unless
        # GOVBOT_AUDIT_KEY is set.
        settings = Settings(database_url=url, host=host, port=port, sweep_interval_seconds=sweep_seconds,
                            slack_bot_token=None, slack_app_token=None, teams_app_password=None, dev_mode=True)
        container = build(settings, clock=accelerated_clock(start, speed))
        from bot.commands.digest_cmd import configured_scopes

        configured_scopes(container)  # a bad GOVBOT_DIGEST_SCOPES_FILE stops here, with file and entry
        demo = build_demo(container, host=host)
        if attest:
            from bot.demo_campaign import start_demo_campaign

            campaign_id, asked = start_demo_campaign(container)
            click.echo(f"attestation campaign {campaign_id} asks about {asked} systems: open /chat as an owner, "
                       "type `attest`" if campaign_id else "an attestation campaign is already open")

        def ready(addresses: object) -> None:
            click.echo(f"govbot demo on http://{host}:{port}/  (web chat: http://{host}:{port}/chat)")
            click.echo(f"demo clock starts {start:%Y-%m-%d %H:%M} UTC and runs x{speed:g}; Ctrl-C stops")

        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        asyncio.run(serve(container, host=host, port=port, worker=demo.worker, on_ready=ready, mounts=demo.mounts))
