"""Where a person is reached: ``notify`` shows it, ``notify me on teams then email`` chooses it.

Without a choice, a person is reached on the chat platform they last used govbot on, then in the
organisation's order (``GOVBOT_NOTIFY_ORDER``); e-mail takes over for them only after a message has
waited (see :mod:`notifications.reach`).  A choice is kept on the person (``Person.notify_via``), audited
(``notify.set``), and messages that were waiting for them are tried again at once.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Any

from sqlalchemy.orm import Session

from governance_store import audit
from governance_store.models import Person
from handlers.reply import Command, Reply
from handlers.routes import Route, RouteKind
from handlers.services import Services
from notifications import outbox, reach

USAGE = "notify · notify me on teams|slack|email [then …] · notify default"
NAMES = {"slack": "slack", "teams": "teams", "msteams": "teams", "microsoft teams": "teams", "email": "email",
         "e-mail": "email", "mail": "email"}
LABELS = {"slack": "Slack", "teams": "Teams", "email": "e-mail"}


def _status(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "candidates": [], "warnings": [], **extra}


def _label(names: tuple[str, ...] | list[str]) -> str:
    return ", then ".join(LABELS.get(n, n) for n in names) or "—"


def parse_choice(text: str) -> tuple[list[str], list[str]]:
    """``"teams then email"`` → (["teams", "email"], []); unknown words come back second."""
    words = [w.strip().lower() for w in re.split(r",|;|\bthen\b|\band\b|\bor\b", text) if w.strip()]
    chosen: list[str] = []
    unknown: list[str] = []
    for word in words:
        name = NAMES.get(word) or NAMES.get(word.removeprefix("on ").strip())
        if name is None:
            unknown.append(word)
        elif name not in chosen:
            chosen.append(name)
    return chosen, unknown


def notify_command(command: Command, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    person = session.get(Person, command.actor.person_id) if command.actor.person_id is not None else None
    if person is None:
        raise LookupError("notify was reached without a person")
    rest = re.sub(r"^notify\s*", "", command.text.strip(), flags=re.I)
    rest = re.sub(r"^(me\s+)?(on|via|by|in)\s+", "", rest, flags=re.I).strip()
    connected = services.platforms
    if not rest:
        return Reply(text=_current(person, services), data=_status("answered", notify_via=person.notify_via))
    if rest.lower() in ("default", "reset", "off", "anywhere"):
        person.notify_via = None
        audit.record(session, at=now, actor=person, platform=command.actor.platform, action="notify.set",
                     object_type="person", object_key=person.email, data={"order": None})
        outbox.wake(session, person_id=person.id, now=now)
        return Reply(text="You are reached where you last used govbot again. " + _current(person, services),
                     data=_status("answered", notify_via=None))
    chosen, unknown = parse_choice(rest)
    if unknown or not chosen:
        guesses = [g for word in unknown for g in difflib.get_close_matches(word, list(NAMES), n=1, cutoff=0.6)]
        hint = f" Did you mean {', '.join(LABELS[NAMES[g]] for g in guesses)}?" if guesses else ""
        return Reply(text=f"I don't know “{', '.join(unknown) or rest}” as a way to reach you.{hint}\nUsage: {USAGE}",
                     data=_status("usage"))
    person.notify_via = ",".join(chosen)
    audit.record(session, at=now, actor=person, platform=command.actor.platform, action="notify.set",
                 object_type="person", object_key=person.email, data={"order": chosen})
    outbox.wake(session, person_id=person.id, now=now)
    missing = [LABELS[c] for c in chosen if connected and c not in connected]
    note = f" ({', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not connected here yet; " \
           "govbot uses the next one meanwhile.)" if missing else ""
    return Reply(text=f"govbot reaches you on {_label(chosen)}.{note}", data=_status("answered", notify_via=chosen))


def _current(person: Person, services: Services) -> str:
    own = list(reach.parse_order(person.notify_via))
    if own:
        where = f"You chose: {_label(own)}."
    elif person.seen_on:
        where = (f"You are reached where you last used govbot ({LABELS.get(person.seen_on, person.seen_on)}), "
                 f"then in your organisation's order: {_label(list(services.notify_order))}.")
    else:
        where = f"You are reached in your organisation's order: {_label(list(services.notify_order))}."
    connected = f" Connected here: {', '.join(LABELS.get(p, p) for p in services.platforms)}." \
        if services.platforms else ""
    return f"{where}{connected} Change it with: {USAGE}"


def _person_subject(request: Any, session: Session) -> tuple[str, str]:
    return "person", request.actor.email or request.actor.display_name or "unknown"


ROUTES = (
    Route(RouteKind.COMMAND, "notify", notify_command, changes_state=True, audit_as="notify",
          what="choose where govbot reaches you", subject=_person_subject),
)
