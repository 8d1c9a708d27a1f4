"""Embeddings and style inference, including the one real-model test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.clinic.store import Store
from matcher.ranking.embed import (
    BoundedCache,
    CachedEmbedder,
    SentenceTransformerEmbedder,
    text_key,
)
from matcher.ranking.negation import negation_views, split_sentences
from matcher.ranking.style import StyleInferrer, StyleReader
from matcher.vocab import STYLE_AXES
from tests.conftest import FakeEmbedder


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


def test_cache_keeps_only_what_it_is_told_to_and_encodes_the_rest_alongside(fake_embedder):
    cached = CachedEmbedder(fake_embedder, keep=lambda text: text.startswith("tag"))
    first = cached.encode(["tag a", "private words", "tag b"])
    assert fake_embedder.calls == 1
    assert set(cached.cache) == {text_key(fake_embedder.name, t) for t in ("tag a", "tag b")}
    again = cached.encode(["private words", "tag a"])
    assert fake_embedder.texts_encoded == 4  # the private text again, the tag from the cache
    assert np.array_equal(again, first[[1, 0]])


def test_bounded_cache_forgets_the_least_recently_used():
    cache = BoundedCache(2)
    cache["a"], cache["b"] = np.zeros(1), np.ones(1)
    assert cache["a"] is not None  # "a" is now the most recent
    cache["c"] = np.ones(1)
    assert set(cache) == {"a", "c"} and len(cache) == 2
    assert cache.get("b") is None
    del cache["a"]
    assert list(cache) == ["c"]
    with pytest.raises(ValueError, match="at least 1"):
        BoundedCache(0)


HOPE_SENTENCES = [
    "I want homework and practical tools.",
    "Please, no homework.",
    "I don't want to talk about my childhood.",
    "Let me set the pace.",
    "Gentle and calm is not what I need.",
    "Somebody dependable.",
    "",
]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(HOPE_SENTENCES), min_size=0, max_size=5), st.integers(1, 3))
def test_reading_views_encoded_by_the_caller_equals_reading_texts(chosen, n):
    """``read_views`` (the ranking path: one encode with the client's other texts) reads
    exactly what ``infer_texts_with_confidence`` reads from the same texts."""
    embedder = FakeEmbedder()
    inferrer = StyleInferrer(embedder, reader=_reader(embedder))
    texts = [" ".join(chosen[o::n]) for o in range(n)]
    expected = inferrer.infer_texts_with_confidence(texts)
    views = [
        (view, sign, o)
        for o, text in enumerate(texts)
        for sentence in split_sentences(text)
        for view, sign in negation_views(sentence)
    ]
    view_texts = [view for view, _, _ in views]
    got = inferrer.read_views(
        embedder.encode(view_texts),
        view_texts,
        np.arange(len(views)),
        np.array([sign for _, sign, _ in views]),
        np.array([o for _, _, o in views], dtype=int),
        n,
    )
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_allclose(have, want, atol=1e-6)


def _reader(embedder):
    """A reader fitted on a few labelled fake-embedded sentences (fast; no data file)."""
    texts = ["homework tools", "listen support", "childhood past", "today now", "lead plan", "tea"]
    labels = np.array([[(i + a) % 3 - 1 for a in range(len(STYLE_AXES))] for i in range(6)])
    return StyleReader.fit(texts, embedder.encode(texts), labels)


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


def test_a_row_has_the_same_neighbour_similarities_alone_and_in_a_batch():
    """The reader's similarities must not depend on the batch (chunked roster builds read
    a text alone or with thousands): a lone row is not left to the matrix-vector path."""
    from matcher.ranking.style import _similarity

    rng = np.random.default_rng(0)
    columns = rng.standard_normal((384, 2000)).astype(np.float32)
    rows = rng.standard_normal((9, 384)).astype(np.float32)
    batch = _similarity(rows, columns)
    for i in range(len(rows)):
        np.testing.assert_array_equal(_similarity(rows[i : i + 1], columns), batch[i : i + 1])
