"""Question commands: ask, chat, systems show."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import select

from bot.cli import CliState, pass_state
from bot.console.chat import run_chat
from bot.console.render import render
from bot.turn import Ask, ChatUser


def register(main: click.Group) -> None:
    main.add_command(ask)
    main.add_command(chat)
    main.add_command(systems)


@click.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts and tests).")
@click.option("--as", "as_email", default=None, help="Ask as this person (e-mail).")
@click.option("--locale", default=None, metavar="TAG",
              help="Answer as a chat client with this language would be answered (e.g. es-MX, pl-PL).")
@pass_state
def ask(state: CliState, question: tuple[str, ...], as_json: bool, as_email: str | None, locale: str | None) -> None:
    """Ask one question, e.g. govbot ask "who owns PLC-FIL-L3-07?"."""
    container = state.store
    text = " ".join(question)
    user = ChatUser(platform="cli", email=as_email, display_name=as_email or "cli", local_operator=True,
                    locale=locale)
    reply = container.pipeline.answer(user, Ask(text))
    if as_json:
        click.echo(json.dumps(reply.data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render(reply))
    if reply.data.get("status") == "error":
        sys.exit(1)


@click.command()
@click.option("--as", "as_email", default=None, help="Act as this person (e-mail), e.g. for approvals.")
@click.option("--inbox/--no-inbox", default=False,
              help="Deliver govbot's messages (approval requests, notices) to this console; /inbox shows them.")
@pass_state
def chat(state: CliState, as_email: str | None, inbox: bool) -> None:
    """Interactive console chat (reads piped input too)."""
    from bot.commands.audit_cmd import require_audit_key

    require_audit_key(state.store)  # decisions made here are audited
    sys.exit(run_chat(state.store, as_email=as_email, out=click.echo, inbox=inbox))


@click.group()
def systems() -> None:
    """Look at systems in the store."""


@systems.command("show")
@click.argument("name", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def systems_show(state: CliState, name: tuple[str, ...], as_json: bool) -> None:
    """Print one system with its owners, hierarchy, zone and sources."""
    from governance_store.models import SystemSource
    from handlers.ownership import who_owns
    from handlers.parse import Intent

    container = state.store
    services = container.services
    with container.unit_of_work() as session:
        reply = who_owns(Intent("who_owns", " ".join(name)), session=session, now=container.clock(), services=services)
        system_id = None
        if reply.data.get("status") == "answered":
            system_id = services.catalog.resolve(" ".join(name), session=session).system.id  # type: ignore[union-attr]
            rows = session.scalars(select(SystemSource).where(SystemSource.system_id == system_id)).all()
            reply.data["sources"] = [
                {"source": r.source, "external_id": r.external_id, "seen_at": r.seen_at.isoformat() if r.seen_at else None}
                for r in rows
            ]
    if as_json:
        click.echo(json.dumps(reply.data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render(reply))
        for src in reply.data.get("sources", []):
            click.echo(f"  source {src['source']:<11} {src['external_id']}  seen {src['seen_at'] or '—'}")
    if system_id is None:
        sys.exit(1)
