"""The ownership page (``/attestation``) and the ownership gauges of ``/metrics``.

Campaigns and their answers, coverage per site, the last weeks' attestation response and gaps opened and
closed per site, and who still owes an answer.  Read-only, like every dashboard page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance_store import ownership_metrics as metrics
from governance_store.models import Attestation, AttestationCampaign, Person, TrackedGap
from governance_store.ownership_policy import OwnershipPolicy

WEEKS = 8


def page_data(*, session: Session, now: dt.datetime, policy: OwnershipPolicy) -> dict[str, Any]:
    campaigns = metrics.campaigns(session=session, now=now)
    waiting = session.execute(
        select(Person.display_name, Person.email, AttestationCampaign.name, func.count(Attestation.id),
               func.min(Attestation.due_at))
        .join(Attestation, Attestation.owner_id == Person.id).join(AttestationCampaign)
        .where(AttestationCampaign.state == "open", Attestation.state == "pending")
        .group_by(Person.display_name, Person.email, AttestationCampaign.name)
        .order_by(func.min(Attestation.due_at), Person.display_name)).all()
    unassigned = session.scalar(select(func.count(TrackedGap.id)).where(
        TrackedGap.state == "open", TrackedGap.assignee_id.is_(None))) or 0
    return {
        "campaigns": campaigns,
        "coverage": metrics.coverage(session=session, now=now, policy=policy),
        "weeks": metrics.weekly(session=session, since=now - dt.timedelta(weeks=WEEKS), until=now),
        "open_gaps": metrics.open_gaps(session=session),
        "unassigned": unassigned,
        "waiting": [{"name": n, "email": e, "campaign": c, "count": k, "due": d} for n, e, c, k, d in waiting],
        "rules": [r.describe() for r in policy.rules],
        "now": now,
    }


def gauges(*, session: Session, now: dt.datetime, policy: OwnershipPolicy) -> dict[str, Any]:
    """Prometheus gauges: labelled values are lists of (labels, value)."""
    coverage = metrics.coverage(session=session, now=now, policy=policy)
    latest = metrics.campaigns(session=session, now=now, limit=1)
    week = metrics.weekly(session=session, since=now - dt.timedelta(days=7), until=now)
    by_site: dict[str, list[metrics.Week]] = {}
    for row in week:
        by_site.setdefault(row.site, []).append(row)
    open_gaps = metrics.open_gaps(session=session)
    out: dict[str, Any] = {
        "govbot_ownership_coverage_ratio": (
            "gauge", "Share of live CMDB systems with an active owner confirmed in govbot within the policy's interval.",
            [({"site": r.site}, round(r.attested / r.systems, 4) if r.systems else 0) for r in coverage]),
        "govbot_systems_owned_ratio": (
            "gauge", "Share of live CMDB systems with an active owner (confirmed or not).",
            [({"site": r.site}, round(r.owned / r.systems, 4) if r.systems else 0) for r in coverage]),
        "govbot_gaps_open": ("gauge", "Tracked governance gaps open now.",
                             [({"site": k}, v) for k, v in sorted(open_gaps.items())]),
        "govbot_gaps_closed_7d": ("gauge", "Tracked governance gaps closed in the last 7 days.",
                                  [({"site": k}, sum(r.gaps_closed for r in v)) for k, v in sorted(by_site.items())]),
        "govbot_gaps_opened_7d": ("gauge", "Tracked governance gaps opened in the last 7 days.",
                                  [({"site": k}, sum(r.gaps_opened for r in v)) for k, v in sorted(by_site.items())]),
    }
    if latest:
        c = latest[0]
        out["govbot_attestation_response_ratio"] = (
            "gauge", "Share of the latest campaign's systems answered.",
            [({"campaign": str(c.id)}, round(c.answered / c.asked, 4) if c.asked else 0)])
        out["govbot_attestation_median_response_hours"] = (
            "gauge", "Median time to answer in the latest campaign (hours).",
            [({"campaign": str(c.id)}, c.median_hours if c.median_hours is not None else 0)])
        out["govbot_attestation_overdue"] = (
            "gauge", "Systems of the latest campaign past their answer deadline.", [({"campaign": str(c.id)}, c.overdue)])
    return out
