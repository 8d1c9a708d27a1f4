"""The ranking policies: Plackett–Luce propensities worked by hand, the loss bound, hard
constraints, and the deterministic policy exactly as ranking was before it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import Ranking
from matcher.ranking import PolicySettings, PriorScorer, rank_client
from matcher.ranking.policy import (
    PRIOR_UNCERTAINTY,
    expected_loss,
    explore,
    near_tie_set,
    pl_position_means,
    position_weights,
    prefix_propensities,
    sample_plackett_luce,
)

INTAKE = {
    "concerns": "anxiety;work_stress",
    "story": "I worry about work all the time and cannot sleep.",
    "hopes": "I want practical tools, homework and a clear structure.",
    "language": "english",
    "modality": "either",
    "city": "Springfield",
}

# --- Plackett–Luce, worked by hand ----------------------------------------------------------
# Three therapists A, B, C with Plackett–Luce weights 3 : 2 : 1 (logits log 3, log 2, 0).
# First position: A 3/6, B 2/6, C 1/6. After A: B 2/3, C 1/3; after B: A 3/4, C 1/4;
# after C: A 3/5, B 2/5. The last position is then certain.
HAND_WORKED = {
    (0, 1, 2): (1 / 2, 1 / 2 * 2 / 3, 1 / 3),
    (0, 2, 1): (1 / 2, 1 / 2 * 1 / 3, 1 / 6),
    (1, 0, 2): (1 / 3, 1 / 3 * 3 / 4, 1 / 4),
    (1, 2, 0): (1 / 3, 1 / 3 * 1 / 4, 1 / 12),
    (2, 0, 1): (1 / 6, 1 / 6 * 3 / 5, 1 / 10),
    (2, 1, 0): (1 / 6, 1 / 6 * 2 / 5, 1 / 15),
}
LOGITS = np.log([3.0, 2.0, 1.0])


@pytest.mark.parametrize("order", list(HAND_WORKED))
def test_prefix_propensities_match_the_hand_worked_example(order):
    assert prefix_propensities(LOGITS, np.array(order)) == pytest.approx(HAND_WORKED[order])


def test_position_means_match_the_hand_worked_example():
    # P(A first) = 1/2; P(A second) = P(B first) 3/4 + P(C first) 3/5 = 1/4 + 1/10;
    # P(A third) = the rest, 3/20.
    a = np.array([1.0, 0.0, 0.0])
    assert pl_position_means(a, LOGITS, 3) == pytest.approx([0.5, 0.35, 0.15])


def test_the_policy_logs_the_hand_worked_propensities():
    """Through the exploring policy: scores whose gaps over the temperature (the prior's
    stated uncertainty) are log 1.5 and log 3 give the weights 3 : 2 : 1."""
    tau = PRIOR_UNCERTAINTY
    scores = 0.6 + tau * (LOGITS - LOGITS[0])
    sigma = np.full(3, tau)
    seen = set()
    for seed in range(40):
        decision = explore(scores, sigma, 3, 0.5, np.random.default_rng(seed))
        order = tuple(int(i) for i in decision.order)
        assert decision.temperature == pytest.approx(tau)
        assert decision.propensity == pytest.approx(HAND_WORKED[order])
        seen.add(order)
    assert len(seen) >= 4  # it does draw


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-3, 3), min_size=1, max_size=5),
    st.integers(1, 5),
)
def test_propensities_sum_to_one_and_multiply_down_the_list(logits, m):
    logits = np.array(logits)
    m = min(m, len(logits))
    prefixes = list(itertools.permutations(range(len(logits)), m))
    last = [prefix_propensities(logits, np.array(p))[-1] for p in prefixes]
    assert sum(last) == pytest.approx(1.0)  # every possible shown list, once
    for p in prefixes:
        chain = prefix_propensities(logits, np.array(p))
        steps = chain / np.concatenate([[1.0], chain[:-1]])  # conditional probabilities
        assert np.all((steps > 0) & (steps <= 1 + 1e-12))
        assert chain[0] == pytest.approx(math.exp(logits[p[0]]) / np.exp(logits).sum())
    # the position means agree with the prefix probabilities summed over all lists
    values = np.arange(len(logits), dtype=float)
    brute = np.zeros(m)
    for p, prob in zip(prefixes, last, strict=True):
        brute += prob * values[list(p)]
    assert pl_position_means(values, logits, m) == pytest.approx(brute)


def test_the_sampler_draws_orders_as_often_as_their_propensity():
    rng = np.random.default_rng(0)
    draws = [tuple(sample_plackett_luce(LOGITS, 3, rng)) for _ in range(6000)]
    for order, expected in HAND_WORKED.items():
        assert draws.count(order) / len(draws) == pytest.approx(expected[-1], abs=0.02)


# --- the loss bound and hard constraints -------------------------------------------------------


def _true_loss(scores: np.ndarray, decision, k: int) -> float:
    """The expected loss by enumerating every list the policy can show (brute force)."""
    finite = np.flatnonzero(np.isfinite(scores))
    det = finite[np.argsort(-scores[finite], kind="stable")][:k]
    w = position_weights(len(det))
    if decision.temperature == 0:
        shown = scores[decision.order]
        return max(float(w @ (scores[det] - shown)), 0.0) / scores[det[0]]
    near = decision.near_ties
    m = min(len(det), len(near))
    logits = scores[near] / decision.temperature
    fill = [i for i in det.tolist() + finite[np.argsort(-scores[finite])].tolist()]
    fill = list(dict.fromkeys(i for i in fill if i not in set(near.tolist())))
    expected = np.zeros(len(det))
    for prefix in itertools.permutations(range(len(near)), m):
        p = prefix_propensities(logits, np.array(prefix))[-1]
        shown = [near[j] for j in prefix] + fill[: len(det) - m]
        expected += p * scores[shown]
    return max(float(w @ (scores[det] - expected)), 0.0) / scores[det[0]]


scores_strategy = st.lists(
    st.one_of(st.floats(0.05, 1.0), st.just(-np.inf)), min_size=1, max_size=7
).filter(lambda s: any(np.isfinite(s)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scores_strategy,
    st.lists(st.floats(0.0, 0.2), min_size=7, max_size=7),
    st.integers(1, 4),
    st.floats(0.0, 0.05),
    st.integers(0, 2**32 - 1),
)
def test_exploring_never_exceeds_the_loss_bound_nor_shows_the_ineligible(
    scores, sigma, k, bound, seed
):
    """``-inf`` marks a candidate that is not scored (the caller passes only eligible
    ones; any other index would be a hard constraint crossed)."""
    scores = np.array(scores)
    sigma = np.array(sigma[: len(scores)])
    decision = explore(scores, sigma, k, bound, np.random.default_rng(seed))
    finite = np.flatnonzero(np.isfinite(scores))
    assert len(decision.order) == min(k, len(finite))
    assert len(set(decision.order.tolist())) == len(decision.order)
    assert set(decision.order.tolist()) <= set(finite.tolist())
    assert decision.expected_loss <= bound + 1e-12
    assert _true_loss(scores, decision, k) <= bound + 1e-9
    assert np.all((decision.propensity > 0) & (decision.propensity <= 1))
    assert np.all(np.diff(decision.propensity) <= 1e-12)  # a prefix only gets less likely


def test_the_bound_shrinks_the_temperature_and_zero_means_deterministic():
    scores = np.array([0.70, 0.69, 0.68, 0.50])
    sigma = np.full(4, 0.05)
    loose = explore(scores, sigma, 3, 0.5, np.random.default_rng(1))
    tight = explore(scores, sigma, 3, 0.001, np.random.default_rng(1))
    none = explore(scores, sigma, 3, 0.0, np.random.default_rng(1))
    assert loose.temperature == pytest.approx(0.05) and loose.expected_loss > 0.001
    assert 0 < tight.temperature < loose.temperature and tight.expected_loss <= 0.001
    assert none.order.tolist() == [0, 1, 2] and none.propensity.tolist() == [1.0, 1.0, 1.0]
    assert expected_loss(scores, np.array([0, 1]), 0.0, 3) == 0.0  # sorted: nothing lost


def test_a_therapist_with_wide_uncertainty_joins_the_near_ties():
    scores = np.array([0.70, 0.66, 0.60])
    narrow = near_tie_set(scores, np.full(3, 0.01))
    wide = near_tie_set(scores, np.array([0.01, 0.01, 0.12]))  # the third has no record
    assert narrow.tolist() == [0] and wide.tolist() == [0, 2]


class ConstantScorer(PriorScorer):
    """Everyone scores the same: the model cannot tell anyone apart."""

    version = "constant"

    def score(self, features: pd.DataFrame) -> np.ndarray:
        return np.full(len(features), 0.5)


def test_ranking_explores_only_among_the_eligible(matcher):
    roster = matcher.roster
    eligible = {t["therapist_id"] for t in matcher.eligible_therapists(INTAKE)}
    client = matcher.profile(INTAKE)
    policy = PolicySettings("explore", loss_bound=0.5)
    firsts = set()
    for seed in range(30):
        ranking = rank_client(
            client, roster, ConstantScorer(), 5, policy=policy, rng=np.random.default_rng(seed)
        )
        assert {s.therapist_id for s in ranking} <= eligible
        assert len(ranking) == min(5, len(eligible))
        firsts.add(ranking[0].therapist_id)
        assert ranking.policy.name == "explore"
        assert ranking.policy.expected_loss == pytest.approx(0.0, abs=1e-12)
    assert len(firsts) > 1  # all tied: the order is drawn
    assert ranking.near_tie_message and "about equally well" in ranking.near_tie_message


def test_deterministic_mode_is_exactly_the_ranking_as_before(matcher):
    client = matcher.profile({**INTAKE, "directive": 3, "challenge": 3})
    before = rank_client(client, matcher.roster, matcher.scorer, 5)  # no policy given
    again = rank_client(
        client, matcher.roster, matcher.scorer, 5, policy=PolicySettings("deterministic")
    )
    assert again == before
    assert [s.score for s in before] == sorted((s.score for s in before), reverse=True)
    assert [s.propensity for s in before] == [1.0] * len(before)
    assert before.policy.name == "deterministic" and before.policy.expected_loss == 0.0
    assert before.near_tie_message is None
    through_api = matcher.rank({**INTAKE, "directive": 3, "challenge": 3}, policy="deterministic")
    assert [s.therapist_id for s in through_api] == [s.therapist_id for s in before]
    # the log: every eligible candidate (here fewer than 50), best first, with scores
    assert before.candidates[: len(before)] == tuple((s.therapist_id, s.score) for s in before)


def test_the_log_round_trips_and_old_payloads_still_load(matcher):
    ranking = matcher.rank(INTAKE, policy=PolicySettings("explore", loss_bound=0.02))
    data = ranking.as_dict()
    assert Ranking.from_dict(data).as_dict() == data
    assert {"candidates", "policy"} <= set(data) and "propensity" in data["suggestions"][0]
    old = {k: v for k, v in data.items() if k not in ("candidates", "policy")}
    old["suggestions"] = [
        {k: v for k, v in s.items() if k != "propensity"} for s in data["suggestions"]
    ]
    loaded = Ranking.from_dict(old)
    assert loaded.policy is None and loaded.candidates == ()
    assert all(s.propensity is None for s in loaded) and loaded.near_tie_message is None
    assert "candidates" not in ranking.as_dict(log=False)


def test_the_configured_policy_and_a_bad_one():
    assert PolicySettings.from_env({}) == PolicySettings("deterministic", 0.01)
    env = {"MATCHER_RANKING_POLICY": "Explore", "MATCHER_EXPLORATION_LOSS_BOUND": "0.02"}
    assert PolicySettings.from_env(env) == PolicySettings("explore", 0.02)
    with pytest.raises(Exception, match="unknown ranking policy"):
        PolicySettings.from_env({"MATCHER_RANKING_POLICY": "random"})
