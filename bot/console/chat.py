"""``govbot chat``: an interactive console that acts as one person.

Type a question; type a number to press the matching button of the last answer;
``/as EMAIL`` switches person; ``/quit`` leaves.  Works with piped input too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from sqlalchemy import func, select

from bot.bootstrap import Container
from bot.console.render import button_for, render
from governance_store.models import Person
from handlers.dispatch import handle_action, handle_command
from handlers.reply import Action, Actor, Command, Reply

PROMPT = "govbot> "


def actor_for(container: Container, email: str | None) -> Actor:
    if not email:
        return Actor(person_id=None, display_name="console user", platform="console")
    with container.unit_of_work() as session:
        person = session.scalar(select(Person).where(func.lower(Person.email) == email.strip().lower()))
        if person is None:
            raise LookupError(f"no person with e-mail {email} in the directory")
        return Actor(person_id=person.id, display_name=person.display_name, platform="console", email=person.email)


def run_chat(container: Container, *, as_email: str | None, lines: Iterable[str] | None = None,
             out: Callable[[str], None] = print) -> int:
    interactive = lines is None and sys.stdin.isatty()
    source = lines if lines is not None else sys.stdin
    try:
        actor = actor_for(container, as_email)
    except LookupError as exc:
        out(f"error: {exc}")
        return 2
    out(f"govbot console — you are {actor.display_name}. Ask a question, a number presses a button, /quit leaves.")
    last: Reply | None = None
    if interactive:
        out("")
    for raw in _read(source, interactive):
        line = raw.strip()
        if not line:
            continue
        if line in ("/quit", "/exit", "quit", "exit"):
            break
        if line.startswith("/as "):
            try:
                actor = actor_for(container, line[4:])
                out(f"you are now {actor.display_name}")
            except LookupError as exc:
                out(f"error: {exc}")
            continue
        if not interactive:
            out(f"{PROMPT}{line}")
        with container.unit_of_work() as session:
            if line.isdigit() and last is not None:
                button = button_for(last, int(line))
                if button is None:
                    out(f"there is no choice {line}")
                    continue
                reply = handle_action(Action(button.action_id, button.value, actor), session=session, now=container.clock())
            else:
                reply = handle_command(Command(text=line, actor=actor), session=session, now=container.clock())
        out(render(reply))
        out("")
        last = reply
    return 0


def _read(source: Iterable[str], interactive: bool) -> Iterable[str]:
    if not interactive:
        yield from source
        return
    while True:
        try:
            yield input(PROMPT)
        except (EOFError, KeyboardInterrupt):
            print()
            return
