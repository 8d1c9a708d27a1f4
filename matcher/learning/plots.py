"""The held-out calibration plot saved with every model version (PNG)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402


def calibration_plot(
    curve: list[dict[str, float]], path: Path | str | BinaryIO, title: str
) -> None:
    """Predicted vs observed click rate per bin; the diagonal is perfect calibration."""
    # A Figure, not pyplot: no global state, so it is safe in a threaded web server.
    figure = Figure(figsize=(4.5, 4.5), dpi=100)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle="--", color="#888", label="perfectly calibrated")
    axes.plot(
        [b["predicted"] for b in curve],
        [b["observed"] for b in curve],
        marker="o",
        color="#1f5f8b",
        label="model",
    )
    axes.set_xlabel("predicted probability of a good early relationship")
    axes.set_ylabel("observed rate (held-out clients)")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title(title, fontsize=10)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def calibration_png(curve: list[dict[str, float]], title: str) -> bytes:
    """:func:`calibration_plot` as PNG bytes."""
    buffer = io.BytesIO()
    calibration_plot(curve, buffer, title)
    return buffer.getvalue()
