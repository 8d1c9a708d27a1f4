"""Training: labels, leakage-free splits, and the learned model against known ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher import Matcher
from matcher.errors import MatcherError
from matcher.learning.datasets import build_training_set, click_labels, holdout_mask
from matcher.learning.evaluation import expected_calibration_error
from matcher.learning.training import features_with_history, train
from matcher.ranking.embed import CachedEmbedder
from matcher.ranking.features import FEATURE_NAMES
from matcher.ranking.filters import constraint_masks, eligible
from matcher.ranking.scoring import PriorScorer
from matcher.schema import validate_frame
from matcher.simulation import simulate_world


def _tables(world):
    return {
        kind: validate_frame(getattr(world, kind), kind)
        for kind in ("therapists", "intakes", "outcomes")
    }


@pytest.fixture(scope="module")
def embedder():
    from tests.conftest import FakeEmbedder

    return CachedEmbedder(FakeEmbedder())


@pytest.fixture(scope="module")
def trained(embedder):
    world = simulate_world(60, 4000, seed=11)
    ts = build_training_set(**_tables(world), embedder=embedder)
    return world, ts, train(ts)


def test_click_label_rule_and_override():
    outcomes = pd.DataFrame(
        {
            "dropped_out": [False, False, True, False, True],
            "alliance": [37.0, 30.0, 38.0, None, None],
            "click": [None, None, None, None, 1],
        }
    )
    assert click_labels(outcomes).tolist() == [1, 0, 0, 1, 1]
    assert click_labels(outcomes, alliance_threshold=29).tolist() == [1, 1, 0, 1, 1]


def test_holdout_is_by_client_and_stable():
    ids = np.array([f"C{i}" for i in range(2000)])
    mask = holdout_mask(ids)
    assert 0.2 < mask.mean() < 0.3
    assert np.array_equal(mask, holdout_mask(ids[::-1])[::-1])  # order does not matter


def test_no_client_is_on_both_sides(trained):
    _, ts, _ = trained
    train_clients = set(ts.client_ids[~ts.holdout])
    held_out_clients = set(ts.client_ids[ts.holdout])
    assert train_clients and held_out_clients and not train_clients & held_out_clients


def test_history_features_never_use_a_rows_own_label(trained):
    _, ts, _ = trained
    features = features_with_history(ts, ~ts.holdout)
    flipped = ts.labels.copy()
    row = int(np.flatnonzero(~ts.holdout)[0])
    ts.labels[row] = 1 - ts.labels[row]
    try:
        again = features_with_history(ts, ~ts.holdout)
    finally:
        ts.labels[:] = flipped
    assert again.loc[row, "alliance_history"] == features.loc[row, "alliance_history"]
    # held-out rows only ever see training labels
    held_out = np.flatnonzero(ts.holdout)
    ts.labels[held_out] = 1 - ts.labels[held_out]
    try:
        after = features_with_history(ts, ~ts.holdout)
    finally:
        ts.labels[:] = flipped
    assert after.loc[held_out, "alliance_history"].equals(
        features.loc[held_out, "alliance_history"]
    )


def test_card_reports_model_prior_and_random(trained):
    _, _, result = trained
    card = result.card
    assert card["candidate"] in {"prior_offset", "logistic", "boosted"}
    assert set(card["metrics"]) == {"model", "prior", "random"}
    values = card["policy_value"]["estimates"]
    assert set(values) == {"model", "prior", "random"}
    for estimate in values.values():
        for name in ("ips", "snips", "dr"):
            assert estimate[name]["low"] <= estimate[name]["value"] <= estimate[name]["high"]
    assert set(card["policy_value"]["versus"]) == {"prior", "random"}
    for figures in card["metrics"].values():
        assert {"roc_auc", "brier", "ece", "ndcg_at_5", "top1_click_rate"} <= set(figures)
    assert card["features"] == list(FEATURE_NAMES)
    assert card["data"]["held_out_clients"] > 500
    assert card["label"]["alliance_threshold"] == 36.0


def test_learned_model_beats_prior_and_random_on_unseen_clients(trained, embedder):
    """Ground truth: new clients (a seed the model never saw) for the same roster."""
    world, _, result = trained
    fresh = simulate_world(60, 800, seed=11, client_seed=12, history=False)
    tables = _tables(fresh)
    top1 = {}
    for name, scorer in (("learned", result.scorer), ("prior", PriorScorer())):
        matcher = Matcher(scorer, embedder, therapists=tables["therapists"])
        rankings = matcher.rank_many(tables["intakes"], k=1)
        pairs = [
            (c, r[0].therapist_id)
            for c, r in zip(tables["intakes"]["client_id"], rankings, strict=True)
            if len(r)
        ]
        probability = fresh.click_probability(*zip(*pairs, strict=True))
        top1[name] = float(np.diagonal(probability).mean())
    roster = Matcher(PriorScorer(), embedder, therapists=tables["therapists"]).roster
    random_rates = []
    for record in tables["intakes"].to_dict("records"):
        record = {k: None if isinstance(v, float) and v != v else v for k, v in record.items()}
        rows = np.flatnonzero(eligible(constraint_masks(record, roster)))
        if len(rows):
            rates = fresh.click_probability([record["client_id"]], list(roster.ids[rows]))
            random_rates.append(rates.mean())
    top1["random"] = float(np.mean(random_rates))
    # measured: learned ≈ 0.67, prior ≈ 0.56, random ≈ 0.42 (sd of each mean ≈ 0.007)
    assert top1["learned"] > top1["prior"] + 0.04, top1
    assert top1["prior"] > top1["random"] + 0.04, top1


def test_learned_probabilities_are_calibrated_against_the_truth(trained, embedder):
    world, ts, result = trained
    fresh = simulate_world(60, 2000, seed=11, client_seed=13)
    new = build_training_set(**_tables(fresh), embedder=embedder)
    features = new.features.copy()
    track = result.scorer.track_record
    features["alliance_history"] = track.alliance(new.therapist_ids).astype(np.float32)
    predicted = result.scorer.click_probability(features)
    truth = np.array(
        [
            fresh.click_probability([c], [t])[0, 0]
            for c, t in zip(new.client_ids, new.therapist_ids, strict=True)
        ]
    )
    # ECE against the true probabilities, so label noise does not blur it
    assert expected_calibration_error(truth, predicted) <= 0.05
    assert result.card["metrics"]["model"]["ece"] <= 0.06


def test_too_little_data_keeps_the_prior(embedder):
    world = simulate_world(10, 30, seed=1)
    ts = build_training_set(**_tables(world), embedder=embedder)
    with pytest.raises(MatcherError, match="the prior scorer stays"):
        train(ts)


def test_position_propensities_follow_how_placements_used_the_suggestions():
    from matcher.learning.datasets import position_propensities

    shown = pd.DataFrame(
        [(f"C{i}", f"T{r}", r, 20) for i in range(10) for r in (1, 2, 3)],
        columns=["client_id", "therapist_id", "rank", "eligible"],
    )
    # 6 clients placed with their first suggestion, 2 with the second, 2 with someone unshown
    placed = ["T1"] * 6 + ["T2"] * 2 + ["T9"] * 2
    outcomes = pd.DataFrame({"client_id": [f"C{i}" for i in range(10)], "therapist_id": placed})
    p = position_propensities(shown, outcomes)
    assert p[("C0", "T1")] == pytest.approx((6 + 1) / (10 + 4))
    assert p[("C6", "T2")] == pytest.approx((2 + 1) / (10 + 4))
    assert p[("C8", "T9")] == pytest.approx((2 + 1) / (10 + 4) / (20 - 3))


def test_logged_propensities_weight_training_and_the_card_says_so(embedder):
    world = simulate_world(40, 800, seed=3)
    tables = _tables(world)
    keys = list(
        zip(tables["outcomes"]["client_id"], tables["outcomes"]["therapist_id"], strict=True)
    )
    propensities = {key: 0.01 if i % 2 else 0.5 for i, key in enumerate(keys)}
    ts = build_training_set(**tables, embedder=embedder, propensities=propensities)
    weights = ts.weights(np.ones(len(keys), dtype=bool))
    assert weights.max() == pytest.approx(20.0)  # 1/0.01 clipped at 1/0.05
    assert weights.min() == pytest.approx(2.0)
    card = train(ts).card
    assert card["selection_bias"]["inverse_propensity_weighting"] is True
    assert card["selection_bias"]["propensities_logged"] == len(keys)
