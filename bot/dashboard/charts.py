"""Charts for the dashboard, drawn on the server with matplotlib (Agg, SVG) and embedded in the page.

No JavaScript and no network: each chart is an ``<img>`` with an SVG data URI and a text alternative, and
the page puts its data table right under it.  Figures are built with matplotlib's object API (no pyplot
state), so requests can draw in parallel threads.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams.update({
    "svg.fonttype": "none",  # text stays text: small, sharp, searchable
    "svg.hashsalt": "govbot",  # the same chart gives the same SVG
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
})

from matplotlib.figure import Figure  # noqa: E402 - after choosing the backend

ACCENT = "#1f5fbf"
SECOND = "#b54708"
GOVBOT = "#067647"
MUTED = "#98a2b3"
WIDTH, HEIGHT = 7.2, 2.6  # inches at 100 dpi


@dataclass(frozen=True)
class Chart:
    alt: str
    svg: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg).decode("ascii")


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]
    color: str = ACCENT
    style: str = "-"  # matplotlib line style; "bar" draws bars
    marker: str | None = None


def _render(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


def _ticks(labels: Sequence[str], most: int = 6) -> list[int]:
    if len(labels) <= most:
        return list(range(len(labels)))
    step = -(-len(labels) // most)
    return list(range(0, len(labels), step))


def line_chart(*, alt: str, labels: Sequence[str], series: Sequence[Series], unit: str,
               reference: tuple[str, float] | None = None, y_max: float | None = None) -> Chart:
    """One line (or bar) per series over the labels (weeks); gaps where a value is missing."""
    fig = Figure(figsize=(WIDTH, HEIGHT), dpi=100)
    ax = fig.add_subplot()
    xs = list(range(len(labels)))
    drawn = False
    for s in series:
        points = [(x, v) for x, v in zip(xs, s.values, strict=True) if v is not None]
        if not points:
            continue
        drawn = True
        if s.style == "bar":
            bars = [b for b in series if b.style == "bar"]
            width = 0.8 / len(bars)
            shift = (bars.index(s) - (len(bars) - 1) / 2) * width
            ax.bar([x + shift for x, _ in points], [v for _, v in points], color=s.color, label=s.label, width=width)
        else:
            # Break the line where weeks have no value rather than bridging them.
            run_x: list[int] = []
            run_y: list[float] = []
            first = True
            for x, v in zip(xs, s.values, strict=True):
                if v is None:
                    if run_x:
                        ax.plot(run_x, run_y, s.style, color=s.color, marker=s.marker, markersize=3,
                                linewidth=1.6, label=s.label if first else None)
                        first = False
                    run_x, run_y = [], []
                    continue
                run_x.append(x)
                run_y.append(v)
            if run_x:
                ax.plot(run_x, run_y, s.style, color=s.color, marker=s.marker, markersize=3, linewidth=1.6,
                        label=s.label if first else None)
    if reference is not None:
        ax.axhline(reference[1], color=MUTED, linestyle="--", linewidth=1.2, label=reference[0])
    if not drawn:
        ax.text(0.5, 0.5, "no data yet", transform=ax.transAxes, ha="center", va="center", color=MUTED)
    ticks = _ticks(labels)
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=0)
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0, top=y_max)
    ax.grid(axis="y", color="#e4e7ec", linewidth=0.8)
    if drawn or reference is not None:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False, fontsize=8, ncols=5)
    return Chart(alt, _render(fig))
