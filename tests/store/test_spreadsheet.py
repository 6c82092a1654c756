"""Cells people open in a spreadsheet program never start a formula."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from governance_store import audit
from governance_store.models import Person
from governance_store.spreadsheet import FORMULA_TRIGGERS, csv_text, neutralise


@pytest.mark.parametrize("lead", FORMULA_TRIGGERS)
def test_text_that_could_start_a_formula_is_prefixed(lead: str) -> None:
    assert neutralise(f"{lead}HYPERLINK(\"http://evil.example\",\"x\")") == f"'{lead}HYPERLINK(\"http://evil.example\",\"x\")"


def test_plain_text_and_numbers_are_kept() -> None:
    assert neutralise("Luis Ortega") == "Luis Ortega"
    assert neutralise(-5) == -5 and neutralise(2.5) == 2.5
    assert neutralise(None) == ""


def test_every_field_is_quoted_and_neutralised() -> None:
    text = csv_text(["name", "n"], [["=1+1", 3], ["@SUM(A1)", "-2"]])
    assert text.splitlines()[1] == '"\'=1+1","3"'
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[2] == ["'@SUM(A1)", "'-2"]


def test_audit_csv_export_neutralises_names_and_data(session) -> None:  # type: ignore[no-untyped-def]
    person = Person(display_name='=HYPERLINK("http://evil.example","click")', email="evil@corvane.example")
    session.add(person)
    session.flush()
    audit.record(session, at=dt.datetime(2025, 6, 4, 10, tzinfo=dt.UTC), actor=person, platform="slack",
                 action="change.approved", object_type="change", object_key="+GCR000001", data={})
    session.flush()
    rows = list(csv.DictReader(io.StringIO(audit.export(session, fmt="csv"))))
    assert rows[0]["actor"].startswith("'=HYPERLINK")
    assert rows[0]["object_key"] == "'+GCR000001"
    for row in rows:
        for value in row.values():
            assert not value.startswith(FORMULA_TRIGGERS)


def test_workbook_cells_are_strings_never_formulas() -> None:
    import zipfile

    from openpyxl import load_workbook

    from governance_store.spreadsheet import Sheet, xlsx_bytes

    body = xlsx_bytes([
        Sheet("Waits", "=title", ["=name", "n"], [["=1+1", 3], ["@SUM(A1)\x07", 2.5], ["-2", None], ["plain", True]]),
        Sheet("Waits", "again", ["a"], [["+x"]]),
        Sheet("a/b:c*d?e[f]g", "odd name", ["a"], []),
    ])
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/"))
    assert "<f>" not in xml and "<f " not in xml
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["Waits", "Waits (2)", "a b c d e f g"]
    rows = [[(c.value, c.data_type) for c in row] for row in book["Waits"].iter_rows()]
    assert rows[0][0] == ("'=title", "s") and rows[1][0] == ("'=name", "s")
    assert rows[2] == [("'=1+1", "s"), (3, "n")]
    assert rows[3] == [("'@SUM(A1)", "s"), (2.5, "n")]  # a control character the format cannot hold is dropped
    assert rows[4][0] == ("'-2", "s")
    assert book["Waits (2)"]["A3"].value == "'+x"


def test_csv_sections_neutralise_every_cell() -> None:
    from governance_store.spreadsheet import Sheet, csv_sections

    text = csv_sections([Sheet("a", "=A", ["-h"], [["@x", 1]]), Sheet("b", "B", ["h"], [])])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["'=A"], ["'-h"], ["'@x", "1"], [], ["B"], ["h"], []]
