"""The core's front door: a neutral Command, Action or home request to the use case that answers it.

The tables are built by the composition root from an explicit list of use-case modules
(:meth:`Router.from_modules`); each module declares its :class:`Route` values in ``ROUTES``, and
importing a module registers nothing.  What people type and what buttons carry is cleaned here once
for every use case (NUL and the other control characters, which PostgreSQL refuses in text and no
answer needs, are removed; line breaks and tabs stay).

One rule is enforced here for every route that changes something (a request, a submission, a
decision, a delegation, an acknowledgement, a dashboard link): only people who are in the directory
and active may run it.  A refusal is recorded in the audit trail as ``<route>.refused`` with the
object the request was about, whichever surface it came from; the use cases enforce their own rules
(who may approve what, when) on top, in ``governance_store``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from governance_store import audit
from governance_store.models import Person
from handlers.help import ExampleValues, help_reply, plant_examples
from handlers.i18n import choose_locale, person_languages, translator
from handlers.parse import Intent, parse
from handlers.reply import Action, Actor, Command, Reply, echo
from handlers.routes import Route, RouteKind
from handlers.services import Services

RERUN_ACTIONS = ("govbot.run", "govbot.choose")  # buttons that ask a command again (choices, "open the form")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    return _CONTROL.sub("", text)


def _cleaned(request: Command | Action) -> Command | Action:
    if isinstance(request, Command):
        return dataclasses.replace(request, text=clean(request.text))
    return dataclasses.replace(request, action_id=clean(request.action_id), value=clean(request.value),
                               inputs={clean(k): clean(v) for k, v in request.inputs.items()})


def _status(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "candidates": [], "warnings": [], **extra}


class Router:
    """Routes requests to use cases and applies the rule that only active people change anything."""

    def __init__(self, routes: Iterable[Route], *, services: Services) -> None:
        self.services = services
        self._tables: dict[RouteKind, dict[str, Route]] = {kind: {} for kind in RouteKind}
        for route in routes:
            table = self._tables[route.kind]
            if route.key in table:
                raise ValueError(f"two use cases answer the {route.kind} {route.key!r}")
            if route.changes_state and not route.audit_as:
                raise ValueError(f"{route.key!r} changes state but names no audit action for refusals")
            table[route.key] = route
        if "" not in self._tables[RouteKind.HOME]:
            raise ValueError("no use case answers the home page")

    @classmethod
    def from_modules(cls, modules: Iterable[ModuleType], *, services: Services) -> Router:
        """The tables from each module's ``ROUTES``."""
        routes: list[Route] = []
        for module in modules:
            declared = getattr(module, "ROUTES", None)
            if declared is None:
                raise ValueError(f"{module.__name__} declares no ROUTES")
            routes.extend(declared)
        return cls(routes, services=services)

    def routes(self, kind: RouteKind) -> Mapping[str, Route]:
        return self._tables[kind]

    # ------------------------------------------------------------------ entry points

    def command(self, command: Command, *, session: Session, now: dt.datetime) -> Reply:
        command = _cleaned(command)  # type: ignore[assignment]
        route = self._command_route(command)
        refused = self._guard(route, command, session=session, now=now)
        if refused is not None:
            return refused
        if route is not None:
            return route.handler(command, session=session, now=now, services=self.services)
        return self._question(parse(command.text.strip()), command, session=session, now=now)

    def action(self, action: Action, *, session: Session, now: dt.datetime) -> Reply:
        action = _cleaned(action)  # type: ignore[assignment]
        if action.action_id in RERUN_ACTIONS:
            return self.command(Command(text=action.value, actor=action.actor), session=session, now=now)
        route = self._tables[RouteKind.ACTION].get(action.action_id)
        if route is None:
            t = translator(action.actor.locale)
            return Reply(text=t("That button is no longer supported. Ask again to get a fresh answer."),
                         data=_status("refused"))
        refused = self._guard(route, action, session=session, now=now)
        if refused is not None:
            return refused
        return route.handler(action, session=session, now=now, services=self.services)

    def home(self, actor: Actor, *, session: Session, now: dt.datetime) -> Reply:
        route = self._tables[RouteKind.HOME][""]
        person = self._person(actor, session=session)
        if person is not None and not person.active:
            return Reply(text=_inactive_text(person, "see a home page"), data=_status("refused"))
        return route.handler(actor, session=session, now=now, services=self.services)

    def refuse_unknown(self, request: Command | Action, *, session: Session, now: dt.datetime) -> Reply:
        """What a chat user who is not in the directory is told; what they tried is audited when it would
        have changed something."""
        request = _cleaned(request)
        route = self._route_of(request)
        what = route.what if route is not None and route.changes_state else "use govbot"
        if route is not None and route.changes_state:
            self._audit_refusal(route, request, None, "not in the directory", session=session, now=now)
        actor = request.actor
        return Reply(
            text=f"You are not in govbot's directory, so you cannot {what}. Ask your govbot admin to import your "
                 "directory entry (your chat e-mail must match it).",
            data=_status("unknown_person", email=actor.email, tried=route.key if route is not None else None),
        )

    # ------------------------------------------------------------------ rules

    def _command_route(self, command: Command) -> Route | None:
        text = command.text.strip()
        word = text.split(None, 1)[0].lower() if text else ""
        return self._tables[RouteKind.COMMAND].get(word)

    def _route_of(self, request: Command | Action) -> Route | None:
        if isinstance(request, Command):
            return self._command_route(request)
        if request.action_id in RERUN_ACTIONS:
            return self._command_route(Command(text=request.value, actor=request.actor))
        return self._tables[RouteKind.ACTION].get(request.action_id)

    @staticmethod
    def _person(actor: Actor, *, session: Session) -> Person | None:
        return session.get(Person, actor.person_id) if actor.person_id is not None else None

    def _guard(self, route: Route | None, request: Command | Action, *, session: Session,
               now: dt.datetime) -> Reply | None:
        """``None`` when the request may run; otherwise the refusal (audited)."""
        person = self._person(request.actor, session=session)
        if person is not None and person.active:
            return None
        changes_state = route is not None and route.changes_state
        if person is None:
            if request.actor.person_id is not None:
                # An id that names nobody (a tampered web-chat request, a person deleted meanwhile).
                return self.refuse_unknown(request, session=session, now=now)
            if not changes_state:
                return None  # an anonymous question (``govbot ask``): nothing personal is answered
            return self.refuse_unknown(request, session=session, now=now)
        what = route.what if route is not None and changes_state else "use govbot"
        if route is not None and changes_state:
            self._audit_refusal(route, request, person, "inactive", session=session, now=now)
        return Reply(text=_inactive_text(person, what), data=_status("refused", reason="inactive"))

    def _audit_refusal(self, route: Route, request: Command | Action, person: Person | None, reason: str, *,
                       session: Session, now: dt.datetime) -> None:
        actor = request.actor
        object_type, object_key = route.subject(request, session) if route.subject else (route.audit_as, "")
        label = None if person is not None else f"{actor.display_name or 'someone'} (not in the directory)"
        audit.record(session, at=now, actor=person, actor_label=label, platform=actor.platform,
                     action=f"{route.audit_as}.refused", object_type=object_type, object_key=object_key[:80],
                     data={"reason": reason, "email": actor.email})

    # ------------------------------------------------------------------ questions

    def _question(self, intent: Intent, command: Command, *, session: Session, now: dt.datetime) -> Reply:
        intent = dataclasses.replace(intent, locale=answer_locale(intent, command, session=session))
        t = translator(intent.locale)
        actor = command.actor

        def examples() -> ExampleValues:
            return plant_examples(session=session, person_id=actor.person_id, email=actor.email)

        if intent.name == "help":
            return help_reply(topic=intent.subject, locale=t.locale, examples=examples())
        intents = self._tables[RouteKind.INTENT]
        if intent.name == "not_understood":
            # A bare system name is a question about its owner.
            resolved = self.services.catalog.resolve(intent.subject, session=session)
            if resolved.system is not None and resolved.resolution.status == "exact" and "who_owns" in intents:
                return intents["who_owns"].handler(dataclasses.replace(intent, name="who_owns"), session=session,
                                                   now=now, services=self.services)
            return help_reply(prefix=t("I didn't understand “{text}”. Here is what I can answer:", text=echo(intent.subject)),
                              status="not_understood", locale=t.locale, examples=examples())
        route = intents.get(intent.name)
        if route is None:
            return help_reply(prefix=t("I can't answer “{text}” yet. Here is what I can answer:",
                                       text=echo(command.text)), status="not_understood", locale=t.locale,
                              examples=examples())
        return route.handler(intent, session=session, now=now, services=self.services)


def answer_locale(intent: Intent, command: Command, *, session: Session) -> str:
    """The language of the answer, as far as it is known before the system is (see ``handlers.i18n``);
    "" leaves it to the language of the site of the system the question is about."""
    actor = command.actor
    if intent.language or (actor.locale and choose_locale(actor.locale)):
        return choose_locale(intent.language, actor.locale)
    preferred, home = person_languages(person_id=actor.person_id, email=actor.email, session=session)
    return choose_locale(preferred, home)


def _inactive_text(person: Person, what: str) -> str:
    left = f" (you left on {person.left_on:%Y-%m-%d})" if person.left_on else ""
    return (f"Your entry in govbot's directory is inactive{left}, so you cannot {what}. If you are back, ask your "
            "govbot admin to re-import the directory.")
