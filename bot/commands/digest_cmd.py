"""``govbot digest``: preview a weekly digest, or send those that are due."""

from __future__ import annotations

import json

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.bootstrap import Container
from bot.cli import CliState, pass_state
from bot.console.render import render
from governance_store.models import Person, Site
from notifications import digest
from notifications.digest_scopes import DigestScopesError


def register(main: click.Group) -> None:
    main.add_command(digest_group)


def configured_scopes(container: Container) -> list[digest.DigestScope] | None:
    """The scopes of GOVBOT_DIGEST_SCOPES_FILE (``None`` without one); a bad file is a clear error, exit status 1."""
    try:
        return container.digest_scopes
    except DigestScopesError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("digest")
def digest_group() -> None:
    """The weekly manager digest."""


@digest_group.command("preview")
@click.option("--scope", default=None, help=f"{digest.SCOPE_FORMS} (default: every configured scope).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def preview(state: CliState, scope: str | None, as_json: bool) -> None:
    """Print this week's digest so far, without sending anything."""
    container = state.store
    configured = configured_scopes(container)
    with container.unit_of_work() as session:
        if scope:
            scope = _scope_name(session, scope)
            scopes = [next((s for s in configured or () if s.name == scope), digest.DigestScope(scope))]
        else:
            scopes = configured if configured is not None else digest.default_scopes(session=session)
        replies = [digest.preview(s, session=session, now=container.clock()) for s in scopes]
        session.rollback()
    for reply in replies:
        click.echo(json.dumps(reply.data, ensure_ascii=False, default=str) if as_json else render(reply) + "\n")


def _scope_name(session: Session, typed: str) -> str:
    """``site:CODE`` with the store's spelling of the code, ``ot``, ``security`` or ``all``; else a usage error."""
    from bot.commands.sites import site_code

    kind, colon, code = typed.strip().partition(":")
    if kind.lower() == "site" and colon:
        return f"site:{site_code(session, code, option='--scope')}"
    if typed.strip().lower() in digest.FIXED_SCOPES:
        return typed.strip().lower()
    raise click.BadParameter(f"{typed!r} is not a scope: use {digest.SCOPE_FORMS}", param_hint="--scope")


@digest_group.command("scopes")
@pass_state
def scopes(state: CliState) -> None:
    """List who receives which digest (configured, or derived from the role assignments)."""
    container = state.store
    configured = configured_scopes(container)
    click.echo(f"from {container.settings.digest_scopes_file}" if configured is not None
               else "derived from the role assignments (no GOVBOT_DIGEST_SCOPES_FILE)", err=True)
    with container.unit_of_work() as session:
        people = {e.lower() for e in session.scalars(select(Person.email)) if e}
        sites = set(session.scalars(select(Site.code)))
        for s in configured if configured is not None else digest.default_scopes(session=session):
            kind, _, code = s.name.partition(":")
            where = [f"{r}{'' if r.lower() in people else ' (nobody with this address)'}" for r in s.recipients]
            where += [f"channel {s.channel}"] if s.channel else []
            note = " (no such site)" if kind == "site" and code not in sites else ""
            click.echo(f"{s.name + note:<16} {s.weekday} {s.time} {digest.scope_timezone(s, session=session):<18} "
                       f"{', '.join(where)}")
