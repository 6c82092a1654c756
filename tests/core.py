"""The core as tests call it directly: the router of govbot's use cases (the composition root's list).

``handle_command`` / ``handle_action`` / ``home`` run one request in the caller's session, as the turn
pipeline does after it has resolved the person; ``services`` (catalog, quorum rules, dashboard links)
default to the defaults of an unconfigured install.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.bootstrap import build_router
from handlers.reply import Action, Actor, Command, Reply
from handlers.router import Router
from handlers.services import Services

DEFAULT = build_router(Services())


def router(services: Services | None = None) -> Router:
    return DEFAULT if services is None else build_router(services)


def handle_command(command: Command, *, session: Session, now: dt.datetime, services: Services | None = None) -> Reply:
    return router(services).command(command, session=session, now=now)


def handle_action(action: Action, *, session: Session, now: dt.datetime, services: Services | None = None) -> Reply:
    return router(services).action(action, session=session, now=now)


def home(actor: Actor, *, session: Session, now: dt.datetime) -> Reply:
    return DEFAULT.home(actor, session=session, now=now)


def refuse_unknown(request: Command | Action, *, session: Session, now: dt.datetime) -> Reply:
    return DEFAULT.refuse_unknown(request, session=session, now=now)
