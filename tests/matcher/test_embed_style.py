"""Embeddings and style inference, including the one real-model test."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.clinic.store import Store
from matcher.ranking.embed import CachedEmbedder, SentenceTransformerEmbedder, text_key
from matcher.ranking.style import StyleInferrer, split_sentences
from matcher.vocab import STYLE_AXES


@pytest.fixture(scope="module")
def real_embedder():
    return CachedEmbedder(SentenceTransformerEmbedder())


@pytest.mark.slow
def test_real_model_loads_offline_and_embeds(real_embedder):
    vectors = real_embedder.encode(["I feel anxious before work.", "Worry about my job.", ""])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-4)
    assert not vectors[2].any()  # blank text is "no text", not a vector
    related = float(vectors[0] @ vectors[1])
    unrelated = float(vectors[0] @ real_embedder.encode(["The recipe needs two eggs."])[0])
    assert related > unrelated + 0.2


CLEAR_TEXTS = {
    # (text, axis, sign)
    "lead": (
        "I bring a clear structure, set an agenda and lead each session step by step.",
        "directive",
        1,
    ),
    "follow": (
        "You set the pace and decide what we talk about; I follow your lead.",
        "directive",
        -1,
    ),
    "feelings": (
        "We go right into strong, painful emotions and let them out fully.",
        "intensity",
        1,
    ),
    "calm": ("Sessions are calm, steady and contained, never overwhelming.", "intensity", -1),
    "past": (
        "We explore your childhood and how your family history shapes you today.",
        "past_focus",
        1,
    ),
    "present": ("We focus on the here and now and on your goals for the future.", "past_focus", -1),
    "tools": (
        "I teach practical tools and skills, give homework and challenge unhelpful thinking.",
        "challenge",
        1,
    ),
    "warm": (
        "I offer a warm, accepting space where you feel listened to and supported.",
        "challenge",
        -1,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CLEAR_TEXTS))
def test_style_inference_on_clear_texts(real_embedder, case):
    text, axis, sign = CLEAR_TEXTS[case]
    style = StyleInferrer(real_embedder).infer_texts([text])[0]
    assert sign * style[STYLE_AXES.index(axis)] >= 1.0, dict(zip(STYLE_AXES, style, strict=True))


@pytest.mark.slow
def test_style_inference_reads_a_client_voice(real_embedder):
    hopes = "I just need someone kind who listens. Please don't give me homework."
    style = StyleInferrer(real_embedder).infer_texts([hopes])[0]
    assert style[STYLE_AXES.index("challenge")] <= -1.0


def test_sentences_are_split_and_blank_text_has_none():
    assert split_sentences("One. Two!  Three?\nFour") == ["One.", "Two!", "Three?", "Four"]
    assert split_sentences("   ") == []


def test_fillers_do_not_dilute_the_relevant_sentence(fake_embedder):
    inferrer = StyleInferrer(fake_embedder)
    base = inferrer.infer_texts(["I give homework and practical tools."])[0]
    padded = inferrer.infer_texts(
        ["I give homework and practical tools. My office is near the station. I like tea."]
    )[0]
    axis = STYLE_AXES.index("challenge")
    assert np.sign(padded[axis]) == np.sign(base[axis])


def test_no_text_means_no_style(fake_embedder):
    assert not StyleInferrer(fake_embedder).infer_texts(["", "  "]).any()


def test_cache_encodes_each_text_once(fake_embedder):
    cached = CachedEmbedder(fake_embedder)
    first = cached.encode(["a b", "c d", "a b"])
    assert fake_embedder.texts_encoded == 2
    again = cached.encode(["c d", "a b"])
    assert fake_embedder.texts_encoded == 2
    assert np.array_equal(again[1], first[0])


def test_database_cache_survives_a_new_process(fake_embedder, database_url):
    CachedEmbedder(fake_embedder, Store(database_url).embeddings).encode(["therapy works"])
    fresh_count = fake_embedder.texts_encoded
    reopened = CachedEmbedder(fake_embedder, Store(database_url).embeddings)
    vector = reopened.encode(["therapy works"])
    assert fake_embedder.texts_encoded == fresh_count
    stored = Store(database_url).embeddings.get_many(
        [text_key(fake_embedder.name, "therapy works")]
    )
    assert np.array_equal(next(iter(stored.values())), vector[0])
