"""Text is data: the shape of every data file the library reads."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bench.style_quality import HELDOUT_SETS
from matcher.text import load_toml, style_axes
from matcher.vocab import CONCERN_TAGS, STYLE_AXES

HELDOUT = Path(__file__).parents[1] / "data" / "heldout"
#: Held-out style sets, each written apart from the training set and from the others.
HELDOUT_STYLE = HELDOUT_SETS
KINDS = {"plain", "negated", "hedged", "neutral", "mixed"}


def test_style_axes_have_every_wording_in_vocabulary_order():
    axes = style_axes()
    assert tuple(axes) == STYLE_AXES
    for axis in axes.values():
        for text in (axis.title, axis.question, axis.negative, axis.positive):
            assert text.strip()
        assert set(axis.wants) == set(axis.does) == {-1, 0, 1}
        assert len(axis.anchors_negative) >= 3 and len(axis.anchors_positive) >= 3


def test_a_missing_data_file_is_a_clear_error():
    with pytest.raises(FileNotFoundError):
        load_toml("no_such_file")


def _check_sentences(sentences: list[dict]) -> None:
    assert len(sentences) >= 200
    texts = [s["text"] for s in sentences]
    assert len(set(texts)) == len(texts), "sentences repeat"
    for sentence in sentences:
        assert sentence["voice"] in {"client", "therapist"}
        assert sentence["kind"] in KINDS
        labels = {k: v for k, v in sentence.items() if k in STYLE_AXES}
        assert set(sentence) - {"text", "voice", "kind"} == set(labels), sentence
        assert all(v in (-1, 1) for v in labels.values()), sentence
        assert (sentence["kind"] == "neutral") == (not labels), sentence


@pytest.mark.parametrize(
    "sentences",
    [
        pytest.param(load_toml("style_sentences")["sentence"], id="training"),
        *(
            pytest.param(tomllib.loads((HELDOUT / name).read_text())["sentence"], id=name)
            for name in HELDOUT_STYLE
        ),
    ],
)
def test_labelled_style_sentences_are_well_formed(sentences):
    _check_sentences(sentences)
    for axis in STYLE_AXES:  # both poles of every axis, negated too
        for pole in (-1, 1):
            assert sum(s.get(axis) == pole for s in sentences) >= 20
            assert any(s.get(axis) == pole and s["kind"] == "negated" for s in sentences)


@pytest.mark.parametrize("name", HELDOUT_STYLE)
def test_held_out_sentences_are_not_in_the_training_set(name):
    training = {s["text"].casefold() for s in load_toml("style_sentences")["sentence"]}
    heldout = tomllib.loads((HELDOUT / name).read_text())["sentence"]
    assert not training & {s["text"].casefold() for s in heldout}


@pytest.mark.parametrize(
    "stories",
    [
        pytest.param(load_toml("concern_stories")["story"], id="training"),
        pytest.param(
            tomllib.loads((HELDOUT / "concern_stories.toml").read_text())["story"], id="held-out"
        ),
    ],
)
def test_labelled_stories_use_the_concern_vocabulary(stories):
    assert len(stories) >= 150
    for story in stories:
        assert story["text"].strip()
        assert set(story["concerns"]) <= set(CONCERN_TAGS), story
    for tag in CONCERN_TAGS:
        assert sum(tag in s["concerns"] for s in stories) >= 10, tag


def test_development_style_sentences_are_well_formed_and_apart():
    """data/style_dev_sentences.toml chooses the reader's settings; it is never fitted on."""
    development = load_toml("style_dev_sentences")["sentence"]
    assert len(development) >= 80
    kinds = {s["kind"] for s in development}
    assert {"plain", "negated", "hedged", "neutral"} <= kinds
    for sentence in development:
        assert sentence["voice"] in {"client", "therapist"} and sentence["kind"] in KINDS
        labels = {k: v for k, v in sentence.items() if k in STYLE_AXES}
        assert set(sentence) - {"text", "voice", "kind"} == set(labels), sentence
        assert all(v in (-1, 1) for v in labels.values()), sentence
        assert (sentence["kind"] == "neutral") == (not labels), sentence
    texts = {s["text"].casefold() for s in development}
    assert len(texts) == len(development)
    assert not texts & {s["text"].casefold() for s in load_toml("style_sentences")["sentence"]}
    for name in HELDOUT_STYLE:
        heldout = tomllib.loads((HELDOUT / name).read_text())["sentence"]
        assert not texts & {s["text"].casefold() for s in heldout}
