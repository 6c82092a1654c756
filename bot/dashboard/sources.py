"""``GET /sources``: each live source's last success, lag, records and last error (read-only)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sources.registry import configured_intervals
from governance_store.sources.status import SourceStatus, source_status

if TYPE_CHECKING:
    from bot.bootstrap import Container


def statuses(container: Container) -> list[SourceStatus]:
    with container.unit_of_work() as session:
        return source_status(session=session, configured=configured_intervals(container.settings),
                             now=container.clock())


def lag_text(seconds: float | None) -> str:
    if seconds is None:
        return "never synced"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def mount(app: web.Application, container: Container, render: Any) -> None:
    async def sources_page(request: web.Request) -> web.Response:
        rows = await asyncio.to_thread(statuses, container)
        return render("sources.html", nav="sources", rows=rows, lag_text=lag_text, now=container.clock())

    app.router.add_get("/sources", sources_page)


def gauges(container: Container) -> dict[str, Any]:
    """Per-source gauges for ``/metrics`` (label ``source``)."""
    rows = statuses(container)

    def stamp(row: SourceStatus) -> str:
        return f"{row.last_success_at.timestamp():.0f}" if row.last_success_at else "0"

    return {
        "govbot_source_last_success_timestamp_seconds": (
            "gauge", "When each live source last synced successfully (Unix time; 0: never).",
            {r.source: stamp(r) for r in rows}),
        "govbot_source_lag_seconds": (
            "gauge", "Seconds since each live source last synced successfully (+Inf: never).",
            {r.source: f"{r.lag_seconds:.0f}" if r.lag_seconds is not None else "+Inf" for r in rows}),
        "govbot_source_up": (
            "gauge", "1 when the last sync of the source succeeded, 0 when it failed.",
            {r.source: "0" if r.failing or r.last_success_at is None else "1" for r in rows}),
        "govbot_source_consecutive_failures": (
            "gauge", "Failed sync runs of the source since its last success.", {r.source: str(r.failures) for r in rows}),
        "govbot_source_overdue": (
            "gauge", "1 when the source has not synced for three of its intervals (the lint reports it).",
            {r.source: "1" if r.overdue else "0" for r in rows}),
        "govbot_source_records": (
            "gauge", "Records of the source kept as its last good data.", {r.source: str(r.records) for r in rows}),
    }
