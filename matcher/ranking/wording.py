"""A reader of the words themselves: TF-IDF n-grams under per-axis logistic regressions.

The style reader's embedding half knows what a view is *about*; this half knows which
words and word pieces carried a label in the training views ("agenda", "homework",
"at my own pace", "childhood"). Sentence embeddings blur short, keyword-bearing views
and unusual spellings ("tbh", "hw", second-language grammar) that n-grams keep, and
the two disagree where they fail, so their blend reads better than either: +1.9 points
sign and +1.5 negated in the cross-validation of docs/style-reading.md.

Word 1-2-grams and character 2-5-grams inside word boundaries, sublinear TF-IDF; the
fitted vocabulary and weights are kept as arrays, so reading is two sparse products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from ..vocab import STYLE_AXES

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

#: Inverse L2 strength of the word classifiers: the best of 3, 10 and 30 in the
#: cross-validation (10 and 30 within 0.3 points).
WORDING_C = 10.0


@dataclass(frozen=True)
class WordingReader:
    """Per-axis three-class logistic regressions over TF-IDF n-grams of a view.

    ``vectorizers`` turn texts into the n-gram columns (words, then characters);
    ``coef`` is (features, 4 * 3) and ``intercept`` (4 * 3,), axis-major with classes in
    ``classes`` order.
    """

    vectorizers: tuple[TfidfVectorizer, ...]
    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: np.ndarray,
        classes: Sequence[int],
        c: float = WORDING_C,
    ) -> WordingReader:
        """Fit on ``texts`` (m views) and their ``labels`` (m, 4) in ``classes``."""
        from sklearn.feature_extraction.text import TfidfVectorizer  # only when fitting
        from sklearn.linear_model import LogisticRegression

        vectorizers = (
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float64),
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, dtype=np.float64
            ),
        )
        features = sparse.hstack([v.fit_transform(texts) for v in vectorizers]).tocsr()
        coef, intercept = [], []
        for a in range(len(STYLE_AXES)):
            model = LogisticRegression(C=c, max_iter=5000).fit(features, labels[:, a])
            order = [list(model.classes_).index(k) for k in classes]
            coef.append(model.coef_[order])
            intercept.append(model.intercept_[order])
        return cls(vectorizers, np.concatenate(coef).T.copy(), np.concatenate(intercept))

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 4, classes) float64 class probabilities of each text."""
        logits = np.tile(self.intercept, (len(texts), 1))
        start = 0
        for vectorizer in self.vectorizers:  # one product per vectorizer: no sparse stacking
            features = vectorizer.transform(texts)
            logits += features @ self.coef[start : start + features.shape[1]]
            start += features.shape[1]
        logits = logits.reshape(len(texts), len(STYLE_AXES), -1)
        logits -= logits.max(axis=2, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=2, keepdims=True)
