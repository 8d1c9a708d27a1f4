"""Server-side plots (PNG), drawn with matplotlib's non-interactive backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def calibration_plot(curve: list[dict[str, float]], path: Path | str, title: str) -> None:
    """Predicted vs observed click rate per bin; the diagonal is perfect calibration."""
    figure, axes = plt.subplots(figsize=(4.5, 4.5), dpi=100)
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
    plt.close(figure)
