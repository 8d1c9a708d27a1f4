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
from sklearn.model_selection import GroupKFold
from tqdm.auto import tqdm

from ..errors import MatcherError, ModelArtifactError
from ..ranking.features import FEATURE_NAMES
from ..ranking.scoring import PriorScorer, Scorer
from . import off_policy, registry
from .datasets import PROPENSITY_FLOOR, TrainingSet
from .evaluation import (
    RANKING_K,
    Ranked,
    RewardModel,
    calibration_curve,
    evaluate,
    logged_outcomes,
    placed_ranks,
)
from .model import (
    MIN_MODEL_UNCERTAINTY,
    TRACK_RECORD_WEIGHT,
    ClickModel,
    LearnedScorer,
    TrackRecord,
    boosted_candidate,
    logistic_candidate,
    prior_offset_candidate,
)
from .plots import calibration_plot

log = logging.getLogger(__name__)

#: Fewer labelled pairs than this cannot support a learned model; the prior stays.
MIN_TRAINING_PAIRS = 50
#: Client-grouped folds of the training rows on which candidates are compared.
SELECTION_FOLDS = 2
#: Policy values closer than this count as a tie in candidate selection.
SELECTION_TIE = 0.002
#: The promotion gate: the candidate's doubly robust value must beat each contender's
#: in at least this share of paired bootstrap resamples over held-out clients ...
GATE_WIN_SHARE = 0.8
#: ... and its held-out calibration error must be at most this, or no worse than that of
#: what it replaces (the champion, else the prior) plus GATE_ECE_SLACK.
GATE_MAX_ECE = 0.05
GATE_ECE_SLACK = 0.02


CANDIDATES = {
    "prior_offset": prior_offset_candidate,
    "logistic": logistic_candidate,
    "boosted": boosted_candidate,
}


def _candidate(name: str, seed: int):
    return CANDIDATES[name](seed) if name == "boosted" else CANDIDATES[name]()


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
    """Pick the candidate whose ranking is worth most on client-grouped folds of the
    training rows, by the doubly robust estimate (the held-out clients are not used).

    Ties (within 0.002) go to the earlier candidate in ``CANDIDATES``, the one
    closest to the prior.
    """
    rows = np.flatnonzero(mask)
    groups = ts.client_ids[rows]
    n_splits = min(SELECTION_FOLDS, len(np.unique(groups)))
    values: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    for fit_part, check_part in GroupKFold(n_splits).split(rows, groups=groups):
        fit_mask, check_mask = np.zeros_like(mask), np.zeros_like(mask)
        fit_mask[rows[fit_part]], check_mask[rows[check_part]] = True, True
        if len(np.unique(ts.labels[fit_mask])) < 2:
            continue
        reward_model = RewardModel(ts, fit_mask)
        for name in CANDIDATES:
            scorer = fit_scorer(ts, features, fit_mask, name, seed=seed, calibration_folds=2)
            log_ = logged_outcomes(ts, scorer, check_mask, reward_model, seed=seed)
            values[name].append(off_policy.estimates(log_)["dr"])
    scores = {name: float(np.mean(v)) if v else float("nan") for name, v in values.items()}
    best = next(iter(CANDIDATES))
    for name, value in scores.items():
        if not np.isnan(value) and value > scores[best] + SELECTION_TIE:
            best = name
    return best, scores


def fit_scorer(
    ts: TrainingSet,
    features: pd.DataFrame,
    mask: np.ndarray,
    candidate: str,
    *,
    track_record_weight: float = TRACK_RECORD_WEIGHT,
    seed: int = 0,
    calibration_folds: int = 3,
) -> LearnedScorer:
    """Fit the click model and the track record on the rows in ``mask``.

    Without enough improvement scores the track record keeps only the
    alliance history, and the final score is P(click) alone.
    """
    click = ClickModel(_candidate(candidate, seed), n_splits=calibration_folds).fit(
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
    champion: Scorer | None = None,
    track_record_weight: float = TRACK_RECORD_WEIGHT,
    seed: int = 0,
    embedding_model: str = "",
    progress: bool = False,
) -> TrainingResult:
    """Select, fit and evaluate a learned scorer against the prior (and the champion,
    a learned model currently in use, when given); the card records everything.

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
        candidate, selection = select_candidate(ts, features, train_mask, seed)
        bar.update(1)
        scorer = fit_scorer(
            ts, features, train_mask, candidate, track_record_weight=track_record_weight, seed=seed
        )
        bar.update(1)
        contenders: dict[str, Scorer | None] = {"model": scorer, "prior": PriorScorer()}
        if champion is not None and not isinstance(champion, PriorScorer):
            contenders["champion"] = champion
        contenders["random"] = None
        held_out = np.flatnonzero(test_mask)
        ranked = {  # each contender ranks the held-out clients once, for both kinds of figure
            name: placed_ranks(ts, s, held_out, np.random.default_rng(seed))
            for name, s in contenders.items()
        }
        metrics = {
            name: evaluate(ts, s, test_mask, seed, ranked[name]) for name, s in contenders.items()
        }
        bar.update(1)
        policy = ranking_values(ts, contenders, train_mask, test_mask, seed, ranked)
        bar.update(1)
    probability = scorer.click_probability(features[test_mask])
    # The exploring policy's sense of how exactly the model knows a score: its held-out
    # calibration error (widened per therapist by how little their record says).
    scorer.uncertainty = max(float(metrics["model"]["ece"]), MIN_MODEL_UNCERTAINTY)
    card = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "candidate": candidate,
        "selection_dr_value": selection,
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
            "outcomes_received": ts.outcomes_received,
            "training_pairs": int(train_mask.sum()),
            "held_out_pairs": int(test_mask.sum()),
            "held_out_clients": int(len(np.unique(ts.client_ids[test_mask]))),
            "label_rate": float(ts.labels.mean()),
        },
        "selection_bias": {
            "propensities_logged": int((~np.isnan(ts.propensity)).sum()),
            "propensities_from_policy": int(ts.propensities_from_policy),
            "inverse_propensity_weighting": bool((~np.isnan(ts.propensity)).any()),
            "weight_clip": 1.0 / PROPENSITY_FLOOR,
        },
        "track_record": _track_record_card(scorer),
        "uncertainty": _uncertainty_card(scorer),
        "metrics": metrics,
        "policy_value": policy,
        "champion": getattr(champion, "version", "prior") if "champion" in contenders else "prior",
        "calibration_curve": calibration_curve(ts.labels[test_mask], probability),
        "features": list(FEATURE_NAMES),
        "embedding_model": embedding_model,
        "environment": registry.environment(),
    }
    return TrainingResult(scorer, card, probability, ts.labels[test_mask])


def ranking_values(
    ts: TrainingSet,
    scorers: dict[str, Scorer | None],
    train_mask: np.ndarray,
    test_mask: np.ndarray,
    seed: int = 0,
    ranked: dict[str, Ranked] | None = None,
) -> dict[str, Any]:
    """Each scorer's ranking value on the held-out clients (IPS, SNIPS and DR, each with
    a bootstrap interval) and the paired bootstrap of the model against each other one.

    Returns ``{"estimates": {name: {estimator: {value, low, high}}}, "versus": {name:
    {"mean_gain", "low", "high", "win_share"}}}``; "versus" compares DR values.
    """
    reward_model = RewardModel(ts, train_mask)
    logs = {
        name: logged_outcomes(
            ts, scorer, test_mask, reward_model, seed=seed, ranked=(ranked or {}).get(name)
        )
        for name, scorer in scorers.items()
    }
    resamples = off_policy.bootstrap_indices(logs["model"].group, seed=seed)
    boot = {name: off_policy.bootstrap_estimates(log_, resamples) for name, log_ in logs.items()}
    draws = {name: estimators["dr"] for name, estimators in boot.items()}
    versus = {}
    for name in logs:
        if name == "model":
            continue
        gain = draws["model"] - draws[name]
        low, high = off_policy.interval(gain)
        versus[name] = {
            "mean_gain": float(np.nanmean(gain)),
            "low": low,
            "high": high,
            "win_share": float(np.mean(gain > 0)),
        }
    return {
        "estimates": {name: off_policy.summary(log_, boot[name]) for name, log_ in logs.items()},
        "versus": versus,
        "k": RANKING_K,
    }


def gate(card: dict[str, Any]) -> tuple[bool, str]:
    """Whether a trained candidate may replace what ranks today, and why, in one line.

    The rule: against the prior, against the champion (when a learned model is
    current) and against a random order (a model that cannot beat chance has learned
    nothing, whatever its luck against the prior), the candidate's doubly robust
    ranking value must be higher on average and in at least ``GATE_WIN_SHARE`` of
    paired bootstrap resamples of the held-out clients; and its held-out ECE must be
    at most ``GATE_MAX_ECE`` or no worse than that of what it would replace (the
    champion, else the prior) plus ``GATE_ECE_SLACK``.
    """
    versus = card["policy_value"]["versus"]
    estimates = card["policy_value"]["estimates"]
    model_value = estimates["model"]["dr"]["value"]
    labels = {"prior": "the prior", "champion": card["champion"], "random": "a random order"}
    for name in ("prior", "champion", "random"):
        if name not in versus:
            continue
        against = versus[name]
        if against["mean_gain"] <= 0 or against["win_share"] < GATE_WIN_SHARE:
            label = labels[name]
            return False, (
                f"its ranking value {model_value:.3f} does not clearly beat {label}'s "
                f"{estimates[name]['dr']['value']:.3f} (gain {against['mean_gain']:+.3f}, "
                f"ahead in {against['win_share']:.0%} of resamples, needs "
                f"{GATE_WIN_SHARE:.0%}); {labels['champion' if 'champion' in versus else 'prior']} "
                "stays"
            )
    ece = card["metrics"]["model"]["ece"]
    replaced = "champion" if "champion" in card["metrics"] else "prior"
    allowed = max(GATE_MAX_ECE, card["metrics"][replaced]["ece"] + GATE_ECE_SLACK)
    if ece > allowed:
        return False, f"its calibration error {ece:.3f} is above {allowed:.3f}; it is not promoted"
    beaten = ", ".join(labels[name] for name in ("prior", "champion", "random") if name in versus)
    return True, (
        f"its ranking value {model_value:.3f} beats {beaten} "
        f"(ahead in at least {min(v['win_share'] for v in versus.values()):.0%} of resamples)"
    )


def _uncertainty_card(scorer: LearnedScorer) -> dict[str, float]:
    """The sd of a score the exploring policy reads: for a therapist with a long record
    (the calibration error alone) and for one without (plus the therapists' spread)."""
    spread = (1 - scorer.track_record_weight) * getattr(scorer.track_record, "therapist_sd_", 0.0)
    return {
        "score": scorer.uncertainty,
        "new_therapist": float(np.hypot(scorer.uncertainty, spread)),
    }


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
    """Train a challenger, save it as a new version, and promote it only through the
    :func:`gate` (``force`` promotes regardless). Saving and promotion are each atomic;
    a version that is not promoted stays in the registry for the record.
    """
    result = train(
        ts,
        champion=_current_champion(model_dir),
        track_record_weight=track_record_weight,
        seed=seed,
        embedding_model=embedding_model,
        progress=progress,
    )
    promoted, reason = gate(result.card)
    result.card["gate"] = {"promoted": promoted, "reason": reason, "forced": force}
    version = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    folder = registry.save_version(model_dir, version, result.scorer, result.card)
    calibration_plot(
        result.card["calibration_curve"],
        folder / "calibration.png",
        f"model {version}: held-out calibration",
    )
    if promoted or force:
        registry.promote(model_dir, version)
    return RegisteredModel(version, promoted or force, reason, result.card)


def _current_champion(model_dir) -> Scorer | None:
    """The learned model in use, if any can be loaded (else the comparison is with the prior)."""
    try:
        champion = registry.load_current(model_dir)
    except ModelArtifactError as error:
        log.warning("the current model cannot be loaded (%s); comparing with the prior", error)
        return None
    return None if isinstance(champion, PriorScorer) else champion


def training_summary(card: dict[str, Any]) -> str:
    """The training log's lines: held-out quality and each contender's ranking value."""
    model = card["metrics"]["model"]
    lines = [
        f"candidate {card['candidate']}: held-out ROC AUC {model['roc_auc']:.3f}, "
        f"ECE {model['ece']:.3f}",
        f"ranking value on held-out clients (P(good early relationship) when starting with "
        f"one of the top {card['policy_value']['k']}; DR [95% interval], SNIPS, IPS):",
    ]
    for name, estimate in card["policy_value"]["estimates"].items():
        dr, sn, ip = estimate["dr"], estimate["snips"], estimate["ips"]
        lines.append(
            f"  {name:<8} {dr['value']:.3f} [{dr['low']:.3f}, {dr['high']:.3f}]  "
            f"{sn['value']:.3f}  {ip['value']:.3f}"
        )
    return "\n".join(lines)
