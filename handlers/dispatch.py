"""Entry points every adapter calls: one for typed text, one for button clicks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from handlers.reply import Action, Command, Reply


def handle_command(command: Command, *, session: Session, now: dt.datetime) -> Reply:
    from handlers import router

    return router.route_command(command, session=session, now=now)


def handle_action(action: Action, *, session: Session, now: dt.datetime) -> Reply:
    from handlers import router

    return router.route_action(action, session=session, now=now)


def handle_unknown(request: Command | Action, *, session: Session, now: dt.datetime) -> Reply | None:
    """Someone who is not in the directory asked or clicked: refuse (and audit) what needs a person."""
    from handlers import router

    return router.refuse_unknown(request, session=session, now=now)
