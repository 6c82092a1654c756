"""The one time zone a dashboard page shows its times in, and how it says so.

A page about one site (or one system or change at a site) uses that site's zone.  Otherwise the viewer's
own zone (signed in with a personal link), else the zone most of the organisation's systems are in; a
``?tz=`` query chooses any other IANA zone.  Every time on the page is in that zone, with its abbreviation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance_store.models import Person, Site, System


def valid_zone(name: str | None) -> str | None:
    if not name or len(name) > 64:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


@dataclass(frozen=True)
class PageZone:
    name: str
    why: str  # "site US-FDL", "your time zone", "the organisation's main time zone", "chosen"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.name)

    def fmt(self, value: dt.datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return "—"
        local = value.astimezone(self.tz)
        return f"{local:{pattern}} {local.tzname()}"

    def day(self, value: dt.datetime | None) -> str:
        return f"{value.astimezone(self.tz):%Y-%m-%d}" if value is not None else "—"

    def label(self, now: dt.datetime) -> str:
        return f"{self.name} ({now.astimezone(self.tz).tzname()})"


def site_zone(site_code: str | None, *, session: Session) -> str | None:
    if not site_code:
        return None
    return valid_zone(session.scalar(select(Site.timezone).where(Site.code == site_code)))


def main_zone(*, session: Session) -> str:
    """The time zone of the site with the most systems (UTC without sites)."""
    row = session.execute(
        select(Site.timezone, func.count(System.id).label("n")).join(System, System.site_code == Site.code)
        .group_by(Site.timezone).order_by(func.count(System.id).desc(), Site.timezone).limit(1)
    ).first()
    zone = valid_zone(row[0]) if row else None
    if zone is None:
        zone = valid_zone(session.scalar(select(Site.timezone).order_by(Site.code).limit(1)))
    return zone or "UTC"


def page_zone(*, session: Session, chosen: str | None = None, site: str | None = None,
              viewer_id: int | None = None) -> PageZone:
    if valid_zone(chosen):
        return PageZone(str(chosen), "chosen")
    zone = site_zone(site, session=session)
    if zone:
        return PageZone(zone, f"site {site}")
    if viewer_id is not None:
        person = session.get(Person, viewer_id)
        own = valid_zone(person.timezone) if person is not None else None
        if own:
            return PageZone(own, "your time zone")
    return PageZone(main_zone(session=session), "the organisation's main time zone")
