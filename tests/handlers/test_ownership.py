"""Ownership answers on the imported sample org, through the same entry point every adapter uses."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from handlers.reply import Action, Actor, Command, Reply
from tests.core import handle_action, handle_command

NOW = dt.datetime(2025, 6, 4, 14, 0, tzinfo=dt.UTC)  # a Wednesday: 10:00 in Findlay, 16:00 in Regensburg
ME = Actor(person_id=None, display_name="test", platform="test")


def ask(session: Session, text: str) -> Reply:
    return handle_command(Command(text=text, actor=ME), session=session, now=NOW)


def names(people: list[dict[str, object]]) -> set[str]:
    return {str(p["name"]) for p in people}


def test_who_owns_reports_owner_who_left_with_acting_holder(corvane: Session) -> None:
    reply = ask(corvane, "who owns PLC-FIL-L3-07?")
    data = reply.data
    assert data["status"] == "answered"
    assert data["system"]["name"] == "PLC-FIL-L3-07"
    assert data["system"]["site"] == "US-FDL"
    assert data["system"]["purdue_level"] == "1"
    assert data["system"]["criticality"] == 1
    assert data["owner"]["name"] == "Gregory Maddox"
    assert data["owner"]["active"] is False
    assert data["owner"]["acting"]["name"] == "Luis Ortega"
    # OT level 0-2 change approval: the OT Engineering Lead at the site is Accountable.
    assert data["activity"]["id"] == "ACT-01"
    assert names(data["accountable"]) == {"Luis Ortega"}
    assert "Jessica Park" in names(data["responsible"])
    assert any("left the company" in w for w in data["warnings"])
    assert any("PLC-FIL-L03-07" in w for w in data["warnings"]), "the near-duplicate is pointed out"


def test_typos_separators_and_ips_resolve(corvane: Session) -> None:
    for q in ("who plc fil l3 07", "who PLC_FIL_L3_7", "who 10.41.13.7", "who FDL-003981", "who 5C-88-16-A1-13-07"):
        reply = ask(corvane, q)
        assert reply.data["status"] in ("answered", "ambiguous"), q
        if reply.data["status"] == "answered":
            assert reply.data["system"]["name"] == "PLC-FIL-L3-07", q
        else:
            assert reply.data["candidates"][0]["name"] == "PLC-FIL-L3-07", q


def test_location_words_and_german_transliteration(corvane: Session) -> None:
    reply = ask(corvane, "who owns the ammonia safety controller?")
    assert reply.data["system"]["name"] == "SIS-NH3-01"
    reply = ask(corvane, "who owns the historian in Regensburg?")
    assert reply.data["system"]["name"] == "Historian (AVEVA PI) Plant 2"
    reply = ask(corvane, "who owns Kaelteanlage Sicherheitssteuerung")
    assert reply.data["system"]["name"] == "F-SPS-KAE-01"


def test_questions_asked_in_german(corvane: Session) -> None:
    reply = ask(corvane, "Wer ist zuständig für die Kälteanlage Sicherheitssteuerung?")
    assert (reply.data["status"], reply.data["system"]["name"]) == ("answered", "F-SPS-KAE-01")
    reply = ask(corvane, "wem gehört der Historian in Regensburg")
    assert reply.data["system"]["name"] == "Historian (AVEVA PI) Plant 2"
    reply = ask(corvane, "was hängt vom Historian in Regensburg ab")
    assert reply.data["status"] == "answered" and "MES Werk Regensburg" in reply.text


def test_ambiguous_question_offers_ranked_choices_that_work(corvane: Session) -> None:
    reply = ask(corvane, "who owns the historian")
    assert reply.data["status"] == "ambiguous"
    offered = [c["name"] for c in reply.data["candidates"]]
    assert {"Historian (AVEVA PI) Plant 1", "Historian (AVEVA PI) Plant 2"} <= set(offered)
    assert 2 <= len(reply.choices) <= 5
    chosen = next(c for c in reply.choices if c.label == "Historian (AVEVA PI) Plant 2")
    clicked = handle_action(Action("govbot.choose", chosen.value, ME), session=corvane, now=NOW)
    assert clicked.data["status"] == "answered"
    assert clicked.data["system"]["name"] == "Historian (AVEVA PI) Plant 2"
    assert clicked.data["owner"]["name"] == "Elena Petrova"


def test_unknown_system_gets_did_you_mean(corvane: Session) -> None:
    reply = ask(corvane, "who owns PLC-FIL-L9-99")
    assert reply.data["status"] == "not_found"
    assert "did you mean" in reply.text.lower()
    assert reply.data["candidates"], "nearest names are offered"
    nothing = ask(corvane, "who owns qqqqzzzz")
    assert nothing.data["status"] == "not_found"


def test_system_without_owner_is_flagged(corvane: Session) -> None:
    reply = ask(corvane, "who owns Edge Gateway Line 1 Findlay")
    assert reply.data["owner"] is None
    assert any("No Accountable owner" in w for w in reply.data["warnings"])


def test_unknown_support_group_is_flagged(corvane: Session) -> None:
    reply = ask(corvane, "who owns PLC-CIP-01")
    assert any("OT Support Findlay" in w and "does not exist" in w for w in reply.data["warnings"])


def test_level3_and_it_systems_take_their_own_change_activity(corvane: Session) -> None:
    mes = ask(corvane, "who approves changes to MES Plant 1 Findlay").data
    assert mes["activity"]["id"] == "ACT-02"
    assert names(mes["accountable"]) == {"Elena Petrova"}
    sap = ask(corvane, "who approves changes to SAP S/4HANA Production (PS4)").data
    assert sap["activity"]["id"] == "ACT-03"
    assert names(sap["accountable"]) == {"Olivia Grant"}


def test_most_specific_scope_wins(corvane: Session) -> None:
    # OT Security Lead is Hannah Kowalski globally but Lukas Brandl for Regensburg.
    rgb = ask(corvane, "who must be consulted for change approval on SPS-ABF-L1-01").data
    fdl = ask(corvane, "who must be consulted for change approval on PLC-FIL-L1-02").data
    assert "Lukas Brandl" in names(rgb["consulted"]) and "Hannah Kowalski" not in names(rgb["consulted"])
    assert "Hannah Kowalski" in names(fdl["consulted"])


def test_activity_with_two_accountables_is_reported(corvane: Session) -> None:
    reply = ask(corvane, "raci SIS-NH3-01 for firmware update")
    assert reply.data["activity"]["id"] == "ACT-07"
    assert {"Luis Ortega", "Hannah Kowalski"} <= names(reply.data["accountable"])
    assert any("2 Accountable" in w for w in reply.data["warnings"])


def test_teams_expand_to_members(corvane: Session) -> None:
    reply = ask(corvane, "raci PLC-FIL-L3-07 firmware update")
    responsible = names(reply.data["responsible"])
    # The vendor team is Responsible for firmware updates; its members are listed.
    assert {"Nina Castillo", "Ray Dawson"} <= responsible


def test_who_do_i_call_gives_chain_and_local_time(corvane: Session) -> None:
    reply = ask(corvane, "who do I call about PLC-FIL-L3-07?")
    data = reply.data
    assert data["status"] == "answered"
    assert [lvl["level"] for lvl in data["escalation"]] == [1, 2, 3, 4]
    level2 = data["escalation"][1]
    assert names(level2["people"]) == {"Luis Ortega"}, "the departed level-2 target is replaced by the acting holder"
    text = "\n".join(f.value for s in reply.sections for f in s.fields)
    assert "10:00" in text and "within business hours" in text


def test_sla_lists_policies_for_the_criticality(corvane: Session) -> None:
    data = ask(corvane, "what SLA applies to SIS-NH3-01?").data
    assert [p["policy"] for p in data["sla"]] == ["SLA-C1-P1", "SLA-C1-P2", "SLA-C1-P3", "SLA-C1-P4"]
    assert data["sla"][0]["response_minutes"] == 15


def test_dependencies_both_directions(corvane: Session) -> None:
    up = ask(corvane, "what depends on PLC-FIL-L3-07?").data
    assert "HMI-FIL-L3-02" in up["used_by"]
    down = ask(corvane, "what does HMI-FIL-L3-02 depend on?").data
    assert "PLC-FIL-L3-07" in down["depends_on"]


def test_what_does_a_person_own(corvane: Session) -> None:
    data = ask(corvane, "what does Gregory Maddox own?").data
    assert set(data["systems"]["owner"]) == {"PLC-FIL-L3-07", "PLC-FIL-L03-07", "HMI-FIL-L3-02", "SIS-NH3-01", "EWS-FDL-01"}
    assert data["warnings"]
    team = ask(corvane, "owns OT Security").data
    assert "Nozomi Guardian Findlay" in team["systems"]["support group"]


def test_data_steward(corvane: Session) -> None:
    data = ask(corvane, "who is the data steward of Historian (AVEVA PI) Plant 1").data
    assert data["activity"]["id"] == "ACT-14"
    assert "Brian Caldwell" in names(data["accountable"])


@pytest.mark.parametrize("text", ["make me a sandwich", "", "raci", "who"])
def test_unknown_phrasing_gets_help_not_an_error(corvane: Session, text: str) -> None:
    reply = ask(corvane, text)
    assert reply.data["status"] in ("help", "not_understood")
    assert any(s.title == "Commands" for s in reply.sections)


def test_bare_system_name_is_a_who_owns(corvane: Session) -> None:
    assert ask(corvane, "SIS-NH3-01").data["system"]["name"] == "SIS-NH3-01"
