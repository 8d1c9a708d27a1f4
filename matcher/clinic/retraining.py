"""Retraining from the practice's own records: the database's outcomes, intakes,
roster and the rankings clients were shown become a training set."""

from __future__ import annotations

from typing import Any

from ..learning.datasets import (
    TrainingSet,
    build_training_set,
    logged_propensities,
    position_propensities,
)
from ..ranking.embed import CachedEmbedder, Embedder
from .store import Store


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
