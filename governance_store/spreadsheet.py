"""Files govbot writes for people to open in a spreadsheet program, with formula injection neutralised.

A spreadsheet program treats a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and a tab
or carriage return at the start can smuggle one in after the program trims the cell.  Names, titles and
reasons come from imports and from chat, so anyone could plant ``=HYPERLINK(...)`` in a cell an auditor
opens.  Following the OWASP "CSV Injection" guidance, every text cell that begins with one of those
characters is prefixed with a single quote (shown as text, not evaluated), and every field is quoted.
Numbers stay numbers: only text is neutralised.

Every CSV govbot writes for people goes through :func:`write_csv` or :func:`csv_text`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

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
