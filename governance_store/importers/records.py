"""A live source's records in the shape of an export file, for the same import pipeline.

Each record becomes one row of named values, exactly what the CSV reader yields for a line of the
matching export; its *reference* (``id=17``, ``sys_id=…``) stands where a CSV error would name a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from governance_store.importers.csvio import CsvFile, norm_column
from governance_store.importers.errors import RowError


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


class RecordFile(CsvFile):
    """Rows of one kind (``netbox_devices``, ``cmdb_ci`` …) taken from a source's API records."""

    def __init__(self, label: str, kind: str, records: Iterable[tuple[str, dict[str, Any]]], *,
                 variant: str | None = None) -> None:
        super().__init__(Path(label), label)
        self.kind = kind
        self.variant = variant
        self.refs: list[str] = []
        self._rows: list[dict[str, str]] = []
        columns: dict[str, None] = {}
        for ref, values in records:
            row = {norm_column(k): _text(v) for k, v in values.items()}
            columns.update(dict.fromkeys(row))
            self.refs.append(ref)
            self._rows.append(row)
        self.columns = list(columns)
        self.header = list(columns)
        self.rows_estimate = len(self._rows)

    def open_header(self) -> list[RowError]:
        return []

    def rows(self, errors: list[RowError]) -> Iterator[tuple[int, dict[str, str]]]:
        for line, row in enumerate(self._rows, start=1):
            yield line, dict(row)

    def ref(self, line: int) -> str:
        return self.refs[line - 1] if 1 <= line <= len(self.refs) else ""

    def describe(self, error: RowError) -> str:
        """``SOURCE COLLECTION REF: reason`` for an error in one of these records."""
        ref = self.ref(error.line)
        return f"{self.label} {ref}: {error.reason}" if ref else f"{self.label}: {error.reason}"
