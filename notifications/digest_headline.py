"""The digest's headline: this week against the baseline (imported history) and the top bottleneck.

Read once per digest job and shared by the scopes due together, as plain rows: the imported decisions
before the week's end (request and decision times only), and the decision facts of the quarter before it
(13 weeks, with their approvals) for the bottleneck analysis.  A scope alone in its week reads only its site.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from governance_store.analytics import bottlenecks
from governance_store.analytics.facts import ChangeFact, Scope, load
from governance_store.models import Approval, ApprovalState, ChangeRequest, ParticipantKind, System

if TYPE_CHECKING:
    from notifications.digest import DigestScope

QUARTER = dt.timedelta(weeks=13)


@dataclass
class HeadlineReads:
    """What the headline of the scopes ending a week at ``end`` reads."""

    end: dt.datetime
    baseline: list[tuple[float, int | None, str]]  # (cycle hours, system id, title) of imported decisions
    quarter: list[ChangeFact]  # the changes decided (else requested) in the 13 weeks before ``end``
    systems: dict[int, System] = field(default_factory=dict)


def read(session: Session, end: dt.datetime, *, site: str | None = None) -> HeadlineReads:
    """The headline reads up to ``end``, for one site or (``None``) every scope."""
    needs_decision = exists().where(Approval.change_id == ChangeRequest.id,
                                    Approval.kind == ParticipantKind.APPROVER.value,
                                    Approval.state != ApprovalState.NOT_YET_REQUESTED.value)
    query = (select(ChangeRequest.submitted_at, ChangeRequest.decided_at, ChangeRequest.system_id, ChangeRequest.title)
             .where(ChangeRequest.origin != "govbot", ChangeRequest.submitted_at.is_not(None),
                    ChangeRequest.decided_at.is_not(None), ChangeRequest.decided_at < end, needs_decision))
    if site:
        query = query.join(System, System.id == ChangeRequest.system_id).where(System.site_code == site)
    baseline = [((decided - submitted).total_seconds() / 3600, system_id, title)
                for submitted, decided, system_id, title in session.execute(query)]
    quarter = load(session=session, scope=Scope(site=site, since=end - QUARTER, until=end))
    ids = {sid for _, sid, _ in baseline if sid is not None} | {f.system_id for f in quarter if f.system_id is not None}
    systems: dict[int, System] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), 500):
        systems.update((s.id, s) for s in session.scalars(select(System).where(System.id.in_(ordered[i:i + 500]))))
    return HeadlineReads(end, baseline, quarter, systems)


@dataclass(frozen=True)
class Headline:
    baseline_hours: list[float]
    top: bottlenecks.Finding | None


def for_scope(scope: DigestScope, reads: HeadlineReads, *, tz: dt.tzinfo) -> Headline:
    def mine(system_id: int | None, title: str) -> bool:
        return scope.matches_title(reads.systems.get(system_id) if system_id is not None else None, title)

    baseline = [hours for hours, system_id, title in reads.baseline if mine(system_id, title)]
    quarter = [f for f in reads.quarter if f.needs_decision and mine(f.system_id, f.title)]
    found = bottlenecks.find(quarter, tz=tz)
    return Headline(baseline, found[0] if found else None)
