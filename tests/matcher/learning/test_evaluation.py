"""Metrics against answers worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matcher.learning.evaluation import (
    calibration_curve,
    expected_calibration_error,
    ndcg_at_k,
    top1_click_rate,
)


def test_ndcg_by_hand():
    # four placements: ranks 1, 3, 7 (beyond k=5) and 2; the third one did not click
    placed_rank = np.array([1, 3, 7, 2])
    clicked = np.array([1, 1, 0, 1])
    # clicked clients only: 1/log2(2) = 1, 1/log2(4) = 0.5, 1/log2(3) = 0.6309
    expected = (1.0 + 0.5 + 1.0 / math.log2(3)) / 3
    assert ndcg_at_k(placed_rank, clicked, k=5) == pytest.approx(expected)
    # a clicked placement outside the top k earns nothing
    assert ndcg_at_k(np.array([6]), np.array([1]), k=5) == 0.0
    assert math.isnan(ndcg_at_k(np.array([1]), np.array([0])))


def test_ece_by_hand():
    # bin [0.1, 0.2): predictions 0.1, 0.1 with outcomes 0, 1 -> |0.5 - 0.1| = 0.4, weight 2/5
    # bin [0.9, 1.0]: predictions 0.9, 0.9, 1.0 with outcomes 1, 1, 1 -> |1 - 0.9333| = 0.0667
    y_prob = np.array([0.1, 0.1, 0.9, 0.9, 1.0])
    y_true = np.array([0, 1, 1, 1, 1])
    expected = 2 / 5 * 0.4 + 3 / 5 * (1.0 - (0.9 + 0.9 + 1.0) / 3)
    assert expected_calibration_error(y_true, y_prob) == pytest.approx(expected)
    curve = calibration_curve(y_true, y_prob)
    assert [b["count"] for b in curve] == [2, 3]
    assert curve[0]["observed"] == pytest.approx(0.5)


def test_a_perfectly_calibrated_forecast_has_zero_ece():
    assert expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.0)


def test_top1_click_rate_weights_by_inverse_propensity():
    # clients 0 and 2 had the scorer's top-1 as their placement: rates 1 and 0 with
    # propensities 0.5 and 0.25 -> (2*1 + 4*0) / (2 + 4) = 1/3
    rate, support = top1_click_rate(
        np.array([True, False, True]), np.array([1, 1, 0]), np.array([0.5, 0.5, 0.25])
    )
    assert rate == pytest.approx(1 / 3) and support == 2
