"""Files govbot writes for people to open in a spreadsheet program, with formula injection neutralised.

A spreadsheet program treats a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and a tab
or carriage return at the start can smuggle one in after the program trims the cell.  Names, titles and
reasons come from imports and from chat, so anyone could plant ``=HYPERLINK(...)`` in a cell an auditor
opens.  Following the OWASP "CSV Injection" guidance, every text cell that begins with one of those
characters is prefixed with a single quote (shown as text, not evaluated), and every field is quoted.
Numbers stay numbers: only text is neutralised.

Every CSV govbot writes for people goes through :func:`write_csv` or :func:`csv_text`, every Excel workbook
through :func:`write_xlsx`, which also stores every text cell as a string, never as a formula (a spreadsheet
library otherwise writes text that begins with ``=`` as a formula), and drops the control characters the file
format cannot hold.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, TextIO

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` made safe for a spreadsheet cell: text that could start a formula gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def write_csv(fh: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write ``header`` and ``rows`` to ``fh`` (opened with ``newline=""``), every field quoted and neutralised."""
    writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(v) for v in row])


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    write_csv(buf, header, rows)
    return buf.getvalue()


def csv_sections(tables: Iterable[Sheet]) -> str:
    """Several tables in one CSV, one after another: a title row, the header, the rows, an empty row."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL)
    for table in tables:
        writer.writerow([neutralise(table.title)])
        writer.writerow([neutralise(h) for h in table.header])
        for row in table.rows:
            writer.writerow([neutralise(v) for v in row])
        writer.writerow([])
    return buf.getvalue()


@dataclass(frozen=True)
class Sheet:
    """One table: a worksheet of a workbook, or a section of a CSV."""

    name: str
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


# Characters an XLSX cell cannot hold (XML 1.0 forbids them).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str, taken: set[str]) -> str:
    base = _SHEET_NAME.sub(" ", name).strip("' ")[:31] or "Sheet"
    candidate, n = base, 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def write_xlsx(fh: IO[bytes], sheets: Iterable[Sheet]) -> None:
    """An Excel workbook with one worksheet per table; text cells are neutralised strings, numbers numbers."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    taken: set[str] = set()
    bold = Font(bold=True)

    def cell(ws: Any, value: Any, *, header: bool = False) -> WriteOnlyCell:
        safe = neutralise(value)
        if isinstance(safe, str):
            c = WriteOnlyCell(ws, value=_ILLEGAL.sub("", safe))
            c.data_type = "s"  # a string, never a formula, whatever it begins with
        else:
            c = WriteOnlyCell(ws, value=safe)
        if header:
            c.font = bold
        return c

    for sheet in sheets:
        ws = book.create_sheet(_sheet_name(sheet.name, taken))
        ws.append([cell(ws, sheet.title, header=True)])
        ws.append([cell(ws, h, header=True) for h in sheet.header])
        for row in sheet.rows:
            ws.append([cell(ws, v) for v in row])
    if not taken:
        book.create_sheet("Empty")
    book.save(fh)


def xlsx_bytes(sheets: Iterable[Sheet]) -> bytes:
    buf = io.BytesIO()
    write_xlsx(buf, sheets)
    return buf.getvalue()
