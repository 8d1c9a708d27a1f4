"""The propensities logged with the rankings shown are what training and the off-policy
evaluation use; only rankings stored before they were logged fall back to the estimate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher import Ranking
from matcher.clinic import Store, training_set_from_store
from matcher.clinic.retraining import outcomes_with_propensity
from matcher.learning import training
from matcher.learning.evaluation import RewardModel, logged_outcomes
from matcher.learning.training import features_with_history, fit_scorer
from matcher.ranking import PriorScorer
from matcher.schema import read_csv, validate_frame
from matcher.simulation import simulate_world

CLIENTS = 120
#: The logged probability of the shown order down to ranks 1, 2 and 3.
LOGGED = {1: 0.5, 2: 0.25, 3: 0.125}


@pytest.fixture
def practice(database_url):
    """A store whose clients were each shown three therapists and placed with the one at
    rank 1, 2 or 3 (in turn); the even clients' rankings logged propensities, the odd
    clients' are payloads from before propensities were logged."""
    world = simulate_world(20, CLIENTS, seed=5, history=False)
    store = Store(database_url)
    store.import_tables(
        therapists=validate_frame(world.therapists, "therapists"),
        intakes=validate_frame(world.intakes, "intakes"),
    )
    ids = world.therapists["therapist_id"].tolist()
    outcomes, expected = [], {}
    share = (CLIENTS / 3 + 1) / (CLIENTS + 4)  # each rank's share, smoothed (ranks 0-3)
    for i, client in enumerate(world.intakes["client_id"]):
        shown = [ids[(i + j) % len(ids)] for j in range(3)]
        logged = i % 2 == 0
        suggestions = [
            {"rank": r, "therapist_id": t, "name": t, "score": 0.5}
            | ({"propensity": LOGGED[r]} if logged else {})
            for r, t in enumerate(shown, start=1)
        ]
        store.save_ranking(client, Ranking.from_dict({"suggestions": suggestions, "eligible": 20}))
        rank = 1 + i % 3
        placed = shown[rank - 1]
        expected[(client, placed)] = share * (LOGGED[rank] if logged else 1.0)
        outcomes.append([client, placed, "6", "yes" if i % 4 == 1 else "no", "", "", ""])
    columns = ["client_id", "therapist_id", "sessions", "dropped_out", "alliance"]
    frame = pd.DataFrame(outcomes, columns=[*columns, "improvement", "click"])
    store.import_tables(outcomes=validate_frame(frame, "outcomes"))
    return store, expected


def test_training_uses_the_logged_propensities(practice, fake_embedder, monkeypatch):
    store, expected = practice
    ts = training_set_from_store(store, fake_embedder)
    keys = list(zip(ts.client_ids, ts.therapist_ids, strict=True))
    assert ts.propensity == pytest.approx([expected[key] for key in keys])
    assert ts.propensities_from_policy == CLIENTS // 2

    seen = {}
    original = training.ClickModel.fit

    def spy(self, X, y, sample_weight=None, groups=None):
        seen["weight"] = np.asarray(sample_weight)
        return original(self, X, y, sample_weight=sample_weight, groups=groups)

    monkeypatch.setattr(training.ClickModel, "fit", spy)
    mask = ~ts.holdout
    fit_scorer(ts, features_with_history(ts, mask), mask, "logistic", calibration_folds=2)
    logged = np.array([expected[key] for key, m in zip(keys, mask, strict=True) if m])
    assert seen["weight"] == pytest.approx(1.0 / np.maximum(logged, 0.05))

    # the off-policy evaluation weighs each placement by the same propensities
    log = logged_outcomes(ts, PriorScorer(), ts.holdout, RewardModel(ts, mask))
    target = log.weight * ts.propensity[ts.holdout]
    # w * p is the target's 1/k (or 0): w was divided by the logged p, not 1 / eligible
    assert set(np.round(1.0 / target[target > 0], 6)) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_exported_outcomes_carry_the_propensities(practice, tmp_path):
    store, expected = practice
    frame = outcomes_with_propensity(store)
    frame.to_csv(tmp_path / "outcomes.csv", index=False)
    back = read_csv(tmp_path / "outcomes.csv", "outcomes")
    found = {
        (row.client_id, row.therapist_id): float(row.extra["propensity"])
        for row in back.itertuples()
    }
    assert found == pytest.approx(expected)
