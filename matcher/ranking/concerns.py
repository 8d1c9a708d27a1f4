"""Concerns read from a client's own words, for clients who tick few or none.

A one-vs-rest logistic regression over the story's embedding, trained once per
process on the labelled stories in ``matcher/data/concern_stories.toml``
(multi-label: a story may carry several tags, or none). Inferred tags are used
like ticked ones at a lower weight (see :mod:`matcher.ranking.features`), and a
coordinator sees which ones were inferred.
"""

from __future__ import annotations

import threading

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from ..text import load_toml
from ..vocab import CONCERN_TAGS
from .embed import Embedder

#: A tag is inferred when its probability reaches this.
INFER_THRESHOLD = 0.5
#: At most this many tags are inferred for one story (the most probable first).
MAX_INFERRED = 3
#: Regularisation of the per-tag classifiers (chosen by cross-validation on the
#: training stories only; see docs/model.md).
C = 4.0


class ConcernReader:
    """Infers concern tags from free text.

    Parameters
    ----------
    embedder : Embedder
        Encodes the training stories once (on first use) and the texts read.
    """

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self._weights: tuple[np.ndarray, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _fitted(self) -> tuple[np.ndarray, np.ndarray]:
        """(coef (n_tags, d), intercept (n_tags,)) of the per-tag classifiers, fitted on
        first use. Kept as arrays: a request reads one story with one small product,
        not twenty scikit-learn calls each re-validating its input."""
        with self._lock:
            if self._weights is None:
                stories = load_toml("concern_stories")["story"]
                vectors = self.embedder.encode([s["text"] for s in stories])
                labels = np.array(
                    [[tag in s["concerns"] for tag in CONCERN_TAGS] for s in stories], dtype=int
                )
                classifier = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
                self._weights = _weights(OneVsRestClassifier(classifier).fit(vectors, labels))
            return self._weights

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, len(CONCERN_TAGS)) in [0, 1] for (n, d) story embeddings."""
        if len(embeddings) == 0:
            return np.zeros((0, len(CONCERN_TAGS)))
        coef, intercept = self._fitted()
        logits = np.asarray(embeddings, dtype=np.float64) @ coef.T + intercept
        return expit(logits)

    def infer(
        self, embeddings: np.ndarray, texts: list[str], given: list[list[str]]
    ) -> list[tuple[str, ...]]:
        """The tags each story suggests beyond the ones its client gave (blank story: none)."""
        probability = self.probabilities(embeddings)
        found = []
        for row, text, ticked in zip(probability, texts, given, strict=True):
            if not text.strip():
                found.append(())
                continue
            order = np.argsort(-row)
            tags = [
                CONCERN_TAGS[j]
                for j in order[:MAX_INFERRED]
                if row[j] >= INFER_THRESHOLD and CONCERN_TAGS[j] not in ticked
            ]
            found.append(tuple(tags))
        return found

    def infer_texts(self, texts: list[str]) -> list[tuple[str, ...]]:
        """Tags for raw texts (no tags given)."""
        return self.infer(self.embedder.encode(texts), texts, [[] for _ in texts])


def _weights(model: OneVsRestClassifier) -> tuple[np.ndarray, np.ndarray]:
    """The per-tag regressions as (coef, intercept) arrays. A tag no training story
    carries (or every one does) gets scikit-learn's constant stand-in, with no weights."""
    missing = [
        tag
        for tag, e in zip(CONCERN_TAGS, model.estimators_, strict=True)
        if not hasattr(e, "coef_")
    ]
    if missing:
        raise ValueError(
            f"concern_stories.toml needs stories with and without: {', '.join(missing)}"
        )
    return (
        np.vstack([e.coef_ for e in model.estimators_]),
        np.concatenate([e.intercept_ for e in model.estimators_]),
    )
