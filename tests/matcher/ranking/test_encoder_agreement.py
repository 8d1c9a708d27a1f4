"""The ONNX encoder (the default) against torch, with the real model.

What must hold for ONNX to be the default (issue 13), with the tolerances stated:

- every text's vector: cosine >= ``AGREEMENT_COSINE`` (0.99) with torch's, on the
  texts of ``matcher/data`` and simulated approaches, stories and hopes (about 1,000);
  and >= ``SAME_NAME_COSINE`` (0.999), the reason both backends share the model's name
  (and so the embedding cache and the learned model; see ``SentenceTransformerEmbedder``);
- the same top 5 for at least ``TOP5_SHARE`` (95 %) of simulated clients, each side with
  its own roster embeddings, style reader and concern reader, where therapists whose
  scores are within ``TIE`` (0.005) on both sides count as tied (the two encoders, and one
  encoder in another batch, move a score by about 0.002); and identical lists, ties not
  excused, for at least ``TOP5_EXACT_SHARE`` (90 %);
- style readings within ``STYLE_TOLERANCE`` (0.1 on the -3..+3 scale) and their
  confidence within 0.02 when each side fits its own reader, and within 1e-4 through
  one reader; concern probabilities within ``CONCERN_TOLERANCE`` (0.01) and
  the suggested tags identical for at least 98 % of stories.

The int8 export fails the first check (see docs/performance.md), so it is not served.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matcher import Matcher
from matcher.ranking.concerns import ConcernReader
from matcher.ranking.embed import CachedEmbedder, SentenceTransformerEmbedder
from matcher.ranking.style import StyleInferrer, fit_reader
from matcher.schema import validate_frame
from matcher.simulation import simulate_world
from matcher.text import load_toml, style_axes

AGREEMENT_COSINE = 0.99
SAME_NAME_COSINE = 0.999
TOP5_SHARE = 0.95
TOP5_EXACT_SHARE = 0.90
TIE = 0.005
#: Style values on the -3..+3 scale, and their confidence in [0, 1], when each side fits
#: its own reader on ~2,800 views, as a process does: a text near a class boundary moves a
#: little (measured 0.044-0.052 and 0.009 at most; ranking counts an inferred value only
#: from 0.75 points and a confidence of 0.5). With one reader the two agree to 1e-4.
STYLE_TOLERANCE = 0.1
STYLE_CONFIDENCE_TOLERANCE = 0.02
SAME_READER_TOLERANCE = 1e-4
CONCERN_TOLERANCE = 0.01

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedders() -> dict[str, CachedEmbedder]:
    """Both backends, each behind its own in-memory cache (each text encoded once)."""
    pair = {
        backend: CachedEmbedder(SentenceTransformerEmbedder(backend=backend))
        for backend in ("torch", "onnx")
    }
    for embedder in pair.values():
        embedder.encode(["warm-up"])
    assert pair["onnx"].embedder.backend == "onnx", "the ONNX encoder fell back to torch"
    assert pair["onnx"].name == pair["torch"].name == "all-MiniLM-L6-v2"
    return pair


@pytest.fixture(scope="module")
def world():
    return simulate_world(100, 40, seed=1313, client_seed=1314, history=False)


@pytest.fixture(scope="module")
def texts(world) -> list[str]:
    found = [s["text"] for s in load_toml("concern_stories")["story"]]
    found += [s["text"] for s in load_toml("style_sentences")["sentence"]]
    for axis in style_axes().values():
        found += [*axis.anchors_negative, *axis.anchors_positive]
    found += list(world.therapists["approach"]) + list(world.intakes["story"])
    found += list(world.intakes["hopes"])
    return list(dict.fromkeys(t for t in found if t.strip()))


def test_onnx_is_the_default(monkeypatch):
    monkeypatch.delenv("MATCHER_ENCODER", raising=False)
    assert SentenceTransformerEmbedder().backend == "onnx"


def test_every_text_agrees_with_torch(embedders, texts):
    assert len(texts) >= 300
    torch_vectors = embedders["torch"].encode(texts)
    onnx_vectors = embedders["onnx"].encode(texts)
    cosine = np.sum(torch_vectors * onnx_vectors, axis=1)
    worst = int(np.argmin(cosine))
    assert cosine[worst] >= AGREEMENT_COSINE, (cosine[worst], texts[worst])
    assert cosine[worst] >= SAME_NAME_COSINE, (cosine[worst], texts[worst])


def _matcher(embedder: CachedEmbedder, therapists: pd.DataFrame) -> Matcher:
    matcher = Matcher.load("", therapists, embedder=embedder)
    # its own style reader (the process keeps one per model name, shared by both sides)
    matcher.styles = StyleInferrer(embedder, reader=fit_reader(embedder))
    return matcher


def test_the_top_five_is_the_same_for_simulated_clients(embedders, world):
    intakes = validate_frame(world.intakes, "intakes")
    records = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in intakes.to_dict("records")
    ]
    scores = {}  # per backend and client: therapist -> score, best first (top 10)
    for backend, embedder in embedders.items():
        matcher = _matcher(embedder, world.therapists)
        scores[backend] = [
            {s.therapist_id: s.score for s in matcher.rank(r, k=10)} for r in records
        ]
    pairs = list(zip(scores["torch"], scores["onnx"], strict=True))
    assert sum(min(len(a), 5) for a, _ in pairs) >= 4 * len(records)  # most have 5 to compare
    exact = np.mean([list(a)[:5] == list(b)[:5] for a, b in pairs])
    up_to_ties = np.mean([_same_top_five_up_to_ties(a, b) for a, b in pairs])
    assert exact >= TOP5_EXACT_SHARE, exact
    assert up_to_ties >= TOP5_SHARE, up_to_ties


def _same_top_five_up_to_ties(a: dict[str, float], b: dict[str, float]) -> bool:
    """True when two rankings (therapist -> score, best first) show the same top 5 in the
    same order once ties are resolved alike: of the therapists either side shows in its
    top 5, every pair the two sides order differently is within ``TIE`` on both sides."""
    shown = list(dict.fromkeys([*list(a)[:5], *list(b)[:5]]))
    if not set(shown) <= set(a) & set(b):
        return False  # one side ranks a therapist of the other's top 5 below its 10th
    rank_a, rank_b = ({t: i for i, t in enumerate(side)} for side in (a, b))
    return all(
        abs(a[x] - a[y]) < TIE and abs(b[x] - b[y]) < TIE
        for x in shown
        for y in shown
        if rank_a[x] < rank_a[y] and rank_b[x] > rank_b[y]
    )


def test_style_readings_agree(embedders, world):
    texts = [*world.therapists["approach"], *world.intakes["hopes"]]
    readers = {backend: fit_reader(embedder) for backend, embedder in embedders.items()}
    readings = {
        backend: StyleInferrer(embedder, reader=readers[backend]).infer_texts_with_confidence(texts)
        for backend, embedder in embedders.items()
    }
    values = np.abs(readings["torch"][0] - readings["onnx"][0])
    confidence = np.abs(readings["torch"][1] - readings["onnx"][1])
    assert values.max() <= STYLE_TOLERANCE, values.max()
    assert confidence.max() <= STYLE_CONFIDENCE_TOLERANCE, confidence.max()
    # the encoders themselves: the torch-fitted reader reading through ONNX
    onnx_read = StyleInferrer(embedders["onnx"], reader=readers["torch"])
    same = onnx_read.infer_texts_with_confidence(texts)
    assert np.abs(same[0] - readings["torch"][0]).max() <= SAME_READER_TOLERANCE
    assert np.abs(same[1] - readings["torch"][1]).max() <= SAME_READER_TOLERANCE


def test_concern_readings_agree(embedders, world):
    stories = list(world.intakes["story"]) + list(world.intakes["hopes"])
    given = [[] for _ in stories]
    probabilities, tags = {}, {}
    for backend, embedder in embedders.items():
        reader = ConcernReader(embedder)
        vectors = embedder.encode(stories)
        probabilities[backend] = reader.probabilities(vectors)
        tags[backend] = reader.infer(vectors, stories, given)
    gap = np.abs(probabilities["torch"] - probabilities["onnx"]).max()
    assert gap <= CONCERN_TOLERANCE, gap
    same = np.mean([a == b for a, b in zip(tags["torch"], tags["onnx"], strict=True)])
    assert same >= 0.98, same
