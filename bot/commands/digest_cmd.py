"""``govbot digest``: preview a weekly digest, or send those that are due."""

from __future__ import annotations

import json

import click

from bot.cli import CliState, pass_state
from bot.console.render import render
from notifications import digest


def register(main: click.Group) -> None:
    main.add_command(digest_group)


@click.group("digest")
def digest_group() -> None:
    """The weekly manager digest."""


@digest_group.command("preview")
@click.option("--scope", default=None, help="site:CODE, ot, security or all (default: every configured scope).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def preview(state: CliState, scope: str | None, as_json: bool) -> None:
    """Print this week's digest so far, without sending anything."""
    container = state.store
    with container.unit_of_work() as session:
        scopes = [digest.DigestScope(scope)] if scope else digest.default_scopes(session=session)
        replies = [digest.preview(s, session=session, now=container.clock()) for s in scopes]
        session.rollback()
    for reply in replies:
        click.echo(json.dumps(reply.data, ensure_ascii=False, default=str) if as_json else render(reply) + "\n")


@digest_group.command("scopes")
@pass_state
def scopes(state: CliState) -> None:
    """List who receives which digest (configured, or derived from the role assignments)."""
    with state.store.unit_of_work() as session:
        for s in digest.default_scopes(session=session):
            click.echo(f"{s.name:<16} {s.weekday} {s.time} {digest.scope_timezone(s, session=session):<18} {', '.join(s.recipients)}")
