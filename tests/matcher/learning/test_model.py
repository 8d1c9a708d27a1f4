"""The learned scorer's parts: calibrated click model, shrunken track record, combination."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from matcher.learning.model import ClickModel, LearnedScorer, TrackRecord, track_record_score
from matcher.ranking.features import CLICK_FEATURES, FEATURE_NAMES


def _features(n, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    logit = 1.5 * frame["concern_coverage"] - 1.0 * frame["style_fit_challenge"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y


def test_click_model_follows_the_estimator_contract():
    model = ClickModel(calibration="sigmoid", n_splits=3)
    assert model.get_params()["calibration"] == "sigmoid"  # __init__ only stores
    X, y = _features(600)
    with pytest.raises(NotFittedError):
        model.predict_proba(X)
    assert model.fit(X, y) is model
    proba = model.predict_proba(X)
    assert proba.shape == (600, 2) and np.allclose(proba.sum(axis=1), 1)
    assert list(model.feature_names_in_) == list(CLICK_FEATURES)
    assert model.calibration_method_ == "sigmoid"


def test_click_model_learns_and_is_calibrated():
    X, y = _features(4000)
    model = ClickModel().fit(X, y, groups=np.arange(4000) // 2)
    X_new, y_new = _features(4000, seed=1)
    p = model.predict_proba(X_new)[:, 1]
    assert np.corrcoef(p, X_new["concern_coverage"])[0, 1] > 0.5
    assert abs(p.mean() - y_new.mean()) < 0.03


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"calibration": "platt"}, "calibration must be"), ({}, "both clicks")],
)
def test_click_model_refuses_bad_input(kwargs, message):
    X, _ = _features(50)
    y = np.ones(50) if not kwargs else np.arange(50) % 2
    with pytest.raises(ValueError, match=message):
        ClickModel(**kwargs).fit(X, y)


def test_missing_feature_columns_are_named():
    X, y = _features(200)
    with pytest.raises(ValueError, match="missing feature columns: hopes_approach"):
        ClickModel().fit(X.drop(columns=["hopes_approach"]), y)


def test_track_record_shrinks_few_cases_toward_the_mean():
    rng = np.random.default_rng(0)
    ids = ["busy"] * 200 + ["new"] * 2 + [f"T{i}" for i in range(400)]
    improvement = np.concatenate([rng.normal(4, 3, 200), [15.0, 15.0], rng.normal(0, 3, 400)])
    record = TrackRecord().fit(ids, [["anxiety"]] * len(ids), improvement)
    busy, new = record.expected(["busy", "new"], ["anxiety"])
    # two spectacular cases must not outrank 200 good ones
    assert busy > new
    assert new < 15.0 / 2
    assert record.expected(["never-seen"], ["anxiety"])[0] == 0.0


def test_track_record_alliance_history_is_shrunk():
    rng = np.random.default_rng(1)
    others = [f"T{i}" for i in range(40) for _ in range(30)]
    ids = ["steady"] * 100 + ["lucky"] * 2 + others
    clicked = np.concatenate([[1] * 70 + [0] * 30, [1, 1], rng.random(len(others)) < 0.45])
    record = TrackRecord().fit(ids, [[]] * len(ids), np.full(len(ids), np.nan), clicked)
    steady, lucky, unseen = record.alliance(["steady", "lucky", "unseen"])
    assert steady > lucky > 0 and unseen == 0.0


def test_track_record_pairs_agree_with_single_client_lookup():
    ids = ["A", "A", "B", "B", "C"]
    record = TrackRecord().fit(
        ids, [["anxiety"], ["grief"], ["anxiety"], ["anxiety"], ["grief"]], [5, -2, 1, 3, 0]
    )
    single = record.expected(["A", "B", "C"], ["anxiety", "grief"])
    pairs = record.expected_for_pairs(["A", "B", "C"], [["anxiety", "grief"]] * 3)
    assert single == pytest.approx(pairs)


def test_learned_scorer_combines_the_two_signals_by_weight():
    X, y = _features(500)
    click = ClickModel().fit(X, y)
    record = TrackRecord().fit(["A"], [["anxiety"]], [1.0], [1])
    scorer = LearnedScorer(click, record, track_record_weight=0.25)
    X = X.assign(effectiveness=np.linspace(-10, 10, 500))
    expected = 0.75 * click.predict_proba(X)[:, 1] + 0.25 * track_record_score(X["effectiveness"])
    assert scorer.score(X) == pytest.approx(expected)
    assert track_record_score(np.array([0.0]))[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="track_record_weight must be in"):
        LearnedScorer(click, record, track_record_weight=1.5)


def test_calibration_never_reverses_the_ranking():
    """With few, noisy labels a sigmoid fit can get a negative slope; the calibrator must
    then stay monotone (found by the learning-curve benchmark: a reversed ranking)."""
    from matcher.learning.model import _apply_calibrator, _fit_calibrator

    rng = np.random.default_rng(0)
    scores = rng.random(60)
    y = (rng.random(60) < 1.0 - scores).astype(int)  # labels run against the scores
    calibrator = _fit_calibrator("sigmoid", scores, y, np.ones(60))
    grid = np.linspace(0.01, 0.99, 50)
    assert np.all(np.diff(_apply_calibrator(calibrator, grid)) >= 0)


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_the_array_form_of_a_logistic_model_equals_scikit_learns(calibration):
    X, y = _features(3000)
    model = ClickModel(calibration=calibration).fit(X, y, groups=np.arange(3000) // 3)
    X_new, _ = _features(500, seed=4)
    np.testing.assert_allclose(model.predict_proba(X_new), _by_scikit_learn(model, X_new))

    # a pickled model predicts the same, and a refit drops the old weights
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(X_new), model.predict_proba(X_new))
    X_flipped = X.assign(concern_coverage=-X["concern_coverage"])
    model.fit(X_flipped, y, groups=np.arange(3000) // 3)
    np.testing.assert_allclose(model.predict_proba(X_new), _by_scikit_learn(model, X_new))
    assert np.corrcoef(model.predict_proba(X_new)[:, 1], X_new["concern_coverage"])[0, 1] < 0


def _by_scikit_learn(model, X):
    """The click model's probabilities through scikit-learn's own predict methods."""
    raw = model.model_.predict_proba(X[list(CLICK_FEATURES)])[:, 1]
    if model.calibration_method_ == "isotonic":
        click = model.calibrator_.predict(raw)
    else:
        logit = np.log(np.clip(raw, 1e-6, 1 - 1e-6) / (1 - np.clip(raw, 1e-6, 1 - 1e-6)))
        click = model.calibrator_.predict_proba(logit[:, None])[:, 1]
    return np.column_stack([1 - click, click])
