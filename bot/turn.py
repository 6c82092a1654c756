"""One turn, the same on every surface: a chat account and what it asked, in; govbot's reply, out.

Slack, Teams, the console, the web chat and e-mail links are thin adapters: they translate a platform
payload into a :class:`ChatUser` and a :class:`Request`, hand both to :meth:`Pipeline.run`, render the
:class:`~handlers.reply.Reply` it returns and send it.  Everything in between happens here, once:

1. **who** — the chat account is resolved to a person in the directory
   (:func:`governance_store.identity.resolve_chat_user`: Entra object id, a linked account id, then the
   e-mail, recording the link so the next turn needs no e-mail);
2. **refusal** — someone who is not in the directory is told so, and what they tried is audited when it
   would have changed something; the router refuses people who have left (and audits it);
3. **one unit of work** — the router runs the use case in one transaction with the turn's clock;
4. **one error reply** — any exception is logged with an error id and becomes the same friendly reply,
   with the same id format, on every surface; chat never sees a stack trace.

Every value here is small and picklable, so a turn can run in a worker process as well as a thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from governance_store import identity
from governance_store.models import Person
from handlers.i18n import error_text
from handlers.reply import Action, Actor, Command, Reply
from notifications import reach

if TYPE_CHECKING:
    import datetime as dt

    from handlers.router import Router

log = logging.getLogger(__name__)

# A mention of another chat account inside typed text, as adapters write it: the account id between two
# private-use characters (never whitespace, so text clean-up keeps it).  The pipeline replaces it with the
# person's name (``owns <@U123>`` becomes ``owns Luis Ortega``).
_MARK = "\ue000"
_MENTION = re.compile(f"{_MARK}([^{_MARK}]{{1,64}}){_MARK}")


def mention(account_id: str) -> str:
    """How an adapter writes a mention of another chat account into the text of an :class:`Ask`."""
    return f"{_MARK}{account_id}{_MARK}"


@dataclass(frozen=True)
class ChatUser:
    """Who is on the other end, as the surface knows them.

    ``person_id``: a surface that has already established the person (the console's ``--as``, a signed
    dashboard pass, a signed e-mail link).  Otherwise the chat account (``platform`` and ``account_id``,
    Teams' ``aad_object_id``) and, when the platform tells, its ``email``."""

    platform: str
    account_id: str | None = None
    aad_object_id: str | None = None
    email: str | None = None
    display_name: str | None = None
    handle: str | None = None
    workspace_id: str | None = None
    timezone: str | None = None
    locale: str | None = None
    is_bot: bool | None = None
    person_id: int | None = None
    # A local operator at the command line (``govbot ask`` without ``--as``): questions are answered
    # although nobody in the directory is behind them; anything that would change something is refused.
    local_operator: bool = False

    def label(self) -> str:
        name = self.display_name or self.email or "someone"
        return f"{name} ({self.account_id})" if self.account_id and self.account_id != name else name


@dataclass(frozen=True)
class Ask:
    """Typed text.  ``slash``: a slash command; ``public``: everyone in the conversation sees the answer."""

    text: str
    slash: bool = False
    public: bool = False


@dataclass(frozen=True)
class Click:
    """A button (or a submitted form: ``inputs``)."""

    action_id: str
    value: str
    inputs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class OpenHome:
    """The person's home page (Slack's App Home, the console's start)."""


Request = Ask | Click | OpenHome
# Work the adapter needs done in the turn's unit of work, once the person is known (Teams stores where
# the conversation is).  Must be a module-level function (or a partial of one) to reach worker processes.
Remember = Callable[[Session, "Person | None", "dt.datetime"], None]


def new_error_id() -> str:
    return uuid.uuid4().hex[:10]


def error_reply(error_id: str, *, locale: str | None = None) -> Reply:
    """The one reply to a failure on every surface, in the asker's language when it is known."""
    return Reply(text=error_text(locale, error_id),
                 data={"status": "error", "error_id": error_id, "candidates": [], "warnings": []})


class Pipeline:
    """Runs turns: resolve the person, refuse or run the use case in one unit of work, never raise."""

    def __init__(self, *, unit_of_work: Callable[[], contextlib.AbstractContextManager[Session]],
                 clock: Callable[[], dt.datetime], router: Router) -> None:
        self.unit_of_work = unit_of_work
        self.clock = clock
        self.router = router

    def run(self, user: ChatUser, request: Request, *, final: bool = True,
            remember: Remember | None = None) -> Reply | None:
        """The reply to ``request`` from ``user``.

        ``final=False``: when the account is not linked to anyone and its e-mail is unknown, return
        ``None`` instead of refusing, so the adapter can ask its platform for the e-mail and run again."""
        try:
            with self.unit_of_work() as session:
                now = self.clock()
                person, locale = self._person(session, user)
                if locale and not user.locale:
                    user = dataclasses.replace(user, locale=locale)
                reach.seen(session, person, user.platform, now=now)  # messages waiting for them go out now
                if remember is not None:
                    remember(session, person, now)
                if person is None and not final:
                    return None
                actor = _actor(user, person)
                if person is None and not user.local_operator:
                    log.info("%s user %s is not in the directory (e-mail %s)", user.platform, user.account_id,
                             user.email)
                    if isinstance(request, OpenHome):
                        return self.router.home(actor, session=session, now=now)
                    return self.router.refuse_unknown(_neutral(request, actor, session, user), session=session,
                                                      now=now)
                if isinstance(request, OpenHome):
                    return self.router.home(actor, session=session, now=now)
                neutral = _neutral(request, actor, session, user)
                if isinstance(neutral, Action):
                    return self.router.action(neutral, session=session, now=now)
                return self.router.command(neutral, session=session, now=now)
        except Exception:
            error_id = new_error_id()
            log.exception("error_id=%s while answering %s user %s", error_id, user.platform, user.account_id)
            return error_reply(error_id, locale=user.locale)

    def answer(self, user: ChatUser, request: Request, *, remember: Remember | None = None) -> Reply:
        """The reply to ``request`` (a final turn: someone not in the directory is refused)."""
        reply = self.run(user, request, final=True, remember=remember)
        return reply if reply is not None else error_reply(new_error_id())

    def identify(self, user: ChatUser) -> Actor | None:
        """Who ``user`` is in the directory, without running anything (``None``: nobody).  Surfaces that let
        someone pick who they are (the console's ``--as``) check it here."""
        with self.unit_of_work() as session:
            person, _locale = self._person(session, user)
            return _actor(user, person) if person is not None else None

    def observe(self, user: ChatUser, remember: Remember) -> None:
        """Resolve the account and run ``remember`` in a unit of work, without a request (a platform told
        govbot where a conversation is, e.g. Teams installed the app)."""
        with self.unit_of_work() as session:
            person, _locale = self._person(session, user)
            remember(session, person, self.clock())

    @staticmethod
    def _person(session: Session, user: ChatUser) -> tuple[Person | None, str | None]:
        if user.person_id is not None:
            return session.get(Person, user.person_id), user.locale
        return identity.resolve_chat_user(
            session, platform=user.platform, account_id=user.account_id, aad_object_id=user.aad_object_id,
            email=user.email, display_name=user.display_name, handle=user.handle,
            workspace_id=user.workspace_id, timezone=user.timezone, is_bot=user.is_bot, locale=user.locale)


def _actor(user: ChatUser, person: Person | None) -> Actor:
    if person is None:
        return Actor(person_id=None, display_name=user.label(), platform=user.platform, email=user.email,
                     locale=user.locale)
    return Actor(person_id=person.id, display_name=person.display_name, platform=user.platform, email=person.email,
                 locale=user.locale)


def _names(session: Session, platform: str, text: str) -> Mapping[str, str]:
    names: dict[str, str] = {}
    for account_id in dict.fromkeys(_MENTION.findall(text)):
        person = identity.person_for_chat(session, platform=platform, external_id=account_id)
        if person is not None:
            names[account_id] = person.display_name
    return names


def _neutral(request: Ask | Click, actor: Actor, session: Session, user: ChatUser) -> Command | Action:
    if isinstance(request, Click):
        return Action(request.action_id, request.value, actor, dict(request.inputs))
    text = request.text
    if _MARK in text:
        names = _names(session, user.platform, text)
        text = _MENTION.sub(lambda m: names.get(m.group(1), f"@{m.group(1)}"), text)
    return Command(text=text, actor=actor, slash=request.slash, public=request.public)
