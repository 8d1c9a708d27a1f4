"""Building a roster in bounded chunks gives the same arrays as one batch."""

from __future__ import annotations

import numpy as np

from matcher.ranking import roster as roster_module
from matcher.ranking import style as style_module
from matcher.ranking.roster import Roster
from matcher.ranking.style import StyleInferrer
from matcher.schema import validate_frame
from matcher.simulation import simulate_world
from tests.conftest import FakeEmbedder


def _build(therapists):
    embedder = FakeEmbedder()
    return Roster.build(therapists, embedder, StyleInferrer(embedder)), embedder


def test_chunked_build_equals_one_batch(monkeypatch):
    world = simulate_world(23, 1, seed=3, client_seed=4, history=False)
    # half the roster unrated, so styles are read from the approaches
    therapists = world.therapists.copy()
    therapists.loc[::2, "directive"] = np.nan
    therapists = validate_frame(therapists, "therapists")
    whole, whole_embedder = _build(therapists)

    monkeypatch.setattr(roster_module, "BUILD_CHUNK", 5)
    monkeypatch.setattr(style_module, "TEXT_CHUNK", 4)
    chunked, chunked_embedder = _build(therapists)

    for name in ("approach_embedding", "specialties_embedding", "style", "style_given"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), atol=1e-6)
    assert chunked_embedder.calls > whole_embedder.calls  # it did encode in pieces


def test_removing_therapists_encodes_nothing_and_keeps_the_vectors():
    world = simulate_world(6, 1, seed=5, client_seed=6, history=False)
    therapists = validate_frame(world.therapists, "therapists")
    roster, embedder = _build(therapists)
    calls = embedder.calls
    smaller = roster.update(
        therapists.iloc[:0], embedder, StyleInferrer(embedder), removed=[roster.ids[0]]
    )
    assert embedder.calls == calls
    assert smaller.approach_embedding.shape == (5, embedder.dimension)
    np.testing.assert_array_equal(smaller.approach_embedding, roster.approach_embedding[1:])
