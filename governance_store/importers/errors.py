"""What an import reports back: row errors, the failure, and the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from governance_store.importers.precedence import KeptFact

COUNT_KEYS = ("added", "changed", "removed", "unchanged")


@dataclass(frozen=True, order=True)
class RowError:
    """One problem in one input file.  ``str()`` gives ``FILE:LINE: reason``.

    Line 1 is the header; data rows start at line 2.  Line 0 means the file as
    a whole (missing, unreadable).
    """

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class ImportFailed(Exception):
    """The input did not validate; nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = list(errors)
        shown = "\n".join(str(e) for e in self.errors[:20])
        more = f"\n... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(f"{len(self.errors)} error(s); nothing imported\n{shown}{more}")


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False
    # Rows per table the import left as they were because govbot holds a confirmed fact about them.
    held: dict[str, int] = field(default_factory=dict)
    # Facts confirmed in govbot that the files disagreed with, and that the import kept.
    kept: list[KeptFact] = field(default_factory=list)

    def count(self, kind: str, what: str) -> int:
        return self.counts.get(kind, {}).get(what, 0)

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(COUNT_KEYS, 0)
        for per_kind in self.counts.values():
            for key in COUNT_KEYS:
                out[key] += per_kind.get(key, 0)
        return out

    @property
    def changed_anything(self) -> bool:
        t = self.totals()
        return bool(t["added"] or t["changed"] or t["removed"])
