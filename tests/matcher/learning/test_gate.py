"""The promotion gate: a candidate replaces the prior or the champion only on a ranking win."""

from __future__ import annotations

import copy

import pytest

from matcher.learning.training import GATE_WIN_SHARE, gate


def _card(gain_prior=0.05, share_prior=0.95, ece=0.03, champion=None, random=(0.15, 1.0)):
    estimates = {
        "model": {"dr": {"value": 0.50}},
        "prior": {"dr": {"value": 0.50 - gain_prior}},
        "random": {"dr": {"value": 0.35}},
    }
    versus = {
        "prior": {"mean_gain": gain_prior, "win_share": share_prior},
        "random": {"mean_gain": random[0], "win_share": random[1]},
    }
    metrics = {"model": {"ece": ece}, "prior": {"ece": 0.10}}
    card = {
        "policy_value": {"estimates": estimates, "versus": versus, "k": 5},
        "metrics": metrics,
        "champion": "prior",
    }
    if champion is not None:
        gain, share, champion_ece = champion
        estimates["champion"] = {"dr": {"value": 0.50 - gain}}
        versus["champion"] = {"mean_gain": gain, "win_share": share}
        metrics["champion"] = {"ece": champion_ece}
        card["champion"] = "20260101-000000"
    return card


def test_a_clear_ranking_win_with_acceptable_calibration_is_promoted():
    promoted, reason = gate(_card())
    assert promoted, reason
    assert "beats the prior" in reason


@pytest.mark.parametrize(
    ("card", "why"),
    [
        (_card(gain_prior=-0.02, share_prior=0.2), "does not clearly beat the prior"),
        (_card(gain_prior=0.01, share_prior=GATE_WIN_SHARE - 0.05), "needs 80%"),
        (_card(gain_prior=0.0, share_prior=0.5), "the prior stays"),
        (_card(ece=0.2), "calibration error 0.200"),
        (_card(champion=(-0.01, 0.3, 0.02)), "20260101-000000 stays"),
        (_card(random=(0.01, 0.6)), "a random order"),
    ],
    ids=[
        "worse",
        "not clearly",
        "equal",
        "miscalibrated",
        "loses to champion",
        "no better than chance",
    ],
)
def test_a_candidate_that_does_not_clearly_win_is_not_promoted(card, why):
    promoted, reason = gate(card)
    assert not promoted
    assert why in reason


def test_beating_the_prior_is_not_enough_when_a_champion_is_better():
    card = _card(champion=(0.0, 0.5, 0.03))
    assert gate(card)[0] is False
    better = copy.deepcopy(card)
    better["policy_value"]["versus"]["champion"] = {"mean_gain": 0.03, "win_share": 0.9}
    assert gate(better)[0] is True
