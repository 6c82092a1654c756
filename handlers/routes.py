"""What a use-case module declares: the commands, buttons, questions and pages it answers.

Each module under ``handlers/`` that answers people lists its routes in a ``ROUTES`` tuple; the
composition root hands the list of modules to :meth:`handlers.router.Router.from_modules`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from handlers.reply import Action, Command, Reply

Handler = Callable[..., Reply]
Subject = Callable[[Command | Action, Session], tuple[str, str]]


class RouteKind(StrEnum):
    COMMAND = "command"  # the first word of what someone typed (``change``, ``approvals`` …)
    ACTION = "action"  # a button's action id
    INTENT = "intent"  # a question the parser recognised (``who_owns``, ``raci`` …)
    HOME = "home"  # someone's home page


@dataclass(frozen=True)
class Route:
    """One entry of the router's tables.

    ``changes_state``: only active people in the directory may run it; a refusal is audited as
    ``f"{audit_as}.refused"`` about ``subject(request, session)`` (object type and key), and the person
    is told they cannot ``what``."""

    kind: RouteKind
    key: str
    handler: Handler
    changes_state: bool = False
    audit_as: str = ""
    what: str = "do that"
    subject: Subject | None = None
