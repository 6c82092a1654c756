"""Medians, percentiles and the change between two of them."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th quantile (0..1) as an observed value: the one at rank floor((n - 1) * q) in order.

    It never interpolates between two decisions, so "p90 7.9 days" is how long one real decision took,
    and at least nine in ten of the others took no longer."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[math.floor((len(ordered) - 1) * q)]


def median(values: Iterable[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count)."""
    ordered = sorted(values)
    return statistics.median(ordered) if ordered else None


def change_pct(now: float | None, baseline: float | None) -> float | None:
    """``now`` against ``baseline`` in percent (negative: lower, i.e. faster)."""
    if now is None or baseline is None or baseline <= 0:
        return None
    return (now - baseline) / baseline * 100


@dataclass(frozen=True)
class Summary:
    """Count, median and 90th percentile of a set of durations, in calendar hours and in business days."""

    n: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None
    median_bdays: float | None = None
    p90_bdays: float | None = None

    @classmethod
    def of(cls, pairs: Iterable[tuple[float | None, float | None]]) -> Summary:
        hours: list[float] = []
        bdays: list[float] = []
        for h, b in pairs:
            if h is None:
                continue
            hours.append(h)
            if b is not None:
                bdays.append(b)
        return cls(len(hours), median(hours), percentile(hours, 0.9), median(bdays), percentile(bdays, 0.9))

    def median(self, *, business: bool) -> float | None:
        return self.median_bdays if business else self.median_hours

    def p90(self, *, business: bool) -> float | None:
        return self.p90_bdays if business else self.p90_hours
