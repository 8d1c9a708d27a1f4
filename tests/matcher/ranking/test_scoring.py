"""The prior scorer: a transparent logistic score, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from matcher.ranking.features import FEATURE_NAMES
from matcher.ranking.scoring import PRIOR_INTERCEPT, PRIOR_WEIGHTS, PriorScorer, Scorer


def _row(**values: float) -> pd.DataFrame:
    return pd.DataFrame([{name: values.get(name, 0.0) for name in FEATURE_NAMES}])


def test_prior_score_by_hand():
    row = _row(hopes_approach=0.5, concern_coverage=1.0)
    logit = (
        PRIOR_INTERCEPT + PRIOR_WEIGHTS["hopes_approach"] * 0.5 + PRIOR_WEIGHTS["concern_coverage"]
    )
    assert PriorScorer().score(row)[0] == pytest.approx(1 / (1 + math.exp(-logit)))


def test_prior_follows_the_evidence_it_encodes():
    scorer = PriorScorer()
    base = scorer.score(_row())[0]
    assert scorer.score(_row(style_fit_challenge=1.0))[0] > base  # accommodated preference
    assert scorer.score(_row(concern_coverage=1.0))[0] > base
    assert scorer.score(_row(effectiveness=5.0))[0] == base  # the prior knows no history


def test_the_prior_meets_the_scorer_protocol():
    scorer = PriorScorer()
    assert isinstance(scorer, Scorer)
    assert scorer.track_record is None and scorer.exhaustive
    rows = pd.concat([_row(), _row(hopes_approach=1.0)], ignore_index=True)
    assert np.array_equal(scorer.click_probability(rows), scorer.score(rows))
