"""Regimes: variants of the generative model, and the logging propensities every one keeps."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import matcher.simulation as simulation
from matcher.simulation import (
    CLICK_COEFFICIENTS,
    REGIMES,
    ClickCoefficients,
    GroundTruth,
    Regime,
    World,
    simulate_world,
)
from matcher.vocab import OUTCOME_COLUMNS

N_T, N_C, SEED = 60, 3000, 11
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


@pytest.fixture(scope="module")
def worlds() -> dict[str, World]:
    return {name: simulate_world(N_T, N_C, seed=SEED, regime=name) for name in REGIMES}


def _label(world: World) -> np.ndarray:
    """The click label as downstream code derives it from the outcome rows."""
    o = world.outcomes
    alliance = pd.to_numeric(o["alliance"].replace("", np.nan))
    return ((o["dropped_out"] == "no") & (alliance >= 36)).to_numpy()


def _top_fifth_share(world: World) -> float:
    counts = np.sort(np.bincount(world.truth.placement, minlength=world.truth.n_therapists))
    return counts[::-1][: len(counts) // 5].sum() / counts.sum()


# ---------------------------------------------------------------- the package's names


def test_package_exports() -> None:
    for name in ("World", "GroundTruth", "simulate_world", "ClickCoefficients", "Regime"):
        assert name in simulation.__all__
    for name in ("CLICK_COEFFICIENTS", "REGIMES", "CITIES", "LANGUAGES", "FREE_CONCERNS"):
        assert name in simulation.__all__
    assert set(REGIMES) == {
        "default",
        "style_weak",
        "therapist_effects",
        "concern_fit",
        "popular_logging",
        "noisy_labels",
        "alt_phrasing",
    }
    assert all(name == regime.name and regime.description for name, regime in REGIMES.items())
    assert REGIMES["default"].click == CLICK_COEFFICIENTS


# ---------------------------------------------------------------- the default stays as it was


def test_default_output_is_pinned(tmp_path) -> None:
    """The default regime's bytes must not change: downstream benchmarks and fixtures are
    built from them. If a change to the model is intended, update these hashes with it.
    (Last updated when the contract gained licensure, age and region columns, written
    blank: the outcomes' hashes did not change.)"""
    expected = {
        (0, None, True): {
            "intakes.csv": "8a89ed7e3b3a95adc3897f76cf658bca23d51c3c8a0676f12417a757d278b98a",
            "outcomes.csv": "8c73bb253943cd6333059f32fe7b51938369622fa7191c0b5c05d9c0def70fde",
            "therapists.csv": "60a4bf0de06d3e55801b962155cdb60dddb5d4a07ca80cac9fa0fabf9c912307",
        },
        (3, 9, False): {
            "intakes.csv": "b403e608b925785724362dcfbdcdbfcc5e7b8100cf84a9b468ba71be76d446ac",
            "outcomes.csv": "c41daf781a71fcb2dc585a619c267f6fdc2ce8343fed9455e19da345f076baa3",
            "therapists.csv": "c0aef1c443cbe975c9e17c6843523b2b0119f995cef7531c655d2242461f48c4",
        },
    }
    sizes = {(0, None, True): (40, 300), (3, 9, False): (30, 50)}
    for (seed, client_seed, history), hashes in expected.items():
        n_t, n_c = sizes[(seed, client_seed, history)]
        world = simulate_world(n_t, n_c, seed=seed, client_seed=client_seed, history=history)
        target = tmp_path / f"{seed}"
        world.write_csv(target)
        for name, digest in hashes.items():
            assert hashlib.sha256((target / name).read_bytes()).hexdigest() == digest, name


def test_default_regime_equals_no_regime() -> None:
    plain = simulate_world(40, 300, seed=4)
    for regime in ("default", REGIMES["default"], Regime("mine")):
        named = simulate_world(40, 300, seed=4, regime=regime)
        for table in ("therapists", "intakes", "outcomes"):
            pd.testing.assert_frame_equal(getattr(plain, table), getattr(named, table))
        np.testing.assert_array_equal(plain.truth.placement, named.truth.placement)
        np.testing.assert_array_equal(plain.truth.clicked, named.truth.clicked)
        np.testing.assert_array_equal(
            plain.truth.click_probability(), named.truth.click_probability()
        )


def test_default_truth_records_uniform_propensity(worlds: dict[str, World]) -> None:
    truth = worlds["default"].truth
    np.testing.assert_array_equal(truth.logged_click, truth.clicked)
    np.testing.assert_array_equal(truth.logging_weight, np.ones(N_T))
    policy = truth.logging_probability()
    reachable = policy > 0
    np.testing.assert_allclose(policy.sum(axis=1), 1.0)
    np.testing.assert_allclose(truth.logged_propensity, 1.0 / reachable.sum(axis=1))
    assert reachable[np.arange(N_C), truth.placement].all()


# ---------------------------------------------------------------- every regime


@pytest.mark.parametrize("name", sorted(REGIMES))
def test_every_regime_builds(worlds: dict[str, World], name: str) -> None:
    world = worlds[name]
    assert world.regime is REGIMES[name]
    assert world.truth.coefficients == REGIMES[name].click
    assert len(world.therapists) == N_T and len(world.intakes) == N_C
    assert list(world.outcomes.columns) == list(OUTCOME_COLUMNS)
    np.testing.assert_array_equal(_label(world), world.truth.logged_click)
    propensity = world.truth.logged_propensity
    assert ((propensity > 0) & (propensity <= 1)).all()
    policy = world.truth.logging_probability()
    np.testing.assert_allclose(policy.sum(axis=1), 1.0)
    np.testing.assert_allclose(policy[np.arange(N_C), world.truth.placement], propensity)


@pytest.mark.parametrize("name", sorted(REGIMES))
def test_regimes_share_latent_draws(worlds: dict[str, World], name: str) -> None:
    default, world = worlds["default"].truth, worlds[name].truth
    np.testing.assert_array_equal(world.therapist_style, default.therapist_style)
    np.testing.assert_array_equal(world.client_preference, default.client_preference)
    np.testing.assert_array_equal(world.client_concerns, default.client_concerns)
    np.testing.assert_array_equal(world.effectiveness, default.effectiveness)
    ratio = REGIMES[name].click.therapist_sd / CLICK_COEFFICIENTS.therapist_sd
    np.testing.assert_allclose(world.therapist_effect, default.therapist_effect * ratio)


@pytest.mark.parametrize("name", sorted(REGIMES))
def test_click_probability_uses_the_regime(worlds: dict[str, World], name: str) -> None:
    world = worlds[name]
    coef = REGIMES[name].click
    truth = world.truth
    logit = (
        coef.intercept
        + coef.style * truth.style_fit()
        + coef.concern * truth.concern_coverage()
        + truth.therapist_effect[None, :]
    )
    clients = world.intakes["client_id"].tolist()[:9]
    therapists = world.therapists["therapist_id"].tolist()[::4]
    np.testing.assert_allclose(
        world.click_probability(clients, therapists), (1 / (1 + np.exp(-logit)))[:9, ::4]
    )


def test_reweighted_regimes_keep_the_base_rate(worlds: dict[str, World]) -> None:
    def base_rate(world: World) -> float:
        truth = world.truth
        policy = truth.logging_probability()
        return float((policy * truth.click_probability()).sum(axis=1).mean())

    default = base_rate(worlds["default"])
    assert 0.35 < default < 0.47
    for name in ("style_weak", "therapist_effects", "concern_fit"):
        assert abs(base_rate(worlds[name]) - default) < 0.04, name


# ---------------------------------------------------------------- what each regime changes


def test_style_weak_style_matters_less(worlds: dict[str, World]) -> None:
    def style_gap(world: World) -> float:
        fit, prob = world.truth.style_fit(), world.truth.click_probability()
        high, low = fit >= np.quantile(fit, 0.9), fit <= np.quantile(fit, 0.1)
        return float(prob[high].mean() - prob[low].mean())

    default, weak = style_gap(worlds["default"]), style_gap(worlds["style_weak"])
    assert default > 0.25
    assert weak < 0.4 * default
    assert REGIMES["style_weak"].click.concern == CLICK_COEFFICIENTS.concern
    assert REGIMES["style_weak"].click.therapist_sd == CLICK_COEFFICIENTS.therapist_sd


def test_therapist_effects_dominate(worlds: dict[str, World]) -> None:
    def therapist_share(world: World) -> float:
        prob = world.truth.click_probability()
        return float(prob.mean(axis=0).var() / prob.var())

    # Share of the variance of click probabilities that lies between therapists.
    assert therapist_share(worlds["therapist_effects"]) > 0.85
    assert therapist_share(worlds["therapist_effects"]) > therapist_share(worlds["default"]) + 0.25


def test_concern_fit_dominates(worlds: dict[str, World]) -> None:
    def concern_gap(world: World) -> float:
        coverage, prob = world.truth.concern_coverage(), world.truth.click_probability()
        return float(prob[coverage >= 0.99].mean() - prob[coverage == 0].mean())

    assert concern_gap(worlds["concern_fit"]) > 0.35
    assert concern_gap(worlds["concern_fit"]) > 2 * concern_gap(worlds["default"])


def test_popular_logging_concentrates_placements(worlds: dict[str, World]) -> None:
    popular, default = worlds["popular_logging"], worlds["default"]
    assert _top_fifth_share(popular) > 0.4
    assert _top_fifth_share(popular) > _top_fifth_share(default) + 0.1
    weight = popular.truth.logging_weight
    assert weight.max() / weight.min() > 5  # a real preference, not near-uniform


def test_popular_logging_propensities(worlds: dict[str, World]) -> None:
    truth = worlds["popular_logging"].truth
    policy = truth.logging_probability()
    uniform = worlds["default"].truth.logging_probability()
    # The same reachable set as the uniform policy, other probabilities within it.
    np.testing.assert_array_equal(policy > 0, uniform > 0)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0)
    assert not np.allclose(policy, uniform)
    np.testing.assert_allclose(truth.logged_propensity, policy[np.arange(N_C), truth.placement])
    # Placements follow the policy: expected counts per therapist match the observed ones.
    expected = policy.sum(axis=0) / N_C
    observed = np.bincount(truth.placement, minlength=N_T) / N_C
    assert 0.5 * np.abs(expected - observed).sum() < 0.06
    assert np.corrcoef(expected, observed)[0, 1] > 0.97


def test_popular_logging_popularity_belongs_to_the_roster() -> None:
    a = simulate_world(30, 50, seed=2, regime="popular_logging")
    b = simulate_world(30, 80, seed=2, client_seed=5, regime="popular_logging")
    np.testing.assert_array_equal(a.truth.logging_weight, b.truth.logging_weight)


def test_noisy_labels(worlds: dict[str, World]) -> None:
    noisy, default = worlds["noisy_labels"].truth, worlds["default"].truth
    # Same placements and real clicks as the default; only the record is noisy.
    np.testing.assert_array_equal(noisy.placement, default.placement)
    np.testing.assert_array_equal(noisy.clicked, default.clicked)
    np.testing.assert_array_equal(noisy.click_probability(), default.click_probability())
    label = _label(worlds["noisy_labels"])
    np.testing.assert_array_equal(label, noisy.logged_click)
    assert abs((label != noisy.clicked).mean() - 0.15) < 0.025
    clean = noisy.pair_click_probability(np.arange(N_C), noisy.placement).mean()
    assert abs(label.mean() - (0.85 * clean + 0.15 * (1 - clean))) < 0.03
    assert abs(noisy.clicked.mean() - clean) < 0.03
    # The outcome rows are consistent with the noisy label.
    o = worlds["noisy_labels"].outcomes
    sessions = o["sessions"].astype(int).to_numpy()
    dropped = (o["dropped_out"] == "yes").to_numpy()
    assert not (dropped & label).any()
    assert (sessions[dropped] <= 2).all() and (sessions[~dropped] >= 3).all()


def test_alt_phrasing_changes_only_the_texts(worlds: dict[str, World]) -> None:
    alt, default = worlds["alt_phrasing"], worlds["default"]
    text_columns = {"therapists": ["approach"], "intakes": ["story", "hopes"]}
    for table, columns in text_columns.items():
        a, d = getattr(alt, table), getattr(default, table)
        for column in columns:
            assert (a[column] != d[column]).mean() > 0.95, column
        others = [c for c in a.columns if c not in columns]
        pd.testing.assert_frame_equal(a[others], d[others])
    pd.testing.assert_frame_equal(alt.outcomes, default.outcomes)
    counts = alt.therapists["approach"].map(lambda t: len(_SENTENCE_END.findall(t)))
    assert counts.between(3, 6).all()
    assert alt.intakes["story"].map(lambda t: len(_SENTENCE_END.findall(t))).between(2, 4).all()
    assert alt.intakes["hopes"].map(lambda t: len(_SENTENCE_END.findall(t))).between(1, 3).all()


def test_alt_phrasing_hopes_still_express_preferences(worlds: dict[str, World]) -> None:
    hopes = worlds["alt_phrasing"].intakes["hopes"]
    challenge = worlds["alt_phrasing"].truth.client_preference[:, 3]  # challenge axis
    # "homework" appears on both sides: a keyword alone cannot read this bank.
    wants_homework = hopes.str.contains("homework, whatever works", regex=False).to_numpy()
    refuses_homework = hopes.str.contains("rather not do homework", regex=False).to_numpy()
    assert wants_homework.sum() > 10 and refuses_homework.sum() > 10
    assert challenge[wants_homework].mean() > 1.0 > -1.0 > challenge[refuses_homework].mean()


# ---------------------------------------------------------------- outcomes with propensity


@pytest.mark.parametrize("name", ["default", "popular_logging"])
def test_outcomes_with_propensity(worlds: dict[str, World], name: str) -> None:
    world = worlds[name]
    frame = world.outcomes_with_propensity()
    assert list(frame.columns) == [*OUTCOME_COLUMNS, "propensity"]
    assert list(world.outcomes.columns) == list(OUTCOME_COLUMNS)  # the contract is untouched
    pd.testing.assert_frame_equal(frame[list(OUTCOME_COLUMNS)], world.outcomes)
    assert all(isinstance(v, str) for v in frame["propensity"])
    np.testing.assert_array_equal(
        frame["propensity"].astype(float).to_numpy(), world.truth.logged_propensity
    )


def test_outcomes_with_propensity_without_history() -> None:
    world = simulate_world(10, 20, seed=1, history=False, regime="popular_logging")
    assert np.isnan(world.truth.logged_propensity).all()
    frame = world.outcomes_with_propensity()
    assert len(frame) == 0 and list(frame.columns) == [*OUTCOME_COLUMNS, "propensity"]


def test_world_logging_probability_by_id(worlds: dict[str, World]) -> None:
    world = worlds["popular_logging"]
    clients = world.intakes["client_id"].tolist()[5:9]
    therapists = world.therapists["therapist_id"].tolist()
    np.testing.assert_allclose(
        world.logging_probability(clients, therapists),
        world.truth.logging_probability(np.arange(5, 9)),
    )
    with pytest.raises(KeyError, match="T9999"):
        world.logging_probability(clients, ["T9999"])


# ---------------------------------------------------------------- arguments


def test_custom_regime() -> None:
    regime = Regime(
        "mixed",
        ClickCoefficients(intercept=-1.0, style=0.3, concern=1.5, therapist_sd=0.8),
        logging="popular",
        popularity_temperature=0.5,
        label_noise=0.1,
        phrases="phrases_alt",
    )
    world = simulate_world(20, 200, seed=3, regime=regime)
    assert world.regime is regime and world.truth.coefficients is regime.click
    assert (world.truth.logged_click != world.truth.clicked).any()
    assert isinstance(world.truth, GroundTruth)
    assert replace(regime, name="other").phrases == "phrases_alt"


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"regime": "nope"}, ValueError, r"unknown regime 'nope'; known regimes: alt_phrasing"),
        ({"regime": 3}, TypeError, r"regime must be a name or a Regime"),
        ({"regime": Regime("x", phrases="missing")}, FileNotFoundError, r"missing\.toml"),
    ],
)
def test_regime_argument_validation(kwargs: dict, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        simulate_world(5, 5, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"logging": "greedy"}, r"logging must be 'uniform' or 'popular'"),
        ({"popularity_temperature": 0.0}, r"popularity_temperature must be > 0"),
        ({"label_noise": 0.5}, r"label_noise must be in \[0, 0.5\)"),
        ({"label_noise": -0.1}, r"label_noise must be in"),
        ({"click": ClickCoefficients(therapist_sd=-1.0)}, r"therapist_sd must be >= 0"),
    ],
)
def test_regime_validation(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        Regime("bad", **kwargs)
