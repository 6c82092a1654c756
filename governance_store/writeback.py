"""What changed in govbot, for the CMDB: rows of a ServiceNow import set.

``govbot export changes --since DATE`` writes one row per system whose owner, managed-by group, support
or assignment group or status people changed in govbot since ``DATE`` (attested, transferred, claimed,
taken over, disowned, retired, back in service, a team picked, an asset marked known), with the values as
they are now.  The columns are those of an import set table (``u_`` fields); a transform map on the
ServiceNow side coalesces on ``u_sys_id`` (empty for an asset govbot found on the network that the CMDB
does not have yet: it is created) and resolves ``u_owned_by`` by e-mail and the groups by name.

``u_source_key`` names the change uniquely (system and time of the last confirmation), so a push that
is run again finds what it already sent and sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance_store import facts
from governance_store.models import ConfirmedFact, Person, System, SystemSource, Team
from governance_store.spreadsheet import write_csv

COLUMNS = ("u_sys_id", "u_name", "u_operation", "u_owned_by", "u_managed_by_group", "u_support_group",
           "u_assignment_group", "u_install_status", "u_ip_address", "u_changed_at", "u_changed_by", "u_reason",
           "u_source_key")
WRITTEN = {"owner_id", "install_status", "managed_by_team_id", "support_team_id", "assignment_team_id",
           "support_group_name", "assignment_group_name", "managed_by_group_name", facts.ASSET_DISPOSITION}


@dataclass(frozen=True)
class Row:
    values: dict[str, str]

    @property
    def key(self) -> str:
        return self.values["u_source_key"]

    def as_list(self) -> list[str]:
        return [self.values.get(c, "") for c in COLUMNS]


def _team(session: Session, team_id: int | None, name: str | None) -> str:
    team = session.get(Team, team_id) if team_id else None
    return team.name if team is not None else (name or "")


def changes_since(*, session: Session, since: dt.datetime) -> list[Row]:
    """One row per system changed in govbot since ``since``, oldest change first."""
    changed: dict[int, list[ConfirmedFact]] = {}
    for fact in session.scalars(select(ConfirmedFact).where(
            ConfirmedFact.table_name == "systems", ConfirmedFact.column_name.in_(WRITTEN),
            ConfirmedFact.confirmed_at >= since).order_by(ConfirmedFact.confirmed_at, ConfirmedFact.id)).all():
        changed.setdefault(fact.row_id, []).append(fact)
    rows: list[Row] = []
    for system_id, group in changed.items():
        system = session.get(System, system_id)
        if system is None:
            continue
        latest = group[-1]
        known = any(f.column_name == facts.ASSET_DISPOSITION and facts.value_of(f) == "known" for f in group)
        if not system.in_cmdb and not known:
            continue  # a rogue asset, or a decision that is no business of the CMDB
        sys_id = ""
        if system.in_cmdb:
            sighting = session.scalar(select(SystemSource.external_id).where(
                SystemSource.system_id == system.id, SystemSource.source == "servicenow"))
            sys_id = sighting or system.key
        owner = session.get(Person, system.owner_id) if system.owner_id else None
        by = session.get(Person, latest.confirmed_by_id) if latest.confirmed_by_id else None
        rows.append(Row({
            "u_sys_id": sys_id, "u_name": system.name, "u_operation": "update" if sys_id else "insert",
            "u_owned_by": owner.email if owner is not None else "",
            "u_managed_by_group": _team(session, system.managed_by_team_id, system.managed_by_group_name),
            "u_support_group": _team(session, system.support_team_id, system.support_group_name),
            "u_assignment_group": _team(session, system.assignment_team_id, system.assignment_group_name),
            "u_install_status": system.install_status or "",
            "u_ip_address": ", ".join(system.ips or []),
            "u_changed_at": latest.confirmed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "u_changed_by": by.email if by is not None else "govbot",
            "u_reason": "; ".join(dict.fromkeys(f"{f.how}: {f.label}" for f in group))[:1000],
            "u_source_key": f"govbot:{system.key}:{latest.confirmed_at.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}",
        }))
    return rows


def write(fh: TextIO, rows: Iterable[Row]) -> None:
    """The rows as an import-set CSV (every cell neutralised for spreadsheet programs)."""
    write_csv(fh, COLUMNS, (r.as_list() for r in rows))


def as_records(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [dict(r.values) for r in rows]
