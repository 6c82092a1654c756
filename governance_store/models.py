"""The governance domain as typed SQLAlchemy 2 models.

Everything time-related is stored as timezone-aware UTC.  Identifiers that come
from the source systems (ServiceNow sys_ids, Nozomi ids, NetBox names) are kept
as ``external`` keys so re-imports update rows instead of duplicating them.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC on the Python side.

    SQLite has no time zones; PostgreSQL ``timestamptz`` has.  Both come back
    as aware UTC datetimes, and naive datetimes are refused on the way in so a
    local wall-clock time can never sneak into the store.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, dt.datetime: UTCDateTime}


# --------------------------------------------------------------------------- enums


class Domain(enum.StrEnum):
    IT = "IT"
    OT = "OT"
    CLOUD = "cloud"


class ScopeType(enum.StrEnum):
    GLOBAL = "global"
    SITE = "site"
    AREA = "area"
    LINE = "line"
    SYSTEM = "system"


SCOPE_SPECIFICITY = {
    ScopeType.SYSTEM: 4,
    ScopeType.LINE: 3,
    ScopeType.AREA: 2,
    ScopeType.SITE: 1,
    ScopeType.GLOBAL: 0,
}


class RaciLetter(enum.StrEnum):
    R = "R"
    A = "A"
    C = "C"
    I = "I"  # noqa: E741 - the RACI letter


class ChangeState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    IMPLEMENTED = "implemented"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


class ApprovalState(enum.StrEnum):
    NOT_YET_REQUESTED = "not_yet_requested"
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REROUTED = "rerouted"  # the approver left; the approval went to the acting holder or the escalation role
    NO_CONCERNS = "no_concerns"
    CONCERN = "concern"
    INFORMED = "informed"


class ParticipantKind(enum.StrEnum):
    APPROVER = "approver"
    CONSULTED = "consulted"
    INFORMED = "informed"


# --------------------------------------------------------------------------- organisation


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    isa95_node_id: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    business_hours: Mapped[str | None] = mapped_column(String(100))
    oncall_channel: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(16))
    psm_covered: Mapped[bool] = mapped_column(Boolean, default=False)


class SiteShutdown(Base):
    """Days a plant does not work (annual shutdown, local feast days): a site's calendar skips them."""

    __tablename__ = "site_shutdowns"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_code: Mapped[str] = mapped_column(String(32), index=True)
    first_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date | None] = mapped_column(Date)
    name: Mapped[str | None] = mapped_column(String(200))


class HierarchyNode(Base):
    """ISA-95 equipment hierarchy: enterprise / site / area / line or cell / work cell."""

    __tablename__ = "hierarchy_nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("hierarchy_nodes.id"))
    level: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    local_name: Mapped[str | None] = mapped_column(String(200))
    site_code: Mapped[str | None] = mapped_column(String(32))

    parent: Mapped[HierarchyNode | None] = relationship(remote_side=[id])


class Zone(Base):
    """IEC 62443 security zone."""

    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[str] = mapped_column(String(64), unique=True)
    site_code: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    purdue_level: Mapped[str | None] = mapped_column(String(16))
    sl_target: Mapped[int | None] = mapped_column(Integer)
    owner_role: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)


class Conduit(Base):
    __tablename__ = "conduits"

    id: Mapped[int] = mapped_column(primary_key=True)
    conduit_id: Mapped[str] = mapped_column(String(64), unique=True)
    from_zone: Mapped[str] = mapped_column(String(64))
    to_zone: Mapped[str] = mapped_column(String(64))
    enforced_by: Mapped[str | None] = mapped_column(String(200))
    enforced_by_system_id: Mapped[int | None] = mapped_column(ForeignKey("systems.id", ondelete="SET NULL"))
    allowed_traffic: Mapped[str | None] = mapped_column(Text)


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    upn: Mapped[str | None] = mapped_column(String(254), index=True)
    display_name: Mapped[str] = mapped_column(String(200), index=True)
    given_name: Mapped[str | None] = mapped_column(String(100))
    surname: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    left_on: Mapped[dt.date | None] = mapped_column(Date)
    is_guest: Mapped[bool] = mapped_column(Boolean, default=False)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    aad_object_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    servicenow_sys_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    servicenow_user_name: Mapped[str | None] = mapped_column(String(254))
    employee_id: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The language the directory records for the person (Entra ``preferredLanguage``), e.g. ``pl-PL``.
    preferred_language: Mapped[str | None] = mapped_column(String(16))
    sources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Where the person wants to be reached, in order (``teams,email``), as they chose it in chat; ``None``:
    # where they last used govbot, then the organisation's order (``GOVBOT_NOTIFY_ORDER``).
    notify_via: Mapped[str | None] = mapped_column(String(64))
    # The chat platform the person last talked to govbot on (``slack``, ``teams``), kept by the turn pipeline.
    seen_on: Mapped[str | None] = mapped_column(String(16))

    manager: Mapped[Person | None] = relationship(remote_side=[id])

    def label(self) -> str:
        return self.display_name if self.active else f"{self.display_name} (left)"


class ChatIdentity(Base):
    """A chat account (Slack user, Teams user) and the person it belongs to, if known."""

    __tablename__ = "chat_identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    workspace_id: Mapped[str | None] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    handle: Mapped[str | None] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(200))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    is_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The language the chat client reports for the account (BCP 47, e.g. ``de-DE``), when it does.
    locale: Mapped[str | None] = mapped_column(String(35))

    person: Mapped[Person | None] = relationship()


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    team_key: Mapped[str | None] = mapped_column(String(64))
    servicenow_sys_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    kind: Mapped[str | None] = mapped_column(String(32))
    site_code: Mapped[str | None] = mapped_column(String(32))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(254))
    channel: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    manager: Mapped[Person | None] = relationship()
    memberships: Mapped[list[TeamMember]] = relationship(back_populates="team", cascade="all, delete-orphan")


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)

    team: Mapped[Team] = relationship(back_populates="memberships")
    person: Mapped[Person] = relationship()


# --------------------------------------------------------------------------- systems


class System(Base):
    """A configuration item or asset: a PLC, an HMI, a historian, an ERP, a cloud service."""

    __tablename__ = "systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    aliases: Mapped[list[str]] = mapped_column(default=list)
    class_name: Mapped[str | None] = mapped_column(String(100))
    site_code: Mapped[str | None] = mapped_column(String(32), index=True)
    node_id: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(200))
    purdue_level: Mapped[str | None] = mapped_column(String(8))
    zone_id: Mapped[str | None] = mapped_column(String(64))
    domain: Mapped[str | None] = mapped_column(String(8))
    criticality: Mapped[int | None] = mapped_column(Integer)
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(100), index=True)
    asset_tag: Mapped[str | None] = mapped_column(String(64), index=True)
    ips: Mapped[list[str]] = mapped_column(default=list)
    macs: Mapped[list[str]] = mapped_column(default=list)
    hostnames: Mapped[list[str]] = mapped_column(default=list)
    install_status: Mapped[str | None] = mapped_column(String(32))
    operational_status: Mapped[str | None] = mapped_column(String(32))
    in_cmdb: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    technical_manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    managed_by_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    support_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    assignment_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    # Team names as the source wrote them: kept even when no such team exists,
    # so the governance lint can report the dangling reference.
    support_group_name: Mapped[str | None] = mapped_column(String(200))
    assignment_group_name: Mapped[str | None] = mapped_column(String(200))
    managed_by_group_name: Mapped[str | None] = mapped_column(String(200))
    data_steward_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime | None] = mapped_column()

    owner: Mapped[Person | None] = relationship(foreign_keys=[owner_id])
    technical_manager: Mapped[Person | None] = relationship(foreign_keys=[technical_manager_id])
    data_steward: Mapped[Person | None] = relationship(foreign_keys=[data_steward_id])
    managed_by_team: Mapped[Team | None] = relationship(foreign_keys=[managed_by_team_id])
    support_team: Mapped[Team | None] = relationship(foreign_keys=[support_team_id])
    assignment_team: Mapped[Team | None] = relationship(foreign_keys=[assignment_team_id])
    sources: Mapped[list[SystemSource]] = relationship(
        back_populates="system", cascade="all, delete-orphan", order_by="SystemSource.source"
    )

    @property
    def retired(self) -> bool:
        return (self.install_status or "").lower() == "retired"


class SystemSource(Base):
    """One sighting of a system by one source (CMDB, OT inventory, NetBox)."""

    __tablename__ = "system_sources"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[dt.datetime | None] = mapped_column()
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    system: Mapped[System] = relationship(back_populates="sources")


class SystemRelation(Base):
    """``system`` depends on ``depends_on`` (ServiceNow cmdb_rel_ci, conduits)."""

    __tablename__ = "system_relations"
    __table_args__ = (UniqueConstraint("system_id", "depends_on_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    depends_on_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64), default="depends_on")
    source: Mapped[str | None] = mapped_column(String(32))

    system: Mapped[System] = relationship(foreign_keys=[system_id])
    depends_on: Mapped[System] = relationship(foreign_keys=[depends_on_id])


class SystemContact(Base):
    """A per-system contact from NetBox's contact model (operational, security, emergency...)."""

    __tablename__ = "system_contacts"
    __table_args__ = (UniqueConstraint("system_id", "contact_name", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int | None] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    site_code: Mapped[str | None] = mapped_column(String(32))
    contact_name: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))

    person: Mapped[Person | None] = relationship()


# --------------------------------------------------------------------------- governance model


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (Index("ix_role_assignments_role_scope", "role_id", "scope_type", "scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    scope_type: Mapped[str] = mapped_column(String(16))
    scope_key: Mapped[str] = mapped_column(String(80), default="")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    holder_name: Mapped[str] = mapped_column(String(200))
    acting_for_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)

    role: Mapped[Role] = relationship()
    person: Mapped[Person | None] = relationship(foreign_keys=[person_id])
    team: Mapped[Team | None] = relationship()
    acting_for: Mapped[Person | None] = relationship(foreign_keys=[acting_for_id])


class Activity(Base):
    """A row of the RACI matrix."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    process_area: Mapped[str | None] = mapped_column(String(120))
    scope_kind: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)

    entries: Mapped[list[RaciEntry]] = relationship(back_populates="activity", cascade="all, delete-orphan")


class RaciEntry(Base):
    __tablename__ = "raci_entries"
    __table_args__ = (UniqueConstraint("activity_id", "role_id", "letter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    letter: Mapped[str] = mapped_column(String(1))

    activity: Mapped[Activity] = relationship(back_populates="entries")
    role: Mapped[Role] = relationship()


class DecisionRight(Base):
    __tablename__ = "decision_rights"

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[str] = mapped_column(String(32), unique=True)
    decision: Mapped[str] = mapped_column(String(300))
    scope_kind: Mapped[str | None] = mapped_column(String(32))
    owner_role: Mapped[str] = mapped_column(String(120))
    must_consult: Mapped[list[str]] = mapped_column(default=list)
    may_veto: Mapped[str | None] = mapped_column(String(300))
    informed: Mapped[list[str]] = mapped_column(default=list)
    escalation_role: Mapped[str | None] = mapped_column(String(120))
    evidence_required: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)


class SlaPolicy(Base):
    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("criticality", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(32), unique=True)
    criticality: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer)
    response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_hours: Mapped[int] = mapped_column(Integer)
    schedule: Mapped[str] = mapped_column(String(32))
    notify_at_pct: Mapped[list[str]] = mapped_column(default=list)


class EscalationChain(Base):
    __tablename__ = "escalation_chains"

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[str] = mapped_column(String(64), unique=True)
    applies_to_groups: Mapped[list[str]] = mapped_column(default=list)
    site_code: Mapped[str] = mapped_column(String(32), default="*")

    levels: Mapped[list[EscalationLevel]] = relationship(
        back_populates="chain", cascade="all, delete-orphan", order_by="EscalationLevel.level"
    )


class EscalationLevel(Base):
    __tablename__ = "escalation_levels"
    __table_args__ = (UniqueConstraint("chain_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain_id: Mapped[int] = mapped_column(ForeignKey("escalation_chains.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    after_minutes: Mapped[int] = mapped_column(Integer)
    target_type: Mapped[str] = mapped_column(String(16))
    targets: Mapped[list[str]] = mapped_column(default=list)
    channels: Mapped[list[str]] = mapped_column(default=list)
    hours: Mapped[str] = mapped_column(String(32), default="24x7")
    note: Mapped[str | None] = mapped_column(Text)

    chain: Mapped[EscalationChain] = relationship(back_populates="levels")


# --------------------------------------------------------------------------- change requests


class ChangeRequest(Base):
    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    change_type: Mapped[str] = mapped_column(String(16), default="normal")
    state: Mapped[str] = mapped_column(String(16), default=ChangeState.DRAFT.value, index=True)
    source_state: Mapped[str | None] = mapped_column(String(32))
    risk: Mapped[str | None] = mapped_column(String(16))
    impact: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(64))
    system_id: Mapped[int | None] = mapped_column(ForeignKey("systems.id", ondelete="SET NULL"), index=True)
    system_name: Mapped[str | None] = mapped_column(String(200))
    activity_id: Mapped[str | None] = mapped_column(String(32))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    assignment_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    planned_start: Mapped[dt.datetime | None] = mapped_column()
    planned_end: Mapped[dt.datetime | None] = mapped_column()
    cab_required: Mapped[bool] = mapped_column(Boolean, default=False)
    process_safety: Mapped[bool] = mapped_column(Boolean, default=False)
    moc_reference: Mapped[str | None] = mapped_column(String(200))
    rollback_plan: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column()
    submitted_at: Mapped[dt.datetime | None] = mapped_column()
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    # When the change was closed, cancelled or withdrawn, and the close code as the source states it
    # (ServiceNow: successful, successful_issues, unsuccessful, rejected, cancelled).
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    close_code: Mapped[str | None] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(32), default="govbot")
    awaiting_requester_since: Mapped[dt.datetime | None] = mapped_column()
    retro_due_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    system: Mapped[System | None] = relationship()
    requester: Mapped[Person | None] = relationship(foreign_keys=[requester_id])
    assigned_to: Mapped[Person | None] = relationship(foreign_keys=[assigned_to_id])
    assignment_team: Mapped[Team | None] = relationship()
    participants: Mapped[list[Approval]] = relationship(
        back_populates="change", cascade="all, delete-orphan", order_by="Approval.id"
    )

    __mapper_args__ = {"version_id_col": version}


class Approval(Base):
    """One person's part in a change: approver, consulted or informed."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=ParticipantKind.APPROVER.value)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    role_name: Mapped[str | None] = mapped_column(String(120))
    acting_for_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    delegate_of_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(24), default=ApprovalState.REQUESTED.value)
    requested_at: Mapped[dt.datetime | None] = mapped_column()
    due_at: Mapped[dt.datetime | None] = mapped_column()
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)

    change: Mapped[ChangeRequest] = relationship(back_populates="participants")
    person: Mapped[Person | None] = relationship(foreign_keys=[person_id])
    acting_for: Mapped[Person | None] = relationship(foreign_keys=[acting_for_id])
    delegate_of: Mapped[Person | None] = relationship(foreign_keys=[delegate_of_id])


class AuditEntry(Base):
    """Append-only, hash-chained record of every state change and decision.

    ``seq`` numbers the entries 1, 2, 3, … without gaps, so a deleted entry shows as a missing number;
    ``hash`` is an HMAC over every other column (``key_id`` names the key; ``None``: an entry written
    before entries were keyed, hashed without a key).  See :mod:`governance_store.audit`."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    key_id: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(index=True)  # digests and exports read a period
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(254))
    platform: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(80))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class SeenRequest(Base):
    """A signed request (or a delivered event) already answered, remembered until its signature window ends,
    so a replay is answered once across every replica."""

    __tablename__ = "seen_requests"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class ImportRun(Base):
    """One ``govbot import``: when, what, and how many rows of each kind it touched."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    files: Mapped[list[str]] = mapped_column(default=list)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Delegation(Base):
    """An approver's stand-in for a period (out of office)."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    reason: Mapped[str | None] = mapped_column(String(200))

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    delegate: Mapped[Person] = relationship(foreign_keys=[delegate_id])


class BlackoutWindow(Base):
    """A period in which no change may be planned at a site (or anywhere, when ``site_code`` is empty)."""

    __tablename__ = "blackout_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_code: Mapped[str | None] = mapped_column(String(32))
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200))


class OutboxStatus(enum.StrEnum):
    """Where an outbox message is on its way to a person or a channel."""

    PENDING = "pending"  # due at ``next_attempt_at``
    SENDING = "sending"  # claimed (leased until ``next_attempt_at``), or a send whose outcome is unknown
    WAITING = "waiting"  # no channel reaches the recipient yet: re-checked, and woken when they become reachable
    SENT = "sent"
    FAILED = "failed"  # the platform refused it for good
    SUPERSEDED = "superseded"  # an update with nothing left to update, or a reminder made moot before delivery
    UNDELIVERABLE = "undeliverable"  # older releases gave up on unreachable people; today they wait


class OutboxMessage(Base):
    """A message to deliver: written in the same transaction as the change that caused it.

    ``key`` is unique, so re-running a step can never queue the same ping twice.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="message")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str | None] = mapped_column(String(100))
    change_id: Mapped[int | None] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"), index=True)
    # Indexed: deleting a message looks up the updates that point at it (ON DELETE CASCADE).
    updates_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column()
    next_attempt_at: Mapped[dt.datetime] = mapped_column()
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    platform: Mapped[str | None] = mapped_column(String(16))
    platform_ref: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When the latest send attempt began: an interrupted send is looked up on the platform from here on.
    attempted_at: Mapped[dt.datetime | None] = mapped_column()
    # Why a waiting message has not reached its recipient and what happens next (``reason``, ``fallback``,
    # ``fallback_at``), for the requester's card.
    reach: Mapped[dict[str, Any]] = mapped_column(default=dict)

    person: Mapped[Person | None] = relationship()


class Timer(Base):
    """A deadline kept in the database: SLA reminders, breaches and escalation steps.

    A sweep claims due rows and advances them in one transaction; ``token``
    increases on every change so a stale claim can never act twice.
    """

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_due", "state", "due_at"),
        UniqueConstraint("kind", "subject_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_key: Mapped[str] = mapped_column(String(80))
    change_id: Mapped[int | None] = mapped_column(ForeignKey("change_requests.id", ondelete="CASCADE"), index=True)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[dt.datetime] = mapped_column()
    started_at: Mapped[dt.datetime] = mapped_column()
    target_at: Mapped[dt.datetime | None] = mapped_column()
    step: Mapped[int] = mapped_column(Integer, default=0)
    level: Mapped[int] = mapped_column(Integer, default=0)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_level: Mapped[int | None] = mapped_column(Integer)
    paused_at: Mapped[dt.datetime | None] = mapped_column()
    remaining_seconds: Mapped[int | None] = mapped_column(Integer)
    token: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fired_at: Mapped[dt.datetime | None] = mapped_column()


class DigestRun(Base):
    """One weekly digest for one scope: the unique row is what makes it exactly once."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("scope", "iso_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    iso_week: Mapped[str] = mapped_column(String(10))
    scheduled_at: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column()
    delayed: Mapped[bool] = mapped_column(Boolean, default=False)
    empty: Mapped[bool] = mapped_column(Boolean, default=False)
    recipients: Mapped[list[str]] = mapped_column(default=list)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LintSnapshot(Base):
    """The keys of the governance findings at one moment, to tell new from resolved gaps."""

    __tablename__ = "lint_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_at: Mapped[dt.datetime] = mapped_column(index=True)
    keys: Mapped[list[str]] = mapped_column(default=list)
    titles: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConversationReference(Base):
    """Where a chat platform can reach a person or a channel proactively (Teams conversation references)."""

    __tablename__ = "conversation_references"
    __table_args__ = (UniqueConstraint("platform", "conversation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str] = mapped_column(String(300))
    conversation_type: Mapped[str | None] = mapped_column(String(32))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    channel_name: Mapped[str | None] = mapped_column(String(200), index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    service_url: Mapped[str] = mapped_column(String(500))
    reference: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column()


class UsedLink(Base):
    """A signed single-use link (an e-mail's Approve or Reject) that was used: each works once."""

    __tablename__ = "used_links"

    link_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    change_id: Mapped[int | None] = mapped_column(ForeignKey("change_requests.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    used_at: Mapped[dt.datetime] = mapped_column()


# Change numbers: a sequence on PostgreSQL (safe under concurrency, never blocks), a counter row on SQLite.
CHANGE_NUMBER_SEQUENCE = Sequence("change_number_seq", metadata=Base.metadata)
CHANGE_NUMBER_COUNTER = "change_number"


class Counter(Base):
    """A named counter, for databases without sequences (SQLite serialises its writers)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


# --------------------------------------------------------------------------- live sources


class SourceSync(Base):
    """One live source (NetBox, ServiceNow, Entra ID, Slack): where its incremental sync stands.

    ``cursors`` hold what the next run asks for (per collection: the last ``last_updated`` /
    ``sys_updated_on`` seen, or a Graph delta link); they advance only in the transaction that also
    writes the data they cover, so a crash repeats a run instead of skipping or doubling anything.
    The lease (``lease_owner`` until ``lease_until``) lets one runner at a time sync the source.
    """

    __tablename__ = "source_syncs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32), unique=True)
    cursors: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None] = mapped_column()
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    last_success_at: Mapped[dt.datetime | None] = mapped_column()
    last_change_at: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column()
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_duration_seconds: Mapped[float | None] = mapped_column()
    records: Mapped[int] = mapped_column(Integer, default=0)
    # How often the source is meant to sync: the governance lint flags it once it is well overdue.
    interval_seconds: Mapped[float | None] = mapped_column()
    last_report: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SourceRecord(Base):
    """The last good copy of one record of a live source, as its API returned it.

    Incremental runs fetch only what changed; the whole source is rebuilt from these copies and
    reconciled through the importers, exactly as a full export would be.
    """

    __tablename__ = "source_records"
    __table_args__ = (UniqueConstraint("source", "collection", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    collection: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fetched_at: Mapped[dt.datetime] = mapped_column()


# --------------------------------------------------------------------------- ownership: attestation, transfers, gaps


class CampaignState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class AttestationState(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"  # "still mine"
    TRANSFERRING = "transferring"  # "transfer to …": waiting on the new owner (and the Accountable)
    TRANSFERRED = "transferred"
    DISOWNED = "disowned"  # "not mine"
    RETIRED = "retired"
    SUPERSEDED = "superseded"  # the system changed hands another way, or the campaign closed unanswered


class OwnershipRequestKind(enum.StrEnum):
    TRANSFER = "transfer"  # the owner (or the Accountable) hands the system to someone
    CLAIM = "claim"  # someone asks for a system nobody owns
    TAKEOVER = "takeover"  # the acting holder of an owner who left confirms they take it over


class OwnershipRequestState(enum.StrEnum):
    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    DECLINED = "declined"  # the new owner said no
    REJECTED = "rejected"  # the Accountable said no
    CANCELLED = "cancelled"  # withdrawn, or overtaken by another change of owner


class GapState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class AttestationCampaign(Base):
    """One round of asking owners to confirm what they own (``govbot attest start``)."""

    __tablename__ = "attestation_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=CampaignState.OPEN.value, index=True)
    started_at: Mapped[dt.datetime] = mapped_column()
    started_by: Mapped[str] = mapped_column(String(254))
    due_at: Mapped[dt.datetime] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    # The policy as it was when the campaign started (which systems, how often, the SLA).
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Attestation(Base):
    """One system in one campaign: who was asked, and what they answered."""

    __tablename__ = "attestations"
    __table_args__ = (UniqueConstraint("campaign_id", "system_id"), Index("ix_attestations_owner_state", "owner_id", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("attestation_campaigns.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    # Who is asked: the owner, or the acting holder of an owner who left.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # The owner of record when asked (differs from ``owner_id`` when an acting holder answers for them).
    recorded_owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    site_code: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=AttestationState.PENDING.value)
    asked_at: Mapped[dt.datetime] = mapped_column()
    due_at: Mapped[dt.datetime] = mapped_column()
    answered_at: Mapped[dt.datetime | None] = mapped_column()
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)

    campaign: Mapped[AttestationCampaign] = relationship()
    system: Mapped[System] = relationship()
    owner: Mapped[Person | None] = relationship(foreign_keys=[owner_id])
    recorded_owner: Mapped[Person | None] = relationship(foreign_keys=[recorded_owner_id])


class OwnershipRequest(Base):
    """A change of owner in progress: a transfer, a claim or a takeover, and each step's who and when."""

    __tablename__ = "ownership_requests"
    __table_args__ = (Index("ix_ownership_requests_system_state", "system_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"))
    from_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    to_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # The Accountable of the area who must also approve (criticality 1, Purdue level 0-2, every claim).
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column()
    accepted_at: Mapped[dt.datetime | None] = mapped_column()
    approved_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    attestation_id: Mapped[int | None] = mapped_column(ForeignKey("attestations.id", ondelete="SET NULL"))
    gap_id: Mapped[int | None] = mapped_column(ForeignKey("tracked_gaps.id", ondelete="SET NULL"))

    system: Mapped[System] = relationship()
    from_person: Mapped[Person | None] = relationship(foreign_keys=[from_id])
    to_person: Mapped[Person] = relationship(foreign_keys=[to_id])
    requested_by: Mapped[Person | None] = relationship(foreign_keys=[requested_by_id])
    approver: Mapped[Person | None] = relationship(foreign_keys=[approver_id])


class TrackedGap(Base):
    """A governance lint finding turned into work: who fixes it, by when, and when it was closed."""

    __tablename__ = "tracked_gaps"
    __table_args__ = (Index("ix_tracked_gaps_assignee_state", "assignee_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(500), unique=True)
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(500))
    evidence: Mapped[list[str]] = mapped_column(default=list)
    system_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    site_code: Mapped[str | None] = mapped_column(String(32), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    assigned_because: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=GapState.OPEN.value, index=True)
    opened_at: Mapped[dt.datetime] = mapped_column()
    last_seen_at: Mapped[dt.datetime] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    fixed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    fix: Mapped[str | None] = mapped_column(String(64))

    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id])
    fixed_by: Mapped[Person | None] = relationship(foreign_keys=[fixed_by_id])


class ConfirmedFact(Base):
    """A fact people confirmed in govbot (an owner attested, a transfer, a claim, a picked Accountable …).

    ``table_name``/``row_id``/``column_name`` name what it holds: a column of a row (an import keeps
    the confirmed value when it disagrees, and records what it brought in ``import_value``), or a
    decision about the row that only govbot keeps (``column_name`` that is no column of the table).
    """

    __tablename__ = "confirmed_facts"
    __table_args__ = (UniqueConstraint("table_name", "row_id", "column_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[int] = mapped_column(Integer)
    column_name: Mapped[str] = mapped_column(String(64))
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"v": the value}
    label: Mapped[str] = mapped_column(String(300))  # "PLC-FIL-L3-07 owner: Luis Ortega"
    how: Mapped[str] = mapped_column(String(32))  # attested, transferred, claimed, took_over, retired, ...
    system_id: Mapped[int | None] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    confirmed_at: Mapped[dt.datetime] = mapped_column()
    # The last import that disagreed: what it said (as a label) and when; cleared when a later one agrees.
    import_value: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    import_label: Mapped[str | None] = mapped_column(String(300))
    disagreed_at: Mapped[dt.datetime | None] = mapped_column()

    confirmed_by: Mapped[Person | None] = relationship()
