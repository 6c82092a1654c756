"""Reading CSV exports: UTF-8 with or without BOM, exact line numbers, strict rows."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

from governance_store.importers.errors import RowError
from governance_store.timezones import zone_named

SAMPLE_ROWS = 200
_NORM = re.compile(r"[\s\-]+")
_ZONE_SUFFIX = re.compile(r"^(?P<name>.*?)\s*[(\[]\s*(?P<zone>[^()\[\]]+?)\s*[)\]]\s*$")
# Control characters no export contains in a value (tab, line feed and carriage return may, in quoted fields).
# PostgreSQL refuses NUL in text, and the others hide text from people reading the value.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_character(values: list[str]) -> str | None:
    """A reason naming the first control character in ``values`` (with its column number), else ``None``."""
    for column, value in enumerate(values, start=1):
        m = _CONTROL.search(value)
        if m is not None:
            char = m.group()
            what = "a NUL byte" if char == "\x00" else f"control character U+{ord(char):04X}"
            return f"{what} in column {column}: remove it from the export"
    return None


def norm_column(name: str) -> str:
    """Header names compare case-insensitively, with spaces and hyphens as ``_``."""
    return _NORM.sub("_", name.strip().lower().lstrip("\ufeff"))


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def first_undecodable(path: Path) -> tuple[int, int, int]:
    """(line, column, byte) of the first byte that is not valid UTF-8.

    A multi-byte UTF-8 sequence never contains a newline byte, so decoding line
    by line finds the same position as decoding the whole file.
    """
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return lineno, exc.start + 1, raw[exc.start]
    return 1, 1, 0


class CsvFile:
    """One input file: its header, a content sample, and a row iterator."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.header: list[str] = []
        self.columns: list[str] = []
        self.sample: list[dict[str, str]] = []
        self.kind: str | None = None
        self.variant: str | None = None
        self.rows_estimate = 0
        # Time zones the header names for columns ("sys_updated_on (Europe/Warsaw)").
        self.zones: dict[str, dt.tzinfo] = {}
        # The exporting user's zone as the file's folder says it (``govbot-import.toml``).
        self.export_timezone: str | None = None

    def error(self, line: int, reason: str) -> RowError:
        return RowError(self.label, line, reason)

    def open_header(self) -> list[RowError]:
        """Read the header and a sample of rows; problems come back as errors."""
        seen: list[RowError] = []
        try:
            for i, (_line, row) in enumerate(self._iter(seen, with_sample=True)):
                self.sample.append(row)
                if i + 1 >= SAMPLE_ROWS:
                    break
        except OSError as exc:
            return [self.error(0, f"cannot read file: {exc.strerror or exc}")]
        # Row-level problems are reported by the full pass; only a broken header
        # or broken encoding stops the file here.
        errors = [e for e in seen if e.line <= 1 or e.reason.startswith("not valid UTF-8")]
        if not errors and not self.header:
            errors.append(self.error(1, "empty file: no header row"))
        if self.header:
            self.rows_estimate = max(0, count_lines(self.path) - 1)
        return errors

    def _zone_of(self, heading: str) -> str:
        """A heading without a trailing time zone in brackets; the zone is remembered for the column."""
        m = _ZONE_SUFFIX.match(heading)
        zone = zone_named(m["zone"]) if m else None
        if m is None or zone is None:
            return heading
        self.zones[norm_column(m["name"])] = zone
        return m["name"]

    def rows(self, errors: list[RowError]) -> Iterator[tuple[int, dict[str, str]]]:
        """Data rows as (line where the record starts, {normalised column: stripped value})."""
        yield from self._iter(errors, with_sample=False)

    def _iter(self, errors: list[RowError], *, with_sample: bool) -> Iterator[tuple[int, dict[str, str]]]:
        try:
            with open(self.path, encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh, strict=True)
                try:
                    header = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    errors.append(self.error(1, f"malformed header: {exc}"))
                    return
                problem = control_character(header)
                if problem is not None:
                    errors.append(self.error(1, f"malformed header: {problem}"))
                    return
                if with_sample:
                    self.header = [self._zone_of(h.strip().lstrip("\ufeff")) for h in header]
                    self.columns = [norm_column(h) for h in self.header]
                columns = self.columns
                width = len(columns)
                last = reader.line_num
                while True:
                    start = last + 1
                    try:
                        row = next(reader)
                    except StopIteration:
                        return
                    except csv.Error as exc:
                        errors.append(self.error(start, f"malformed CSV row: {exc}"))
                        last = reader.line_num
                        continue
                    last = reader.line_num
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    if len(row) != width:
                        errors.append(
                            self.error(start, f"malformed CSV row: expected {width} fields, found {len(row)}")
                        )
                        continue
                    if _CONTROL.search("".join(row)):
                        errors.append(self.error(start, control_character(row) or "control character"))
                        continue
                    yield start, dict(zip(columns, map(str.strip, row), strict=True))
        except UnicodeDecodeError:
            line, col, byte = first_undecodable(self.path)
            errors.append(self.error(line, f"not valid UTF-8: byte 0x{byte:02x} at column {col}"))
