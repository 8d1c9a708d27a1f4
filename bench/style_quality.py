"""How well texts are placed on the style axes, on sentences the reader never saw.

``python -m bench.style_quality`` reads the held-out labelled sentences
(``tests/data/heldout/style_sentences*.toml``, written apart from the training
set and never used to choose anything) with the real embedding model, by

- the supervised reader (:class:`matcher.ranking.style.StyleInferrer`),
- the anchor method it replaced (cosine to the pole centroids of
  ``data/style_axes.toml``, softmax-weighted over sentences, times a gain), and
- a nearest-anchor baseline (the closest of the four anchors of each pole),

and prints sign accuracy on the labelled axis (a value of 0 counts as wrong),
per kind of sentence, and how far neutral sentences stray from 0.
``--cv`` instead prints the training-set cross-validation (paraphrases grouped) and
the development-set figures (``data/style_dev_sentences.toml``) that chose ``READER_C``
(docs/style-reading.md).
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from matcher.ranking.embed import CachedEmbedder, Embedder, SentenceTransformerEmbedder
from matcher.ranking.negation import split_sentences
from matcher.ranking.style import CLASSES, READER_C, StyleInferrer, StyleReader, training_views
from matcher.text import load_toml, style_axes
from matcher.vocab import STYLE_AXES, STYLE_MAX, STYLE_MIN

HELDOUT_DIR = Path(__file__).resolve().parents[1] / "tests/data/heldout"
#: The held-out sets, each written by someone who saw neither the training sentences nor
#: the other sets (docs/style-reading.md): read once when new, after every choice of
#: their round; once read they are spent and join the training data in the next round.
HELDOUT_SETS = tuple(
    path.name
    for path in sorted(
        HELDOUT_DIR.glob("style_sentences*.toml"),
        # in the order written: style_sentences, style_sentences_2, ..., style_sentences_10
        key=lambda path: int(re.sub(r"\D", "", path.stem) or 1),
    )
)
#: The old method's constants (matcher/ranking/style.py before the supervised reader).
ANCHOR_GAIN = 12.0
ANCHOR_TEMPERATURE = 0.05
#: Held-out targets: sign accuracy, on negated sentences, neutral mean |value|, share beyond ±1.
TARGETS = {"sign": 0.95, "negated": 0.90, "neutral_abs": 0.5, "neutral_beyond_1": 0.10}
CV_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
CV_FOLDS, CV_REPEATS = 5, 2
#: Resamples of the labelled axes for the held-out intervals.
BOOTSTRAP_DRAWS = 2000
#: Training sentences this close (embedding cosine) are paraphrases: one fold holds them all.
PARAPHRASE_COSINE = 0.8

Records = Sequence[Mapping[str, Any]]


def heldout_records(name: str) -> list[dict[str, Any]]:
    """The labelled sentences of one held-out set."""
    return tomllib.loads((HELDOUT_DIR / name).read_text())["sentence"]


def quality(values: np.ndarray, records: Records) -> dict[str, float]:
    """Accuracy and neutrality of ``values`` (len(records), 4) for labelled sentences.

    Returns
    -------
    dict with ``sign`` (share of labelled axes whose value has the label's sign; 0 is
    wrong), the same per kind (``plain``, ``negated``, ``hedged``, ``mixed`` where
    present), and for neutral sentences ``neutral_abs`` (mean |value| over all four
    axes) and ``neutral_beyond_1`` (share of their axis values beyond ±1).
    """
    hits: dict[str, list[bool]] = {"sign": []}
    neutral = []
    for record, value in zip(records, values, strict=True):
        if record["kind"] == "neutral":
            neutral.append(value)
            continue
        for a, axis in enumerate(STYLE_AXES):
            if axis in record:
                hit = bool(np.sign(value[a]) == record[axis])
                hits["sign"].append(hit)
                hits.setdefault(record["kind"], []).append(hit)
    out = {name: float(np.mean(found)) for name, found in hits.items()}
    if neutral:
        stacked = np.abs(np.array(neutral))
        out["neutral_abs"] = float(stacked.mean())
        out["neutral_beyond_1"] = float((stacked > 1.0).mean())
    return out


# --- the old method and a nearest-anchor baseline ----------------------------------------


def anchor_reader(embedder: Embedder, nearest: bool = False) -> Callable[[list[str]], np.ndarray]:
    """The anchor method: per sentence, cosine to the positive pole minus cosine to the
    negative pole (the pole's centroid, or with ``nearest`` its closest anchor), averaged
    over a text's sentences with softmax weights on their relevance, times the gain."""
    negatives, positives = [], []
    for axis in STYLE_AXES:
        wording = style_axes()[axis]
        negatives.append(embedder.encode(list(wording.anchors_negative)))
        positives.append(embedder.encode(list(wording.anchors_positive)))

    def similarity(vectors: np.ndarray, anchors: list[np.ndarray]) -> np.ndarray:
        if nearest:
            return np.stack([(vectors @ pole.T).max(axis=1) for pole in anchors], axis=1)
        centroids = np.stack([pole.mean(axis=0) for pole in anchors])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        return vectors @ centroids.T

    def read(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(STYLE_AXES)))
        for i, text in enumerate(texts):
            sentences = split_sentences(text)
            if not sentences:
                continue
            vectors = embedder.encode(sentences)
            to_negative = similarity(vectors, negatives)
            to_positive = similarity(vectors, positives)
            relevance = np.maximum(to_negative, to_positive)
            weight = np.exp((relevance - relevance.max(axis=0)) / ANCHOR_TEMPERATURE)
            position = to_positive - to_negative
            out[i] = (weight * position).sum(axis=0) / weight.sum(axis=0)
        return np.clip(ANCHOR_GAIN * out, STYLE_MIN, STYLE_MAX)

    return read


# --- training-set cross-validation -------------------------------------------------------


def paraphrase_groups(vectors: np.ndarray, threshold: float = PARAPHRASE_COSINE) -> np.ndarray:
    """(n,) int: connected components of sentences whose embeddings' cosine is at least
    ``threshold``, so that paraphrases of one sentence fall in one fold."""
    n = len(vectors)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(vectors @ vectors.T, k=1) >= threshold), strict=True):
        parent[find(i)] = find(j)
    return np.array([find(i) for i in range(n)])


def cross_validate(embedder: Embedder, grid: Sequence[float] = CV_GRID) -> list[dict[str, float]]:
    """Per ``c`` in ``grid``: repeated stratified k-fold on the TRAINING sentences only,
    grouped so that paraphrases (:func:`paraphrase_groups`) stay in one fold, and the
    development set read by a reader fitted on all the training sentences.

    Each fold's reader is fitted on the other folds' views and reads the fold's
    texts through :class:`StyleInferrer`, as in production. ``log_loss`` is the
    views' mean three-class log-loss over axes (the selection criterion).
    """
    records = load_toml("style_sentences")["sentence"]
    development = load_toml("style_dev_sentences")["sentence"]
    groups = paraphrase_groups(embedder.encode([r["text"] for r in records]))
    strata = [
        r["kind"] if r["kind"] in ("mixed", "neutral") else r["kind"] + str(_label(r))
        for r in records
    ]
    rows = []
    for c in grid:
        losses, scores = [], []
        for repeat in range(CV_REPEATS):
            folds = StratifiedGroupKFold(CV_FOLDS, shuffle=True, random_state=repeat)
            values = np.zeros((len(records), len(STYLE_AXES)))
            for train, test in folds.split(np.zeros(len(records)), strata, groups):
                texts, labels = training_views([records[i] for i in train])
                reader = StyleReader.fit(texts, embedder.encode(texts), labels, c)
                inferrer = StyleInferrer(embedder, c, reader=reader)
                values[test] = inferrer.infer_texts([records[i]["text"] for i in test])
                test_texts, test_labels = training_views([records[i] for i in test])
                p = reader.probabilities(embedder.encode(test_texts), test_texts)
                index = np.searchsorted(CLASSES, test_labels)  # (m, 4) class columns
                chosen = np.take_along_axis(p, index[:, :, None], axis=2)[:, :, 0]
                losses.append(float(-np.log(np.maximum(chosen, 1e-12)).mean()))
            scores.append(quality(values, records))
        row = {"c": c, "log_loss": float(np.mean(losses))}
        row.update({key: float(np.mean([s[key] for s in scores])) for key in scores[0]})
        texts, labels = training_views(records)
        reader = StyleReader.fit(texts, embedder.encode(texts), labels, c)
        values = StyleInferrer(embedder, c, reader=reader).infer_texts(
            [r["text"] for r in development]
        )
        row.update({f"dev_{key}": value for key, value in quality(values, development).items()})
        rows.append(row)
    return rows


def _label(record: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(record.get(axis, 0)) for axis in STYLE_AXES)


# --- report ------------------------------------------------------------------------------


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def heldout_report(embedder: Embedder, *heldout: str) -> str:
    """The comparison on one held-out set, or several pooled, as Markdown."""
    records = [record for name in heldout for record in heldout_records(name)]
    texts = [r["text"] for r in records]
    inferrer = StyleInferrer(embedder)
    values, confidence = inferrer.infer_texts_with_confidence(texts)
    methods = {
        "anchor centroids (old)": anchor_reader(embedder)(texts),
        "nearest of 4 anchors per pole": anchor_reader(embedder, nearest=True)(texts),
        "supervised reader (new)": values,
    }
    kinds = [r["kind"] for r in records]
    counts = {kind: kinds.count(kind) for kind in ("plain", "negated", "hedged", "neutral")}
    headers = [
        "method",
        f"sign (n={len(records) - counts['neutral']})",
        f"plain ({counts['plain']})",
        f"negated ({counts['negated']})",
        f"hedged ({counts['hedged']})",
        f"neutral mean abs ({counts['neutral']})",
        "neutral beyond ±1",
    ]
    rows, found = [], {}
    for name, method_values in methods.items():
        q = found[name] = quality(method_values, records)
        rows.append(
            [
                name,
                *(f"{q.get(key, float('nan')):.3f}" for key in ("sign", "plain", "negated")),
                f"{q.get('hedged', float('nan')):.3f}",
                f"{q['neutral_abs']:.2f}",
                f"{q['neutral_beyond_1']:.1%}",
            ]
        )
    neutral = np.array([k == "neutral" for k in kinds])
    new = found["supervised reader (new)"]
    interval = _bootstrap_intervals(values, records)
    verdicts = [
        f"- {key}: {new[key]:.3f}{interval.get(key, '')} (target "
        f"{'≥' if key in ('sign', 'negated') else '≤'} {target}) "
        f"{'met' if _meets(key, new[key], target) else 'MISSED'}"
        for key, target in TARGETS.items()
    ]
    return "\n".join(
        [
            f"Held-out style sentences ({' + '.join(heldout)}, {len(records)}), "
            f"model {embedder.name}",
            "",
            _table(headers, rows),
            "",
            "New reader's confidence: neutral sentences "
            f"{confidence[neutral].mean():.2f} on average, labelled axes "
            f"{_labelled_confidence(confidence, records):.2f}.",
            "Targets:",
            *verdicts,
        ]
    )


def _bootstrap_intervals(
    values: np.ndarray, records: Records, draws: int = BOOTSTRAP_DRAWS
) -> dict[str, str]:
    """95% bootstrap intervals of sign and negated accuracy, over the labelled axes."""
    right, negated = [], []
    for value, record in zip(values, records, strict=True):
        for a, axis in enumerate(STYLE_AXES):
            if axis in record:
                right.append(np.sign(value[a]) == record[axis])
                negated.append(record["kind"] == "negated")
    hits = np.array(right)
    rng = np.random.default_rng(0)
    out = {}
    for key, chosen in (("sign", hits), ("negated", hits[np.array(negated, dtype=bool)])):
        if len(chosen):
            means = chosen[rng.integers(0, len(chosen), (draws, len(chosen)))].mean(axis=1)
            low, high = np.percentile(means, [2.5, 97.5])
            out[key] = f" ({low:.3f}-{high:.3f})"
    return out


def _meets(key: str, value: float, target: float) -> bool:
    return value >= target if key in ("sign", "negated") else value <= target


def _labelled_confidence(confidence: np.ndarray, records: Records) -> float:
    picked = [
        confidence[i, a]
        for i, record in enumerate(records)
        for a, axis in enumerate(STYLE_AXES)
        if axis in record
    ]
    return float(np.mean(picked))


def cv_report(embedder: Embedder) -> str:
    """The training-set cross-validation over ``CV_GRID`` as Markdown."""
    rows = cross_validate(embedder)
    best = min(rows, key=lambda row: row["log_loss"])
    keys = (
        "sign", "plain", "negated", "hedged", "mixed", "neutral_abs", "neutral_beyond_1",
        "dev_sign", "dev_negated", "dev_neutral_abs", "dev_neutral_beyond_1",
    )  # fmt: skip
    table = _table(
        ["C", "log-loss", *keys],
        [
            [
                f"{row['c']:g}" + (" (best)" if row is best else ""),
                f"{row['log_loss']:.4f}",
                *(f"{row[key]:.3f}" for key in keys),
            ]
            for row in rows
        ],
    )
    return (
        f"Training-set {CV_FOLDS}-fold cross-validation ({CV_REPEATS} repeats, paraphrases "
        f"grouped) and the development set (dev_*), "
        f"model {embedder.name}; READER_C = {READER_C:g}\n\n{table}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.style_quality", description=__doc__)
    parser.add_argument(
        "--cv", action="store_true", help="cross-validate READER_C on the training set instead"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch loads, as in bench/__main__
    embedder = CachedEmbedder(SentenceTransformerEmbedder())
    if args.cv:
        print(cv_report(embedder))
    else:
        reports = [heldout_report(embedder, name) for name in HELDOUT_SETS]
        if len(HELDOUT_SETS) > 1:
            reports.append(heldout_report(embedder, *HELDOUT_SETS))
        print("\n\n".join(reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
