"""``govbot sync SOURCE [--dry-run]``: sync a live source (NetBox, ServiceNow, Entra ID, Slack) by hand;
``govbot sources``: where each source stands."""

from __future__ import annotations

import json
import sys

import click

from bot.cli import CliState, pass_state
from governance_store.sources.names import ORDER, SourceName, label

CHOICES = [s.value for s in ORDER] + ["all"]


def register(main: click.Group) -> None:
    main.add_command(sync_cmd)
    main.add_command(sources_cmd)


@click.command("sync")
@click.argument("source", type=click.Choice(CHOICES, case_sensitive=False))
@click.option("--dry-run", is_flag=True, help="Fetch and report what would change; write nothing.")
@click.option("--full", is_flag=True, help="Fetch everything again instead of only what changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@pass_state
def sync_cmd(state: CliState, source: str, dry_run: bool, full: bool, as_json: bool) -> None:
    """Sync SOURCE (netbox, servicenow, entra, slack, or all configured) into the governance store.

    All or nothing per source: on any error the store keeps its last good data and the error is
    recorded for /metrics, the dashboard and `govbot lint`."""
    from bot.sources import runner
    from bot.sources.registry import configured_sources, missing_settings
    from governance_store.sources.sync import SyncStatus

    container = state.store
    configured = configured_sources(container.settings)
    if source.lower() == "all":
        chosen = configured
        if not chosen:
            raise click.ClickException("no live source is configured (see docs/sources.md)")
    else:
        name = SourceName(source.lower())
        chosen = [c for c in configured if c.connector.name == name.value]
        if not chosen:
            missing = ", ".join(missing_settings(container.settings, name))
            raise click.ClickException(f"{label(name)} is not configured: set {missing}")
    reports = runner.run_all(container, chosen, owner=runner.runner_id(), dry_run=dry_run, full=full)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in reports], indent=2, ensure_ascii=False))
    else:
        for report in reports:
            _print(report)
    if any(r.status in (SyncStatus.FAILED, SyncStatus.BUSY) for r in reports):
        sys.exit(1)


def _print(report) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    from governance_store.sources.sync import SyncStatus

    console = Console(width=max(100, Console().width), highlight=False)
    headline = {
        SyncStatus.SYNCED: "synced", SyncStatus.UNCHANGED: "nothing changed", SyncStatus.DRY_RUN:
        "dry run: nothing was written", SyncStatus.FAILED: "FAILED: nothing was written, the last good data stays",
        SyncStatus.BUSY: "skipped: another runner is syncing it",
    }[report.status]
    console.print(f"[bold]{report.label}[/bold]: {headline} ({report.seconds:.1f} s, {report.requests} requests)")
    if report.error:
        console.print(report.error, markup=False, soft_wrap=True)
    if report.records:
        table = Table(title="records fetched", title_justify="left")
        table.add_column("collection")
        for column in ("added", "changed", "removed"):
            table.add_column(column, justify="right")
        for collection, counts in report.records.items():
            table.add_row(collection, *(str(counts.get(c, 0)) for c in ("added", "changed", "removed")))
        console.print(table)
    if report.counts or report.held:
        table = Table(title="governance store", title_justify="left")
        table.add_column("kind")
        for column in ("added", "changed", "removed", "held", "unchanged"):
            table.add_column(column, justify="right")
        for kind in sorted(set(report.counts) | set(report.held)):
            counts = report.counts.get(kind, {})
            table.add_row(kind, *(str(counts.get(c, 0)) for c in ("added", "changed", "removed")),
                          str(report.held.get(kind, 0)), str(counts.get("unchanged", 0)))
        totals = report.totals()
        table.add_row("total", *(str(totals[c]) for c in ("added", "changed", "removed", "held")), "", style="bold")
        console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)


@click.command("sources")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def sources_cmd(state: CliState, as_json: bool) -> None:
    """Where each live source stands: configured, last success, lag, last error."""
    from bot.sources.registry import configured_sources
    from governance_store.sources.status import source_status

    container = state.store
    configured = {c.connector.name: c.interval_seconds for c in configured_sources(container.settings)}
    with container.unit_of_work() as session:
        rows = source_status(session=session, configured=configured, now=container.clock())
    if as_json:
        click.echo(json.dumps([r.as_json() for r in rows], indent=2))
        return
    for r in rows:
        last = f"{r.last_success_at:%Y-%m-%d %H:%M} UTC" if r.last_success_at else "never"
        lag = f"{r.lag_seconds / 3600:.1f} h ago" if r.lag_seconds is not None else "—"
        flags = " [overdue]" if r.overdue else ""
        click.echo(f"{r.label:<11} {'configured' if r.configured else 'not configured':<15} last success {last} "
                   f"({lag}){flags}" + (f"; last error: {r.last_error}" if r.last_error else ""))
