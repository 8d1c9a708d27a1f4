"""Off-policy estimators against hand-worked examples and a bandit with a known value."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.learning import off_policy
from matcher.learning.off_policy import LoggedOutcomes

# Four logged placements. The target policy would have chosen the logged therapist
# with probability 0.5, 0, 0.25, 1; the logging policy did with 0.25, 0.5, 0.5, 0.5.
REWARD = np.array([1.0, 1.0, 0.0, 1.0])
TARGET = np.array([0.5, 0.0, 0.25, 1.0])
LOGGING = np.array([0.25, 0.5, 0.5, 0.5])
WEIGHT = TARGET / LOGGING  # 2, 0, 0.5, 2
Q_POLICY = np.array([0.6, 0.4, 0.5, 0.7])
Q_LOGGED = np.array([0.5, 0.5, 0.5, 0.5])


def test_ips_by_hand():
    # (2*1 + 0*1 + 0.5*0 + 2*1) / 4 = 1.0
    assert off_policy.ips(REWARD, WEIGHT) == pytest.approx(1.0)


def test_snips_by_hand():
    # (2 + 0 + 0 + 2) / (2 + 0 + 0.5 + 2) = 4 / 4.5
    assert off_policy.snips(REWARD, WEIGHT) == pytest.approx(4 / 4.5)


def test_doubly_robust_by_hand():
    # terms: 0.6 + 2*(1-0.5) = 1.6; 0.4 + 0 = 0.4; 0.5 + 0.5*(0-0.5) = 0.25; 0.7 + 2*0.5 = 1.7
    expected = (1.6 + 0.4 + 0.25 + 1.7) / 4
    assert off_policy.doubly_robust(REWARD, WEIGHT, Q_POLICY, Q_LOGGED) == pytest.approx(expected)


def test_empty_logs_give_nan_not_an_error():
    empty = np.array([])
    assert np.isnan(off_policy.ips(empty, empty))
    assert np.isnan(off_policy.snips(empty, empty))
    assert np.isnan(off_policy.doubly_robust(empty, empty, empty, empty))


def _bandit(n: int, seed: int) -> tuple[LoggedOutcomes, float]:
    """Five arms with known click rates, logged uniformly; the target policy always
    plays arm 4. Its true value is 0.8."""
    rng = np.random.default_rng(seed)
    rates = np.array([0.2, 0.3, 0.4, 0.5, 0.8])
    arm = rng.integers(0, 5, n)
    reward = (rng.random(n) < rates[arm]).astype(float)
    weight = (arm == 4) / 0.2
    model = np.full(n, 0.5)  # a poor reward model: DR must still be unbiased
    log = LoggedOutcomes(reward, weight, model, model, np.arange(n))
    return log, 0.8


def test_estimators_recover_a_known_policy_value():
    log, truth = _bandit(20_000, seed=1)
    values = off_policy.estimates(log)
    for name in off_policy.ESTIMATORS:
        assert values[name] == pytest.approx(truth, abs=0.03), name


def test_bootstrap_intervals_cover_the_truth_and_group_by_client():
    log, truth = _bandit(2_000, seed=2)
    resamples = off_policy.bootstrap_indices(log.group, n_bootstrap=200, seed=0)
    summary = off_policy.summary(log, off_policy.bootstrap_estimates(log, resamples))
    for name in off_policy.ESTIMATORS:
        assert summary[name]["low"] <= truth <= summary[name]["high"], name
        assert summary[name]["low"] < summary[name]["value"] < summary[name]["high"]
    # a client with two placements is drawn whole: both rows or neither
    groups = np.array(["a", "a", "b"])
    for rows in off_policy.bootstrap_indices(groups, n_bootstrap=20, seed=3):
        drawn = list(rows)
        assert drawn.count(0) == drawn.count(1)
