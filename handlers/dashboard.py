"""``dashboard``: a personal, expiring sign-in link to the web dashboard.

Who may view it: active people in govbot's directory.  A chat user who is not in the
directory and a person who has left are refused; every refusal and every issued link is
audited (the link's secret never is).  Where the link points and how it is signed come from
the :class:`DashboardLinks` the edge puts on the unit of work (``bot.bootstrap.Container``);
without a dashboard token (the loopback demo) the link is the plain dashboard URL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from governance_store import audit
from governance_store.models import Person
from handlers import dashboard_pass
from handlers.reply import Command, Reply

WORD = "dashboard"
# Key of the unit of work's ``session.info`` under which the edge puts the :class:`DashboardLinks`.
LINKS_KEY = "govbot.dashboard_links"
DEFAULT_URL = "http://127.0.0.1:3000/"
DEFAULT_LIFETIME = dt.timedelta(hours=12)


@dataclass(frozen=True)
class DashboardLinks:
    """Where the dashboard is reached and, when it needs a token, the key its passes are signed with."""

    base_url: str = DEFAULT_URL
    key: bytes | None = field(default=None, repr=False)
    lifetime: dt.timedelta = DEFAULT_LIFETIME

    @classmethod
    def configure(cls, base_url: str, *, token: str | None, lifetime: dt.timedelta = DEFAULT_LIFETIME
                  ) -> DashboardLinks:
        if lifetime <= dt.timedelta(0):
            raise ValueError("the dashboard link lifetime must be positive")
        key = dashboard_pass.derive_key(token) if token else None
        return cls(base_url=base_url.rstrip("/") + "/", key=key, lifetime=lifetime)

    def link(self, person_id: int, *, now: dt.datetime) -> tuple[str, dt.datetime | None]:
        """The URL for ``person_id`` and when it stops working (``None``: a plain URL that never does)."""
        if self.key is None:
            return self.base_url, None
        expires_at = now + self.lifetime
        signed = dashboard_pass.issue(person_id, key=self.key, expires_at=expires_at)
        return f"{self.base_url}?pass={signed}", expires_at


def links_for(session: Session) -> DashboardLinks:
    links = session.info.get(LINKS_KEY)
    return links if isinstance(links, DashboardLinks) else DashboardLinks()


def _status(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "intent": WORD, "candidates": [], "warnings": [], **extra}


def _local(ts: dt.datetime, person: Person) -> str:
    try:
        zone = ZoneInfo(person.timezone) if person.timezone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return f"{ts.astimezone(zone):%Y-%m-%d %H:%M %Z}"


def _refuse(command: Command, person: Person | None, reason: str, text: str, *, session: Session,
            now: dt.datetime) -> Reply:
    actor = command.actor
    who = person.email if person is not None else (actor.email or actor.display_name or "unknown")
    label = None if person is not None else f"{actor.display_name or 'unknown'} (not in the directory)"
    audit.record(session, at=now, actor=person, actor_label=label, platform=actor.platform,
                 action="dashboard.view.refused", object_type="dashboard", object_key=who[:80],
                 data={"reason": reason, "chat_user": actor.display_name, "email": actor.email})
    return Reply(text=text, data=_status("refused", reason=reason))


def dashboard_command(command: Command, *, session: Session, now: dt.datetime) -> Reply:
    actor = command.actor
    person = session.get(Person, actor.person_id) if actor.person_id is not None else None
    if person is None:
        return _refuse(command, None, "not in the directory",
                       "You are not in govbot's directory, so you cannot view the dashboard. Ask your govbot admin "
                       "to import your directory entry (your chat e-mail must match it).", session=session, now=now)
    if not person.active:
        left = f" (left on {person.left_on:%Y-%m-%d})" if person.left_on else ""
        return _refuse(command, person, "inactive",
                       f"Your directory entry is inactive{left}, so you cannot view the dashboard.",
                       session=session, now=now)
    if command.public:
        return Reply(text="A dashboard link signs you in, so I only send it privately: ask me in a personal chat.",
                     data=_status("usage"))
    links = links_for(session)
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


def register(router: Any) -> None:
    router.EXTRA_COMMANDS[WORD] = dashboard_command
