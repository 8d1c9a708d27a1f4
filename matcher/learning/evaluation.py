"""Metrics for the click model and for rankings, each with a known-answer test.

Probability metrics take ``(y_true, y_prob)``. Ranking metrics work on
logged data: for each held-out client we know one placed therapist and
whether it clicked; other therapists' outcomes are unknown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..ranking.features import CLICK_FEATURES, pair_features_by_client, pair_features_for_pairs
from ..ranking.filters import constraint_masks_many, eligible
from ..ranking.rank import track_record_of
from ..ranking.scoring import Scorer
from .datasets import PROPENSITY_FLOOR, TrainingSet
from .off_policy import LoggedOutcomes

#: Rankings are judged on their top ``RANKING_K`` suggestions.
RANKING_K = 5


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


Ranked = tuple[np.ndarray, np.ndarray, np.ndarray]


def evaluate(
    ts: TrainingSet,
    scorer: Scorer | None,
    mask: np.ndarray,
    seed: int = 0,
    ranked: Ranked | None = None,
) -> dict:
    """Held-out metrics of one scorer (None = random ranking) on the pairs in ``mask``.

    Probability metrics compare P(click) (or the scorer's score) with labels;
    ranking metrics rank every eligible therapist for each held-out client and
    look at where the placed therapist landed. ``ranked`` is that ranking when
    already computed (:func:`placed_ranks` with the same pairs and seed).
    """
    pairs = np.flatnonzero(mask)
    track = track_record_of(scorer)
    if scorer is None:
        probability = np.full(len(pairs), ts.labels[~mask].mean() if (~mask).any() else 0.5)
    else:
        features = pair_features_for_pairs(
            ts.clients, ts.client_index[pairs], ts.roster, ts.rows[pairs], track
        )
        probability = scorer.click_probability(features)
    metrics = probability_metrics(ts.labels[pairs], probability)
    if ranked is None:
        ranked = placed_ranks(ts, scorer, pairs, np.random.default_rng(seed))
    placed_rank, n_eligible, _ = ranked
    top1 = placed_rank == 1
    logged = ts.propensity[pairs]
    propensity = np.where(np.isnan(logged), 1.0 / n_eligible, logged)
    rate, support = top1_click_rate(top1, ts.labels[pairs], propensity)
    metrics.update(
        {
            f"ndcg_at_{RANKING_K}": ndcg_at_k(placed_rank, ts.labels[pairs], RANKING_K),
            "top1_click_rate": rate,
            "top1_support": support,
        }
    )
    return metrics


#: Held-out placements ranked at once in :func:`placed_ranks` (bounds memory).
RANKING_CHUNK = 1024


def placed_ranks(
    ts: TrainingSet,
    scorer: Scorer | None,
    pairs: np.ndarray,
    rng: np.random.Generator,
    k: int = RANKING_K,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each placement's therapist lands when its client's eligible therapists are
    ranked (1 = first), how many were ranked, and the roster rows of the top ``k``
    ((len(pairs), k) int, -1 where fewer were ranked).

    Equivalent to, for each pair in order: rank the client's eligible therapists
    (plus the placed one, last, when it is not eligible today) by score with ties
    in that order; ``scorer=None`` ranks by ``rng.random`` draws in that order. All
    pairs of a chunk of clients are filtered, featurised and scored in one call each.
    """
    track = track_record_of(scorer)
    ranks = np.zeros(len(pairs), dtype=int)
    sizes = np.zeros(len(pairs), dtype=int)
    top = np.full((len(pairs), k), -1, dtype=int)
    for start in range(0, len(pairs), RANKING_CHUNK):
        chunk = pairs[start : start + RANKING_CHUNK]
        clients = [ts.clients[i] for i in ts.client_index[chunk]]
        ok = eligible(constraint_masks_many([c.record for c in clients], ts.roster))
        local = np.arange(len(chunk))
        placed = ts.rows[chunk]
        late = ~ok[local, placed]  # placed outside today's constraints: ranked last among ties
        owner, rows = np.nonzero(ok)
        owner = np.concatenate([owner, local[late]])
        rows = np.concatenate([rows, placed[late]])
        after = np.concatenate([np.zeros(len(rows) - late.sum(), bool), np.ones(late.sum(), bool)])
        order = np.lexsort((after, owner))
        owner, rows = owner[order], rows[order]
        if scorer is None:
            scores = rng.random(len(rows))
        else:
            features = pair_features_by_client(clients, owner, ts.roster, rows, track)
            scores = scorer.score(features)
        count = np.bincount(owner, minlength=len(chunk))
        first = np.concatenate([[0], np.cumsum(count)[:-1]])
        position = np.arange(len(rows)) - first[owner]
        is_placed = rows == placed[owner]  # exactly one entry per client
        where = np.zeros(len(chunk), dtype=int)
        where[owner[is_placed]] = np.flatnonzero(is_placed)
        mine = scores[where][owner]
        ahead = (scores > mine) | ((scores == mine) & (position < position[where][owner]))
        ranks[start : start + len(chunk)] = 1 + np.bincount(owner, ahead, len(chunk)).astype(int)
        sizes[start : start + len(chunk)] = count
        best = np.lexsort((position, -scores, owner))  # per client: score down, ties in order
        place = np.arange(len(rows)) - first[owner[best]]
        kept = place < k
        top[start + owner[best][kept], place[kept]] = rows[best][kept]
    return ranks, sizes, top


class RewardModel:
    """A plain logistic model of P(click | pair features) fitted on training rows only.

    The doubly robust estimate needs one reward model shared by every policy it
    compares; it sees the pair features without the track-record columns, so
    it is not any contender's own model.
    """

    FEATURES = tuple(name for name in CLICK_FEATURES if name != "alliance_history")

    def __init__(self, ts: TrainingSet, train_mask: np.ndarray):
        X = ts.features.loc[train_mask, list(self.FEATURES)]
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        self.model.fit(
            X, ts.labels[train_mask], logisticregression__sample_weight=ts.weights(train_mask)
        )

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(features[list(self.FEATURES)])[:, 1]


def logged_outcomes(
    ts: TrainingSet,
    scorer: Scorer | None,
    mask: np.ndarray,
    reward_model: RewardModel,
    *,
    k: int = RANKING_K,
    seed: int = 0,
    ranked: Ranked | None = None,
) -> LoggedOutcomes:
    """The held-out log as seen by "start with one of this scorer's top ``k``, each
    equally likely" (``scorer=None``: a random order). Uses every logged placement:
    those outside the top ``k`` carry weight 0 but still count in IPS and DR.

    Propensities are the logged ones where known, else ``1 / eligible``. ``ranked`` is
    the scorer's ranking when already computed (:func:`placed_ranks`, same pairs, seed, k).
    """
    pairs = np.flatnonzero(mask)
    if ranked is None:
        ranked = placed_ranks(ts, scorer, pairs, np.random.default_rng(seed), k)
    placed_rank, n_candidates, top = ranked
    shown = np.minimum(n_candidates, k)
    target = np.where(placed_rank <= k, 1.0 / np.maximum(shown, 1), 0.0)
    logged = ts.propensity[pairs]
    propensity = np.where(np.isnan(logged), 1.0 / np.maximum(n_candidates, 1), logged)
    propensity = np.maximum(propensity, PROPENSITY_FLOOR / 10)  # a floor, not a clip of w
    placed_features = pair_features_for_pairs(
        ts.clients, ts.client_index[pairs], ts.roster, ts.rows[pairs]
    )
    owner, slot = np.nonzero(top >= 0)
    clients = [ts.clients[i] for i in ts.client_index[pairs]]
    top_features = pair_features_by_client(clients, owner, ts.roster, top[owner, slot])
    q_top = np.bincount(owner, reward_model.predict(top_features), len(pairs))
    return LoggedOutcomes(
        reward=ts.labels[pairs].astype(float),
        weight=target / propensity,
        q_policy=q_top / np.maximum(shown, 1),
        q_logged=reward_model.predict(placed_features),
        group=ts.client_ids[pairs],
    )
