"""``dashboard``: a personal, expiring sign-in link to the web dashboard.

Who may view it: active people in govbot's directory (the router refuses, and audits, a chat user
who is not in the directory and a person who has left).  Every issued link is audited (the link's
secret never is).  Where the link points and how it is signed come from the
:class:`~handlers.dashboard_pass.DashboardLinks` of the services the composition root builds; without
a dashboard token (the loopback demo) the link is the plain dashboard URL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from governance_store import audit
from governance_store.models import Person
from handlers.reply import Action, Command, Reply
from handlers.routes import Route, RouteKind
from handlers.services import Services

WORD = "dashboard"


def _status(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "intent": WORD, "candidates": [], "warnings": [], **extra}


def _local(ts: dt.datetime, person: Person) -> str:
    try:
        zone = ZoneInfo(person.timezone) if person.timezone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return f"{ts.astimezone(zone):%Y-%m-%d %H:%M %Z}"


def dashboard_command(command: Command, *, session: Session, now: dt.datetime, services: Services) -> Reply:
    actor = command.actor
    person = session.get(Person, actor.person_id) if actor.person_id is not None else None
    assert person is not None and person.active, "the router lets only active people in the directory ask"
    if command.public:
        return Reply(text="A dashboard link signs you in, so I only send it privately: ask me in a personal chat.",
                     data=_status("usage"))
    links = services.links
    url, expires_at = links.link(person.id, now=now)
    audit.record(session, at=now, actor=person, platform=actor.platform, action="dashboard.link_issued",
                 object_type="dashboard", object_key=person.email[:80],
                 data={"dashboard": links.base_url, "signed": expires_at is not None,
                       "expires_at": expires_at.isoformat() if expires_at else None})
    if expires_at is None:
        text = f"The govbot dashboard: {url}"
    else:
        text = (f"Your personal link to the govbot dashboard, valid until {_local(expires_at, person)}: {url}\n"
                "It signs you in: do not share it.")
    return Reply(text=text, data=_status("link", expires_at=expires_at.isoformat() if expires_at else None))


def _subject(request: Command | Action, session: Session) -> tuple[str, str]:
    actor = request.actor
    return "dashboard", actor.email or actor.display_name or "unknown"


ROUTES = (
    Route(RouteKind.COMMAND, WORD, dashboard_command, changes_state=True, audit_as="dashboard.view",
          what="view the dashboard", subject=_subject),
)
