"""The synthetic plant generator writes corvane-shaped files, deterministically."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from bench.generate import CMDB_HEADER, OT_HEADER, Plant, generate_plant

ROOT = Path(__file__).resolve().parents[1]
CORVANE = ROOT / "examples" / "corvane"
FILES = [
    "sites.csv", "isa95_hierarchy.csv", "zones.csv", "teams.csv", "servicenow_sys_user.csv",
    "servicenow_sys_user_group.csv", "servicenow_sys_user_grmember.csv", "entra_users.csv", "cmdb_ci.csv",
    "ot_inventory_nozomi.csv",
]  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def plant_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_plant(tmp_path_factory.mktemp("plant"), 3_000, seed=7)


def test_files_have_the_corvane_headers(plant_dir: Path) -> None:
    for name in FILES:
        with (CORVANE / name).open(encoding="utf-8") as fh:
            expected = fh.readline()
        with (plant_dir / name).open(encoding="utf-8") as fh:
            assert fh.readline() == expected, name


def test_row_counts_and_unique_identifiers(plant_dir: Path) -> None:
    cmdb = _rows(plant_dir / "cmdb_ci.csv")
    ot = _rows(plant_dir / "ot_inventory_nozomi.csv")
    assert len(cmdb) == len(ot) == 3_000
    for column in ("sys_id", "name", "ip_address", "mac_address", "serial_number", "asset_tag"):
        values = [r[column].casefold() for r in cmdb if r[column]]
        assert len(values) == len(set(values)), column
    assert all(len(r["sys_updated_on"]) == 19 and r["sys_updated_on"][10] == " " for r in cmdb)
    assert len({r["u_site_code"] for r in cmdb}) >= 3


def test_references_resolve_to_generated_people_and_groups(plant_dir: Path) -> None:
    cmdb = _rows(plant_dir / "cmdb_ci.csv")
    people = {r["name"] for r in _rows(plant_dir / "servicenow_sys_user.csv")}
    groups = {r["name"] for r in _rows(plant_dir / "servicenow_sys_user_group.csv")}
    for r in cmdb:
        for column in ("owned_by", "managed_by"):
            assert not r[column] or r[column] in people
        for column in ("managed_by_group", "support_group", "assignment_group"):
            assert not r[column] or r[column] in groups
    members = _rows(plant_dir / "servicenow_sys_user_grmember.csv")
    assert all(m["group"] in groups and m["user"] in people for m in members)


def test_most_ot_sightings_match_the_cmdb(plant_dir: Path) -> None:
    cmdb = _rows(plant_dir / "cmdb_ci.csv")
    ips = {r["ip_address"] for r in cmdb}
    macs = {r["mac_address"] for r in cmdb if r["mac_address"]}
    serials = {r["serial_number"].lower() for r in cmdb if r["serial_number"]}
    ot = _rows(plant_dir / "ot_inventory_nozomi.csv")
    matched = sum(1 for o in ot if o["ip"] in ips or o["mac_address"] in macs or o["serial_number"] in serials)
    assert 0.9 * len(ot) < matched < len(ot)
    assert all(o["serial_number"] == o["serial_number"].lower() for o in ot)


def test_same_seed_same_files(tmp_path: Path, plant_dir: Path) -> None:
    again = generate_plant(tmp_path / "again", 3_000, seed=7)
    other = generate_plant(tmp_path / "other", 3_000, seed=8)
    for name in FILES:
        digest = hashlib.sha256((plant_dir / name).read_bytes()).hexdigest()
        assert hashlib.sha256((again / name).read_bytes()).hexdigest() == digest, name
    assert (other / "cmdb_ci.csv").read_bytes() != (plant_dir / "cmdb_ci.csv").read_bytes()


def test_in_memory_rows_follow_the_headers() -> None:
    systems = list(Plant(500, seed=3).iter_systems())
    assert len(systems) == 500
    assert all(len(s.cmdb) == len(CMDB_HEADER) and len(s.ot) == len(OT_HEADER) for s in systems)
    assert sum(s.ot_matches for s in systems) > 400
