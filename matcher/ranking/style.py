"""Style on the four axes: from ratings where given, else inferred from text.

A therapist's ``approach`` or a client's ``hopes`` is placed on each axis by
comparing the embeddings of its sentences with short descriptions of the
axis' two poles. Each sentence's position is
``cos(sentence, positive pole) - cos(sentence, negative pole)``; a text's
position is the average over its sentences, weighted towards the sentences
that talk about that axis at all (a softmax over their similarity to either
pole), times ``gain``, clipped to -3..+3. Working per sentence keeps "I am
based in Riverton" from diluting "I set an agenda each session". The pole
descriptions mix the therapist's and the client's voice so both kinds of text
land on the same scale.
"""

from __future__ import annotations

import re

import numpy as np

from ..text import style_axes
from ..vocab import STYLE_AXES, STYLE_MAX, STYLE_MIN
from .embed import Embedder

#: Maps the cosine difference onto the -3..+3 rating scale. Chosen so the
#: spread of inferred styles matches the spread of self-ratings on simulated
#: rosters; clearly worded texts land near ±2..3 (see tests/matcher/test_style.py).
DEFAULT_GAIN = 12.0
#: Temperature of the softmax that weights sentences by their relevance to an axis.
RELEVANCE_TEMPERATURE = 0.05
MAX_SENTENCES = 20
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """The text's sentences (at most ``MAX_SENTENCES``); blank text has none."""
    parts = [part.strip() for part in _SENTENCE_END.split(text or "")]
    return [part for part in parts if part][:MAX_SENTENCES]


class StyleInferrer:
    """Places texts on the four style axes.

    Parameters
    ----------
    embedder : Embedder
        Used once to encode the pole descriptions.
    gain : float
        Scale from cosine difference to rating points.
    """

    def __init__(self, embedder: Embedder, gain: float = DEFAULT_GAIN):
        self.embedder = embedder
        self.gain = gain
        self._poles: tuple[np.ndarray, np.ndarray] | None = None

    def poles(self) -> tuple[np.ndarray, np.ndarray]:
        """(negative, positive) pole centroids, each (4, d) float32 with unit rows."""
        if self._poles is None:
            negatives, positives = [], []
            for axis in STYLE_AXES:
                wording = style_axes()[axis]
                negative, positive = wording.anchors_negative, wording.anchors_positive
                vectors = self.embedder.encode([*negative, *positive])
                negatives.append(_unit(vectors[: len(negative)].mean(axis=0)))
                positives.append(_unit(vectors[len(negative) :].mean(axis=0)))
            self._poles = (np.stack(negatives), np.stack(positives))
        return self._poles

    def infer_sentences(
        self, embeddings: np.ndarray, owner: np.ndarray, n: int, rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Ratings of ``n`` texts from the embeddings of their sentences.

        Parameters
        ----------
        embeddings : (m, d) float32, one unit row per sentence
        owner : (m,) int in [0, n), which text each sentence belongs to
        n : int, the number of texts
        rows : (m,) int, optional
            Sentence i's embedding is ``embeddings[rows[i]]`` (``embeddings`` then
            holds distinct sentences; repeated ones are compared with the poles once).

        Returns
        -------
        (n, 4) float32 in [-3, 3], columns in ``STYLE_AXES`` order; 0 for a text
        without sentences.
        """
        out = np.zeros((n, len(STYLE_AXES)), dtype=np.float32)
        where = None
        if rows is not None:
            rows = np.asarray(rows, dtype=int)
            used, where = np.unique(rows, return_inverse=True)
            if len(used) == len(rows):  # nothing repeated: the rows themselves, in order
                embeddings, where = embeddings[rows], None
            else:
                embeddings = embeddings[used]
        if len(embeddings) == 0:
            return out
        negative, positive = self.poles()
        to_negative, to_positive = embeddings @ negative.T, embeddings @ positive.T
        if where is not None:
            to_negative, to_positive = to_negative[where], to_positive[where]
        position = to_positive - to_negative  # (m, 4)
        relevance = np.maximum(to_positive, to_negative)
        # softmax within each text: subtract each text's max relevance for stability
        top = np.full((n, len(STYLE_AXES)), -np.inf)
        np.maximum.at(top, owner, relevance)
        weight = np.exp((relevance - top[owner]) / RELEVANCE_TEMPERATURE)
        totals = np.zeros_like(out, dtype=float)
        weighted = np.zeros_like(out, dtype=float)
        np.add.at(totals, owner, weight)
        np.add.at(weighted, owner, weight * position)
        has_text = totals > 0
        out[has_text] = weighted[has_text] / totals[has_text]
        return np.clip(self.gain * out, STYLE_MIN, STYLE_MAX).astype(np.float32)

    def infer_texts(self, texts: list[str]) -> np.ndarray:
        """Ratings for raw texts: (len(texts), 4) float32 in [-3, 3]."""
        sentences = [split_sentences(text) for text in texts]
        flat = [sentence for group in sentences for sentence in group]
        owner = np.repeat(np.arange(len(texts)), [len(group) for group in sentences])
        return self.infer_sentences(self.embedder.encode(flat), owner, len(texts))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def resolve_style(ratings: np.ndarray, inferred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Combine given ratings with inferred ones.

    Parameters
    ----------
    ratings : (n, 4) float with NaN where no rating was given
    inferred : (n, 4) float, the text-based estimate

    Returns
    -------
    style : (n, 4) float32, the rating where given else the inferred value
    given : (n, 4) bool, True where the value came from a rating
    """
    given = ~np.isnan(ratings)
    return np.where(given, ratings, inferred).astype(np.float32), given
