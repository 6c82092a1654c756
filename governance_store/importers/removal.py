"""Removing what a full export no longer contains, conservatively.

Only rows that came from the same source are candidates, and an export that
would remove more than half of that source's rows (and more than a handful)
is treated as partial: nothing is removed and a note says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from governance_store.importers.context import Run

MIN_GUARDED = 10
MAX_SHARE = 0.5


def remove_missing(run: Run, label: str, what: str, gone: list[Any], in_scope: int,
                   remove: Callable[[Any], None]) -> bool:
    if not gone:
        return True
    if len(gone) > MIN_GUARDED and len(gone) > MAX_SHARE * in_scope:
        run.note(
            f"{label}: would remove {len(gone)} of {in_scope} {what} no longer in the export; "
            "that looks like a partial export, so nothing was removed"
        )
        return False
    for rec in gone:
        remove(rec)
    return True
