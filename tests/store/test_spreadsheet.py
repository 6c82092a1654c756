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
