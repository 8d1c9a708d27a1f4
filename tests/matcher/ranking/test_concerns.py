"""Concerns read from a client's story: wiring with the fake embedder, quality with the real one."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from matcher.ranking.concerns import ConcernReader
from matcher.text import load_toml
from matcher.vocab import CONCERN_TAGS

HELDOUT = Path(__file__).parents[2] / "data" / "heldout" / "concern_stories.toml"


def _training_story(tag: str) -> str:
    return next(s["text"] for s in load_toml("concern_stories")["story"] if s["concerns"] == [tag])


def test_a_story_only_intake_gets_inferred_concerns_that_count_in_the_ranking(matcher):
    story = _training_story("grief")
    ranking = matcher.rank({"story": story, "language": "english", "modality": "telehealth"})
    assert "grief" in ranking.inferred_concerns
    ticked = matcher.rank(
        {"concerns": "grief", "story": story, "language": "english", "modality": "telehealth"}
    )
    assert "grief" not in ticked.inferred_concerns  # a ticked tag is not "inferred" again


def test_blank_stories_infer_nothing(fake_embedder):
    reader = ConcernReader(fake_embedder)
    assert reader.infer_texts(["", "   "]) == [(), ()]
    assert reader.probabilities(np.zeros((0, fake_embedder.dimension))).shape == (
        0,
        len(CONCERN_TAGS),
    )


def test_inferred_concerns_survive_storage(matcher):
    from matcher import Ranking

    story = _training_story("sleep")
    ranking = matcher.rank({"story": story, "language": "english", "modality": "telehealth"})
    assert Ranking.from_dict(ranking.as_dict()).inferred_concerns == ranking.inferred_concerns


@pytest.mark.slow
def test_held_out_stories_are_read_well_with_the_real_model():
    """Stories written separately from the training set (never tuned on): micro-F1 of the
    inferred tags. Measured 0.66 (precision 0.63, recall 0.71) against 0.48 for the
    two tags whose names are closest to the story; docs/model.md has the figures."""
    from sklearn.metrics import f1_score

    from matcher.ranking import CachedEmbedder, SentenceTransformerEmbedder

    reader = ConcernReader(CachedEmbedder(SentenceTransformerEmbedder()))
    stories = tomllib.loads(HELDOUT.read_text())["story"]
    found = reader.infer_texts([s["text"] for s in stories])
    truth = np.array([[t in s["concerns"] for t in CONCERN_TAGS] for s in stories])
    predicted = np.array([[t in tags for t in CONCERN_TAGS] for tags in found])
    assert f1_score(truth, predicted, average="micro") >= 0.6
