"""What use cases need beyond the unit of work: built once by the composition root and passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from governance_store.changes import DEFAULT_POLICIES, ChangePolicies
from governance_store.ownership_policy import DEFAULT_POLICY, OwnershipPolicy
from handlers.catalog import Catalog
from handlers.dashboard_pass import DashboardLinks


@dataclass(frozen=True)
class Services:
    """The catalog index of this process, the change quorum rules, where dashboard links point, and the
    ownership policy (attestation intervals and SLAs, who fixes which gap)."""

    catalog: Catalog = field(default_factory=Catalog)
    policies: ChangePolicies = DEFAULT_POLICIES
    links: DashboardLinks = field(default_factory=DashboardLinks)
    # The organisation's order of platforms for notifications, and the platforms connected (``notify``).
    notify_order: tuple[str, ...] = ("slack", "teams", "email")
    platforms: tuple[str, ...] = ()
    ownership: OwnershipPolicy = DEFAULT_POLICY
