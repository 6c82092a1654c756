"""``govbot metrics``: decision cycle time against the imported baseline, bottlenecks, and exports."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from bot.cli import CliState, pass_state


def register(main: click.Group) -> None:
    main.add_command(metrics_group)


@click.group("metrics")
def metrics_group() -> None:
    """Decision metrics: the baseline, govbot, and where decisions wait."""


def _scope(state: CliState, site: str | None, tz: str | None, since: dt.datetime | None,
           until: dt.datetime | None) -> tuple[str | None, str, dt.datetime | None, dt.datetime | None]:
    """(the store's code of the site, time zone, since, until) with the dates as local midnights; unknown sites
    and zones are refused."""
    from zoneinfo import ZoneInfo

    from bot.commands.sites import site_code
    from bot.dashboard.zones import main_zone, site_zone, valid_zone

    with state.store.unit_of_work() as session:
        if site:
            site = site_code(session, site)
        if tz and not valid_zone(tz):
            raise click.BadParameter(f"unknown time zone {tz!r} (an IANA name such as Europe/Berlin)", param_hint="--tz")
        zone = tz or site_zone(site, session=session) or main_zone(session=session)
    local = ZoneInfo(zone)

    def midnight(day: dt.datetime | None, *, plus: int = 0) -> dt.datetime | None:
        if day is None:
            return None
        return dt.datetime.combine(day.date() + dt.timedelta(days=plus), dt.time(0), tzinfo=local)

    return site, zone, midnight(since), midnight(until, plus=1)


SCOPE_OPTIONS = [
    click.option("--site", default=None, help="One site's code (default: every site)."),
    click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), default=None,
                 help="First day of decisions (YYYY-MM-DD, in the time zone)."),
    click.option("--to", "until", type=click.DateTime(["%Y-%m-%d"]), default=None,
                 help="Last day of decisions (YYYY-MM-DD, in the time zone)."),
    click.option("--tz", default=None, help="Time zone of dates and weeks (default: the site's, else the main one)."),
]


def scope_options(fn):  # type: ignore[no-untyped-def]
    for option in reversed(SCOPE_OPTIONS):
        fn = option(fn)
    return fn


@metrics_group.command("show")
@scope_options
@click.option("--business", is_flag=True, help="Durations in business days of each system's site.")
@pass_state
def show(state: CliState, site: str | None, since: dt.datetime | None, until: dt.datetime | None, tz: str | None,
         business: bool) -> None:
    """Print the baseline against govbot and the bottlenecks, with the changes behind them."""
    from governance_store.analytics import decision_report
    from governance_store.analytics.facts import Era

    site, zone, start, end = _scope(state, site, tz, since, until)
    with state.store.unit_of_work() as session:
        report = decision_report(session=session, tz=zone, site=site, since=start, until=end,
                                 change_manager_role=state.store.services.policies.default.change_manager_role)

    def fmt(hours: float | None, bdays: float | None) -> str:
        if business:
            return "—" if bdays is None else f"{bdays:.1f} business days"
        return "—" if hours is None else (f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days")

    o = report.overall
    click.echo(f"Decision metrics for {site or 'all sites'} (dates and weeks in {zone})")
    for label, s, era in (("before govbot (imported history)", o.baseline, Era.HISTORY), ("in govbot", o.govbot, Era.GOVBOT)):
        c = report.compliance[era]
        within = f"; {c.pct:.0f} % within the SLA response target" if c.pct is not None else ""
        click.echo(f"  {label}: {s.n} decisions, median {fmt(s.median_hours, s.median_bdays)}, "
                   f"p90 {fmt(s.p90_hours, s.p90_bdays)}{within}")
    change = o.change(business=business)
    click.echo(f"  change of the median: {change:+.0f} %" if change is not None else "  change of the median: —")
    click.echo(f"  pre-approved standard changes (no approver): {report.pre_approved.n}")
    click.echo("")
    click.echo(f"Where decisions wait ({len(report.findings)} finding(s), costliest first):")
    for i, f in enumerate(report.findings, start=1):
        click.echo(f"{i}. {f.title}")
        click.echo(f"   {f.summary}")
        for e in f.evidence:
            click.echo(f"   - {e}")
        shown = ", ".join(f.changes[:12]) + (f" and {len(f.changes) - 12} more" if len(f.changes) > 12 else "")
        click.echo(f"   changes: {shown}")


@metrics_group.command("export")
@scope_options
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="xlsx", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write (CSV: every table one after another, or the one --table names).")
@click.option("--table", default=None, help="Only this table (summary, weekly, by-site, bottlenecks, ...).")
@pass_state
def export(state: CliState, site: str | None, since: dt.datetime | None, until: dt.datetime | None, tz: str | None,
           fmt: str, output: Path, table: str | None) -> None:
    """Write the metrics for a review: an Excel workbook (a sheet per table) or CSV."""
    from bot.dashboard.exports import UnknownTable, render

    site, zone, start, end = _scope(state, site, tz, since, until)
    container = state.store
    try:
        with container.unit_of_work() as session:
            body, _name = render(fmt, session=session, tz=zone, site=site, since=start, until=end,
                                 now=container.clock(), table=table,
                                 change_manager_role=container.services.policies.default.change_manager_role)
    except UnknownTable as exc:
        raise click.BadParameter(f"no table {exc}", param_hint="--table") from None
    try:
        output.write_bytes(body)
    except OSError as exc:
        click.echo(f"cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {output} ({fmt}, {len(body):,} bytes; dates and weeks in {zone})")
