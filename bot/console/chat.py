"""``govbot chat``: an interactive console that acts as one person.

Type a question; a number presses the matching button of the last answer;
forms (a new change request, a rejection reason) are asked field by field;
``/as EMAIL`` switches person; ``/inbox`` shows messages govbot sent to you
(with ``--inbox``); ``/quit`` leaves.  Works with piped input too.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from bot.bootstrap import Container
from bot.console.render import button_for, render
from bot.turn import Ask, ChatUser, Click, Request
from handlers.reply import Actor, Form, Reply, reply_from_dict
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


PLATFORM = "console"


def user_for(container: Container, email: str | None) -> tuple[ChatUser, Actor | None]:
    """The console's chat user for ``--as EMAIL`` (who they are, checked by the pipeline), or the local
    operator without one (questions only)."""
    if not email:
        return ChatUser(platform=PLATFORM, display_name="console user", local_operator=True), None
    user = ChatUser(platform=PLATFORM, email=email.strip())
    actor = container.pipeline.identify(user)
    if actor is None:
        raise LookupError(f"no person with e-mail {email} in the directory")
    return dataclasses.replace(user, person_id=actor.person_id, display_name=actor.display_name), actor


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

    def turn(self, user: ChatUser, request: Request) -> Reply:
        reply = self._run(user, request)
        while reply.form is not None:
            self.out(render(reply))
            values = self.fill(reply.form)
            if values is None:
                return Reply(text="Cancelled; nothing was sent.")
            reply = self._run(user, Click(reply.form.submit_action_id, reply.form.value, tuple(values.items())))
        self.deliver()
        return reply

    def _run(self, user: ChatUser, request: Request) -> Reply:
        return self.container.pipeline.answer(user, request)

    def deliver(self) -> None:
        if self.inbox is None:
            return
        before = {pid: len(msgs) for pid, msgs in self.inbox.messages.items()}
        outbox.dispatch(self.container.session_factory, [self.inbox], now=self.container.clock(), limit=1000)
        for pid, msgs in self.inbox.messages.items():
            self.unread[pid] += len(msgs) - before.get(pid, 0)

    def run(self, user: ChatUser) -> int:
        self.out(f"govbot console — you are {user.display_name}. Ask a question, a number presses a button, "
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
                    user, _ = user_for(self.container, line[4:])
                    unread = self.unread.get(user.person_id or -1, 0)
                    self.out(f"you are now {user.display_name}" + (f" — {unread} new message(s): /inbox" if unread else ""))
                except LookupError as exc:
                    self.out(f"error: {exc}")
                continue
            if line == "/inbox":
                last = self.show_inbox(user) or last
                continue
            if line.isdigit() and last is not None:
                button = button_for(last, int(line))
                if button is None:
                    self.out(f"there is no choice {line}")
                    continue
                reply = self.turn(user, Click(button.action_id, button.value))
            else:
                reply = self.turn(user, Ask(line))
            self.out(render(reply))
            self.out("")
            last = reply
        return 0

    def show_inbox(self, user: ChatUser) -> Reply | None:
        if self.inbox is None or user.person_id is None:
            self.out("no inbox here (start the console with --inbox)")
            return None
        msgs = self.inbox.messages.get(user.person_id, [])
        if not msgs:
            self.out("your inbox is empty")
            return None
        self.unread[user.person_id] = 0
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
        user, _ = user_for(container, as_email)
    except LookupError as exc:
        out(f"error: {exc}")
        return 2
    return console.run(user)
