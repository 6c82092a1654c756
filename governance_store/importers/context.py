"""The state of one import run: working tables, errors, notes and value parsers."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from governance_store.importers.csvio import CsvFile
from governance_store.importers.errors import RowError
from governance_store.importers.state import TableState
from governance_store.models import Base, Site
from governance_store.timezones import zone_named

# ServiceNow list exports in display values carry the exporting user's time zone.  It is read from the file
# where the file says it (a zone in a column header or after a value, or its folder's govbot-import.toml),
# else from ``--export-timezone``; without either it is the sites' zone when every site has the same one,
# and otherwise the file is refused: a guess would move every change window and decision time by hours
# without anyone noticing.
ZONE_HINT = ("name the exporting user's zone with --export-timezone ZONE (GOVBOT_EXPORT_TIMEZONE), in the "
             "column header, e.g. 'sys_updated_on (Europe/Warsaw)', or as export_timezone = \"Europe/Warsaw\" in "
             "govbot-import.toml beside the files")

HEX32 = re.compile(r"[0-9a-f]{32}")
PURDUE_LEVELS = ("0", "1", "2", "3", "3.5", "4", "5", "cloud")
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f"}

T = TypeVar("T")


def is_sys_id(value: str) -> bool:
    return bool(value) and HEX32.fullmatch(value) is not None


def fold(value: str) -> str:
    return value.strip().casefold()


def split_list(value: str, sep: str = ";") -> list[str]:
    return [p.strip() for p in value.split(sep) if p.strip()] if value else []


def parse_bool(value: str) -> bool | None:
    v = value.strip().lower()
    if not v:
        return None
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def parse_int(value: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"not a whole number: {value!r}") from None


_LEADING_NUMBER = re.compile(r"^\s*(-?\d+)\s*(?:-\s*\S.*)?$")


def parse_numbered_choice(value: str, low: int, high: int, what: str) -> int | None:
    """``"1 - most critical"``, ``"1 - Critical"`` or ``"1"`` give 1; anything else outside low..high is refused."""
    if not value:
        return None
    m = _LEADING_NUMBER.match(value)
    if not m or not low <= int(m.group(1)) <= high:
        raise ValueError(f"invalid {what} {value!r} (expected {low} to {high})")
    return int(m.group(1))


def parse_datetime(value: str, tz: dt.tzinfo) -> dt.datetime | None:
    """A timestamp in ``tz`` unless it carries its own offset or zone (``2025-03-01 10:00:00 UTC``,
    ``... America/Mexico_City``, ``...+01:00``); returned as aware UTC."""
    if not value:
        return None
    text, _, last = value.strip().rpartition(" ")
    zone = zone_named(last) if text and not last[:1].isdigit() else None
    if zone is not None:
        value = text
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date and time: {value!r}") from None
    if parsed.tzinfo is None:
        if zone is None and isinstance(tz, UnplacedZone):
            tz.report()
        parsed = parsed.replace(tzinfo=zone or tz)
    return parsed.astimezone(dt.UTC)


class UnplacedZone(dt.tzinfo):
    """The zone of a display-value export that nothing names and the sites cannot settle.  The first time
    that needs it (one without a zone of its own) makes the file an import error, once, on its header line;
    meanwhile times read as UTC, so the rest of the file is still checked."""

    def __init__(self, run: Run, f: CsvFile, column: str, why: str) -> None:
        self.run, self.file, self.column, self.why = run, f, column, why

    def report(self) -> None:
        said: set[str] = self.run.cache.setdefault("export_zone_said", set())
        if self.file.label not in said:
            said.add(self.file.label)
            self.run.errors.append(RowError(self.file.label, 1, f"{self.column}: display-value times without a "
                                                                f"time zone, and {self.why}; {ZONE_HINT}"))

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def dst(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, when: dt.datetime | None) -> str:
        return "unknown"


def parse_date(value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None


def parse_purdue(value: str) -> str | None:
    if not value:
        return None
    v = value.strip().lower()
    if v.endswith(".0"):
        v = v[:-2]
    if v not in PURDUE_LEVELS:
        raise ValueError(f"invalid Purdue level {value!r} (expected one of {', '.join(PURDUE_LEVELS)})")
    return v


def domain_for(purdue: str | None) -> str | None:
    if purdue is None:
        return None
    if purdue == "cloud":
        return "cloud"
    return "IT" if purdue in ("4", "5") else "OT"


def check_timezone(value: str) -> str | None:
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


class Row:
    """One data row being imported: its values, its location, and its problems."""

    __slots__ = ("run", "file", "line", "values", "bad")

    def __init__(self, run: Run, file: CsvFile, line: int, values: dict[str, str]) -> None:
        self.run = run
        self.file = file
        self.line = line
        self.values = values
        self.bad = False

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")

    @property
    def where(self) -> tuple[str, int]:
        return (self.file.label, self.line)

    def fail(self, reason: str) -> None:
        self.bad = True
        self.run.errors.append(RowError(self.file.label, self.line, reason))

    def parse(self, fn: Callable[..., T], column: str, *args: Any) -> T | None:
        try:
            return fn(self[column], *args)
        except ValueError as exc:
            self.fail(f"{column}: {exc}")
            return None

    def required(self, column: str) -> str:
        value = self[column]
        if not value:
            self.fail(f"{column} is empty")
        return value


class Run:
    """Everything one ``import_paths`` call works on."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.errors: list[RowError] = []
        self.notes: list[str] = []
        self._tables: dict[str, TableState] = {}
        self.interned: dict[str, str] = {}
        self._tallies: Counter[tuple[str, str]] = Counter()
        self.cache: dict[str, Any] = {}
        self.files: list[CsvFile] = []
        self.progress: Callable[[str, int, int], None] | None = None
        self.rows_total = 0
        self.rows_done = 0
        # The time zone of display-value exports when the file does not say (``--export-timezone``).
        self.export_timezone: str | None = None

    def display_tz(self, f: CsvFile, column: str) -> dt.tzinfo:
        """The zone of a display-value export's times in ``column``: what the file or its folder says, else
        the import option, else the one zone all sites share (noted in the report).  When the sites are in
        several zones, or none is known, an :class:`UnplacedZone`: the file is refused if any of its times
        needs it (times that carry their own zone or offset do not)."""
        declared = f.zones.get(column)
        if declared is not None:
            return declared
        if f.export_timezone:
            return ZoneInfo(f.export_timezone)
        if self.export_timezone:
            return ZoneInfo(self.export_timezone)
        zones = sorted({rec.timezone for rec in self.table(Site).live() if rec.timezone})
        if len(zones) == 1:
            noted: set[str] = self.cache.setdefault("export_zone_noted", set())
            if f.label not in noted:
                noted.add(f.label)
                self.note(f"{f.label}: display-value times read in {zones[0]}, the time zone of every site; "
                          f"if the export was made elsewhere, {ZONE_HINT}")
            return ZoneInfo(zones[0])
        why = (f"the sites are in {len(zones)} time zones ({', '.join(zones)})" if zones
               else "no site in the store or in this import says its time zone")
        return UnplacedZone(self, f, column, why)

    def progress_rows(self, f: CsvFile, n: int) -> None:
        """``n`` more rows of ``f`` are read (for the progress display)."""
        self.rows_done += n
        if self.progress is not None and n:
            self.progress(f"reading {f.path.name}", min(self.rows_done, self.rows_total), self.rows_total)

    # ------------------------------------------------------------------ tables

    def table(self, model: type[Base]) -> TableState:
        name = model.__tablename__
        state = self._tables.get(name)
        if state is None:
            state = TableState(self.session, model)
            state.load()
            self._tables[name] = state
        return state

    @property
    def tables(self) -> dict[str, TableState]:
        return self._tables

    def loaded(self, model: type[Base]) -> bool:
        return model.__tablename__ in self._tables

    # ------------------------------------------------------------------ messages

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def tally(self, template: str, key: str) -> None:
        """Count one occurrence of a repeated remark; ``template`` gets ``{key}`` and ``{n}``."""
        self._tallies[(template, key)] += 1

    def flush_tallies(self) -> None:
        for (template, key), n in self._tallies.items():
            self.note(template.format(key=key, n=n, s="" if n == 1 else "s"))
        self._tallies.clear()

    def intern(self, value: str | None) -> str | None:
        if not value:
            return value or None
        return self.interned.setdefault(value, value)

    def files_of(self, *kinds: str) -> list[CsvFile]:
        return [f for f in self.files if f.kind in kinds]
