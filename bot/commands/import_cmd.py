"""``govbot import PATH... [--dry-run]``: load CSV exports into the governance store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from bot.cli import CliState, pass_state


def register(main: click.Group) -> None:
    main.add_command(import_cmd)


@contextmanager
def _progress(enabled: bool) -> Iterator[object]:
    """A progress bar on stderr when it is a terminal; otherwise no callback at all."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        task = bar.add_task("importing", total=None)

        def update(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        yield update


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and report what would change; write nothing.")
@click.option("--export-timezone", metavar="ZONE", envvar="GOVBOT_EXPORT_TIMEZONE", default=None,
              help="Time zone of the user who made ServiceNow display-value exports (e.g. America/Mexico_City), "
                   "for files that do not name it themselves (in a column heading, after a value, or in the "
                   "folder's govbot-import.toml). Default: the zone all sites share; with sites in several "
                   "zones such a file is refused.")
@pass_state
def import_cmd(state: CliState, paths: tuple[Path, ...], dry_run: bool, export_timezone: str | None) -> None:
    """Import CSV exports (files or folders of *.csv), recognised by their header row.

    Everything is validated first: on any error every FILE:LINE: reason is
    printed and nothing is written.
    """
    from rich.console import Console
    from rich.table import Table

    from governance_store.db import current_revision
    from governance_store.importers import ImportFailed, import_paths
    from governance_store.models import ImportRun

    container = state.container
    if not dry_run:
        from bot.commands.audit_cmd import require_audit_key

        # An import re-routes approvals waiting on people who left, which the audit trail records: without
        # the key, stop before anything is written rather than after the data is in.
        require_audit_key(container)
    if current_revision(container.engine) is None:
        click.echo("the store is empty; creating the schema first", err=True)
        container.upgrade_database()

    if export_timezone:
        from governance_store.importers.context import check_timezone

        try:
            check_timezone(export_timezone)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--export-timezone") from None
    started = container.clock()
    try:
        with _progress(sys.stderr.isatty()) as progress, container.unit_of_work() as session:
            report = import_paths(list(paths), session=session, dry_run=dry_run, progress=progress,  # type: ignore[arg-type]
                                  export_timezone=export_timezone, now=started)
            if not dry_run:
                session.add(ImportRun(
                    started_at=started, finished_at=container.clock(), files=[p for p, _ in report.files],
                    summary={"counts": report.counts, "notes": report.notes, "kinds": dict(report.files),
                             "kept": [k.as_json() for k in report.kept]},
                ))
    except ImportFailed as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        click.echo(f"{len(exc.errors)} error(s); nothing was imported", err=True)
        sys.exit(1)

    console = Console(width=max(100, Console().width), highlight=False)
    title = "Dry run: nothing was written" if dry_run else "Imported"
    table = Table(title=f"{title} ({len(report.files)} file(s))")
    table.add_column("kind")
    for column in ("added", "changed", "removed", "unchanged"):
        table.add_column(column, justify="right")
    for kind, counts in report.counts.items():
        table.add_row(kind, *(str(counts.get(c, 0)) for c in ("added", "changed", "removed", "unchanged")))
    totals = report.totals()
    table.add_row("total", *(str(totals[c]) for c in ("added", "changed", "removed", "unchanged")), style="bold")
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    if report.kept:
        verb = "would keep" if dry_run else "kept"
        console.print(f"{len(report.kept)} fact(s) confirmed in govbot disagree with these files; govbot {verb} "
                      "them (each is raised as a gap for the owner):", markup=False)
        for kept in report.kept:
            console.print(f"held: {kept}", markup=False, soft_wrap=True)
    if not dry_run:
        from bot.bootstrap import reroute_departed

        # The index of the new state, written once for every process of this host (GOVBOT_INDEX_DIR): they
        # map it at their next question instead of each building it.
        with container.unit_of_work() as session:
            container.services.catalog.index_for(session)
        moved = reroute_departed(container)
        if moved:
            console.print(f"{moved} approval(s) waiting on people who left were re-routed or escalated "
                          "(see the audit trail)", markup=False)

