"""The ownership policy file: the example is the default, and every mistake is named with its entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from governance_store.models import System
from governance_store.ownership_policy import DEFAULT_POLICY, PolicyError, load_policy, parse_policy
from tests.conftest import ROOT


def test_the_example_file_is_the_default_policy() -> None:
    assert load_policy(ROOT / "deploy" / "attestation-policy.example.toml") == DEFAULT_POLICY


def test_the_first_matching_rule_decides() -> None:
    policy = parse_policy({"rule": [{"class": ["SIS"], "every_days": 30}, {"site": "DE-RGB", "criticality": [1, 2],
                                                                           "every_days": 60}, {"every_days": 365}]})
    sis = System(key="a", name="SIS-1", class_name="sis", site_code="US-FDL", criticality=3)
    spsr = System(key="b", name="SPS-1", class_name="PLC", site_code="DE-RGB", criticality=2)
    other = System(key="c", name="X", class_name="PLC", site_code="US-FDL", criticality=1)
    assert [policy.rule_for(s).every_days for s in (sis, spsr, other)] == [30, 60, 365]  # type: ignore[union-attr]
    assert DEFAULT_POLICY.needs_approval(other) and not DEFAULT_POLICY.needs_approval(
        System(key="d", name="Y", purdue_level="4", criticality=3))


@pytest.mark.parametrize(("data", "message"), [
    ({"rule": [{"every_days": 0}]}, "rule 1.every_days: expected whole numbers from 1 to 3660"),
    ({"rule": [{"criticality": [5], "every_days": 9}]}, "rule 1.criticality: expected whole numbers from 1 to 4"),
    ({"rule": [{"every_day": 9}]}, "rule 1: unknown entries every_day"),
    ({"rule": [{}]}, "rule 1: every_days is required"),
    ({"attestation": {"respond_hours": -1}}, "attestation.respond_hours: expected a number of hours above 0"),
    ({"gaps": {"escalate_after_days": [5, 0]}}, "gaps.escalate_after_days: the levels must come in order"),
    ({"routing": {"raci_owner_role": ""}}, "routing.raci_owner_role: expected a role name"),
    ({"routing": {"cio": "CIO"}}, "routing: unknown entries cio"),
    ({"rules_typo": []}, "unknown entries rules_typo"),
])
def test_mistakes_are_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_policy(data, source="policy.toml")


def test_json_files_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"rule": [{"every_days": 100}], "attestation": {"respond_hours": 6}}), encoding="utf-8")
    policy = load_policy(path)
    assert policy.rules[0].every_days == 100 and policy.attestation.respond_hours == 6.0
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(PolicyError, match=str(path)):
        load_policy(path)
    with pytest.raises(PolicyError, match="cannot read it"):
        load_policy(tmp_path / "missing.toml")
