"""Style on the four axes: from ratings where given, else read from text.

A therapist's ``approach`` or a client's ``hopes`` is placed on each axis by a
supervised reader. Per axis, a three-class logistic regression over the
sentence embedding says whether a sentence gives evidence for the negative
pole (-1), none (0) or the positive pole (+1); it is fitted on the labelled
sentences of ``data/style_sentences.toml``, once per process and embedding
model, the first time a text is read. A sentence's value on an axis is
``3 * (P(+1) - P(-1))`` and its confidence ``1 - P(0)``; a text's value is the
confidence-weighted mean of its sentences' values, so the sentences that speak
to an axis dominate and a text where none does stays near 0. Each view's probabilities
are blended with those of its nearest labelled training views (a softmax over cosine
similarity), which keeps the local detail a linear boundary smooths over, and with
those of a reader of its words (:mod:`.wording`), which keeps the keywords and
spellings an embedding blurs.

Sentence embeddings barely register negation ("please, no homework" lies next
to "homework"), so a negation-scope rule runs first: a sentence with a
negation cue is read as its negated scopes ("homework", sign -1) and the rest
of it (sign +1), each embedded on its own; a view's probabilities for +1 and -1
swap when its sign is -1. The classifiers are fitted on the same views of the
training sentences, so they learn what the words *are about* and the rule
decides whether the writer wants or refuses it. See docs/style-reading.md.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..text import load_toml
from ..vocab import STYLE_AXES, STYLE_MAX, STYLE_MIN
from .embed import Embedder
from .negation import negation_views, split_sentences
from .wording import WordingReader

#: Inverse L2 strength of each axis' logistic regression: the value with the best
#: 5-fold cross-validated log-loss on the training sentences (``python -m
#: bench.style_quality --cv``, paraphrases grouped; 3 and 10 nearly tie).
READER_C = 3.0
#: The classes of each axis' probability columns, in this order.
CLASSES = (-1, 0, 1)
#: A view's probabilities are the logistic regressions' blended with its labelled
#: neighbours': a softmax over the training views' cosine similarities at this
#: temperature, weighted by this share. The neighbours keep what a linear boundary
#: smooths over ("someone reliable" lies among neutral qualities). Chosen on the same
#: cross-validation as ``READER_C``: +0.9 points sign, +1.7 negated; temperatures
#: 0.04-0.08 and shares 0.3-0.5 are within 0.5 points (docs/style-reading.md).
NEIGHBOUR_TEMPERATURE = 0.06
NEIGHBOUR_WEIGHT = 0.4
#: The embedding readers' probabilities (logistic and neighbours) are in turn blended
#: with the word reader's (:class:`.wording.WordingReader`) at this share. Chosen on the
#: same cross-validation: 0.2-0.6 all beat none, 0.4 best (+1.9 points sign, +1.5
#: negated; docs/style-reading.md).
WORDING_WEIGHT = 0.4
#: Views compared with the training views at once: bounds the similarity matrix.
NEIGHBOUR_CHUNK = 512


def training_views(records: Sequence[Mapping[str, Any]]) -> tuple[list[str], np.ndarray]:
    """The views of labelled sentences and their labels.

    Parameters
    ----------
    records : entries of ``data/style_sentences.toml`` (``text`` and, per axis it
        gives evidence on, -1 or +1)

    Returns
    -------
    texts : list of str, one per view
    labels : (len(texts), 4) int in {-1, 0, 1}, the sentence's label times the
        view's sign (a refused scope is evidence for the opposite pole)
    """
    texts, labels = [], []
    for record in records:
        label = np.array([int(record.get(axis, 0)) for axis in STYLE_AXES])
        for text, sign in negation_views(record["text"]):
            texts.append(text)
            labels.append(sign * label)
    return texts, np.array(labels, dtype=int).reshape(-1, len(STYLE_AXES))


# --- the reader -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StyleReader:
    """Per-axis three-class logistic regressions over the embeddings, the labelled views
    they were fitted on (kept as arrays) and a reader of the views' words.

    ``coef`` is (4, 3, d) and ``intercept`` (4, 3); class columns follow ``CLASSES``.
    ``neighbours`` (d, m) are the training views' unit embeddings, transposed (float32:
    reading them is most of a request's reading time) and ``neighbour_classes`` (m, 12)
    their labels one-hot, axis-major (float64).
    """

    coef: np.ndarray
    intercept: np.ndarray
    neighbours: np.ndarray
    neighbour_classes: np.ndarray
    wording: WordingReader

    @classmethod
    def fit(
        cls, texts: Sequence[str], embeddings: np.ndarray, labels: np.ndarray, c: float = READER_C
    ) -> StyleReader:
        """Fit one classifier per axis on the embeddings, and the word reader.

        Parameters
        ----------
        texts : m str, the training views
        embeddings : (m, d) float, their unit embeddings
        labels : (m, 4) int in {-1, 0, 1}; every axis needs all three classes
        c : inverse regularisation strength of the embedding classifiers
        """
        from sklearn.linear_model import LogisticRegression  # only when a reader is fitted

        coef, intercept = [], []
        for a, axis in enumerate(STYLE_AXES):
            if set(np.unique(labels[:, a])) != set(CLASSES):
                raise ValueError(f"the {axis} labels need examples of each of {CLASSES}")
            model = LogisticRegression(C=c, max_iter=5000).fit(embeddings, labels[:, a])
            order = [list(model.classes_).index(k) for k in CLASSES]
            coef.append(model.coef_[order])
            intercept.append(model.intercept_[order])
        one_hot = (labels[:, :, None] == np.array(CLASSES)).reshape(len(labels), -1)
        return cls(
            np.stack(coef),
            np.stack(intercept),
            np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32).T),
            one_hot.astype(np.float64),
            WordingReader.fit(texts, labels, CLASSES),
        )

    def probabilities(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """(m, 4, 3) float64 class probabilities of m views, from their ``texts`` and
        ``embeddings`` (m, d), unit rows: the logistic regressions' blended with the
        neighbours' (``NEIGHBOUR_WEIGHT``), and those with the word reader's
        (``WORDING_WEIGHT``)."""
        if len(texts) != len(embeddings):
            raise ValueError(f"{len(texts)} texts for {len(embeddings)} embeddings")
        # a row reads the same in any batch (chunked roster builds): float64, and the
        # neighbours' similarities by one kind of product (_similarity)
        embeddings = np.asarray(embeddings, dtype=np.float64)
        logits = np.einsum("md,akd->mak", embeddings, self.coef)
        logits += self.intercept
        logits -= logits.max(axis=2, keepdims=True)
        weights = np.exp(logits)
        linear = weights / weights.sum(axis=2, keepdims=True)
        embedded = (1 - NEIGHBOUR_WEIGHT) * linear + NEIGHBOUR_WEIGHT * self._neighbour_shares(
            embeddings
        )
        return (1 - WORDING_WEIGHT) * embedded + WORDING_WEIGHT * self.wording.probabilities(texts)

    def _neighbour_shares(self, embeddings: np.ndarray) -> np.ndarray:
        """(m, 4, 3): each class's share among the training views, weighted by a softmax of
        their cosine similarity to the row (continuous, so that nearly equal embeddings
        read nearly alike)."""
        shares = np.empty((len(embeddings), self.neighbour_classes.shape[1]))
        vectors = embeddings.astype(np.float32)
        for start in range(0, len(embeddings), NEIGHBOUR_CHUNK):
            rows = slice(start, start + NEIGHBOUR_CHUNK)
            similarity = _similarity(vectors[rows], self.neighbours)
            weights = np.exp(
                (similarity - similarity.max(axis=1, keepdims=True)) / NEIGHBOUR_TEMPERATURE
            )
            shares[rows] = (weights @ self.neighbour_classes) / weights.sum(axis=1, keepdims=True)
        return shares.reshape(len(embeddings), len(STYLE_AXES), len(CLASSES))


def _similarity(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``rows @ columns`` as float64, the same for a row whatever batch it is in: numpy
    takes a matrix-vector path for one row, which rounds differently from the
    matrix-matrix one, so a lone row is computed twice over."""
    if len(rows) == 1:
        return (np.repeat(rows, 2, axis=0) @ columns)[:1].astype(np.float64)
    return (rows @ columns).astype(np.float64)


def fit_reader(embedder: Embedder, c: float = READER_C) -> StyleReader:
    """A reader fitted on ``data/style_sentences.toml``, its views encoded by ``embedder``."""
    texts, labels = training_views(load_toml("style_sentences")["sentence"])
    return StyleReader.fit(texts, embedder.encode(texts), labels, c)


#: Texts read per encode: bounds the memory of reading a large roster's approaches
#: (every sentence of a chunk is encoded at once).
TEXT_CHUNK = 2048

# One fit per process and embedding model: the reader depends only on the model (named
# as in the embedding cache's keys) and on package data, like ``load_toml``'s cache.
_READERS: dict[tuple[str, float], StyleReader] = {}
_READERS_LOCK = threading.Lock()


class StyleInferrer:
    """Places texts on the four style axes, with a confidence per axis.

    Parameters
    ----------
    embedder : Embedder
        Encodes the training sentences (once per process and model name) and the
        negation views of the sentences read; pass a cached one.
    c : float
        Inverse regularisation strength of the reader (see ``READER_C``).
    reader : StyleReader, optional
        Read with this reader instead of fitting one (cross-validation, tests).
    """

    def __init__(self, embedder: Embedder, c: float = READER_C, reader: StyleReader | None = None):
        self.embedder = embedder
        self.c = c
        self._reader = reader

    def reader(self) -> StyleReader:
        """The fitted reader, fitted on first use."""
        if self._reader is not None:
            return self._reader
        key = (self.embedder.name, self.c)
        with _READERS_LOCK:  # a second thread waits for the first one's fit
            if key not in _READERS:
                _READERS[key] = fit_reader(self.embedder, self.c)
            return _READERS[key]

    def read_views(
        self,
        embeddings: np.ndarray,
        texts: Sequence[str],
        rows: np.ndarray,
        signs: np.ndarray,
        owner: np.ndarray,
        n: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Styles and confidences of ``n`` texts, as :meth:`infer_texts_with_confidence`,
        from the :func:`negation_views` of their sentences encoded by the caller (with its
        other texts: one encode in all). ``embeddings`` (k, d) are the unit embeddings of
        ``texts`` (k str). View i is ``texts[rows[i]]`` (each distinct row read once),
        wanted (``signs[i]`` +1) or refused (-1), of text ``owner[i]``.
        """
        distinct, where = np.unique(np.asarray(rows, dtype=int), return_inverse=True)
        p = self._probabilities(embeddings[distinct], [texts[i] for i in distinct])[where]
        sums = _view_sums(p, np.asarray(signs, dtype=float), np.asarray(owner, dtype=int), n)
        return _text_styles(*sums)

    def _probabilities(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """The reader's class probabilities; no rows need no (fitted) reader."""
        if not len(vectors):
            return np.zeros((0, len(STYLE_AXES), len(CLASSES)))
        return self.reader().probabilities(vectors, texts)

    def infer_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Styles of raw texts: (len(texts), 4) float32 in [-3, 3]; 0 for blank text."""
        return self.infer_texts_with_confidence(texts)[0]

    def infer_texts_with_confidence(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Styles of raw texts and their confidence.

        Returns
        -------
        values : (len(texts), 4) float32 in [-3, 3]; 0 for blank text
        confidence : (len(texts), 4) float32 in [0, 1]; 0 for blank text
        """
        values = np.zeros((len(texts), len(STYLE_AXES)), dtype=np.float32)
        confidence = np.zeros_like(values)
        for start in range(0, len(texts), TEXT_CHUNK):
            chunk = slice(start, start + TEXT_CHUNK)
            values[chunk], confidence[chunk] = self._infer_chunk(texts[chunk])
        return values, confidence

    def _infer_chunk(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        # the views of every sentence first, so the chunk is one encode of distinct views
        views = [
            (view, sign, i)
            for i, text in enumerate(texts)
            for sentence in split_sentences(text)
            for view, sign in negation_views(sentence)
        ]
        first, rows = _distinct([view for view, _, _ in views])
        distinct = [views[i][0] for i in first]
        signs = np.array([sign for _, sign, _ in views], dtype=float)
        owner = np.array([i for _, _, i in views], dtype=int)
        return self.read_views(
            self.embedder.encode(distinct), distinct, rows, signs, owner, len(texts)
        )


def _view_sums(
    p: np.ndarray, signs: np.ndarray, owner: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per owner (n of them), from its views' class probabilities ``p`` (m, 4, 3): the
    sum of confidence × value, the sum of confidences and the largest; (n, 4) float64."""
    shape = (n, len(STYLE_AXES))
    weighted, totals, top = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    sure = 1.0 - p[:, :, 1]
    # a refused scope's evidence counts for the opposite pole
    value = 3.0 * (p[:, :, 2] - p[:, :, 0]) * signs[:, None]
    np.add.at(weighted, owner, sure * value)
    np.add.at(totals, owner, sure)
    np.maximum.at(top, owner, sure)
    return weighted, totals, top


def _text_styles(
    weighted: np.ndarray, totals: np.ndarray, top: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A text's values (the confidence-weighted mean over its views; 0 without any) and
    confidences (its most confident view's), float32."""
    values = np.zeros(weighted.shape)
    np.divide(weighted, totals, out=values, where=totals > 0)
    values = np.clip(values, STYLE_MIN, STYLE_MAX).astype(np.float32)
    return values, np.clip(top, 0.0, 1.0).astype(np.float32)


def _distinct(keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``first`` (k,): the index of each distinct key's first occurrence; ``where``
    (len(keys),): which distinct key each one is."""
    position: dict[str, int] = {}
    first: list[int] = []
    where = np.empty(len(keys), dtype=int)
    for i, key in enumerate(keys):
        j = position.setdefault(key, len(first))
        if j == len(first):
            first.append(i)
        where[i] = j
    return np.array(first, dtype=int), where


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
