"""The fuzzy system resolver, on the corvane sample, a generated plant and both store backends."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import sqlalchemy as sa
from rapidfuzz import fuzz, process, utils

from governance_store.lookup import (
    CONFIDENT_MIN,
    PLAUSIBLE_MIN,
    Resolution,
    SystemIndex,
    SystemRecord,
    normalize_ip,
)
from governance_store.models import HierarchyNode, Site, System

CORVANE = Path(__file__).resolve().parents[2] / "examples" / "corvane"


# --------------------------------------------------------------------------- the sample as records


def _rows(name: str) -> list[dict[str, str]]:
    with (CORVANE / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def corvane_records() -> list[SystemRecord]:
    """One record per CMDB row plus one per OT sighting no CMDB row explains (read straight from the CSVs)."""
    sites = {r["site_code"]: r["name"] for r in _rows("sites.csv")}
    areas: dict[tuple[str, str], tuple[str, ...]] = {}
    for node in _rows("isa95_hierarchy.csv"):
        if node["isa95_level"] == "area":
            for label in (node["name"], node["local_name"]):
                areas[(node["site_code"], label.casefold())] = (node["name"], node["local_name"])
    ot = _rows("ot_inventory_nozomi.csv")
    explained: set[int] = set()
    records = []
    for n, row in enumerate(_rows("cmdb_ci.csv"), start=1):
        ip, mac, serial = row["ip_address"], row["mac_address"], row["serial_number"]
        hostnames = []
        for j, seen in enumerate(ot):
            same_serial = serial and seen["serial_number"].lower() == serial.lower()
            if (ip and seen["ip"] == ip) or (mac and seen["mac_address"] == mac) or same_serial:
                explained.add(j)
                if normalize_ip(seen["name"]) is None:
                    hostnames.append(seen["name"])
        context = [sites[row["u_site_code"]]] if row["u_site_code"] in sites else []
        context += areas.get((row["u_site_code"], row["location"].rsplit(" - ", 1)[-1].casefold()), ())
        records.append(
            SystemRecord(
                id=n,
                name=row["name"],
                aliases=tuple(a.strip() for a in row["u_alias"].split(";") if a.strip()),
                hostnames=tuple(dict.fromkeys(hostnames)),
                ips=(ip,) if ip else (),
                macs=(mac,) if mac else (),
                serial=serial or None,
                asset_tag=row["asset_tag"] or None,
                site_code=row["u_site_code"] or None,
                location=row["location"] or None,
                class_name=row["sys_class_name"] or None,
                context=tuple(dict.fromkeys(context)),
            )
        )
    for j, seen in enumerate(ot):
        if j not in explained:
            site = json.loads(seen["custom_fields"]).get("site")
            records.append(
                SystemRecord(
                    id=len(records) + 1,
                    name=seen["name"],
                    ips=(seen["ip"],),
                    macs=(seen["mac_address"],) if seen["mac_address"] else (),
                    site_code=site,
                    context=(sites[site],) if site in sites else (),
                )
            )
    return records


@pytest.fixture(scope="module")
def index() -> SystemIndex:
    return SystemIndex.build(corvane_records())


def names(res: Resolution) -> list[str]:
    return [m.name for m in res.matches]


def top(res: Resolution) -> str:
    assert res.matches, res
    return res.matches[0].name


# --------------------------------------------------------------------------- exact keys


def test_index_holds_every_cmdb_row_and_the_unknown_ot_device(index: SystemIndex) -> None:
    assert len(index) == 48
    assert len(SystemIndex.build([])) == 0
    assert SystemIndex.build([]).resolve("PLC-FIL-L3-07") == Resolution("not_found", ())


@pytest.mark.parametrize(
    ("query", "expected", "kind"),
    [
        ("10.41.13.7", "PLC-FIL-L3-07", "ip"),
        ("  10.41.13.7 ", "PLC-FIL-L3-07", "ip"),
        ("who owns 10.41.13.7?", "PLC-FIL-L3-07", "ip"),
        ("5c:88:16:a1:13:07", "PLC-FIL-L3-07", "mac"),
        ("5C-88-16-A1-13-07", "PLC-FIL-L3-07", "mac"),
        ("5C8816A11307", "PLC-FIL-L3-07", "mac"),
        ("5c88.16a1.1307", "PLC-FIL-L3-07", "mac"),
        ("fdl-003981", "PLC-FIL-L3-07", "asset_tag"),
        ("FDL-003981", "PLC-FIL-L3-07", "asset_tag"),
        ("s c-h5ua47112019", "SPS-ABF-L1-01", "serial"),
        ("SC-H5UA47112019", "SPS-ABF-L1-01", "serial"),
        ("r7012f16000", "FT-MIX-101", "serial"),
        ("10.42.11.250", "10.42.11.250", "ip"),
    ],
)
def test_identifiers_win_outright(index: SystemIndex, query: str, expected: str, kind: str) -> None:
    res = index.resolve(query)
    assert res.status == "exact"
    assert [(m.name, m.matched_on, m.score) for m in res.matches] == [(expected, kind, 100.0)]
    assert res.best is res.matches[0]


def test_a_serial_shared_by_two_rows_is_ambiguous_live_row_first(index: SystemIndex) -> None:
    res = index.resolve("7a21c9e4")
    assert res.status == "ambiguous"
    assert names(res) == ["PLC-FIL-L3-07", "PLC-FIL-L03-07"]
    assert res.best is None


@pytest.mark.parametrize(
    ("query", "expected", "kind"),
    [
        ("PLC-FIL-L3-07", "PLC-FIL-L3-07", "name"),
        ("plc fil l3 07", "PLC-FIL-L3-07", "name"),
        ("plc.fil/l3_07", "PLC-FIL-L3-07", "name"),
        ("PLC-FIL-L03-07", "PLC-FIL-L03-07", "name"),
        ("SIS-NH3-1", "SIS-NH3-01", "name"),
        ("Line 3 filler PLC", "PLC-FIL-L3-07", "alias"),
        ("pihist-rgb-01", "Historian (AVEVA PI) Plant 2", "alias"),
        ("sappco-fdl-01", "SAP PCo Plant 1", "hostname"),
        ("Azure AD", "Microsoft Entra ID (corvane)", "alias"),
        ("who owns SCADA-FDL-01?", "SCADA-FDL-01", "name"),
    ],
)
def test_exact_names_aliases_and_hostnames(index: SystemIndex, query: str, expected: str, kind: str) -> None:
    res = index.resolve(query)
    assert res.status == "exact", res
    assert (top(res), res.matches[0].matched_on) == (expected, kind)


def test_l3_and_l03_twins_both_surface_live_one_first(index: SystemIndex) -> None:
    # Loosely equal to both rows: never pick one silently.
    for query in ("PLC_FIL_L3_7", "plc fil l3 7"):
        res = index.resolve(query)
        assert res.status == "ambiguous"
        assert names(res) == ["PLC-FIL-L3-07", "PLC-FIL-L03-07"]
    # A typo near both: still both, the live one (verbatim "l3") first.
    res = index.resolve("PLC-FIL-L3-O7")
    assert res.status == "ambiguous"
    assert names(res)[:2] == ["PLC-FIL-L3-07", "PLC-FIL-L03-07"]


@pytest.mark.parametrize("query", ["Füller L1 SPS", "Fueller L1 SPS", "Fuller L1 SPS", "FÜLLER-L1-SPS", "der Füller L1 SPS"])
def test_umlaut_spellings_meet(index: SystemIndex, query: str) -> None:
    res = index.resolve(query)
    assert res.status == "exact"
    assert top(res) == "SPS-ABF-L1-01"


@pytest.mark.parametrize("query", ["Abfüllung", "Abfuellung", "Abfullung"])
def test_umlaut_spellings_meet_in_fuzzy_matches(index: SystemIndex, query: str) -> None:
    res = index.resolve(query)
    assert res.status == "confident"
    assert top(res) == "OT-FW Zelle Abfüllung"
    assert index.resolve("OT-FW Zelle Abfullung").status == "exact"


# --------------------------------------------------------------------------- fuzzy and free text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("the filler PLC on line 3 in Findlay", "PLC-FIL-L3-07"),
        ("ammonia safety controller", "SIS-NH3-01"),
        ("historian in Regensburg", "Historian (AVEVA PI) Plant 2"),
        ("Kaelteanlage Sicherheitssteuerung", "F-SPS-KAE-01"),
        ("Kälteanlage Sicherheitssteuerung", "F-SPS-KAE-01"),
        ("die Sicherheitssteuerung der Kälteanlage in Regensburg", "F-SPS-KAE-01"),
        ("filler plc line 1 regensburg", "SPS-ABF-L1-01"),
        ("Line 3 filer PLC", "PLC-FIL-L3-07"),
        ("SCADA-FLD-01", "SCADA-FDL-01"),
        ("Historain Plant 2", "Historian (AVEVA PI) Plant 2"),
        ("LIMS Regensburg", "LIMS Werk Regensburg"),
        ("ignition gateway", "SCADA-FDL-01"),
        ("edge gateway line 1", "Edge Gateway Line 1 Findlay"),
    ],
)
def test_free_text_and_typos_resolve_confidently(index: SystemIndex, query: str, expected: str) -> None:
    res = index.resolve(query)
    assert res.status == "confident", res
    assert top(res) == expected
    assert res.matches[0].score >= CONFIDENT_MIN


def test_free_text_ranks_the_live_twin_above_the_duplicate(index: SystemIndex) -> None:
    res = index.resolve("the filler PLC on line 3 in Findlay", limit=5)
    assert top(res) == "PLC-FIL-L3-07"
    assert res.matches[0].matched_on == "alias"


def test_stop_words_only_count_as_whole_words() -> None:
    small = SystemIndex.build(
        [SystemRecord(1, "HMI-LND-INS-L11-03"), SystemRecord(2, "HMI-LND-ABF-L11-03"), SystemRecord(3, "HMI-LND-ETI-L11-03")]
    )
    res = small.resolve("HMI-LND-IN-L11-03")
    assert top(res) == "HMI-LND-INS-L11-03"
    assert small.resolve("the").status == "not_found"


@pytest.mark.parametrize("query", ["PLC", "Regensburg", "nozomi", "Syrup"])
def test_broad_words_are_ambiguous(index: SystemIndex, query: str) -> None:
    res = index.resolve(query)
    assert res.status == "ambiguous"
    assert 2 <= len(res.matches) <= 5
    scores = [m.score for m in res.matches]
    assert scores == sorted(scores, reverse=True)
    assert min(scores) >= PLAUSIBLE_MIN


def test_limit_caps_the_candidates(index: SystemIndex) -> None:
    assert len(index.resolve("PLC", limit=2).matches) == 2
    assert len(index.resolve("PLC", limit=1).matches) == 1


def test_weak_matches_are_never_confident(index: SystemIndex) -> None:
    # A different line number is a different system, however close the spelling.
    res = index.resolve("HMI-FIL-L9-02")
    assert res.status == "ambiguous"
    assert top(res) == "HMI-FIL-L3-02"
    # Context words alone (a class and an area) do not make a confident answer.
    res = index.resolve("PLC in Energiezentrale")
    assert res.status == "ambiguous"
    assert top(res) == "F-SPS-KAE-01"
    assert res.matches[0].matched_on == "context"


@pytest.mark.parametrize("query", ["coffee machine", "xyzzy", "", "   ", "the of"])
def test_nothing_plausible_is_not_found(index: SystemIndex, query: str) -> None:
    res = index.resolve(query)
    assert res.status == "not_found"
    assert res.matches == ()


@pytest.mark.parametrize("query", ["PLC-XYZ-99", "PLC-FIL-L9-99", "who owns PLC-FIL-L9-99"])
def test_not_found_offers_nearest_names(index: SystemIndex, query: str) -> None:
    # Every number differs from every system's: a system that does not exist, not a typo.
    res = index.resolve(query)
    assert res.status == "not_found"
    assert res.matches and all(m.score < PLAUSIBLE_MIN for m in res.matches)
    assert top(res).startswith("PLC-")


def test_a_slip_inside_a_number_still_resolves() -> None:
    names_ = ["FU-LND-ETI-L1-05", "FU-LND-ETI-L10-05", "EWS-AKR-02", "PLC-FDL-BLM-L1-03", "LT-FDL-BLM-L1-103",
              "PT-RGB-BLM-L3-106", "FU-RGB-BLM-L3-06"]  # fmt: skip
    small = SystemIndex.build([SystemRecord(i, name) for i, name in enumerate(names_, start=1)])
    for query, expected in [
        ("FU-LND-ETI-L105", "FU-LND-ETI-L1-05"),  # separator dropped
        ("EWS-AK-R02", "EWS-AKR-02"),  # separator swapped with a letter
        ("PLC-FDL-BLM-L-103", "PLC-FDL-BLM-L1-03"),  # ... with a digit: other numbers
        ("PT-RGB-BLM-L31-06", "PT-RGB-BLM-L3-106"),
    ]:
        res = small.resolve(query)
        assert res.status != "not_found" and top(res) == expected, (query, res)


def test_matches_carry_site_location_and_class(index: SystemIndex) -> None:
    match = index.resolve("10.41.16.20").matches[0]
    assert (match.name, match.site_code, match.location, match.class_name) == (
        "SIS-NH3-01",
        "US-FDL",
        "Findlay Plant 1 - Utilities",
        "PLC",
    )
    assert match.system_id == 12


# --------------------------------------------------------------------------- from the store


def _store_sample(session) -> None:  # type: ignore[no-untyped-def]
    session.add_all(
        [
            Site(code="US-FDL", name="Plant 1 Findlay", timezone="America/New_York"),
            Site(code="DE-RGB", name="Werk Regensburg", timezone="Europe/Berlin"),
        ]
    )
    nodes = [
        ("US-FDL", None, "site", "Plant 1 Findlay", "Plant 1 Findlay", "US-FDL"),
        ("FDL-FH", "US-FDL", "area", "Filling Hall", "Filling Hall", "US-FDL"),
        ("FDL-FH-L3", "FDL-FH", "production_line", "Line 3 (Glass)", "Line 3 (Glass)", "US-FDL"),
        ("FDL-FH-L3-FIL", "FDL-FH-L3", "work_cell", "Filler L3", "Filler L3", "US-FDL"),
        ("DE-RGB", None, "site", "Werk Regensburg", "Werk Regensburg", "DE-RGB"),
        ("RGB-SIR", "DE-RGB", "area", "Syrup Room", "Sirupraum", "DE-RGB"),
        ("RGB-EZ", "DE-RGB", "area", "Utilities", "Energiezentrale", "DE-RGB"),
        ("RGB-EZ-KAE", "RGB-EZ", "production_unit", "Ammonia Refrigeration", "Kälteanlage (NH3)", "DE-RGB"),
    ]
    by_key: dict[str, HierarchyNode] = {}
    for node_id, parent, level, name, local_name, site_code in nodes:
        node = HierarchyNode(
            node_id=node_id, parent=by_key.get(parent) if parent else None, level=level, name=name,
            local_name=local_name, site_code=site_code,
        )  # fmt: skip
        by_key[node_id] = node
        session.add(node)
    session.add_all(
        [
            System(
                key="cmdb:plc-fil-l3-07", name="PLC-FIL-L3-07", aliases=["Line 3 filler PLC"], class_name="PLC",
                site_code="US-FDL", node_id="FDL-FH-L3-FIL", location="Findlay Plant 1 - Filling Hall",
                serial="7A21C9E4", asset_tag="FDL-003981", ips=["10.41.13.7"], macs=["5c:88:16:a1:13:07"],
            ),
            System(
                key="cmdb:plc-fil-l03-07", name="PLC-FIL-L03-07", class_name="PLC", site_code="US-FDL",
                location="Findlay Plant 1 - Filling Hall", serial="7A21C9E4",
            ),
            System(
                key="cmdb:f-sps-kae-01", name="F-SPS-KAE-01", aliases=["Sicherheitssteuerung (F-CPU)"],
                class_name="PLC", site_code="DE-RGB", node_id="RGB-EZ-KAE",
                location="Werk Regensburg - Energiezentrale", ips=["10.42.16.20"],
            ),
            System(
                key="cmdb:sps-sir-01", name="SPS-SIR-01", class_name="PLC", site_code="DE-RGB",
                location="Werk Regensburg - Sirupraum", hostnames=["sps-sir-01.rgb.example"],
            ),
        ]
    )  # fmt: skip
    session.flush()


def test_from_session_reads_systems_and_location_words_in_bulk(session, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    _store_sample(session)
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        index = SystemIndex.from_session(session)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 3, statements  # sites, hierarchy, systems: no query per system
    assert len(index) == 4

    ids = dict(session.execute(sa.select(System.name, System.id)).tuples().all())
    res = index.resolve("10.42.16.20")
    assert res.status == "exact" and res.matches[0].system_id == ids["F-SPS-KAE-01"]
    assert index.resolve("sps-sir-01.rgb.example").matches[0].matched_on in ("name", "hostname")
    assert names(index.resolve("7A21C9E4")) == ["PLC-FIL-L3-07", "PLC-FIL-L03-07"]

    # Location words from the ISA-95 chain (cell, line, area, site; German local names too).
    res = index.resolve("filler PLC line 3 Findlay")
    assert top(res) == "PLC-FIL-L3-07"
    res = index.resolve("Kälteanlage Sicherheitssteuerung")
    assert res.status == "confident" and top(res) == "F-SPS-KAE-01"
    # No node: the area is found from the location text.
    res = index.resolve("PLC im Sirupraum")
    assert top(res) == "SPS-SIR-01"
    match = res.matches[0]
    assert (match.site_code, match.location, match.class_name) == ("DE-RGB", "Werk Regensburg - Sirupraum", "PLC")


# --------------------------------------------------------------------------- quality against a naive scan


def _typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(text) - 1)
    if rng.random() < 0.5:
        return text[:i] + text[i + 1 :]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def test_typos_resolve_at_least_as_often_as_a_naive_full_scan() -> None:
    from bench.generate import Plant
    from bench.plant_records import iter_records

    records = list(iter_records(Plant(20_000, seed=11)))
    index = SystemIndex.build(records)
    choices = [utils.default_process(r.name) for r in records]
    rng = random.Random(5)
    ours = naive = 0
    for record in rng.sample(records, 200):
        query = _typo(record.name, rng)
        res = index.resolve(query)
        ours += res.status != "not_found" and res.matches[0].system_id == record.id
        best = process.extractOne(utils.default_process(query), choices, scorer=fuzz.WRatio, processor=None)
        naive += records[best[2]].id == record.id
    assert naive > 150  # the sample is a fair test: most typos are recoverable
    assert ours >= naive, (ours, naive)


# --------------------------------------------------------------------------- every Latin script, every plant language


def test_folding_transliterates_without_rewriting_other_languages() -> None:
    from governance_store.folding import name_keys, plain, same_name
    from governance_store.lookup import loose, verbatim

    assert plain("Łódź") == "lodz" and plain("Łucja Woźniak") == "lucja wozniak"
    assert verbatim("Puebla") == "puebla" and loose(verbatim("Puebla")) == "puebla"
    assert verbatim("Abfüllung") == "abfuellung" and loose("abfüllung") == "abfullung"
    assert same_name("Abfüllung", "Abfuellung") and same_name("Abfüllung", "Abfullung")
    assert not same_name("Michał", "Michael") and not same_name("Manuel", "Manul")
    assert name_keys("Straße") == ("strasse",) and plain("Ørsted Ĳssel ı") == "orsted ijssel i"


def test_places_and_people_typed_without_diacritics_are_found() -> None:
    index = SystemIndex.build([
        SystemRecord(1, "HIST-LDZ-01", aliases=("Historian Łódź",), site_code="PL-LDZ", context=("Zakład Łódź",)),
        SystemRecord(2, "HIST-PUE-01", aliases=("Historiador Puebla",), site_code="MX-PUE", context=("Planta Puebla",)),
        SystemRecord(3, "SPS-ABF-L1-01", aliases=("Füller L1 SPS",)),
    ])
    assert top(index.resolve("historian lodz")) == "HIST-LDZ-01"
    assert index.resolve("Historian Lodz").status == "exact"
    assert index.resolve("historiador puebla").status == "exact"
    assert index.resolve("Fuller L1 SPS").status == "exact"


def test_consonant_abbreviations_and_words_of_other_languages() -> None:
    from governance_store.lookup import Vocabulary

    vocab = Vocabulary(line_words=("line", "linie", "línea", "linia", "linii"), groups=[("oven", "horno", "piec")],
                       stop_words=("de", "la", "na"))
    index = SystemIndex.build([
        SystemRecord(1, "PUE-PLC-OVN-L2", class_name="PLC"),
        SystemRecord(2, "PUE-PLC-MIX-L2", class_name="PLC"),
        SystemRecord(3, "PUE-PLC-OVN-L1", class_name="PLC"),
        SystemRecord(4, "LDZ-STR-PIE-L3", aliases=("Sterownik pieca L3",), class_name="PLC"),
    ], vocabulary=vocab)
    assert top(index.resolve("oven PLC line 2")) == "PUE-PLC-OVN-L2"
    assert top(index.resolve("PLC horno de la línea 2")) == "PUE-PLC-OVN-L2"
    assert top(index.resolve("oven na linii 3")) == "LDZ-STR-PIE-L3"


def test_identifiers_nobody_has_offer_the_nearest_real_ones(index: SystemIndex) -> None:
    res = index.resolve("10.41.13.20")
    assert res.status == "not_found"
    assert [(m.name, m.identifier, m.matched_on) for m in res.matches[:2]] == [
        ("PLC-FIL-L3-07", "10.41.13.7", "ip"), ("HMI-FIL-L3-02", "10.41.13.51", "ip")]
    assert "10.42.11.250" not in {m.name for m in res.matches}
    mac = index.resolve("5c:88:16:a1:13:99")
    assert mac.status == "not_found" and mac.matches[0].matched_on == "mac"
    tag = index.resolve("FDL-003999")
    assert tag.status == "not_found" and tag.matches[0].identifier == "FDL-003981"
    # A system name of no identifier's shape is still a name: nearest names, not identifiers.
    name = index.resolve("PLC-FIL-L9-99")
    assert name.status == "not_found" and all(m.identifier is None for m in name.matches)
