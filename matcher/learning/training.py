"""Fitting a learned scorer: candidate selection, the fit, and registration.

The data come from :mod:`matcher.learning.datasets`; held-out metrics from
:mod:`matcher.learning.evaluation`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from tqdm.auto import tqdm

from ..errors import MatcherError, ModelArtifactError
from ..ranking.features import CLICK_FEATURES, FEATURE_NAMES
from ..ranking.scoring import PriorScorer
from . import registry
from .datasets import PROPENSITY_FLOOR, TrainingSet
from .evaluation import calibration_curve, evaluate
from .model import (
    TRACK_RECORD_WEIGHT,
    ClickModel,
    LearnedScorer,
    TrackRecord,
    boosted_candidate,
    logistic_candidate,
)
from .plots import calibration_plot

log = logging.getLogger(__name__)

#: Fewer labelled pairs than this cannot support a learned model; the prior stays.
MIN_TRAINING_PAIRS = 50


CANDIDATES = {"logistic": logistic_candidate, "boosted": boosted_candidate}


def _candidate(name: str, seed: int):
    return CANDIDATES[name]() if name == "logistic" else CANDIDATES[name](seed)


def fit_track_record(ts: TrainingSet, rows: np.ndarray) -> TrackRecord:
    """Therapists' improvement and alliance records from the outcome rows given."""
    return TrackRecord().fit(
        ts.therapist_ids[rows], ts.concerns(rows), ts.improvement[rows], ts.labels[rows]
    )


def features_with_history(ts: TrainingSet, train_mask: np.ndarray) -> pd.DataFrame:
    """Pair features with the track-record columns filled without leaking labels.

    A training row's history comes from the other folds' clients (grouped
    folds), never from its own outcome; a held-out row's history comes from
    all training rows, as it would at ranking time.
    """
    features = ts.features.copy()
    train_rows = np.flatnonzero(train_mask)
    groups = ts.client_ids[train_rows]
    n_splits = min(5, len(np.unique(groups)))
    for fit_part, apply_part in GroupKFold(n_splits).split(train_rows, groups=groups):
        record = fit_track_record(ts, train_rows[fit_part])
        _fill_history(features, ts, record, train_rows[apply_part])
    _fill_history(features, ts, fit_track_record(ts, train_rows), np.flatnonzero(~train_mask))
    return features


def _fill_history(
    features: pd.DataFrame, ts: TrainingSet, record: TrackRecord, rows: np.ndarray
) -> None:
    ids = ts.therapist_ids[rows]
    effect = record.expected_for_pairs(ids, ts.concerns(rows))
    features.loc[rows, "effectiveness"] = effect.astype(np.float32)
    features.loc[rows, "alliance_history"] = record.alliance(ids).astype(np.float32)


def select_candidate(
    ts: TrainingSet, features: pd.DataFrame, mask: np.ndarray, seed: int = 0
) -> tuple[str, dict]:
    """Pick the candidate with the best client-grouped cross-validated ROC AUC."""
    X, y = features.loc[mask, list(CLICK_FEATURES)], ts.labels[mask]
    groups, weights = ts.client_ids[mask], ts.weights(mask)
    n_splits = min(5, len(np.unique(groups)))
    scores: dict[str, float] = {}
    for name in CANDIDATES:
        aucs = []
        for train, test in GroupKFold(n_splits).split(X, y, groups):
            if len(np.unique(y[test])) < 2:
                continue
            model = _candidate(name, seed)
            last = model.steps[-1][0]
            model.fit(X.iloc[train], y[train], **{f"{last}__sample_weight": weights[train]})
            aucs.append(roc_auc_score(y[test], model.predict_proba(X.iloc[test])[:, 1]))
        scores[name] = float(np.mean(aucs)) if aucs else float("nan")
    best = max(scores, key=lambda n: -np.inf if np.isnan(scores[n]) else scores[n])
    return best, scores


def fit_scorer(
    ts: TrainingSet,
    features: pd.DataFrame,
    mask: np.ndarray,
    candidate: str,
    *,
    track_record_weight: float = TRACK_RECORD_WEIGHT,
    seed: int = 0,
) -> LearnedScorer:
    """Fit the click model and the track record on the rows in ``mask``.

    Without enough improvement scores the track record keeps only the
    alliance history, and the final score is P(click) alone.
    """
    click = ClickModel(_candidate(candidate, seed)).fit(
        features[mask], ts.labels[mask], sample_weight=ts.weights(mask), groups=ts.client_ids[mask]
    )
    record = fit_track_record(ts, np.flatnonzero(mask))
    enough = (mask & ~np.isnan(ts.improvement)).sum() >= MIN_TRAINING_PAIRS
    return LearnedScorer(click, record, track_record_weight if enough else 0.0)


@dataclass
class TrainingResult:
    scorer: LearnedScorer
    card: dict[str, Any]
    holdout_probability: np.ndarray
    holdout_labels: np.ndarray


def train(
    ts: TrainingSet,
    *,
    track_record_weight: float = TRACK_RECORD_WEIGHT,
    seed: int = 0,
    embedding_model: str = "",
    progress: bool = False,
) -> TrainingResult:
    """Select, fit and evaluate a learned scorer; the card records everything.

    Raises
    ------
    MatcherError
        When there are too few outcomes, or only one kind of label, to learn from.
    """
    train_mask, test_mask = ~ts.holdout, ts.holdout
    if train_mask.sum() < MIN_TRAINING_PAIRS or test_mask.sum() < 10:
        raise MatcherError(
            f"need at least {MIN_TRAINING_PAIRS} training and 10 held-out outcomes, got "
            f"{int(train_mask.sum())} and {int(test_mask.sum())}; the prior scorer stays"
        )
    if len(np.unique(ts.labels[train_mask])) < 2:
        raise MatcherError("every outcome has the same label; nothing to learn from")
    with tqdm(total=4, desc="fitting", disable=not progress) as bar:
        features = features_with_history(ts, train_mask)
        candidate, cv_auc = select_candidate(ts, features, train_mask, seed)
        bar.update(1)
        scorer = fit_scorer(
            ts, features, train_mask, candidate, track_record_weight=track_record_weight, seed=seed
        )
        bar.update(1)
        metrics = {"model": evaluate(ts, scorer, test_mask, seed)}
        bar.update(1)
        metrics["prior"] = evaluate(ts, PriorScorer(), test_mask, seed)
        metrics["random"] = evaluate(ts, None, test_mask, seed)
        bar.update(1)
    probability = scorer.click_probability(features[test_mask])
    card = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "candidate": candidate,
        "cv_roc_auc": cv_auc,
        "calibration_method": scorer.click_model.calibration_method_,
        "label": {
            "rule": "not dropped_out and (alliance missing or alliance >= threshold); "
            "an explicit click column overrides",
            "alliance_threshold": ts.alliance_threshold,
        },
        "data": {
            "therapists": len(ts.roster),
            "clients": len(ts.clients),
            "outcomes": ts.n_outcomes,
            "training_pairs": int(train_mask.sum()),
            "held_out_pairs": int(test_mask.sum()),
            "held_out_clients": int(len(np.unique(ts.client_ids[test_mask]))),
            "label_rate": float(ts.labels.mean()),
        },
        "selection_bias": {
            "propensities_logged": int((~np.isnan(ts.propensity)).sum()),
            "inverse_propensity_weighting": bool((~np.isnan(ts.propensity)).any()),
            "weight_clip": 1.0 / PROPENSITY_FLOOR,
        },
        "track_record": _track_record_card(scorer),
        "metrics": metrics,
        "calibration_curve": calibration_curve(ts.labels[test_mask], probability),
        "features": list(FEATURE_NAMES),
        "embedding_model": embedding_model,
        "environment": registry.environment(),
    }
    return TrainingResult(scorer, card, probability, ts.labels[test_mask])


def _track_record_card(scorer: LearnedScorer) -> dict[str, Any]:
    track = scorer.track_record
    return {
        "improvement_weight": scorer.track_record_weight,
        "improvement_shrinkage_k": float(track.shrinkage_),
        "therapist_concern_cells": int(len(track.effects_)),
        "alliance_shrinkage_k": float(track.alliance_shrinkage_),
        "therapists_with_history": int(len(track.alliance_)),
    }


@dataclass(frozen=True)
class RegisteredModel:
    version: str
    promoted: bool
    reason: str
    card: dict[str, Any]


def train_and_register(
    ts: TrainingSet,
    model_dir,
    *,
    force: bool = False,
    track_record_weight: float = TRACK_RECORD_WEIGHT,
    seed: int = 0,
    embedding_model: str = "",
    progress: bool = False,
) -> RegisteredModel:
    """Train a challenger, save it as a new version, and promote it only if it is better.

    "Better" means a lower log loss of P(click) on the same held-out clients
    as the current champion (or the prior scorer when there is none).
    ``force`` promotes regardless. Saving and promotion are each atomic.
    """
    result = train(
        ts,
        track_record_weight=track_record_weight,
        seed=seed,
        embedding_model=embedding_model,
        progress=progress,
    )
    champion_name, champion_metrics = _champion_metrics(ts, model_dir, result.card, seed)
    challenger = result.card["metrics"]["model"]["log_loss"]
    better = challenger < champion_metrics["log_loss"]
    result.card["champion"] = {"version": champion_name, "metrics": champion_metrics}
    version = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    folder = registry.save_version(model_dir, version, result.scorer, result.card)
    calibration_plot(
        result.card["calibration_curve"],
        folder / "calibration.png",
        f"model {version}: held-out calibration",
    )
    reason = (
        f"held-out log loss {challenger:.4f} vs {champion_name}'s "
        f"{champion_metrics['log_loss']:.4f}"
    )
    if better or force:
        registry.promote(model_dir, version)
    return RegisteredModel(version, better or force, reason, result.card)


def _champion_metrics(ts: TrainingSet, model_dir, card: dict, seed: int) -> tuple[str, dict]:
    try:
        champion = registry.load_current(model_dir)
    except ModelArtifactError as error:
        log.warning("the current model cannot be loaded (%s); comparing with the prior", error)
        return "prior", card["metrics"]["prior"]
    if isinstance(champion, PriorScorer):
        return "prior", card["metrics"]["prior"]
    try:
        return champion.version, evaluate(ts, champion, ts.holdout, seed)
    except (ValueError, KeyError) as error:  # features changed since the champion was trained
        log.warning("the current model cannot score today's features (%s)", error)
        return "prior", card["metrics"]["prior"]
