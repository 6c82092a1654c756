"""Language files: how phrases are written and read, and what a plant engineer's edit does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers import phrasebook
from handlers.i18n import LOCALE_DIR, supported, translator


def test_a_phrase_matches_with_and_without_accents_and_optional_words() -> None:
    pattern, names = phrasebook.compile_phrase("(quién|quien) es [el|la] dueño (de|del) {system}")
    assert names == frozenset({"x"})
    for text in ("quién es el dueño del horno", "quien es dueño de horno", "QUIÉN ES LA DUEÑO DEL horno"):
        assert pattern.match(phrasebook.fold_text(text)), text
    german, _ = phrasebook.compile_phrase("wem gehört {system}")
    for text in ("wem gehört X", "wem gehoert X", "wem gehort X"):
        assert german.match(phrasebook.fold_text(text)), text
    french, _ = phrasebook.compile_phrase("qui est le propriétaire (de la|de l'|du) {system}")
    assert french.match(phrasebook.fold_text("qui est le proprietaire de l'usine 2")).group("x") == "usine 2"


@pytest.mark.parametrize(("phrase", "problem"), [
    ("who owns {thing}", "unknown placeholder {thing}"),
    ("who owns {system} and {system}", "names the system twice"),
    ("who (owns|) {system}", "empty alternative"),
])
def test_a_broken_phrase_is_refused_with_a_reason(phrase: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        phrasebook.compile_phrase(phrase)


def test_a_plant_engineer_adds_a_phrase_and_a_word(tmp_path: Path) -> None:
    for source in phrasebook.LANGUAGE_DIR.glob("*.toml"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    es = tmp_path / "es.toml"
    text = es.read_text(encoding="utf-8")
    text = text.replace('who_owns = [\n', 'who_owns = [\n  "(quién|quien) manda en {system}",\n')
    text = text.replace('oven = ["horno", "hornos"]', 'oven = ["horno", "hornos", "hornilla"]')
    es.write_text(text, encoding="utf-8")
    langs = phrasebook.languages(tmp_path)
    assert any(p.text == "(quién|quien) manda en {system}" for p in langs["es"].phrases)
    assert "hornilla" in phrasebook.vocabulary(tmp_path).alternatives["oven"]


def test_a_broken_language_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "xx.toml").write_text('[questions]\nwho_owns = ["who owns"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"xx\.toml: who_owns phrase 'who owns' needs \{system\}"):
        phrasebook.languages(tmp_path)


def test_every_catalogue_translates_every_text_and_keeps_its_placeholders() -> None:
    from babel.messages.pofile import read_po

    with (LOCALE_DIR / "govbot.pot").open("rb") as fh:
        template = {m.id for m in read_po(fh) if m.id}
    assert supported() >= {"en", "de", "es", "pl", "fr", "it", "pt", "cs"}
    for code in sorted(supported() - {"en"}):
        with (LOCALE_DIR / code / "LC_MESSAGES" / "govbot.po").open("rb") as fh:
            catalog = read_po(fh, locale=code)
        messages = {m.id: m.string for m in catalog if m.id}
        assert set(messages) == template, code
        for msgid, msgstr in messages.items():
            ids = msgid if isinstance(msgid, tuple) else (msgid,)
            strs = msgstr if isinstance(msgstr, tuple) else (msgstr,)
            wanted = {name for i in ids for name in re.findall(r"\{(\w+)\}", i)}
            for translated in strs:
                assert translated, (code, msgid)
                assert set(re.findall(r"\{(\w+)\}", translated)) <= wanted | {"n"}, (code, msgid, translated)
    assert translator("pl-PL")("Owner") == "Właściciel"
