"""Tests for the simulated world of the default regime (matcher.simulation)."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from matcher.simulation import (
    CITIES,
    FAITHS,
    FREE_CONCERNS,
    GENDERS,
    INSURERS,
    LANGUAGES,
    THERAPY_MODALITIES,
    World,
    simulate_world,
)
from matcher.simulation.phrases import load_phrases
from matcher.vocab import (
    CONCERN_TAGS,
    INTAKE_COLUMNS,
    LIST_SEPARATOR,
    MODALITIES,
    OUTCOME_COLUMNS,
    SLOTS,
    STYLE_AXES,
    THERAPIST_COLUMNS,
)

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


@pytest.fixture(scope="module")
def world() -> World:
    return simulate_world(60, 600, seed=0)


@pytest.fixture(scope="module")
def big_world() -> World:
    return simulate_world(300, 3000, seed=7)


def _items(cell: str) -> list[str]:
    return cell.split(LIST_SEPARATOR) if cell else []


def _sentences(text: str) -> int:
    return len(_SENTENCE_END.findall(text))


def _is_int(cell: str) -> bool:
    return re.fullmatch(r"-?\d+", cell) is not None


def _one_decimal(cell: str) -> bool:
    return re.fullmatch(r"-?\d+\.\d", cell) is not None


# ---------------------------------------------------------------- determinism and shape


def test_same_seed_same_world() -> None:
    a = simulate_world(30, 200, seed=3)
    b = simulate_world(30, 200, seed=3)
    for name in ("therapists", "intakes", "outcomes"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.truth.therapist_style, b.truth.therapist_style)
    np.testing.assert_array_equal(a.truth.client_strength, b.truth.client_strength)
    np.testing.assert_array_equal(a.truth.placement, b.truth.placement)


def test_different_seeds_differ() -> None:
    a = simulate_world(30, 200, seed=1)
    b = simulate_world(30, 200, seed=2)
    assert not a.therapists.equals(b.therapists)
    assert not a.intakes.equals(b.intakes)
    assert not np.allclose(a.truth.therapist_style, b.truth.therapist_style)


def test_history_flag_keeps_roster_and_intakes() -> None:
    with_history = simulate_world(40, 300, seed=5)
    fresh = simulate_world(40, 300, seed=5, history=False)
    pd.testing.assert_frame_equal(with_history.therapists, fresh.therapists)
    pd.testing.assert_frame_equal(with_history.intakes, fresh.intakes)
    assert list(fresh.outcomes.columns) == list(OUTCOME_COLUMNS)
    assert len(fresh.outcomes) == 0
    assert (fresh.truth.placement == -1).all()
    assert len(with_history.outcomes) == 300


def test_roster_does_not_depend_on_client_count() -> None:
    small = simulate_world(25, 10, seed=9)
    large = simulate_world(25, 500, seed=9)
    pd.testing.assert_frame_equal(small.therapists, large.therapists)


def test_columns_in_contract_order_and_all_strings(world: World) -> None:
    assert list(world.therapists.columns) == list(THERAPIST_COLUMNS)
    assert list(world.intakes.columns) == list(INTAKE_COLUMNS)
    assert list(world.outcomes.columns) == list(OUTCOME_COLUMNS)
    assert len(world.therapists) == 60
    assert len(world.intakes) == 600
    for frame in (world.therapists, world.intakes, world.outcomes):
        for column in frame.columns:
            assert all(isinstance(v, str) for v in frame[column]), column


def test_truth_is_aligned(world: World) -> None:
    truth = world.truth
    assert truth.therapist_style.shape == (60, len(STYLE_AXES))
    assert truth.client_preference.shape == (600, len(STYLE_AXES))
    assert truth.client_strength.shape == (600, len(STYLE_AXES))
    assert truth.effectiveness.shape == (60, len(CONCERN_TAGS))
    assert truth.client_concerns.shape == (600, len(CONCERN_TAGS))
    assert np.abs(truth.therapist_style).max() <= 3
    assert np.abs(truth.client_preference).max() <= 3
    assert ((truth.client_strength >= 0) & (truth.client_strength <= 1)).all()
    specialties = truth.therapist_specialties
    for row, cell in zip(specialties, world.therapists["specialties"], strict=True):
        assert {CONCERN_TAGS[k] for k in np.flatnonzero(row)} == set(_items(cell))


# ---------------------------------------------------------------- therapist values


def test_therapist_values(world: World) -> None:
    t = world.therapists
    assert t["therapist_id"].is_unique
    assert all(re.fullmatch(r"T\d{4}", v) for v in t["therapist_id"])
    assert t["name"].str.len().min() > 3
    assert t["name"].nunique() > 50
    assert set(t["gender"]) <= set(GENDERS)
    for cell in t["languages"]:
        assert len(_items(cell)) >= 1 and set(_items(cell)) <= set(LANGUAGES)
    for cell in t["specialties"]:
        assert 2 <= len(_items(cell)) <= 5 and set(_items(cell)) <= set(CONCERN_TAGS)
    for cell in t["modalities"]:
        assert len(_items(cell)) >= 1 and set(_items(cell)) <= set(THERAPY_MODALITIES)
    for cell in t["availability"]:
        assert 4 <= len(_items(cell)) <= 10 and set(_items(cell)) <= set(SLOTS)
    for cell in t["insurance"]:
        assert set(_items(cell)) <= set(INSURERS)
    for column in ("telehealth", "in_person", "sliding_scale", "lgbtq_affirming"):
        assert set(t[column]) <= {"yes", "no"}
    assert ((t["telehealth"] == "yes") | (t["in_person"] == "yes")).all()
    assert set(t["city"]) <= set(CITIES)
    fee = t["fee"].astype(int)
    assert fee.between(70, 220).all()
    capacity = t["capacity"].astype(int)
    assert capacity.between(0, 6).all()
    assert set(t["faith"]) <= {"", *FAITHS}
    assert (t["lgbtq_affirming"] == "yes").mean() > 0.6


def test_therapist_self_ratings_all_or_none(big_world: World) -> None:
    t = big_world.therapists
    blank = t[list(STYLE_AXES)] == ""
    assert (blank.all(axis=1) | ~blank.any(axis=1)).all()
    rated = ~blank.any(axis=1)
    assert 0.5 < rated.mean() < 0.7
    ratings = t.loc[rated, list(STYLE_AXES)].astype(int).to_numpy()
    assert ratings.min() >= -3 and ratings.max() <= 3
    latent = big_world.truth.therapist_style[rated.to_numpy()]
    assert np.abs(ratings - latent).max() <= 1.5  # noise within +-1, then rounding
    for a in range(len(STYLE_AXES)):
        assert np.corrcoef(ratings[:, a], latent[:, a])[0, 1] > 0.8


def test_approach_texts_have_three_to_six_sentences(big_world: World) -> None:
    counts = big_world.therapists["approach"].map(_sentences)
    assert counts.between(3, 6).all()


# ---------------------------------------------------------------- intake values


def test_intake_values(world: World) -> None:
    c = world.intakes
    assert c["client_id"].is_unique
    assert all(re.fullmatch(r"C\d{5}", v) for v in c["client_id"])
    allowed_concerns = set(CONCERN_TAGS) | set(FREE_CONCERNS)
    for cell in c["concerns"]:
        assert 1 <= len(_items(cell)) <= 3 and set(_items(cell)) <= allowed_concerns
    for axis in STYLE_AXES:
        stated = c[axis][c[axis] != ""]
        assert stated.map(_is_int).all()
        assert stated.astype(int).between(-3, 3).all()
        assert 0.6 < len(stated) / len(c) < 0.8
    spoken = {lang for cell in world.therapists["languages"] for lang in _items(cell)}
    assert set(c["language"]) <= spoken
    assert set(c["modality"]) <= set(MODALITIES)
    assert set(c["city"]) <= set(CITIES)
    for cell in c["availability"]:
        assert len(_items(cell)) <= 8 and set(_items(cell)) <= set(SLOTS)
    assert (c["availability"] == "").any()
    assert set(c["insurance"]) <= {"", *INSURERS}
    max_fee = c["max_fee"][c["max_fee"] != ""]
    assert max_fee.map(_is_int).all()
    assert set(c["therapist_gender"]) <= {"", *GENDERS}
    for column in ("gender_required", "lgbtq_affirming_required"):
        assert set(c[column]) <= {"yes", "no"}
    assert (c.loc[c["gender_required"] == "yes", "therapist_gender"] != "").all()
    assert set(c["faith"]) <= {"", *FAITHS}


def test_intake_texts_sentence_counts(big_world: World) -> None:
    stories = big_world.intakes["story"].map(_sentences)
    hopes = big_world.intakes["hopes"].map(_sentences)
    assert stories.between(2, 4).all()
    assert hopes.between(1, 3).all()


def test_some_free_concern_tags(big_world: World) -> None:
    tags = {tag for cell in big_world.intakes["concerns"] for tag in _items(cell)}
    assert tags & set(FREE_CONCERNS)


# ---------------------------------------------------------------- texts vary and carry signal


def test_texts_vary(world: World) -> None:
    assert world.therapists["approach"].nunique() == len(world.therapists)
    assert world.intakes["story"].nunique() > 500
    assert world.intakes["hopes"].nunique() > 400


@pytest.mark.parametrize("regime", ["default", "alt_phrasing"])
def test_approach_text_tracks_latent_style(big_world: World, regime: str) -> None:
    world = big_world if regime == "default" else simulate_world(300, 0, seed=7, regime=regime)
    sentence_level = {
        sentence: (a, level)
        for a, axis in enumerate(load_phrases(world.regime.phrases).therapist)
        for level, bank in enumerate(axis)
        for sentence in bank
    }
    levels: list[list[int]] = [[] for _ in STYLE_AXES]
    latent: list[list[float]] = [[] for _ in STYLE_AXES]
    style = world.truth.therapist_style
    for j, text in enumerate(world.therapists["approach"]):
        for sentence, (a, level) in sentence_level.items():
            if sentence in text:
                levels[a].append(level)
                latent[a].append(style[j, a])
    for a in range(len(STYLE_AXES)):
        assert len(levels[a]) > 100
        assert np.corrcoef(levels[a], latent[a])[0, 1] > 0.75


def test_hopes_express_preferences(big_world: World) -> None:
    hopes = big_world.intakes["hopes"]
    challenge = big_world.truth.client_preference[:, STYLE_AXES.index("challenge")]
    tools = hopes.str.contains("practical tools|homework|concrete skills", regex=True)
    listened = hopes.str.contains("listened to|just lets me talk|feel heard", regex=True)
    assert tools.sum() > 20 and listened.sum() > 20
    assert challenge[tools.to_numpy()].mean() > 0.7
    assert challenge[listened.to_numpy()].mean() < -0.5


# ---------------------------------------------------------------- ground truth click model


def test_click_probability_shape_and_range(world: World) -> None:
    clients = world.intakes["client_id"].tolist()[:7]
    therapists = world.therapists["therapist_id"].tolist()[::3]
    prob = world.click_probability(clients, therapists)
    assert prob.shape == (7, 20)
    assert ((prob >= 0) & (prob <= 1)).all()
    full = world.truth.click_probability()
    np.testing.assert_allclose(prob, full[:7, ::3])


def test_click_probability_rejects_unknown_ids(world: World) -> None:
    with pytest.raises(KeyError, match="T9999"):
        world.click_probability(["C00001"], ["T0001", "T9999"])
    with pytest.raises(KeyError, match="C99999"):
        world.click_probability(["C99999"], ["T0001"])
    with pytest.raises(TypeError):
        world.click_probability("C00001", ["T0001"])


def test_pair_probability_matches_matrix(world: World) -> None:
    rng = np.random.default_rng(0)
    c = rng.integers(0, 600, 50)
    t = rng.integers(0, 60, 50)
    pairs = world.truth.pair_click_probability(c, t)
    np.testing.assert_allclose(pairs, world.truth.click_probability()[c, t])


def test_well_matched_pairs_click_more(world: World) -> None:
    truth = world.truth
    prob = truth.click_probability()
    fit = truth.style_fit()
    coverage = truth.concern_coverage()
    well = (fit >= np.quantile(fit, 0.9)) & (coverage >= 0.99)
    poor = (fit <= np.quantile(fit, 0.1)) & (coverage == 0)
    assert well.sum() > 50 and poor.sum() > 50
    assert prob[well].mean() > 0.6
    assert prob[poor].mean() < 0.3
    assert prob[well].mean() - prob[poor].mean() > 0.3
    # the best therapist per client is clearly better than a random one
    assert prob.max(axis=1).mean() > prob.mean() + 0.2


def test_derived_click_label(big_world: World) -> None:
    o = big_world.outcomes
    alliance = pd.to_numeric(o["alliance"].replace("", np.nan))
    label = (o["dropped_out"] == "no") & (alliance >= 36)
    assert 0.3 < label.mean() < 0.55
    np.testing.assert_array_equal(label.to_numpy(), big_world.truth.clicked)
    expected = big_world.truth.pair_click_probability(
        np.arange(len(o)), big_world.truth.placement
    ).mean()
    assert abs(label.mean() - expected) < 0.05


# ---------------------------------------------------------------- outcomes


def test_outcome_values(world: World) -> None:
    o = world.outcomes
    assert o["client_id"].tolist() == world.intakes["client_id"].tolist()
    assert set(o["therapist_id"]) <= set(world.therapists["therapist_id"])
    assert o["sessions"].map(_is_int).all()
    sessions = o["sessions"].astype(int)
    assert (sessions >= 1).all()
    assert set(o["dropped_out"]) <= {"yes", "no"}
    dropped = o["dropped_out"] == "yes"
    assert (sessions[dropped] <= 2).all() and (sessions[~dropped] >= 3).all()
    given = o["alliance"] != ""
    assert o.loc[given, "alliance"].map(_one_decimal).all()
    assert o.loc[given, "alliance"].astype(float).between(0, 40).all()
    assert dropped[~given].all()  # only drop-outs may lack an alliance
    assert (~given).any()
    improvement = o["improvement"][o["improvement"] != ""]
    assert improvement.map(_one_decimal).all()
    assert (o["improvement"] == "").any()
    assert (o["click"] == "").all()


def test_placements_share_language_and_are_reachable(big_world: World) -> None:
    roster = big_world.therapists.set_index("therapist_id")
    placed = roster.loc[big_world.outcomes["therapist_id"]].reset_index()
    intakes = big_world.intakes
    for k in range(len(intakes)):
        client, therapist = intakes.iloc[k], placed.iloc[k]
        assert client["language"] in _items(therapist["languages"])
        by_video = therapist["telehealth"] == "yes" and client["modality"] != "in_person"
        in_person = (
            therapist["in_person"] == "yes"
            and client["modality"] != "telehealth"
            and therapist["city"] == client["city"]
        )
        assert by_video or in_person


def test_history_explores(big_world: World) -> None:
    counts = big_world.outcomes["therapist_id"].value_counts()
    assert len(counts) > 0.9 * len(big_world.therapists)


def test_improvement_reflects_click_and_poor_therapists(big_world: World) -> None:
    o = big_world.outcomes
    given = (o["improvement"] != "").to_numpy()
    improvement = o["improvement"][given].astype(float).to_numpy()
    clicked = big_world.truth.clicked[given]
    assert improvement[clicked].mean() - improvement[~clicked].mean() > 2.0
    truth = big_world.truth
    assert truth.reliably_poor.any()
    poor_mean = truth.effectiveness[truth.reliably_poor].mean()
    assert poor_mean < truth.effectiveness[~truth.reliably_poor].mean() - 2.0


# ---------------------------------------------------------------- small worlds, csv, args


def test_single_therapist_world_places_everyone() -> None:
    w = simulate_world(1, 80, seed=4)
    assert (w.outcomes["therapist_id"] == "T0001").all()
    languages = _items(w.therapists["languages"].iloc[0])
    assert set(w.intakes["language"]) <= set(languages)


def test_zero_clients() -> None:
    w = simulate_world(5, 0, seed=0)
    assert len(w.intakes) == 0 and len(w.outcomes) == 0
    assert list(w.intakes.columns) == list(INTAKE_COLUMNS)
    assert w.click_probability([], ["T0001"]).shape == (0, 1)


def test_write_csv_round_trip(tmp_path, world: World) -> None:
    target = tmp_path / "data"
    world.write_csv(target)
    assert sorted(p.name for p in target.iterdir()) == [
        "intakes.csv",
        "outcomes.csv",
        "therapists.csv",
    ]
    for name in ("therapists", "intakes", "outcomes"):
        read = pd.read_csv(target / f"{name}.csv", dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(read, getattr(world, name))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"n_therapists": 0}, r"n_therapists must be >= 1, got 0"),
        ({"n_therapists": -5}, r"n_therapists must be >= 1, got -5"),
        ({"n_therapists": 2.5}, r"n_therapists must be an integer >= 1, got 2.5"),
        ({"n_therapists": True}, r"n_therapists must be an integer"),
        ({"n_clients": -1}, r"n_clients must be >= 0, got -1"),
        ({"seed": -3}, r"seed must be >= 0, got -3"),
        ({"history": "yes"}, r"history must be a bool"),
    ],
)
def test_argument_validation(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        simulate_world(**kwargs)


@pytest.mark.slow
def test_large_roster_is_fast() -> None:
    start = time.perf_counter()
    w = simulate_world(100_000, 1000, seed=1)
    elapsed = time.perf_counter() - start
    assert len(w.therapists) == 100_000 and len(w.outcomes) == 1000
    assert w.therapists["therapist_id"].is_unique
    assert elapsed < 30
