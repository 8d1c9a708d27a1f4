"""Scorers: anything that turns pair features into a score in [0, 1].

Ranking talks to one interface, :class:`Scorer`. Until a model has been
trained from outcomes, the :class:`PriorScorer` ranks: a hand-set logistic
score over the pair features whose weights follow the evidence in the design
notes (preference accommodation, concern fit, the client's own words).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .features import FEATURE_NAMES, STYLE_FEATURES
from .roster import TrackRecordLike


@runtime_checkable
class Scorer(Protocol):
    """Scores (client, therapist) pairs: everything ranking, training and placement use.

    Implemented by :class:`PriorScorer` and :class:`matcher.learning.LearnedScorer`.
    """

    #: Shown to coordinators beside each suggestion: "prior" or a model version.
    version: str
    #: True when scoring every candidate is cheap; False makes ranking score a
    #: shortlist on large rosters (see :func:`matcher.ranking.rank.shortlist_scores`).
    exhaustive: bool
    #: The therapists' fitted track record that fills the history features, or None.
    track_record: TrackRecordLike | None

    def score(self, features: pd.DataFrame) -> np.ndarray:
        """(n,) float in [0, 1] for a frame with columns ``FEATURE_NAMES``."""
        ...

    def click_probability(self, features: pd.DataFrame) -> np.ndarray:
        """(n,) P(good early relationship) in [0, 1]; the prior's score is its own estimate."""
        ...


#: Logit weight per feature of the prior scorer. Style fit carries most
#: weight (accommodating preferences lowers dropout); concern fit next;
#: similarity of the client's hopes to the therapist's own words after that.
PRIOR_WEIGHTS: dict[str, float] = {
    **dict.fromkeys(STYLE_FEATURES, 1.2),
    "hopes_approach": 3.0,
    "story_specialties": 1.5,
    "concern_semantic": 2.0,
    "concern_coverage": 1.2,
    "gender_preference": 0.6,
    "faith_preference": 0.4,
    "therapy_type_preference": 0.5,
}
PRIOR_INTERCEPT = -1.5


class PriorScorer:
    """A transparent logistic score with hand-set weights (see ``PRIOR_WEIGHTS``)."""

    version = "prior"
    #: Cheap enough to score every candidate (see :func:`matcher.ranking.rank.shortlist_scores`).
    exhaustive = True
    #: The prior knows no therapist's history.
    track_record = None

    def __init__(self, weights: dict[str, float] | None = None, intercept: float = PRIOR_INTERCEPT):
        self.weights = dict(PRIOR_WEIGHTS if weights is None else weights)
        self.intercept = intercept

    def score(self, features: pd.DataFrame) -> np.ndarray:
        w = np.array([self.weights.get(name, 0.0) for name in FEATURE_NAMES])
        logit = features[list(FEATURE_NAMES)].to_numpy(dtype=float) @ w + self.intercept
        return 1.0 / (1.0 + np.exp(-logit))

    def click_probability(self, features: pd.DataFrame) -> np.ndarray:
        return self.score(features)
