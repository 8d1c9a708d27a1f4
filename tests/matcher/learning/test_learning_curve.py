"""Learning curve against the truth: what the gate lets rank is never worse than the prior
on fresh clients, and does not get worse with more outcomes.

A small version of ``python -m bench.quality`` (docs/learning-curves.md) with the fake
embedder: a 60-therapist practice logs one placement per client; the real path trains on
the first 400 and on the first 3,000 outcomes (``build_training_set`` with the logging
policy's true propensities, ``train``, ``gate``); fresh clients of the same roster (a
client seed never trained on) are ranked by the prior and by the gated scorer (the
learned model if promoted, else the prior). Quality of a ranking for a client is the true
click probability of its top suggestion as a share of the way from a random eligible
therapist (the mean over those who pass the hard constraints) to the best eligible one.
"""

from __future__ import annotations

import numpy as np
import pytest

from matcher import Matcher
from matcher.errors import MatcherError
from matcher.learning import build_training_set
from matcher.learning.datasets import logged_propensities
from matcher.learning.training import gate, train
from matcher.ranking import CachedEmbedder, PriorScorer, constraint_masks_many, eligible
from matcher.schema import frame_records, validate_frame
from matcher.simulation import simulate_world

THERAPISTS = 60
SIZES = (400, 3000)
FRESH_CLIENTS = 800
SEED = 23
FRESH_SEED = 9_023
#: How far below the prior (or below the smaller history) the gated quality may fall:
#: about 2.5 standard errors of a paired mean difference over 800 fresh clients.
TOLERANCE = 0.03


def _quality(fresh, matcher: Matcher, intakes) -> np.ndarray:
    """Per-client normalised top-1 quality over fresh clients with >= 2 eligible."""
    roster = matcher.roster
    ids = [str(t) for t in roster.ids]
    row_of = {t: r for r, t in enumerate(ids)}
    probability = fresh.click_probability(list(intakes["client_id"]), ids)
    mask = np.asarray(eligible(constraint_masks_many(frame_records(intakes), roster)))
    counts = mask.sum(axis=1)
    random = (probability * mask).sum(axis=1) / np.maximum(counts, 1)
    best = np.where(mask, probability, -np.inf).max(axis=1)
    rankings = matcher.rank_many(intakes, k=5)
    values = []
    for i in np.flatnonzero((counts >= 2) & (best > random)):
        row = row_of[rankings[i][0].therapist_id]
        assert mask[i, row], "the top suggestion fails a hard constraint"
        values.append((probability[i, row] - random[i]) / (best[i] - random[i]))
    return np.asarray(values)


@pytest.mark.slow
@pytest.mark.parametrize("regime", ["default", "concern_fit"])
def test_gated_ranking_never_falls_below_the_prior_nor_with_more_data(regime, fake_embedder):
    embedder = CachedEmbedder(fake_embedder)
    world = simulate_world(THERAPISTS, max(SIZES), seed=SEED, regime=regime)
    fresh = simulate_world(
        THERAPISTS, FRESH_CLIENTS, seed=SEED, client_seed=FRESH_SEED, history=False, regime=regime
    )
    therapists = validate_frame(world.therapists, "therapists")
    fresh_intakes = validate_frame(fresh.intakes, "intakes")
    outcomes = world.outcomes_with_propensity()
    prior_matcher = Matcher(PriorScorer(), embedder, therapists=therapists)
    prior = _quality(fresh, prior_matcher, fresh_intakes)
    assert len(prior) > 0.9 * FRESH_CLIENTS
    figures = {"prior": round(float(prior.mean()), 3)}
    gated_means = []
    for n in SIZES:
        intakes = world.intakes.head(n)
        logged = outcomes[outcomes["client_id"].isin(set(intakes["client_id"]))]
        logged = validate_frame(logged.reset_index(drop=True), "outcomes")
        ts = build_training_set(
            therapists,
            validate_frame(intakes, "intakes"),
            logged,
            embedder,
            propensities=logged_propensities(logged),
        )
        assert (~np.isnan(ts.propensity)).all()  # the true propensities reached the weights
        try:
            result = train(ts)
        except MatcherError:
            promoted, gated = False, prior
        else:
            promoted, _ = gate(result.card)
            learned = Matcher(result.scorer, embedder, therapists=therapists)
            gated = _quality(fresh, learned, fresh_intakes) if promoted else prior
        difference = gated - prior
        figures[n] = {
            "gated": round(float(gated.mean()), 3),
            "promoted": promoted,
            "minus_prior": round(float(difference.mean()), 3),
            "se": round(float(difference.std(ddof=1) / np.sqrt(len(difference))), 3),
        }
        gated_means.append(float(gated.mean()))
        assert gated.mean() >= prior.mean() - TOLERANCE, figures
    assert gated_means[-1] >= gated_means[0] - TOLERANCE, figures
