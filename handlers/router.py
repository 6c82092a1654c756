"""Routes a neutral Command or Action to its use case and turns failures into replies."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from handlers import catalog, ownership
from handlers.help import help_reply
from handlers.parse import Intent, parse
from handlers.reply import Action, Command, Reply

log = logging.getLogger(__name__)

Handler = Callable[..., Reply]

INTENT_HANDLERS: dict[str, Handler] = {
    "who_owns": ownership.who_owns,
    "raci": ownership.raci_answer,
    "accountable": ownership.accountable,
    "responsible": ownership.accountable,
    "approves": ownership.accountable,
    "steward": ownership.steward,
    "call": ownership.call,
    "sla": ownership.sla,
    "deps": ownership.deps,
    "depends_on_me": ownership.deps,
    "my_dependencies": ownership.deps,
    "owns": ownership.owns,
}

# Extra command words contributed by other use cases (change requests, approvals ...).
EXTRA_COMMANDS: dict[str, Handler] = {}
ACTION_HANDLERS: dict[str, Callable[..., Reply]] = {}


def _error_reply(exc: BaseException) -> Reply:
    error_id = uuid.uuid4().hex[:8]
    log.exception("error %s while answering", error_id, exc_info=exc)
    return Reply(
        text=f"Something went wrong on my side (error id {error_id}). The team running govbot can look it up.",
        data={"status": "error", "error_id": error_id, "candidates": [], "warnings": []},
    )


def route_command(command: Command, *, session: Session, now: dt.datetime) -> Reply:
    try:
        text = command.text.strip()
        word = text.split(" ", 1)[0].lower() if text else ""
        if word in EXTRA_COMMANDS:
            return EXTRA_COMMANDS[word](command, session=session, now=now)
        intent = parse(text)
        return answer(intent, command=command, session=session, now=now)
    except Exception as exc:  # noqa: BLE001 - never a traceback in chat
        session.rollback()
        return _error_reply(exc)


def answer(intent: Intent, *, command: Command, session: Session, now: dt.datetime) -> Reply:
    if intent.name == "help":
        return help_reply(topic=intent.subject)
    if intent.name == "not_understood":
        # A bare system name is a question about its owner.
        resolved = catalog.resolve(intent.subject, session=session)
        if resolved.system is not None and resolved.resolution.status == "exact":
            return ownership.who_owns(Intent("who_owns", intent.subject), session=session, now=now)
        return help_reply(
            prefix=f"I didn't understand “{intent.subject}”. Here is what I can answer:", status="not_understood"
        )
    handler = INTENT_HANDLERS[intent.name]
    return handler(intent, session=session, now=now)


def route_action(action: Action, *, session: Session, now: dt.datetime) -> Reply:
    try:
        if action.action_id in ("govbot.run", "govbot.choose"):
            return route_command(Command(text=action.value, actor=action.actor), session=session, now=now)
        handler = ACTION_HANDLERS.get(action.action_id)
        if handler is None:
            return Reply(text="That button is no longer supported. Ask again to get a fresh answer.",
                         data={"status": "refused", "candidates": [], "warnings": []})
        return handler(action, session=session, now=now)
    except Exception as exc:  # noqa: BLE001 - never a traceback in chat
        session.rollback()
        return _error_reply(exc)


class _NotRefused(Exception):
    """A use case did not refuse someone outside the directory: undo whatever it did."""


def refuse_unknown(request: Command | Action, *, session: Session, now: dt.datetime) -> Reply | None:
    """What the core says to a chat user who is not in the directory (``request.actor.person_id`` is None).

    The adapters tell such a user that they are unknown and run nothing for them; they call this so that
    what the user tried (a click, or a command such as ``dashboard`` or ``change``) is refused and audited
    by the use case that owns the rule, like every other refusal.  Questions (``who``, ``raci`` ...) are
    not use cases with rules and get ``None``.  Anything a use case did not refuse is rolled back.
    """
    if request.actor.person_id is not None:
        raise ValueError("refuse_unknown is for people outside the directory")
    handler: Callable[..., Reply] | None
    if isinstance(request, Action):
        if request.action_id in ("govbot.run", "govbot.choose"):
            return refuse_unknown(Command(text=request.value, actor=request.actor), session=session, now=now)
        handler = ACTION_HANDLERS.get(request.action_id)
    else:
        text = request.text.strip()
        handler = EXTRA_COMMANDS.get(text.split(" ", 1)[0].lower() if text else "")
    if handler is None:
        return None
    try:
        with session.begin_nested():
            reply = handler(request, session=session, now=now)
            if reply.status != "refused":
                raise _NotRefused(reply.status)
    except _NotRefused as exc:
        log.info("%s was not refused to someone outside the directory (%s); nothing was kept",
                    getattr(request, "action_id", None) or "a command", exc)
        return None
    except Exception as exc:  # noqa: BLE001 - the adapter's answer does not depend on this; the savepoint is undone
        _error_reply(exc)
        return None
    return reply


def _register_use_cases() -> None:
    import sys

    from handlers import changes, dashboard

    changes.register(sys.modules[__name__])
    dashboard.register(sys.modules[__name__])


_register_use_cases()
