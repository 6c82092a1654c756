"""Metrics downloads: every table of the metrics page as one CSV (or one table of it) or an Excel workbook."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.orm import Session

from governance_store.analytics import decision_report
from governance_store.analytics.tables import sheets, slug
from governance_store.changes import CHANGE_MANAGER_ROLE
from governance_store.spreadsheet import csv_sections, csv_text, xlsx_bytes

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
SCOPE_PARAMS = ("site", "from", "to", "tz")


class UnknownTable(LookupError):
    """No metrics table has that name."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name, self.known = name, known

    def __str__(self) -> str:
        return f"{self.name!r} (tables: {', '.join(self.known)})"


def scope_query(request: web.Request) -> str:
    """The page's scope as a query string for its download links."""
    return urlencode([(k, request.query[k]) for k in SCOPE_PARAMS if request.query.get(k)])


def render(kind: str, *, session: Session, tz: str, site: str | None, since: dt.datetime | None,
           until: dt.datetime | None, now: dt.datetime, table: str | None = None,
           change_manager_role: str = CHANGE_MANAGER_ROLE) -> tuple[bytes, str]:
    """(file contents, file name) of the metrics of ``site`` (``None``: all) decided in [since, until), dates in
    ``tz``: every table, or only ``table`` (its name in lower case with ``-`` for spaces, e.g. ``weekly``)."""
    if kind not in CONTENT_TYPES:
        raise ValueError(f"unknown export format {kind!r} (expected csv or xlsx)")
    report = decision_report(session=session, tz=tz, site=site, since=since, until=until,
                             change_manager_role=change_manager_role)
    tables = sheets(report, generated=now)
    stem = f"govbot-metrics-{site or 'all-sites'}-{now.astimezone(ZoneInfo(tz)):%Y-%m-%d}"
    if table:
        chosen = [t for t in tables if slug(t.name) == table]
        if not chosen:
            raise UnknownTable(table, [slug(t.name) for t in tables])
        tables, stem = chosen, f"{stem}-{table}"
    if kind == "xlsx":
        return xlsx_bytes(tables), f"{stem}.xlsx"
    if len(tables) == 1:
        return csv_text(tables[0].header, tables[0].rows).encode("utf-8"), f"{stem}.csv"
    return csv_sections(tables).encode("utf-8"), f"{stem}.csv"
