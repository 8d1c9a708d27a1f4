"""Metrics for the click model and for rankings, each with a known-answer test.

Probability metrics take ``(y_true, y_prob)``. Ranking metrics work on
logged data: for each held-out client we know one placed therapist and
whether it clicked; other therapists' outcomes are unknown.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score


def expected_calibration_error(y_true, y_prob, n_bins: int = 10) -> float:
    """Mean |observed rate - mean predicted| over equal-width bins, weighted by bin size."""
    y_true = np.asarray(y_true, dtype=float)
    y_prob = np.asarray(y_prob, dtype=float)
    bins = np.minimum((y_prob * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        members = bins == b
        error += members.mean() * abs(y_true[members].mean() - y_prob[members].mean())
    return float(error)


def calibration_curve(y_true, y_prob, n_bins: int = 10) -> list[dict[str, float]]:
    """Per non-empty bin: mean predicted, observed rate, count (for plots and the card)."""
    y_true = np.asarray(y_true, dtype=float)
    y_prob = np.asarray(y_prob, dtype=float)
    bins = np.minimum((y_prob * n_bins).astype(int), n_bins - 1)
    return [
        {
            "predicted": float(y_prob[bins == b].mean()),
            "observed": float(y_true[bins == b].mean()),
            "count": int((bins == b).sum()),
        }
        for b in np.unique(bins)
    ]


def probability_metrics(y_true, y_prob) -> dict[str, float]:
    """ROC AUC, Brier score, log loss and ECE of predicted click probabilities."""
    y_true = np.asarray(y_true, dtype=int)
    y_prob = np.clip(np.asarray(y_prob, dtype=float), 1e-6, 1 - 1e-6)
    both = len(np.unique(y_true)) == 2
    return {
        "roc_auc": float(roc_auc_score(y_true, y_prob)) if both else float("nan"),
        "brier": float(brier_score_loss(y_true, y_prob)),
        "log_loss": float(log_loss(y_true, y_prob, labels=[0, 1])),
        "ece": expected_calibration_error(y_true, y_prob),
    }


def ndcg_at_k(placed_rank: np.ndarray, clicked: np.ndarray, k: int = 5) -> float:
    """NDCG@k when each client has one known-relevant item: the placed therapist if it clicked.

    ``placed_rank`` is the 1-based position the scorer gave the placed
    therapist (0 when it was not ranked at all). With one relevant item the
    ideal DCG is 1, so a client's NDCG is ``1 / log2(1 + rank)`` when that
    rank is within ``k`` and it clicked, else 0. Averaged over clients who clicked.
    """
    placed_rank = np.asarray(placed_rank)
    clicked = np.asarray(clicked, dtype=bool)
    if not clicked.any():
        return float("nan")
    rank = placed_rank[clicked]
    gains = np.where((rank >= 1) & (rank <= k), 1.0 / np.log2(1.0 + np.maximum(rank, 1)), 0.0)
    return float(gains.mean())


def top1_click_rate(
    top1_is_placed: np.ndarray, clicked: np.ndarray, propensity: np.ndarray
) -> tuple[float, int]:
    """Estimated click rate of the top-1 suggestion, by self-normalised inverse propensity.

    Only clients whose placed therapist is the scorer's top-1 tell us about
    the top-1's outcome; each counts with weight ``1 / propensity`` (the chance
    the history placed them there). Returns (estimate, number of such clients).
    """
    match = np.asarray(top1_is_placed, dtype=bool)
    weight = 1.0 / np.asarray(propensity, dtype=float)
    clicked = np.asarray(clicked, dtype=float)
    if not match.any():
        return float("nan"), 0
    w = weight[match]
    return float((w * clicked[match]).sum() / w.sum()), int(match.sum())
