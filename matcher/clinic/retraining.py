"""Retraining from the practice's own records: the database's outcomes, intakes,
roster and the rankings clients were shown become a training set."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..learning.datasets import (
    TrainingSet,
    build_training_set,
    logged_propensities,
    policy_logged_placements,
    position_propensities,
)
from ..ranking.embed import CachedEmbedder, Embedder
from .store import Store


def placement_propensities(
    store: Store, outcomes: pd.DataFrame | None = None
) -> tuple[dict[tuple[str, str], float], int]:
    """Each outcome's placement propensity, and how many rest on a logged policy propensity.

    A propensity given with an imported outcome (``extra.propensity``) wins; otherwise
    the ranking the client was shown gives it (:func:`position_propensities`: the
    logged propensity of the shown order times the share of placements at that rank).
    """
    outcomes = store.outcomes() if outcomes is None else outcomes
    shown = store.shown_rankings()
    given = logged_propensities(outcomes)
    found = {**position_propensities(shown, outcomes), **given}
    pairs = zip(outcomes["client_id"], outcomes["therapist_id"], strict=True)
    rest = outcomes[[pair not in given for pair in pairs]]
    return found, policy_logged_placements(shown, rest)


def training_set_from_store(store: Store, embedder: Embedder, **options: Any) -> TrainingSet:
    """A training set from the database, with cached embeddings and the propensities of
    the placements (logged with the rankings shown, estimated only for the clients'
    choice among positions; a propensity given with an imported outcome wins)."""
    outcomes = store.outcomes()
    propensities, from_policy = placement_propensities(store, outcomes)
    ts = build_training_set(
        store.therapists(),
        store.intakes(),
        outcomes,
        CachedEmbedder(embedder, store.embeddings),
        propensities=propensities,
        **options,
    )
    ts.propensities_from_policy = from_policy
    return ts


def outcomes_with_propensity(store: Store) -> pd.DataFrame:
    """The outcomes in the contract's columns plus ``propensity`` (empty where none is
    known): written as outcomes.csv, ``matcher train --outcomes`` trains with them."""
    outcomes = store.outcomes()
    propensities, _ = placement_propensities(store, outcomes)
    keys = zip(outcomes["client_id"], outcomes["therapist_id"], strict=True)
    values = [propensities.get(key, np.nan) for key in keys]
    frame = outcomes.drop(columns=["extra"])
    frame["propensity"] = ["" if np.isnan(v) else repr(float(v)) for v in values]
    return frame
