"""``govbot blackout``: periods in which no change may be planned at a site."""

from __future__ import annotations

import datetime as dt
import sys
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from bot.cli import CliState, pass_state
from bot.commands.audit_cmd import require_audit_key
from bot.commands.sites import site_code
from governance_store import audit
from governance_store.models import BlackoutWindow, Site


def register(main: click.Group) -> None:
    main.add_command(blackout)


@click.group()
def blackout() -> None:
    """Change blackout windows (flagged as conflicts on every change planned inside them)."""


def _local(value: str, tz: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date-time like 2025-07-01T06:00") from None


@blackout.command("add")
@click.option("--site", default=None, help="Site code; omit for every site.")
@click.option("--from", "start", required=True, help="Start, site local time (YYYY-MM-DDTHH:MM).")
@click.option("--to", "end", required=True, help="End, site local time.")
@click.option("--reason", required=True)
@pass_state
def add(state: CliState, site: str | None, start: str, end: str, reason: str) -> None:
    """Add a window, in the site's local time (UTC for every site)."""
    container = state.store
    require_audit_key(container)
    with container.unit_of_work() as session:
        tz = "UTC"
        if site:
            site = site_code(session, site)
            tz = session.execute(select(Site.timezone).where(Site.code == site)).scalar_one()
        lo, hi = _local(start, tz), _local(end, tz)
        if hi <= lo:
            click.echo("error: the window must end after it starts", err=True)
            sys.exit(2)
        bw = BlackoutWindow(site_code=site, starts_at=lo, ends_at=hi, reason=reason)
        session.add(bw)
        session.flush()
        audit.record(session, at=container.clock(), action="blackout.added", object_type="blackout",
                     object_key=str(bw.id), platform="cli", actor_label="cli",
                     data={"site": site, "from": lo.isoformat(), "to": hi.isoformat(), "reason": reason})
        click.echo(f"blackout {bw.id}: {site or 'all sites'} {start} → {end} ({tz}): {reason}")


@blackout.command("list")
@pass_state
def list_(state: CliState) -> None:
    """List the windows, with their ids."""
    with state.store.unit_of_work() as session:
        for bw in session.scalars(select(BlackoutWindow).order_by(BlackoutWindow.starts_at)).all():
            click.echo(f"{bw.id:>4}  {bw.site_code or 'all':<8} {bw.starts_at:%Y-%m-%d %H:%M} → "
                       f"{bw.ends_at:%Y-%m-%d %H:%M} UTC  {bw.reason}")


@blackout.command("remove")
@click.argument("window_id", type=int)
@pass_state
def remove(state: CliState, window_id: int) -> None:
    """Remove the window with this id (see list)."""
    container = state.store
    require_audit_key(container)
    with container.unit_of_work() as session:
        bw = session.get(BlackoutWindow, window_id)
        if bw is None:
            click.echo(f"error: no blackout {window_id}", err=True)
            sys.exit(2)
        session.delete(bw)
        audit.record(session, at=container.clock(), action="blackout.removed", object_type="blackout",
                     object_key=str(window_id), platform="cli", actor_label="cli", data={})
        click.echo(f"removed blackout {window_id}")
