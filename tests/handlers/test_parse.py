from __future__ import annotations

import pytest

from handlers.parse import parse


@pytest.mark.parametrize(
    ("text", "intent", "subject"),
    [
        ("who owns PLC-FIL-L3-07?", "who_owns", "PLC-FIL-L3-07"),
        ("Who owns the historian in Regensburg?", "who_owns", "historian in Regensburg"),
        ("owner of EWS-FDL-01", "who_owns", "EWS-FDL-01"),
        ("who PLC_FIL_L3_7", "who_owns", "PLC_FIL_L3_7"),
        ("<@U0BE241202A> who owns the historian in Regensburg?", "who_owns", "historian in Regensburg"),
        ("who is accountable for SIS-NH3-01", "accountable", "SIS-NH3-01"),
        ("who is responsible for SIS-NH3-01", "responsible", "SIS-NH3-01"),
        ("who approves changes to PLC-MIX-01?", "approves", "PLC-MIX-01"),
        ("who can approve a change to the MES in Findlay", "approves", "MES in Findlay"),
        ("who do I call about the MES in Findlay?", "call", "MES in Findlay"),
        ("who is the data steward of Historian Plant 1", "steward", "Historian Plant 1"),
        ("what SLA applies to MES Plant 1?", "sla", "MES Plant 1"),
        ("sla SIS-NH3-01", "sla", "SIS-NH3-01"),
        ("what depends on PLC-FIL-L3-07?", "depends_on_me", "PLC-FIL-L3-07"),
        ("what does SCADA-FDL-01 depend on?", "my_dependencies", "SCADA-FDL-01"),
        ("deps SCADA-FDL-01", "deps", "SCADA-FDL-01"),
        ("what does Luis Ortega own?", "owns", "Luis Ortega"),
        ("owns hannah.kowalski@corvane.example", "owns", "hannah.kowalski@corvane.example"),
        ("call PLC-CIP-01", "call", "PLC-CIP-01"),
    ],
)
def test_questions_map_to_intents(text: str, intent: str, subject: str) -> None:
    got = parse(text)
    assert (got.name, got.subject) == (intent, subject)


def test_consulted_question_splits_activity_and_system() -> None:
    got = parse("who must be consulted for firmware update on PLC-FIL-L3-07?")
    assert (got.name, got.letter, got.activity, got.subject) == ("raci", "C", "firmware update", "PLC-FIL-L3-07")
    got = parse("who must be informed about patching on EWS-FDL-01")
    assert (got.letter, got.activity, got.subject) == ("I", "patching", "EWS-FDL-01")


@pytest.mark.parametrize(
    ("text", "subject", "activity"),
    [
        ("raci SIS-NH3-01 for firmware update", "SIS-NH3-01", "firmware update"),
        ('raci "Historian (AVEVA PI) Plant 1" patching', "Historian (AVEVA PI) Plant 1", "patching"),
        ("raci #12 | ACT-07", "#12", "ACT-07"),
        ("raci PLC-FIL-L3-07", "PLC-FIL-L3-07", ""),
    ],
)
def test_raci_command_grammar(text: str, subject: str, activity: str) -> None:
    got = parse(text)
    assert (got.name, got.subject, got.activity) == ("raci", subject, activity)


@pytest.mark.parametrize("text", ["", "help", "?", "  HELP  "])
def test_help(text: str) -> None:
    assert parse(text).name == "help"


def test_command_word_without_subject_asks_for_help_on_that_command() -> None:
    got = parse("who")
    assert (got.name, got.subject) == ("help", "who")


def test_unknown_phrasing_is_not_understood_not_an_error() -> None:
    got = parse("make me a sandwich")
    assert got.name == "not_understood"
    assert got.subject == "make me a sandwich"


@pytest.mark.parametrize(("text", "intent", "subject"), [
    ("wem gehört SPS-ABF-L1-01", "who_owns", "SPS-ABF-L1-01"),
    ("Wem gehoert SPS-ABF-L1-01?", "who_owns", "SPS-ABF-L1-01"),
    ("wer ist zuständig für die Abfüllanlage Linie 1", "who_owns", "Abfüllanlage Linie 1"),
    ("wer ist verantwortlich fuer SPS-ABF-L1-01", "who_owns", "SPS-ABF-L1-01"),
    ("wer ist der Eigentümer von Historian Plant 2", "who_owns", "Historian Plant 2"),
    ("Ansprechpartner für die Kälteanlage", "who_owns", "Kälteanlage"),
    ("wer betreut den Leitstand", "who_owns", "Leitstand"),
    ("wer genehmigt Änderungen an SPS-ABF-L1-01", "approves", "SPS-ABF-L1-01"),
    ("wer gibt Änderungen an SPS-ABF-L1-01 frei", "approves", "SPS-ABF-L1-01"),
    ("wen rufe ich bei SPS-ABF-L1-01 an", "call", "SPS-ABF-L1-01"),
    ("wer hat Rufbereitschaft für SCADA-RGB-01", "call", "SCADA-RGB-01"),
    ("welche SLA gilt für SPS-ABF-L1-01", "sla", "SPS-ABF-L1-01"),
    ("was hängt von Historian Plant 2 ab", "depends_on_me", "Historian Plant 2"),
    ("wovon hängt SPS-ABF-L1-01 ab", "my_dependencies", "SPS-ABF-L1-01"),
    ("was gehört Stefan Huber", "owns", "Stefan Huber"),
])
def test_german_questions(text: str, intent: str, subject: str) -> None:
    parsed = parse(text)
    assert (parsed.name, parsed.subject) == (intent, subject)
