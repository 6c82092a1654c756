"""Facts confirmed in govbot that an import must leave as they are.

A :class:`Hold` names one row of the store and the columns govbot holds (none named: the whole row).
After the importers have worked out what a run would change, every held column goes back to its
stored value and a held row is not removed; the report counts each row kept that way as *held*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from governance_store.importers.context import Run


@dataclass(frozen=True)
class Hold:
    table: str
    row_id: int
    columns: frozenset[str] = field(default_factory=frozenset)
    reason: str = ""


def apply_holds(run: Run, holds: Iterable[Hold]) -> dict[str, int]:
    """Undo what the run would change in held rows; returns how many rows each table kept."""
    held: Counter[str] = Counter()
    for hold in holds:
        state = run.tables.get(hold.table)
        rec = state.rows.get(hold.row_id) if state is not None else None
        if state is None or rec is None or rec._orig is None:
            continue
        kept = False
        if rec._removed:
            rec._removed = False
            kept = True
        for column in hold.columns or state.cols:
            if column not in state.cols:
                continue
            stored = rec._orig[state.cols.index(column)]
            if getattr(rec, column) != stored:
                setattr(rec, column, stored)
                kept = True
        if kept:
            held[hold.table] += 1
    return dict(held)
