"""The logged history: one placement per client by a logging policy, and its outcome."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..vocab import OUTCOME_COLUMNS
from .regimes import Regime
from .sampling import choice, frame, one_decimal_or_blank, yes_no
from .vocabulary import ALLIANCE_CUTOFF, IMPROVEMENT_BASE, IMPROVEMENT_CLICK, IMPROVEMENT_SD
from .world import GroundTruth, Reach

__all__ = ["History", "logging_weights", "simulate_history"]


@dataclass(frozen=True)
class History:
    """The outcomes table and what the truth keeps of it (rows aligned to the clients)."""

    frame: pd.DataFrame
    placement: np.ndarray  # (n_c,) therapist row
    clicked: np.ndarray  # (n_c,) bool, the sampled click
    logged_click: np.ndarray  # (n_c,) bool, the label the outcome row carries
    propensity: np.ndarray  # (n_c,) probability the policy chose that therapist


def logging_weights(regime: Regime, n_therapists: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_t,)`` weight of each therapist under the regime's logging policy.

    Uniform: all ones (``rng`` untouched). Popular: ``exp(z / temperature)`` with a
    popularity ``z ~ N(0, 1)`` drawn once per therapist, so the policy is a softmax of
    popularity over each client's reachable therapists.
    """
    if regime.logging == "uniform":
        return np.ones(n_therapists)
    z = rng.standard_normal(n_therapists)
    return np.exp((z - z.max()) / regime.popularity_temperature)  # largest weight 1


def _place(
    rng: np.random.Generator, reach: Reach, weight: np.ndarray, uniform: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One reachable, same-language therapist per client, and the probability of that pick.

    The uniform policy draws an index directly (not through the weights) so that the
    default history keeps its exact random draws.
    """
    n = reach.client_language.size
    placement = np.full(n, -1, dtype=np.intp)
    propensity = np.full(n, np.nan)
    keys, inverse = reach.groups()
    for g, key in enumerate(keys.tolist()):
        members = np.flatnonzero(inverse == g)
        eligible = np.flatnonzero(reach.therapists_for(key))
        if uniform:
            placement[members] = eligible[rng.integers(0, eligible.size, size=members.size)]
            propensity[members] = 1.0 / eligible.size
        else:
            w = weight[eligible]
            picked = choice(rng, members.size, w)
            placement[members] = eligible[picked]
            propensity[members] = w[picked] / w.sum()
    return placement, propensity


def simulate_history(
    rng: np.random.Generator,
    noise_rng: np.random.Generator,
    truth: GroundTruth,
    client_ids: list[str],
    therapist_ids: list[str],
    regime: Regime,
) -> History:
    """Place every client once and draw the outcome of the placement.

    Parameters
    ----------
    rng : numpy.random.Generator
        The history's stream: placements, clicks and outcomes.
    noise_rng : numpy.random.Generator
        Label flips only, so a noisy regime keeps the default's placements and clicks.
    truth : GroundTruth
        The world's truth (its ``reach``, ``logging_weight`` and click model are used).
    client_ids, therapist_ids : list of str
        Ids of the rows of the intakes and the roster.
    regime : Regime
        Logging policy and label noise.
    """
    n = len(client_ids)
    placement, propensity = _place(
        rng, truth.reach, truth.logging_weight, uniform=regime.logging == "uniform"
    )
    prob = truth.pair_click_probability(np.arange(n), placement)
    click = rng.random(n) < prob
    logged = click
    if regime.label_noise > 0:
        logged = click ^ (noise_rng.random(n) < regime.label_noise)

    # Drop-out, sessions and alliance all follow the logged label, so the label derived
    # downstream (not dropped_out and alliance >= 36) is exactly ``logged``.
    dropped = ~logged & (rng.random(n) < 0.5)
    sessions = np.where(
        logged,
        3 + rng.poisson(6.0, n),
        np.where(dropped, 1 + (rng.random(n) < 0.45), 3 + rng.poisson(3.0, n)),
    )
    good = ALLIANCE_CUTOFF + 4.0 * rng.beta(2.0, 1.5, n)
    middling = np.minimum(18.0 + 17.9 * rng.beta(2.5, 1.8, n), 35.9)
    low = rng.uniform(8.0, 30.0, n)
    alliance = np.where(logged, good, np.where(dropped, low, middling))
    alliance = np.clip(alliance, 0.0, 40.0)
    alliance_given = ~dropped | (rng.random(n) >= 0.6)

    # Improvement follows the real relationship: label noise is an error of the record,
    # not of what happened in therapy.
    noise = rng.normal(0.0, IMPROVEMENT_SD, n)
    improvement = (
        IMPROVEMENT_BASE
        + truth.effectiveness[placement, truth.primary_concern]
        + IMPROVEMENT_CLICK * click
        + noise
    )
    improvement_given = np.where(dropped, rng.random(n) >= 0.7, rng.random(n) >= 0.05)

    therapist_array = np.asarray(therapist_ids, dtype=object)
    data = {
        "client_id": list(client_ids),
        "therapist_id": therapist_array[placement].tolist(),
        "sessions": [str(v) for v in sessions.tolist()],
        "dropped_out": yes_no(dropped),
        "alliance": one_decimal_or_blank(alliance, alliance_given),
        "improvement": one_decimal_or_blank(improvement, improvement_given),
        "click": [""] * n,
    }
    return History(
        frame=frame(OUTCOME_COLUMNS, data),
        placement=placement,
        clicked=click,
        logged_click=logged,
        propensity=propensity,
    )
