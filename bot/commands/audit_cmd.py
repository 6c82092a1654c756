"""``govbot audit``: verify the hash chain, export for auditors."""

from __future__ import annotations

import sys

import click

from bot.cli import CliState, pass_state
from governance_store import audit


def register(main: click.Group) -> None:
    main.add_command(audit_group)


@click.group("audit")
def audit_group() -> None:
    """The append-only audit trail."""


@audit_group.command("verify")
@pass_state
def verify(state: CliState) -> None:
    """Recompute the hash chain; exit 1 if any entry was edited or deleted."""
    with state.store.unit_of_work() as session:
        problems = audit.verify(session)
        count = session.query(audit.AuditEntry).count()
    if problems:
        for p in problems:
            click.echo(str(p), err=True)
        click.echo(f"audit trail is NOT intact: {len(problems)} problem(s) in {count} entries", err=True)
        sys.exit(1)
    click.echo(f"audit trail intact: {count} entries")


@audit_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None)
@pass_state
def export(state: CliState, fmt: str, output: str | None) -> None:
    """Write every audit entry with its hashes."""
    with state.store.unit_of_work() as session:
        text = audit.export(session, fmt=fmt)
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)
