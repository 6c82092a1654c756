"""Entry points every adapter calls: one for typed text, one for button clicks.

What people type and what buttons carry is cleaned here once for every use case: NUL and the other
control characters (which PostgreSQL refuses in text and no answer needs) are removed; line breaks and
tabs stay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from sqlalchemy.orm import Session

from handlers.reply import Action, Command, Reply

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    return _CONTROL.sub("", text)


def _cleaned(request: Command | Action) -> Command | Action:
    if isinstance(request, Command):
        return dataclasses.replace(request, text=clean(request.text))
    return dataclasses.replace(request, action_id=clean(request.action_id), value=clean(request.value),
                               inputs={clean(k): clean(v) for k, v in request.inputs.items()})


def handle_command(command: Command, *, session: Session, now: dt.datetime) -> Reply:
    from handlers import router

    return router.route_command(_cleaned(command), session=session, now=now)  # type: ignore[arg-type]


def handle_action(action: Action, *, session: Session, now: dt.datetime) -> Reply:
    from handlers import router

    return router.route_action(_cleaned(action), session=session, now=now)  # type: ignore[arg-type]


def handle_unknown(request: Command | Action, *, session: Session, now: dt.datetime) -> Reply | None:
    """Someone who is not in the directory asked or clicked: refuse (and audit) what needs a person."""
    from handlers import router

    return router.refuse_unknown(_cleaned(request), session=session, now=now)
