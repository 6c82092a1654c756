"""Ownership coverage and open governance gaps over time.

Ownership coverage at a date is the share of live CMDB systems whose Accountable owner (the owner, else the
technical manager, else the managing team) was with the company on that date.  It is read from today's
records and the directory's leaving dates: a system whose owner left stops being covered on the day after
they left, until someone records a new owner.  Open gaps over time come from the lint snapshots govbot
takes with each weekly digest, and today's lint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance_store.lint import LintReport
from governance_store.models import LintSnapshot, Person, System


@dataclass(frozen=True)
class CoveragePoint:
    day: dt.date
    covered: int
    total: int

    @property
    def pct(self) -> float | None:
        return 100.0 * self.covered / self.total if self.total else None


def ownership_coverage(days: Iterable[dt.date], *, session: Session, site: str | None = None) -> list[CoveragePoint]:
    query = select(System.owner_id, System.technical_manager_id, System.managed_by_team_id).where(
        System.in_cmdb.is_(True), func.coalesce(func.lower(System.install_status), "") != "retired")
    if site:
        query = query.where(System.site_code == site)
    systems = session.execute(query).all()
    left: dict[int, dt.date | None] = {
        pid: day for pid, day in session.execute(select(Person.id, Person.left_on).where(Person.active.is_(False)))}
    inactive_undated = {pid for pid, day in left.items() if day is None}
    out = []
    for day in days:
        covered = 0
        for owner, manager, team in systems:
            person = owner or manager
            if person is None:
                covered += team is not None
            elif person in inactive_undated:
                continue
            else:
                gone = left.get(person)
                covered += gone is None or gone >= day
        out.append(CoveragePoint(day, covered, len(systems)))
    return out


@dataclass(frozen=True)
class GapPoint:
    at: dt.datetime
    open: int
    current: bool = False  # today's lint rather than a snapshot


def _in_site(titles: dict[str, object], key: str, site: str) -> bool:
    info = titles.get(key)
    sites = info.get("sites") if isinstance(info, dict) else None
    return not sites or site in sites


def open_gaps(report: LintReport, *, session: Session, now: dt.datetime, site: str | None = None,
              since: dt.datetime | None = None) -> list[GapPoint]:
    """Open governance gaps at each lint snapshot since ``since``, and now (findings that name no system
    count for every site, as in the digest)."""
    query = select(LintSnapshot).order_by(LintSnapshot.taken_at, LintSnapshot.id)
    if since is not None:
        query = query.where(LintSnapshot.taken_at >= since)
    points = []
    for snap in session.scalars(query).all():
        keys = snap.keys or []
        n = len(keys) if not site else sum(1 for k in keys if _in_site(snap.titles or {}, k, site))
        points.append(GapPoint(snap.taken_at, n))
    if site:
        here = set(session.scalars(select(System.id).where(System.site_code == site)).all())
        sited = set(session.scalars(select(System.id).where(System.site_code.is_not(None))).all())
        current = sum(1 for f in report.findings
                      if here.intersection(f.system_ids) or not sited.intersection(f.system_ids))
    else:
        current = len(report.findings)
    points.append(GapPoint(now, current, current=True))
    return points
