"""Training from outcomes: labels, pair features, candidate selection, honest evaluation.

The evaluation holds out a fixed set of clients, chosen by a hash of their
id, so every training run (and the current champion) is judged on the same
clients, and none of them is seen in training.
"""

from __future__ import annotations

import hashlib
import logging
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from tqdm.auto import tqdm

from .embed import CachedEmbedder, Embedder
from .errors import MatcherError
from .evaluation import calibration_curve, ndcg_at_k, probability_metrics, top1_click_rate
from .features import (
    CLICK_FEATURES,
    FEATURE_NAMES,
    ClientProfile,
    Roster,
    encode_clients,
    pair_features_by_client,
    pair_features_for_pairs,
)
from .filters import constraint_masks_many, eligible
from .model import (
    TRACK_RECORD_WEIGHT,
    ClickModel,
    LearnedScorer,
    TrackRecord,
    boosted_candidate,
    logistic_candidate,
)
from .schema import frame_records, read_tables
from .scoring import PriorScorer, Scorer
from .store import Store
from .style import StyleInferrer

log = logging.getLogger(__name__)

#: Conventional "good alliance" cut-off on 0..40 session alliance scales.
ALLIANCE_THRESHOLD = 36.0
#: Share of clients held out for evaluation (chosen by id hash, stable across runs).
HOLDOUT_FRACTION = 0.25
#: Inverse-propensity weights are clipped at 1 / PROPENSITY_FLOOR.
PROPENSITY_FLOOR = 0.05
#: Fewer labelled pairs than this cannot support a learned model; the prior stays.
MIN_TRAINING_PAIRS = 50
RANKING_K = 5


def click_labels(
    outcomes: pd.DataFrame, alliance_threshold: float = ALLIANCE_THRESHOLD
) -> np.ndarray:
    """1 when a pair "clicked": not dropped out and alliance ≥ threshold where it is known.

    An explicit ``click`` value (0/1) overrides the derived label.
    """
    dropped = outcomes["dropped_out"].astype(bool).to_numpy()
    alliance = pd.to_numeric(outcomes["alliance"], errors="coerce").to_numpy(dtype=float)
    derived = ~dropped & (np.isnan(alliance) | (alliance >= alliance_threshold))
    explicit = pd.to_numeric(outcomes["click"], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(explicit), derived, explicit == 1).astype(int)


def holdout_mask(client_ids: np.ndarray, fraction: float = HOLDOUT_FRACTION) -> np.ndarray:
    """Stable client-level split: True for held-out clients (by sha256 of the id)."""
    buckets = np.array(
        [int(hashlib.sha256(str(c).encode()).hexdigest()[:8], 16) % 1000 for c in client_ids]
    )
    return buckets < fraction * 1000


@dataclass
class TrainingSet:
    """Labelled (client, therapist) pairs with their features, from the outcome history."""

    roster: Roster
    clients: list[ClientProfile]
    client_index: np.ndarray  # (P,) into clients
    rows: np.ndarray  # (P,) roster rows
    features: pd.DataFrame  # (P, CLICK_FEATURES)
    labels: np.ndarray  # (P,) 0/1
    improvement: np.ndarray  # (P,) float, NaN where unknown
    propensity: np.ndarray  # (P,) float, NaN where not logged
    alliance_threshold: float
    n_outcomes: int
    holdout: np.ndarray = field(init=False)

    def __post_init__(self):
        self.holdout = holdout_mask(self.client_ids)

    @cached_property
    def client_ids(self) -> np.ndarray:
        return np.array([self.clients[i].record["client_id"] for i in self.client_index])

    @property
    def therapist_ids(self) -> np.ndarray:
        return self.roster.ids[self.rows]

    def concerns(self, mask: np.ndarray) -> list[list[str]]:
        return [self.clients[i].record["concerns"] for i in self.client_index[mask]]

    def weights(self, mask: np.ndarray) -> np.ndarray:
        """Clipped inverse-propensity weights where propensities were logged, else 1."""
        p = self.propensity[mask]
        return np.where(np.isnan(p), 1.0, 1.0 / np.maximum(p, PROPENSITY_FLOOR))


def build_training_set(
    therapists: pd.DataFrame,
    intakes: pd.DataFrame,
    outcomes: pd.DataFrame,
    embedder: Embedder,
    *,
    alliance_threshold: float = ALLIANCE_THRESHOLD,
    propensities: Mapping[tuple[str, str], float] | None = None,
    progress: bool = False,
) -> TrainingSet:
    """Join outcomes to their intakes and therapists and build pair features.

    Outcomes naming a therapist no longer on the roster or an unknown client
    are skipped (and counted in the log). Client texts are encoded in one batch;
    with a cached embedder, stored texts cost nothing.
    """
    styles = StyleInferrer(embedder)
    with tqdm(total=3, desc="embedding texts", disable=not progress) as bar:
        roster = Roster.build(therapists, embedder, styles)
        bar.update(1)
        known = outcomes["therapist_id"].isin(roster.row_of) & outcomes["client_id"].isin(
            set(intakes["client_id"])
        )
        if (~known).any():
            log.warning("skipping %d outcomes with unknown clients or therapists", (~known).sum())
        outcomes = outcomes[known].reset_index(drop=True)
        used = intakes[intakes["client_id"].isin(set(outcomes["client_id"]))]
        records = frame_records(used)
        clients = encode_clients(records, embedder, styles)
        bar.update(1)
        position = {r["client_id"]: i for i, r in enumerate(records)}
        client_index = outcomes["client_id"].map(position).to_numpy(dtype=int)
        rows = outcomes["therapist_id"].map(roster.row_of).to_numpy(dtype=int)
        features = pair_features_for_pairs(clients, client_index, roster, rows)
        bar.update(1)
    propensity = np.full(len(outcomes), np.nan)
    if propensities is not None and len(outcomes):
        keys = list(zip(outcomes["client_id"], outcomes["therapist_id"], strict=True))
        propensity = np.array([propensities.get(k, np.nan) for k in keys], dtype=float)
    return TrainingSet(
        roster=roster,
        clients=clients,
        client_index=client_index,
        rows=rows,
        features=features,
        labels=click_labels(outcomes, alliance_threshold),
        improvement=pd.to_numeric(outcomes["improvement"], errors="coerce").to_numpy(float),
        propensity=propensity,
        alliance_threshold=alliance_threshold,
        n_outcomes=len(outcomes),
    )


def training_set_from_files(
    paths: Mapping[str, Any], embedder: Embedder, **options: Any
) -> TrainingSet:
    """A training set from the three contract files; an extra ``propensity``
    column in outcomes.csv, if present, is used for inverse-propensity weights."""
    tables = read_tables(paths)
    return build_training_set(
        **tables,
        embedder=CachedEmbedder(embedder),
        propensities=logged_propensities(tables["outcomes"]),
        **options,
    )


def training_set_from_store(store: Store, embedder: Embedder, **options: Any) -> TrainingSet:
    """A training set from the database, with cached embeddings and propensities
    estimated from the rankings clients were shown (logged values win)."""
    outcomes = store.outcomes()
    propensities = {
        **position_propensities(store.shown_rankings(), outcomes),
        **logged_propensities(outcomes),
    }
    return build_training_set(
        store.therapists(),
        store.intakes(),
        outcomes,
        CachedEmbedder(embedder, store.embeddings),
        propensities=propensities,
        **options,
    )


def logged_propensities(outcomes: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Propensities given with the outcomes (an extra ``propensity`` column in (0, 1])."""
    if "extra" not in outcomes.columns:
        return {}
    found = {}
    for client, therapist, extra in zip(
        outcomes["client_id"], outcomes["therapist_id"], outcomes["extra"], strict=True
    ):
        value = pd.to_numeric((extra or {}).get("propensity"), errors="coerce")
        if value is not None and 0 < value <= 1:
            found[(client, therapist)] = float(value)
    return found


def position_propensities(
    shown: pd.DataFrame, outcomes: pd.DataFrame, smoothing: float = 1.0
) -> dict[tuple[str, str], float]:
    """The chance of each logged placement under how placements follow suggestions.

    From clients who were shown a ranking and then placed, estimate how often
    the placement was the suggestion at each rank, or someone not shown
    (additive smoothing). A placement at rank r gets that rank's share; a
    placement outside the list gets the "not shown" share divided among the
    eligible therapists who were not shown. Returns {} without rankings.
    """
    if shown.empty or outcomes.empty:
        return {}
    placed = outcomes[["client_id", "therapist_id"]].merge(
        shown, on=["client_id", "therapist_id"], how="left"
    )
    placed = placed[placed["client_id"].isin(set(shown["client_id"]))]
    if placed.empty:
        return {}
    k = int(shown["rank"].max())
    counts = placed["rank"].fillna(0).astype(int).value_counts()  # rank 0 = not shown
    total = len(placed) + smoothing * (k + 1)
    share = {r: (counts.get(r, 0) + smoothing) / total for r in range(k + 1)}
    eligible = shown.groupby("client_id")["eligible"].max()
    result = {}
    for client, therapist, rank in zip(
        placed["client_id"], placed["therapist_id"], placed["rank"], strict=True
    ):
        if rank == rank:  # shown
            result[(client, therapist)] = share[int(rank)]
        else:
            others = max(int(eligible.get(client, 0)) - k, 1)
            result[(client, therapist)] = share[0] / others
    return result


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


def evaluate(ts: TrainingSet, scorer: Scorer | None, mask: np.ndarray, seed: int = 0) -> dict:
    """Held-out metrics of one scorer (None = random ranking) on the pairs in ``mask``.

    Probability metrics compare P(click) (or the scorer's score) with labels;
    ranking metrics rank every eligible therapist for each held-out client and
    look at where the placed therapist landed.
    """
    rng = np.random.default_rng(seed)
    pairs = np.flatnonzero(mask)
    track = getattr(scorer, "track_record", None)
    if scorer is None:
        probability = np.full(len(pairs), ts.labels[~mask].mean() if (~mask).any() else 0.5)
    else:
        features = pair_features_for_pairs(
            ts.clients, ts.client_index[pairs], ts.roster, ts.rows[pairs], track
        )
        click = getattr(scorer, "click_probability", scorer.score)
        probability = click(features)
    metrics = probability_metrics(ts.labels[pairs], probability)
    placed_rank, n_eligible = placed_ranks(ts, scorer, pairs, rng)
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
    ts: TrainingSet, scorer: Scorer | None, pairs: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Where each placement's therapist lands when its client's eligible therapists are
    ranked (1 = first), and how many were ranked.

    Equivalent to, for each pair in order: rank the client's eligible therapists
    (plus the placed one, last, when it is not eligible today) by score with ties
    in that order; ``scorer=None`` ranks by ``rng.random`` draws in that order. All
    pairs of a chunk of clients are filtered, featurised and scored in one call each.
    """
    track = getattr(scorer, "track_record", None)
    ranks = np.zeros(len(pairs), dtype=int)
    sizes = np.zeros(len(pairs), dtype=int)
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
    return ranks, sizes


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
        "environment": {
            "python": platform.python_version(),
            "scikit_learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
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
    from . import registry
    from .plots import calibration_plot

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
    from . import registry
    from .errors import ModelArtifactError

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
