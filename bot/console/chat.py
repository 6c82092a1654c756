"""``govbot chat``: an interactive console that acts as one person.

Type a question; a number presses the matching button of the last answer;
forms (a new change request, a rejection reason) are asked field by field;
``/as EMAIL`` switches person; ``/inbox`` shows messages govbot sent to you
(with ``--inbox``); ``/quit`` leaves.  Works with piped input too.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import func, select

from bot.bootstrap import Container
from bot.console.render import button_for, render
from governance_store.models import Person
from handlers.dispatch import handle_action, handle_command
from handlers.reply import Action, Actor, Command, Form, Reply, reply_from_dict
from notifications import outbox

PROMPT = "govbot> "


class ConsoleInbox:
    """An outbound port that delivers to people using this console."""

    platform = "console"

    def __init__(self) -> None:
        self.messages: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self._next = 0

    def can_reach(self, recipient: outbox.Recipient) -> bool:
        return recipient.person_id is not None

    def send(self, recipient: outbox.Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        assert recipient.person_id is not None
        self._next += 1
        self.messages[recipient.person_id].append({"id": self._next, "payload": payload})
        return {"person_id": recipient.person_id, "id": self._next}

    def update(self, ref: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        for msg in self.messages.get(int(ref["person_id"]), []):
            if msg["id"] == ref["id"]:
                msg["payload"] = payload
                msg["updated"] = True
        return ref


def actor_for(container: Container, email: str | None) -> Actor:
    if not email:
        return Actor(person_id=None, display_name="console user", platform="console")
    with container.unit_of_work() as session:
        person = session.scalar(select(Person).where(func.lower(Person.email) == email.strip().lower()))
        if person is None:
            raise LookupError(f"no person with e-mail {email} in the directory")
        return Actor(person_id=person.id, display_name=person.display_name, platform="console", email=person.email)


class Console:
    def __init__(self, container: Container, *, lines: Iterable[str] | None, out: Callable[[str], None],
                 inbox: bool) -> None:
        self.container = container
        self.out = out
        self.interactive = lines is None and sys.stdin.isatty()
        self._lines: Iterator[str] = iter(lines if lines is not None else sys.stdin)
        self.inbox = ConsoleInbox() if inbox else None
        self.unread: dict[int, int] = defaultdict(int)

    def read(self, prompt: str) -> str | None:
        if self.interactive:
            try:
                return input(prompt)
            except (EOFError, KeyboardInterrupt):
                print()
                return None
        line = next(self._lines, None)
        if line is None:
            return None
        self.out(f"{prompt}{line.rstrip()}")
        return line.rstrip("\n")

    def fill(self, form: Form) -> dict[str, str] | None:
        self.out(f"── {form.title} (empty keeps the value in brackets, '.' cancels)")
        values: dict[str, str] = {}
        for f in form.fields:
            if f.error:
                self.out(f"  ⚠ {f.label}: {f.error}")
            options = f" ({'/'.join(f.options)})" if f.options else " (yes/no)" if f.kind == "checkbox" else ""
            hint = f" — {f.hint}" if f.hint else ""
            line = self.read(f"  {f.label}{options}{hint} [{f.initial}]: ")
            if line is None or line.strip() == ".":
                return None
            values[f.name] = line.strip() or f.initial
        return values

    def turn(self, actor: Actor, *, text: str | None = None, action: Action | None = None) -> Reply:
        with self.container.unit_of_work() as session:
            now = self.container.clock()
            if action is not None:
                reply = handle_action(action, session=session, now=now)
            else:
                reply = handle_command(Command(text=text or "", actor=actor), session=session, now=now)
        while reply.form is not None:
            self.out(render(reply))
            values = self.fill(reply.form)
            if values is None:
                return Reply(text="Cancelled; nothing was sent.")
            with self.container.unit_of_work() as session:
                reply = handle_action(Action(reply.form.submit_action_id, reply.form.value, actor, values),
                                      session=session, now=self.container.clock())
        self.deliver()
        return reply

    def deliver(self) -> None:
        if self.inbox is None:
            return
        before = {pid: len(msgs) for pid, msgs in self.inbox.messages.items()}
        outbox.dispatch(self.container.session_factory, [self.inbox], now=self.container.clock(), limit=1000)
        for pid, msgs in self.inbox.messages.items():
            self.unread[pid] += len(msgs) - before.get(pid, 0)

    def run(self, actor: Actor) -> int:
        self.out(f"govbot console — you are {actor.display_name}. Ask a question, a number presses a button, "
                 "/as EMAIL switches person, /quit leaves.")
        last: Reply | None = None
        while True:
            raw = self.read(PROMPT)
            if raw is None:
                break
            line = raw.strip()
            if not line:
                continue
            if line in ("/quit", "/exit", "quit", "exit"):
                break
            if line.startswith("/as "):
                try:
                    actor = actor_for(self.container, line[4:])
                    unread = self.unread.get(actor.person_id or -1, 0)
                    self.out(f"you are now {actor.display_name}" + (f" — {unread} new message(s): /inbox" if unread else ""))
                except LookupError as exc:
                    self.out(f"error: {exc}")
                continue
            if line == "/inbox":
                last = self.show_inbox(actor) or last
                continue
            if line.isdigit() and last is not None:
                button = button_for(last, int(line))
                if button is None:
                    self.out(f"there is no choice {line}")
                    continue
                reply = self.turn(actor, action=Action(button.action_id, button.value, actor))
            else:
                reply = self.turn(actor, text=line)
            self.out(render(reply))
            self.out("")
            last = reply
        return 0

    def show_inbox(self, actor: Actor) -> Reply | None:
        if self.inbox is None or actor.person_id is None:
            self.out("no inbox here (start the console with --inbox)")
            return None
        msgs = self.inbox.messages.get(actor.person_id, [])
        if not msgs:
            self.out("your inbox is empty")
            return None
        self.unread[actor.person_id] = 0
        last = None
        for msg in msgs[-5:]:
            last = reply_from_dict(msg["payload"])
            self.out(f"✉ {'(updated) ' if msg.get('updated') else ''}{render(last)}")
            self.out("")
        return last


def run_chat(container: Container, *, as_email: str | None, lines: Iterable[str] | None = None,
             out: Callable[[str], None] = print, inbox: bool = False) -> int:
    console = Console(container, lines=lines, out=out, inbox=inbox)
    try:
        actor = actor_for(container, as_email)
    except LookupError as exc:
        out(f"error: {exc}")
        return 2
    return console.run(actor)
