"""``govbot lint``: governance gaps with severity and evidence."""

from __future__ import annotations

import json
import sys

import click

from bot.cli import CliState, pass_state
from governance_store.lint import run_lint


def register(main: click.Group) -> None:
    main.add_command(lint)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
@click.option("--fail-on", type=click.Choice(["high", "medium", "low"]), default=None,
              help="Exit 1 when a finding of this severity or worse exists.")
@pass_state
def lint(state: CliState, as_json: bool, fail_on: str | None) -> None:
    """Report governance gaps: missing Accountables, people who left, unknown teams, shadow assets..."""
    from rich.console import Console
    from rich.table import Table

    with state.store.unit_of_work() as session:
        report = run_lint(session=session)
    findings = report.sorted()
    if as_json:
        click.echo(json.dumps([f.as_json() for f in findings], ensure_ascii=False, indent=2))
    else:
        console = Console(width=160)
        table = Table(title=f"Governance lint: {len(findings)} finding(s)", show_lines=True)
        for col in ("severity", "gap", "subject", "evidence"):
            table.add_column(col, overflow="fold")
        for f in findings:
            table.add_row(f.severity, f"{f.title}\n[{f.code}]", f.subject, "\n".join(f.evidence))
        console.print(table)
    order = {"high": 0, "medium": 1, "low": 2}
    if fail_on and any(order[f.severity] <= order[fail_on] for f in findings):
        sys.exit(1)
