"""Training sets: outcome rows joined to their intakes and therapists, with labels,
pair features and the propensities of the logged placements.

The evaluation holds out a fixed set of clients, chosen by a hash of their id,
so every training run (and the current champion) is judged on the same
clients, and none of them is seen in training.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..ranking.concerns import ConcernReader
from ..ranking.embed import CachedEmbedder, Embedder
from ..ranking.features import ClientProfile, encode_clients, pair_features_for_pairs
from ..ranking.roster import Roster
from ..ranking.style import StyleInferrer
from ..schema import frame_records, read_tables
from ..vocab import ALLIANCE_CUTOFF

log = logging.getLogger(__name__)

#: Share of clients held out for evaluation (chosen by id hash, stable across runs).
HOLDOUT_FRACTION = 0.25
#: Inverse-propensity weights are clipped at 1 / PROPENSITY_FLOOR.
PROPENSITY_FLOOR = 0.05


def click_labels(outcomes: pd.DataFrame, alliance_threshold: float = ALLIANCE_CUTOFF) -> np.ndarray:
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
    #: Outcome rows given (before unknown clients or therapists were skipped): what
    #: ``matcher train --if-new-outcomes`` counts new outcomes from. -1: as ``n_outcomes``.
    outcomes_received: int = -1
    #: Propensities whose policy part was logged with the ranking shown (not assumed).
    propensities_from_policy: int = 0
    holdout: np.ndarray = field(init=False)

    def __post_init__(self):
        self.holdout = holdout_mask(self.client_ids)
        if self.outcomes_received < 0:
            self.outcomes_received = self.n_outcomes

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
    alliance_threshold: float = ALLIANCE_CUTOFF,
    propensities: Mapping[tuple[str, str], float] | None = None,
    progress: bool = False,
) -> TrainingSet:
    """Join outcomes to their intakes and therapists and build pair features.

    Outcomes naming a therapist no longer on the roster or an unknown client
    are skipped (and counted in the log). Client texts are encoded in one batch;
    with a cached embedder, stored texts cost nothing.
    """
    styles = StyleInferrer(embedder)
    received = len(outcomes)
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
        clients = encode_clients(records, embedder, styles, ConcernReader(embedder))
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
        outcomes_received=received,
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
    """The chance of each logged placement: the policy's logged propensity of what was
    shown times how placements follow the positions shown.

    ``shown`` has a row per suggestion a client was shown (client_id, therapist_id,
    rank, eligible, and optionally propensity: the logged probability of the shown order
    down to that rank). From clients who were shown a ranking and then placed, estimate
    how often the placement was the suggestion at each rank, or someone not shown
    (additive smoothing): the clients' side, which no policy logs. A placement at rank r
    gets that rank's share times the logged propensity at r (a client reads the list
    from the top, so their choice at r depended on the order down to r); rankings
    stored before propensities were logged came from the deterministic policy, whose
    propensity is 1. A placement outside the list gets the "not shown" share divided
    among the eligible therapists who were not shown. Returns {} without rankings.
    """
    if shown.empty or outcomes.empty:
        return {}
    if "propensity" not in shown.columns:
        shown = shown.assign(propensity=np.nan)
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
    policy = pd.to_numeric(placed["propensity"], errors="coerce").fillna(1.0).to_numpy(float)
    result = {}
    for client, therapist, rank, logged in zip(
        placed["client_id"], placed["therapist_id"], placed["rank"], policy, strict=True
    ):
        if rank == rank:  # shown
            result[(client, therapist)] = share[int(rank)] * float(np.clip(logged, 0.0, 1.0))
        else:
            others = max(int(eligible.get(client, 0)) - k, 1)
            result[(client, therapist)] = share[0] / others
    return result


def policy_logged_placements(shown: pd.DataFrame, outcomes: pd.DataFrame) -> int:
    """How many placements were of a suggestion whose propensity the ranking logged."""
    if shown.empty or outcomes.empty or "propensity" not in shown.columns:
        return 0
    logged = shown[pd.to_numeric(shown["propensity"], errors="coerce").notna()]
    keys = set(zip(logged["client_id"], logged["therapist_id"], strict=True))
    pairs = zip(outcomes["client_id"], outcomes["therapist_id"], strict=True)
    return sum(1 for pair in pairs if pair in keys)
