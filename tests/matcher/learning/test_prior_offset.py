"""The learner that starts from the prior: equal to it without data, moving with data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.learning.prior_offset import PriorOffsetLogistic
from matcher.ranking.features import CLICK_FEATURES, FEATURE_NAMES
from matcher.ranking.scoring import PriorScorer


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(0, 0.5, (n, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))


def _prior_probability(X: pd.DataFrame) -> np.ndarray:
    return PriorScorer().score(X.assign(effectiveness=0.0))


def test_with_a_handful_of_outcomes_it_ranks_like_the_prior():
    X = _frame(12, seed=0)
    y = np.array([0, 1] * 6)
    model = PriorOffsetLogistic().fit(X[list(CLICK_FEATURES)], y)
    test = _frame(200, seed=1)
    learned = model.decision_function(test[list(CLICK_FEATURES)])
    prior = _prior_probability(test)
    prior_logit = np.log(prior / (1 - prior))
    assert np.corrcoef(learned, prior_logit)[0, 1] > 0.98  # the prior's order, up to a shift


def test_with_plenty_of_outcomes_it_learns_what_the_prior_misses():
    X = _frame(20_000, seed=2)
    hidden = (
        2.0 * X["faith_preference"].to_numpy()
    )  # the truth leans on a feature the prior barely uses
    logit = np.log(_prior_probability(X) / (1 - _prior_probability(X))) + hidden
    y = (np.random.default_rng(3).random(len(X)) < 1 / (1 + np.exp(-logit))).astype(int)
    model = PriorOffsetLogistic().fit(X[list(CLICK_FEATURES)], y)
    faith = list(CLICK_FEATURES).index("faith_preference")
    scale = model.scale_[faith]
    assert model.coef_[faith] / scale == pytest.approx(2.0, abs=0.25)
    others = np.delete(model.coef_, faith)
    assert np.abs(others).max() < 0.15  # the rest stays at the prior


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="missing feature columns: story_specialties"):
        PriorOffsetLogistic().fit(_frame(10, 0).drop(columns="story_specialties"), [0, 1] * 5)
    with pytest.raises(ValueError, match="alpha must be >= 0, got -1"):
        PriorOffsetLogistic(alpha=-1).fit(_frame(10, 0)[list(CLICK_FEATURES)], [0, 1] * 5)
