"""``/email/act``: where an e-mail's Approve / Reject link leads.

* ``GET /email/act?t=LINK`` shows what the link would do — "Approve GCR000012 “…” as Ray Dawson?" — and a
  button to confirm (for a rejection, with the reason to give).  A GET never changes anything: mail
  scanners and link previews open links, people do not always mean to.
* ``POST /email/act`` (the confirmation, with the link in the form) takes the decision through the turn
  pipeline as the person the link was sent to (``ChatUser(platform="email", person_id=…)``), so exactly
  the rules of chat apply and are audited the same way (a refusal is ``change.approve.refused`` from
  ``email``).  In the same unit of work the link is recorded as used: a second use is told when it was used.

A link that was altered, signed with another key, or has expired is refused before anything is read.
The pages are not cached, not framed, send no referrer (the link must not leak), and load nothing from
elsewhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.email.links import Link, LinkError, LinkSigner
from bot.turn import ChatUser, Click
from governance_store import local_time
from governance_store.calendar import for_system
from governance_store.changes import already_decided, awaiting_decision
from governance_store.models import ChangeRequest, Person, UsedLink

if TYPE_CHECKING:
    from bot.bootstrap import Container

log = logging.getLogger(__name__)

PATH = "/email/act"
PLATFORM = "email"
HERE = Path(__file__).resolve().parent
ENV = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}
VERB = {"approve": "Approve", "reject": "Reject"}


class LinkUsed(Exception):
    """The link was used meanwhile (two confirmations at once): the second one rolls back."""


def _page(template: str, *, status: int = 200, **context: Any) -> web.Response:
    html = ENV.get_template(template).render(**context)
    return web.Response(text=html, content_type="text/html", status=status, headers=HEADERS)


def use_link(link: Link, session: Session, person: Person | None, now: dt.datetime) -> None:
    """Record ``link`` as used, in the decision's unit of work (the turn pipeline's ``remember`` hook)."""
    change = session.get(ChangeRequest, link.change_id)
    try:
        with session.begin_nested():
            session.add(UsedLink(link_id=link.link_id, person_id=person.id if person is not None else None,
                                 change_id=change.id if change is not None else None, action=link.action,
                                 used_at=now))
            session.flush()
    except IntegrityError:
        raise LinkUsed(link.link_id) from None


class EmailLinkMount:
    """Adds ``GET`` and ``POST /email/act`` to the web host."""

    def __init__(self, container: Container, signer: LinkSigner) -> None:
        self.container = container
        self.signer = signer

    def mount(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.show)
        app.router.add_post(PATH, self.confirm)

    # ------------------------------------------------------------------ reading

    def _link(self, token: str) -> Link:
        return self.signer.verify(token, now=self.container.clock())

    def _context(self, link: Link) -> dict[str, Any]:
        """What the page shows about the link, read without changing anything."""
        with self.container.session_factory() as session:
            used = session.get(UsedLink, link.link_id)
            person = session.get(Person, link.person_id)
            cr = session.get(ChangeRequest, link.change_id)
            site = for_system(cr.system, session=session).tz if cr is not None and cr.system is not None else None
            tz = local_time.zone_for(person, site=site)
            context: dict[str, Any] = {
                "verb": VERB[link.action], "action": link.action, "who": person.display_name if person else None,
                "number": cr.number if cr else None, "title": cr.title if cr else None,
                "system": cr.system_name if cr else None, "state": cr.state if cr else None,
                "used": local_time.stamp(used.used_at, tz) if used is not None else None,
                "decided": None, "expires": local_time.stamp(link.expires, tz),
            }
            if cr is not None and not awaiting_decision(cr):
                context["decided"] = already_decided(cr, session=session, tz=tz)
        return context

    async def show(self, request: web.Request) -> web.Response:
        token = request.query.get("t", "")
        try:
            link = self._link(token)
        except LinkError as exc:
            return _page("email_link_invalid.html", status=403, reason=str(exc))
        context = await asyncio.to_thread(self._context, link)
        return _page("email_confirm.html", token=token, **context)

    # ------------------------------------------------------------------ deciding

    async def confirm(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("t", ""))
        try:
            link = self._link(token)
        except LinkError as exc:
            return _page("email_link_invalid.html", status=403, reason=str(exc))
        context = await asyncio.to_thread(self._context, link)
        if context["used"]:
            return _page("email_done.html", status=409, **context,
                         message=f"This link was already used ({context['used']}); each link works once.")
        inputs: tuple[tuple[str, str], ...] = ()
        if link.action == "reject":
            reason = str(form.get("reason", "")).strip()
            if not reason:
                return _page("email_confirm.html", status=400, token=token, **context,
                             error="Give the reason for the rejection.")
            inputs = (("reason", reason[:2000]),)
        user = ChatUser(platform=PLATFORM, person_id=link.person_id)
        click = Click(link.action_id, str(link.change_id), inputs)
        reply = await asyncio.to_thread(self.container.pipeline.answer, user, click,
                                        remember=functools.partial(use_link, link))
        if reply.status == "error":
            # A second confirmation racing this one finds the link used; anything else is in the log.
            again = await asyncio.to_thread(self._context, link)
            if again["used"]:
                return _page("email_done.html", status=409, **again,
                             message=f"This link was already used ({again['used']}); each link works once.")
        return _page("email_done.html", **context, message=reply.text, refused=reply.private,
                     fields=[(f.label, f.value) for s in reply.sections for f in s.fields])


def email_mount_from_settings(container: Container) -> EmailLinkMount | None:
    """The mount when e-mail links are configured (``GOVBOT_EMAIL_LINK_KEY``)."""
    settings = container.settings
    if settings.email_link_key is None:
        return None
    return EmailLinkMount(container, LinkSigner(settings.email_link_key.get_secret_value(),
                                                lifetime=dt.timedelta(hours=settings.email_link_hours)))


__all__ = ["EmailLinkMount", "email_mount_from_settings", "use_link"]
