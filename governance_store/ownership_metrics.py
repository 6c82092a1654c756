"""How true the truth is, measured: ownership coverage, attestation response, gaps opened and closed.

* **coverage**: of the live CMDB systems (installed, not retired), how many have an active owner, and how
  many an active owner confirmed in govbot within the policy's interval for that system (attested,
  transferred to them, claimed or taken over) — the "attested" share is the headline figure;
* **attestation response**: of the systems asked, how many were answered, and the median time to answer;
* **gaps**: opened, closed and the median time from opening to closing.

Each per site and per ISO week (weeks in the site's own time zone).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from governance_store.attestation import last_confirmed
from governance_store.models import (
    Attestation,
    AttestationCampaign,
    AttestationState,
    Person,
    Site,
    System,
    TrackedGap,
)
from governance_store.ownership_policy import OwnershipPolicy

ALL = "all"


@dataclass
class Coverage:
    site: str
    systems: int = 0
    owned: int = 0  # an active owner (or the acting holder of one who left)
    attested: int = 0  # an active owner confirmed in govbot within the policy's interval

    @property
    def pct(self) -> float:
        return round(100.0 * self.attested / self.systems, 1) if self.systems else 0.0

    @property
    def owned_pct(self) -> float:
        return round(100.0 * self.owned / self.systems, 1) if self.systems else 0.0


def coverage(*, session: Session, now: dt.datetime, policy: OwnershipPolicy) -> list[Coverage]:
    """Per site (sorted), then the total as site ``all``."""
    confirmed = last_confirmed(session=session)
    active = set(session.scalars(select(Person.id).where(Person.active.is_(True))).all())
    rows: dict[str, Coverage] = {}
    total = Coverage(ALL)
    for system in session.scalars(select(System).where(
            System.in_cmdb.is_(True),
            or_(System.install_status.is_(None), func.lower(System.install_status) != "retired"))).all():
        site = system.site_code or "—"
        row = rows.setdefault(site, Coverage(site))
        owned = system.owner_id in active
        rule = policy.rule_for(system)
        last = confirmed.get(system.id)
        attested = owned and last is not None and (rule is None or now - last < dt.timedelta(days=rule.every_days))
        for r in (row, total):
            r.systems += 1
            r.owned += owned
            r.attested += attested
    return [rows[k] for k in sorted(rows)] + [total]


@dataclass
class CampaignStatus:
    id: int
    name: str
    state: str
    started_at: dt.datetime
    due_at: dt.datetime
    asked: int = 0
    answered: int = 0
    overdue: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    median_hours: float | None = None
    sites: dict[str, tuple[int, int]] = field(default_factory=dict)  # site -> (asked, answered)

    @property
    def response_rate(self) -> float:
        return round(100.0 * self.answered / self.asked, 1) if self.asked else 0.0


def campaigns(*, session: Session, now: dt.datetime, limit: int = 20) -> list[CampaignStatus]:
    """The latest campaigns, newest first, with their answers."""
    out = []
    for c in session.scalars(select(AttestationCampaign).order_by(AttestationCampaign.id.desc()).limit(limit)).all():
        status = CampaignStatus(c.id, c.name, c.state, c.started_at, c.due_at)
        hours: list[float] = []
        answers: dict[str, int] = defaultdict(int)
        sites: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for state, asked_at, answered_at, due_at, site in session.execute(
                select(Attestation.state, Attestation.asked_at, Attestation.answered_at, Attestation.due_at,
                       Attestation.site_code).where(Attestation.campaign_id == c.id)):
            status.asked += 1
            answers[state] += 1
            sites[site or "—"][0] += 1
            if answered_at is not None and state != AttestationState.SUPERSEDED.value:
                status.answered += 1
                sites[site or "—"][1] += 1
                hours.append((answered_at - asked_at).total_seconds() / 3600)
            elif state == AttestationState.PENDING.value and due_at < now:
                status.overdue += 1
        status.answers = dict(answers)
        status.median_hours = round(statistics.median(hours), 1) if hours else None
        status.sites = {k: (v[0], v[1]) for k, v in sorted(sites.items())}
        out.append(status)
    return out


@dataclass
class Week:
    site: str
    week: str
    asked: int = 0
    answered: int = 0
    response_hours: list[float] = field(default_factory=list)
    gaps_opened: int = 0
    gaps_closed: int = 0
    close_hours: list[float] = field(default_factory=list)

    @property
    def response_rate(self) -> float | None:
        return round(100.0 * self.answered / self.asked, 1) if self.asked else None

    @property
    def median_response_hours(self) -> float | None:
        return round(statistics.median(self.response_hours), 1) if self.response_hours else None

    @property
    def median_close_hours(self) -> float | None:
        return round(statistics.median(self.close_hours), 1) if self.close_hours else None


def _zones(session: Session) -> dict[str, ZoneInfo]:
    out: dict[str, ZoneInfo] = {}
    for code, tz in session.execute(select(Site.code, Site.timezone)):
        try:
            out[code] = ZoneInfo(tz or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            out[code] = ZoneInfo("UTC")
    return out


def iso_week(at: dt.datetime, zone: dt.tzinfo) -> str:
    year, week, _ = at.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def weekly(*, session: Session, since: dt.datetime, until: dt.datetime) -> list[Week]:
    """Per site and week (asked in / opened in / closed in that week), sorted by week then site."""
    zones = _zones(session)
    rows: dict[tuple[str, str], Week] = {}

    def row(site: str | None, at: dt.datetime) -> Week:
        code = site or "—"
        week = iso_week(at, zones.get(code, ZoneInfo("UTC")))
        return rows.setdefault((week, code), Week(code, week))

    for site, asked_at, answered_at, state in session.execute(
            select(Attestation.site_code, Attestation.asked_at, Attestation.answered_at, Attestation.state)
            .where(Attestation.asked_at >= since, Attestation.asked_at < until)):
        r = row(site, asked_at)
        r.asked += 1
        if answered_at is not None and state != AttestationState.SUPERSEDED.value:
            r.answered += 1
            r.response_hours.append((answered_at - asked_at).total_seconds() / 3600)
    for site, opened_at, closed_at in session.execute(
            select(TrackedGap.site_code, TrackedGap.opened_at, TrackedGap.closed_at)
            .where(or_((TrackedGap.opened_at >= since) & (TrackedGap.opened_at < until),
                       (TrackedGap.closed_at >= since) & (TrackedGap.closed_at < until)))):
        if since <= opened_at < until:
            row(site, opened_at).gaps_opened += 1
        if closed_at is not None and since <= closed_at < until:
            r = row(site, closed_at)
            r.gaps_closed += 1
            r.close_hours.append((closed_at - opened_at).total_seconds() / 3600)
    return [rows[k] for k in sorted(rows)]


def open_gaps(*, session: Session) -> dict[str, int]:
    """Open gaps per site (``—``: not about one site)."""
    return {site or "—": n for site, n in session.execute(
        select(TrackedGap.site_code, func.count(TrackedGap.id)).where(TrackedGap.state == "open")
        .group_by(TrackedGap.site_code))}


@dataclass(frozen=True)
class DigestFigures:
    """The ownership lines of one weekly digest."""

    coverage: Coverage
    asked: int
    answered: int
    median_response_hours: float | None
    gaps_opened: int
    gaps_closed: int
    median_close_hours: float | None
    gaps_open: int

    @property
    def news(self) -> bool:
        return bool(self.asked or self.answered or self.gaps_opened or self.gaps_closed)


def policy_in_force(*, session: Session) -> OwnershipPolicy:
    """The policy of the latest campaign (what owners were last asked under), else the default."""
    from governance_store.ownership_policy import DEFAULT_POLICY, PolicyError, parse_policy

    snapshot = session.scalar(select(AttestationCampaign.policy).order_by(AttestationCampaign.id.desc()).limit(1))
    if not snapshot:
        return DEFAULT_POLICY
    try:
        data = {"rule": snapshot.get("rules", []), "attestation": snapshot.get("attestation"),
                "gaps": snapshot.get("gaps")}
        return parse_policy(data, source="campaign")
    except PolicyError:
        return DEFAULT_POLICY


@dataclass(frozen=True)
class DigestReads:
    """What the ownership lines of every digest of one week read: coverage now (every site), the week's
    attestation answers and gaps (every site) and the open gaps per site.  Read once per digest job and
    shared by its scopes: each of them reads the whole catalog otherwise."""

    coverage: list[Coverage]
    week: list[Week]
    gaps_open: dict[str, int]


def digest_reads(*, session: Session, start: dt.datetime, end: dt.datetime, now: dt.datetime,
                 known: DigestReads | None = None) -> DigestReads:
    """The reads for the week from ``start`` to ``end``; ``known``: another week's reads of the same job,
    whose figures of now (coverage, open gaps) are the same."""
    if known is not None:
        return DigestReads(coverage=known.coverage, week=weekly(session=session, since=start, until=end),
                           gaps_open=known.gaps_open)
    return DigestReads(coverage=coverage(session=session, now=now, policy=policy_in_force(session=session)),
                       week=weekly(session=session, since=start, until=end), gaps_open=open_gaps(session=session))


def digest_figures(*, session: Session, site: str | None, start: dt.datetime, end: dt.datetime,
                   now: dt.datetime, reads: DigestReads | None = None) -> DigestFigures:
    """Coverage now, and the week's attestation answers and gaps, for one site (``None``: everywhere);
    ``reads``: what :func:`digest_reads` read for the week, when several scopes share it."""
    reads = reads or digest_reads(session=session, start=start, end=end, now=now)
    cov = next((r for r in reads.coverage if r.site == (site or ALL)), Coverage(site or ALL))
    week = [w for w in reads.week if site is None or w.site == site]
    response = [h for w in week for h in w.response_hours]
    close = [h for w in week for h in w.close_hours]
    gaps_open = reads.gaps_open
    return DigestFigures(
        coverage=cov, asked=sum(w.asked for w in week), answered=sum(w.answered for w in week),
        median_response_hours=round(statistics.median(response), 1) if response else None,
        gaps_opened=sum(w.gaps_opened for w in week), gaps_closed=sum(w.gaps_closed for w in week),
        median_close_hours=round(statistics.median(close), 1) if close else None,
        gaps_open=gaps_open.get(site, 0) if site else sum(gaps_open.values()))
