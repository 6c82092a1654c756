"""The ownership policy: how often each system's owner attests, how long people have to answer, who is
asked when nobody answers, and who fixes which governance gap.

Written in a TOML or JSON file (``GOVBOT_ATTESTATION_POLICY_FILE``); without one, :data:`DEFAULT_POLICY`
applies: criticality-1 systems every quarter, every other system once a year, ten business days to
answer with reminders at half and four fifths of the time, then the owner's manager and, five business
days later, the Accountable of the area.  ``deploy/attestation-policy.example.toml`` explains each entry.

A rule matches a system by site, class and criticality (each optional, each a list); the first rule that
matches decides how often the system is attested.  Role names are the RACI roles of the role
assignments, so another organisation names its own.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance_store.models import System


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Rule:
    """Systems matching every given criterion are attested every ``every_days`` days."""

    every_days: int
    sites: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    criticality: tuple[int, ...] = ()

    def matches(self, system: System) -> bool:
        if self.sites and (system.site_code or "").casefold() not in {s.casefold() for s in self.sites}:
            return False
        if self.classes and (system.class_name or "").casefold() not in {c.casefold() for c in self.classes}:
            return False
        return not (self.criticality and (system.criticality or 0) not in self.criticality)

    def describe(self) -> str:
        parts = []
        if self.criticality:
            parts.append("criticality " + "/".join(str(c) for c in self.criticality))
        if self.classes:
            parts.append("class " + "/".join(self.classes))
        if self.sites:
            parts.append("site " + "/".join(self.sites))
        return f"{', '.join(parts) or 'every other system'}: every {self.every_days} days"


@dataclass(frozen=True)
class Sla:
    """How long an answer may take, in business days of the site, and what happens when it does not come.

    ``respond_hours`` (business hours), when set, replaces ``respond_days`` (useful on an accelerated
    clock).  Reminders go out at the ``remind_at_pct`` percentages of the time; escalation level 1 (the
    person's manager) at the deadline plus ``escalate_after_days[0]`` business days, level 2 (the
    Accountable of the area) at the deadline plus ``escalate_after_days[1]``."""

    respond_days: int = 10
    respond_hours: float | None = None
    remind_at_pct: tuple[int, ...] = (50, 80)
    escalate_after_days: tuple[int, ...] = (0, 5)

    def as_json(self) -> dict[str, Any]:
        return {"respond_days": self.respond_days, "respond_hours": self.respond_hours,
                "remind_at_pct": list(self.remind_at_pct), "escalate_after_days": list(self.escalate_after_days)}


@dataclass(frozen=True)
class Routing:
    """Who fixes a gap when the finding does not name them, by RACI role name."""

    # A system without an owner: this role for OT systems (Purdue level 0 to 3) …
    no_owner_ot_role: str = "OT Engineering Lead"
    # … and this one for IT and cloud systems (level 3.5 and above).
    no_owner_it_role: str = "IT Infrastructure & Network"
    # Activities with no or several Accountables, unknown teams in chains and assignments.
    raci_owner_role: str = "Change Manager (CAB Chair)"
    # Assets on the network but missing from the CMDB, and assets marked rogue.
    security_lead_role: str = "OT Security Lead"
    # Approves a transfer or claim when nobody is Accountable for changes to the system.
    approver_fallback_role: str = "Plant Manager"


@dataclass(frozen=True)
class OwnershipPolicy:
    rules: tuple[Rule, ...] = (Rule(every_days=91, criticality=(1,)), Rule(every_days=365))
    attestation: Sla = field(default_factory=Sla)
    gaps: Sla = field(default_factory=Sla)
    routing: Routing = field(default_factory=Routing)
    # Transfers to and from these Purdue levels (and of criticality-1 systems) need the Accountable too.
    approval_levels: tuple[str, ...] = ("0", "1", "2")
    approval_criticality: tuple[int, ...] = (1,)
    # At most this many systems on one attestation card; the rest follow as the owner answers.
    card_size: int = 8

    def rule_for(self, system: System) -> Rule | None:
        return next((r for r in self.rules if r.matches(system)), None)

    def needs_approval(self, system: System) -> bool:
        return (system.criticality or 0) in self.approval_criticality or (system.purdue_level or "") in self.approval_levels

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": [{"every_days": r.every_days, "sites": list(r.sites), "classes": list(r.classes),
                       "criticality": list(r.criticality)} for r in self.rules],
            "attestation": self.attestation.as_json(), "gaps": self.gaps.as_json(),
        }


DEFAULT_POLICY = OwnershipPolicy()


# --------------------------------------------------------------------------- reading a file


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"{where}: expected a text or a list of texts")


def _ints(value: Any, where: str, *, low: int = 0, high: int = 10_000) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in items):
        raise PolicyError(f"{where}: expected whole numbers from {low} to {high}")
    return tuple(items)


def _sla(data: Any, where: str) -> Sla:
    if data is None:
        return Sla()
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: expected a table")
    unknown = set(data) - {"respond_days", "respond_hours", "remind_at_pct", "escalate_after_days"}
    if unknown:
        raise PolicyError(f"{where}: unknown entries {', '.join(sorted(unknown))}")
    hours = data.get("respond_hours")
    if hours is not None and (not isinstance(hours, int | float) or isinstance(hours, bool) or not 0 < hours <= 10_000):
        raise PolicyError(f"{where}.respond_hours: expected a number of hours above 0")
    days = _ints(data.get("respond_days", 10), f"{where}.respond_days", low=1, high=365)[0]
    pcts = _ints(data.get("remind_at_pct", [50, 80]), f"{where}.remind_at_pct", low=1, high=99)
    after = _ints(data.get("escalate_after_days", [0, 5]), f"{where}.escalate_after_days", high=365)
    if list(after) != sorted(after):
        raise PolicyError(f"{where}.escalate_after_days: the levels must come in order")
    return Sla(respond_days=days, respond_hours=float(hours) if hours is not None else None,
               remind_at_pct=tuple(sorted(set(pcts))), escalate_after_days=after[:2])


def parse_policy(data: Any, *, source: str = "policy") -> OwnershipPolicy:
    """A policy from the parsed file contents; raises :class:`PolicyError` naming ``source`` and the entry."""
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: expected a table at the top")
    known = {"rule", "rules", "attestation", "gaps", "routing", "approval", "card_size"}
    unknown = set(data) - known
    if unknown:
        raise PolicyError(f"{source}: unknown entries {', '.join(sorted(unknown))}")
    raw_rules: Sequence[Any] = data.get("rule", data.get("rules", []))
    if not isinstance(raw_rules, list):
        raise PolicyError(f"{source}: rule: expected a list of tables ([[rule]])")
    rules = []
    for i, raw in enumerate(raw_rules, 1):
        where = f"{source}: rule {i}"
        if not isinstance(raw, Mapping):
            raise PolicyError(f"{where}: expected a table")
        bad = set(raw) - {"every_days", "site", "sites", "class", "classes", "criticality"}
        if bad:
            raise PolicyError(f"{where}: unknown entries {', '.join(sorted(bad))}")
        if "every_days" not in raw:
            raise PolicyError(f"{where}: every_days is required")
        rules.append(Rule(
            every_days=_ints(raw["every_days"], f"{where}.every_days", low=1, high=3660)[0],
            sites=_strings(raw.get("site", raw.get("sites", [])), f"{where}.site"),
            classes=_strings(raw.get("class", raw.get("classes", [])), f"{where}.class"),
            criticality=_ints(raw.get("criticality", []), f"{where}.criticality", low=1, high=4),
        ))
    routing_data = data.get("routing", {})
    if not isinstance(routing_data, Mapping):
        raise PolicyError(f"{source}: routing: expected a table")
    fields = set(Routing.__dataclass_fields__)
    bad = set(routing_data) - fields
    if bad:
        raise PolicyError(f"{source}: routing: unknown entries {', '.join(sorted(bad))}")
    for key, value in routing_data.items():
        if not isinstance(value, str) or not value.strip():
            raise PolicyError(f"{source}: routing.{key}: expected a role name")
    approval = data.get("approval", {})
    if not isinstance(approval, Mapping) or set(approval) - {"levels", "criticality"}:
        raise PolicyError(f"{source}: approval: expected a table with levels and criticality")
    card_size = _ints(data.get("card_size", 8), f"{source}: card_size", low=1, high=20)[0]
    return OwnershipPolicy(
        rules=tuple(rules) or DEFAULT_POLICY.rules,
        attestation=_sla(data.get("attestation"), f"{source}: attestation"),
        gaps=_sla(data.get("gaps"), f"{source}: gaps"),
        routing=Routing(**{k: v.strip() for k, v in routing_data.items()}),
        approval_levels=_strings(approval.get("levels", list(DEFAULT_POLICY.approval_levels)), f"{source}: approval.levels"),
        approval_criticality=_ints(approval.get("criticality", list(DEFAULT_POLICY.approval_criticality)),
                                   f"{source}: approval.criticality", low=1, high=4),
        card_size=card_size,
    )


def load_policy(path: Path) -> OwnershipPolicy:
    """The policy in a TOML (``.toml``) or JSON file; raises :class:`PolicyError` naming the file and entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"{path}: {exc}") from None
    return parse_policy(data, source=str(path))
