"""Server-side plots (PNG), drawn with matplotlib's non-interactive backend.

The dashboard's plots return PNG bytes: matplotlib's SVG carries a ``<style>``
block, which the site's Content-Security-Policy (no inline styles) would block.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from ..learning.plots import calibration_png

__all__ = ["calibration_png", "caseload_png", "click_rate_png", "waiting_png"]


#: The site's colours (web/static/style.css): accent teal, soft teal, muted ink.
_ACCENT, _SOFT, _MUTED = "#1d5f6b", "#a9cfd4", "#4a5a63"


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _empty(axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", color=_MUTED, transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def caseload_png(names: Sequence[str], active: Sequence[int], open_places: Sequence[int]) -> bytes:
    """One horizontal bar per therapist: active clients, then open places (together: capacity)."""
    n = len(names)
    figure = Figure(figsize=(6.5, max(2.0, 0.9 + 0.24 * n)), dpi=100)
    axes = figure.subplots()
    if n == 0:
        _empty(axes, "no therapists on the roster")
        return _png(figure)
    rows = list(range(n))
    axes.barh(rows, active, color=_ACCENT, label="active clients")
    axes.barh(rows, open_places, left=active, color=_SOFT, label="open places")
    axes.set_yticks(rows, labels=list(names), fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("clients (bar length = capacity)")
    axes.xaxis.get_major_locator().set_params(integer=True)
    # above the bars, where it can never hide one
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    return _png(figure)


def waiting_png(days: Sequence[float]) -> bytes:
    """Histogram of how long the waiting clients have waited, in days."""
    figure = Figure(figsize=(6.5, 3.0), dpi=100)
    axes = figure.subplots()
    if len(days) == 0:
        _empty(axes, "nobody is waiting")
        return _png(figure)
    axes.hist(days, bins=min(20, max(5, len(days))), color=_ACCENT, edgecolor="white")
    axes.set_xlabel("days waiting so far")
    axes.set_ylabel("clients")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def click_rate_png(months: Sequence[str], rates: Sequence[float], counts: Sequence[int]) -> bytes:
    """Click rate (0..1) per placement month, each bar labelled with its number of placements."""
    figure = Figure(figsize=(6.5, 3.0), dpi=100)
    axes = figure.subplots()
    if len(months) == 0:
        _empty(axes, "no placements with early feedback yet")
        return _png(figure)
    positions = list(range(len(months)))
    bars = axes.bar(positions, rates, width=0.6, color=_ACCENT)
    axes.bar_label(bars, labels=[f"n={n}" for n in counts], fontsize=8, color=_MUTED)
    axes.set_xticks(positions, labels=list(months), rotation=45, ha="right", fontsize=8)
    axes.set_xlim(-0.75, max(len(months), 6) - 0.25)  # a lone month is not one huge bar
    axes.set_ylim(0, 1.1)
    axes.set_ylabel("share that clicked")
    return _png(figure)
