"""The vectorised ranking agrees with a per-pair reference, on random small rosters.

Correctness, not timing: ``python -m bench`` times the two (docs/performance.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher.learning.datasets import build_training_set
from matcher.learning.model import ClickModel, LearnedScorer, TrackRecord, boosted_candidate
from matcher.ranking import rank as rank_module
from matcher.ranking.embed import CachedEmbedder
from matcher.ranking.features import encode_clients, pair_features
from matcher.ranking.filters import constraint_masks, eligible
from matcher.ranking.rank import rank_client
from matcher.ranking.roster import Roster
from matcher.ranking.scoring import PriorScorer
from matcher.ranking.style import StyleInferrer
from matcher.schema import validate_frame
from matcher.simulation import simulate_world
from tests.conftest import FakeEmbedder
from tests.reference_oracle import allowed, reference_rank


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: None if isinstance(v, float) and v != v else v for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


@pytest.fixture(scope="module")
def embedder():
    return CachedEmbedder(FakeEmbedder())


@pytest.fixture(scope="module")
def learned(embedder):
    """Two learned scorers (linear and boosted) with a track record, from a small history."""
    world = simulate_world(30, 600, seed=5)
    tables = {
        kind: validate_frame(getattr(world, kind), kind)
        for kind in ("therapists", "intakes", "outcomes")
    }
    ts = build_training_set(**tables, embedder=embedder)
    record = TrackRecord().fit(
        ts.therapist_ids, ts.concerns(np.ones(len(ts.rows), bool)), ts.improvement, ts.labels
    )
    features = ts.features.copy()
    features["alliance_history"] = record.alliance(ts.therapist_ids).astype(np.float32)
    groups = ts.client_ids
    linear = ClickModel().fit(features, ts.labels, groups=groups)
    boosted = ClickModel(boosted_candidate()).fit(features, ts.labels, groups=groups)
    return {
        "linear": LearnedScorer(linear, record, 0.3, version="linear"),
        "boosted": LearnedScorer(boosted, record, 0.3, version="boosted"),
    }


def _world(seed: int, n_therapists: int, n_clients: int, embedder):
    world = simulate_world(
        n_therapists, n_clients, seed=seed, client_seed=seed + 100, history=False
    )
    # The simulator leaves licensure and ages blank; draw them so those constraints bind.
    rng = np.random.default_rng(seed)
    regions = ["", "california", "oregon", "california;oregon"]
    ages = ["", "adults", "children;adolescents", "adolescents;adults;older_adults"]
    therapists = world.therapists.assign(
        licensed_regions=rng.choice(regions, n_therapists),
        age_groups=rng.choice(ages, n_therapists),
    )
    intakes = world.intakes.assign(
        region=rng.choice(["", "california", "oregon", "texas"], n_clients),
        age_group=rng.choice(["", "adolescents", "adults", "older_adults"], n_clients),
    )
    therapists = validate_frame(therapists, "therapists")
    styles = StyleInferrer(embedder)
    roster = Roster.build(therapists, embedder, styles)
    clients = encode_clients(_records(validate_frame(intakes, "intakes")), embedder, styles)
    return roster, clients


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("scorer_name", ["prior", "linear", "boosted"])
def test_vectorised_top_k_equals_the_per_pair_reference(seed, scorer_name, embedder, learned):
    rng = np.random.default_rng(seed)
    # odd seeds reuse the history's seed: the same therapist ids, so the track record applies
    roster, clients = _world(5 if seed % 2 else seed + 40, int(rng.integers(5, 60)), 12, embedder)
    scorer = PriorScorer() if scorer_name == "prior" else learned[scorer_name]
    records = roster.therapists.to_dict("records")
    for client in clients:
        k = int(rng.integers(1, 8))
        ranking = rank_client(client, roster, scorer, k, exhaustive=True)
        expected = reference_rank(client, roster, scorer, k, records)
        assert [s.therapist_id for s in ranking] == [tid for tid, _ in expected]
        assert [s.score for s in ranking] == pytest.approx([s for _, s in expected], abs=1e-6)


def test_the_reference_constraints_are_the_masks(embedder):
    roster, clients = _world(3, 80, 40, embedder)
    records = roster.therapists.to_dict("records")
    for client in clients:
        masks = eligible(constraint_masks(client.record, roster))
        assert masks.tolist() == [allowed(client.record, t) for t in records]


def test_a_shortlist_keeps_the_exact_top_k_when_the_cheap_score_bounds_the_full_one(
    embedder, monkeypatch
):
    # The prior's score is a monotone function of a linear score of the features, so the
    # surrogate fitted on a sample reproduces its order exactly and the shortlist is exact.
    monkeypatch.setattr(rank_module, "SHORTLIST_ABOVE", 40)
    monkeypatch.setattr(rank_module, "SURROGATE_SAMPLE", 32)
    monkeypatch.setattr(rank_module, "SHORTLIST_SIZE", 10)
    roster, clients = _world(9, 400, 15, embedder)
    scorer = PriorScorer()
    for client in clients:
        full = rank_client(client, roster, scorer, 5, exhaustive=True)
        short = rank_client(client, roster, scorer, 5, exhaustive=False)
        assert [s.therapist_id for s in short] == [s.therapist_id for s in full]
        assert short.near_misses == full.near_misses


def test_a_tree_model_shortlists_only_on_large_rosters(learned):
    assert learned["linear"].exhaustive and not learned["boosted"].exhaustive
    assert PriorScorer().exhaustive


def test_track_table_matches_the_track_record_bit_for_bit(learned, embedder):
    record = learned["linear"].track_record
    roster, clients = _world(5, 45, 6, embedder)  # ids overlap the history's, some are new
    table = record.lookup(roster.ids)
    rows = np.array([0, 3, 7, 30, 44, 2])
    for client in clients:
        concerns = client.record["concerns"]
        assert np.array_equal(
            table.expected(rows, concerns), record.expected(roster.ids[rows], concerns)
        )
    assert np.array_equal(table.alliance[rows], record.alliance(roster.ids[rows]))
    # and pair features built through the table equal those built from the record
    features = pair_features(clients[0], roster, rows, record)
    plain = pair_features(clients[0], roster, rows, None)
    plain["effectiveness"] = record.expected(
        roster.ids[rows], clients[0].record["concerns"]
    ).astype(np.float32)
    plain["alliance_history"] = record.alliance(roster.ids[rows]).astype(np.float32)
    pd.testing.assert_frame_equal(features, plain)


# --- the batched paths of training and placement equal their one-client versions -------------


def test_masks_for_many_clients_equal_one_client_at_a_time(embedder):
    from matcher.ranking.filters import CONSTRAINTS, constraint_masks_many

    for seed in range(3):
        roster, clients = _world(seed + 20, 120, 60, embedder)
        records = [c.record for c in clients]
        records[0] = {**records[0], "gender_required": True, "therapist_gender": "agender"}
        records[1] = {**records[1], "max_fee": 90.0, "insurance": "nobody"}
        records[2] = {**records[2], "modality": "in_person", "city": ""}
        many = constraint_masks_many(records, roster)
        for i, record in enumerate(records):
            one = constraint_masks(record, roster)
            for name in CONSTRAINTS:
                assert np.array_equal(many[name][i], one[name]), (name, i)


def _placed_ranks_one_by_one(ts, scorer, pairs, seed=0):
    """The evaluation's ranking, one held-out placement at a time (the old loop)."""
    rng = np.random.default_rng(seed)
    track = getattr(scorer, "track_record", None)
    ranks, sizes = [], []
    for p in pairs:
        client, placed = ts.clients[ts.client_index[p]], ts.rows[p]
        rows = np.flatnonzero(eligible(constraint_masks(client.record, ts.roster)))
        if placed not in rows:
            rows = np.append(rows, placed)
        if scorer is None:
            scores = rng.random(len(rows))
        else:
            scores = scorer.score(pair_features(client, ts.roster, rows, track))
        order = rows[np.argsort(-scores, kind="stable")]
        ranks.append(int(np.flatnonzero(order == placed)[0]) + 1)
        sizes.append(len(rows))
    return np.array(ranks), np.array(sizes)


@pytest.mark.parametrize("scorer_name", ["none", "prior", "linear", "boosted"])
def test_batched_evaluation_ranks_equal_one_placement_at_a_time(scorer_name, embedder, learned):
    from matcher.learning import evaluation as training

    world = simulate_world(30, 300, seed=5, client_seed=77)
    tables = {
        kind: validate_frame(getattr(world, kind), kind)
        for kind in ("therapists", "intakes", "outcomes")
    }
    ts = build_training_set(**tables, embedder=embedder)
    scorer = {"none": None, "prior": PriorScorer(), **learned}[scorer_name]
    pairs = np.flatnonzero(ts.holdout)
    expected = _placed_ranks_one_by_one(ts, scorer, pairs)
    old_chunk = training.RANKING_CHUNK
    training.RANKING_CHUNK = 16  # several chunks
    try:
        got = training.placed_ranks(ts, scorer, pairs, np.random.default_rng(0))
    finally:
        training.RANKING_CHUNK = old_chunk
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


def test_chunked_pair_features_equal_unchunked(embedder, monkeypatch):
    from matcher.ranking import features as features_module
    from matcher.ranking.features import pair_features_for_pairs

    roster, clients = _world(4, 50, 40, embedder)
    rng = np.random.default_rng(0)
    index, rows = rng.integers(0, len(clients), 500), rng.integers(0, len(roster), 500)
    whole = pair_features_for_pairs(clients, index, roster, rows)
    monkeypatch.setattr(features_module, "PAIR_CHUNK", 64)
    pd.testing.assert_frame_equal(pair_features_for_pairs(clients, index, roster, rows), whole)


def test_an_incremental_roster_update_equals_a_rebuild(embedder):
    styles = StyleInferrer(embedder)
    world = simulate_world(40, 0, seed=12, history=False)
    frame = validate_frame(world.therapists, "therapists")
    roster = Roster.build(frame, embedder, styles)
    extra = validate_frame(simulate_world(45, 0, seed=13, history=False).therapists, "therapists")
    changed = extra.iloc[[3, 40, 41]].copy()  # T0004 edited, T0041 and T0042 new
    changed["therapist_id"] = ["T0004", "T0041", "T0042"]
    changed.loc[changed.index[0], "approach"] = "Brand new words about my structured work."
    updated = roster.update(changed, embedder, styles, removed=["T0010"])
    expected_frame = frame.set_index("therapist_id")
    expected_frame.loc["T0004"] = changed.set_index("therapist_id").loc["T0004"]
    expected_frame = pd.concat(
        [expected_frame.drop(index="T0010"), changed.set_index("therapist_id").iloc[1:]]
    ).reset_index()
    rebuilt = Roster.build(expected_frame, embedder, styles)
    pd.testing.assert_frame_equal(updated.therapists, rebuilt.therapists)
    assert updated.version == rebuilt.version
    for name in (
        "approach_embedding",
        "specialties_embedding",
        "style_given",
        "specialties",
        "languages",
        "slots",
        "insurance",
        "capacity",
        "city",
        "gender",
        "faith",
    ):
        assert np.array_equal(getattr(updated, name), getattr(rebuilt, name)), name
    np.testing.assert_allclose(updated.style, rebuilt.style, atol=1e-5)
    assert list(updated.ids) == list(rebuilt.ids)
    assert roster.row_of["T0010"] == 9 and "T0010" not in updated.row_of  # the old one is untouched


def test_the_roster_fingerprint_is_the_hash_of_its_records_json(monkeypatch):
    import hashlib
    import json

    from matcher.ranking import roster as roster_module

    frame = validate_frame(simulate_world(23, 0, seed=3, history=False).therapists, "therapists")
    whole = json.dumps(frame.to_dict("records"), sort_keys=True, default=str)
    monkeypatch.setattr(roster_module, "FINGERPRINT_CHUNK", 5)
    assert (
        roster_module.roster_fingerprint(frame) == hashlib.sha256(whole.encode()).hexdigest()[:16]
    )
