"""Shared pieces of the benchmarks: the machine line, timing statistics, the
on-disk embedding cache and the simulated worlds the benchmarks run on.

Embedding a 100,000-therapist simulated roster with the real model would take
far longer than the whole benchmark budget, so the roster's *texts* come from
a pool of ``POOL_THERAPISTS`` simulated therapists whose texts are embedded
once with the real model and cached on disk (``MATCHER_BENCH_CACHE``, default
``/tmp/matcher-bench-cache``). Every other column of a large roster
(languages, city, modality, slots, fees, insurance, capacity, gender, faith)
is simulated per therapist. Clients being ranked are always fresh simulated
intakes whose texts are encoded by the real model at ranking time.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import resource
import statistics
import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matcher.ranking.embed import CachedEmbedder, SentenceTransformerEmbedder, text_key
from matcher.ranking.encoders import encoder_backend
from matcher.ranking.negation import split_sentences
from matcher.ranking.roster import concerns_text, specialties_text
from matcher.schema import validate_frame
from matcher.simulation import simulate_world
from matcher.text import style_axes
from matcher.vocab import STYLE_AXES

CACHE_ENV = "MATCHER_BENCH_CACHE"
#: Distinct therapists whose texts are embedded with the real model and tiled.
POOL_THERAPISTS = 4000
#: Distinct clients whose texts are embedded for the training benchmark and tiled.
POOL_CLIENTS = 2000
POOL_SEED = 20240
ROSTER_SEED = 7
#: Text columns of a therapist taken from the pool (ratings go with the approach text).
THERAPIST_TEXT_COLUMNS = ("specialties", "modalities", "approach", *STYLE_AXES)
#: Text columns of an intake taken from the pool.
CLIENT_TEXT_COLUMNS = ("story", "hopes")


def cache_dir() -> Path:
    path = Path(os.environ.get(CACHE_ENV) or "/tmp/matcher-bench-cache")
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- reporting ------------------------------------------------------------------------------


def machine_line() -> str:
    """One line naming the machine, the libraries and how busy the machine was."""
    import sklearn
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory = float("nan")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GB RAM, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, scikit-learn {sklearn.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), onnxruntime {_version('onnxruntime')}, "
        f"encoder {encoder_backend()}; load average {load:.1f} at start"
    )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


@dataclass(frozen=True)
class Stats:
    """Median and 95th percentile (and count) of repeated timings, in seconds."""

    median: float
    p95: float
    n: int

    @classmethod
    def of(cls, samples: Iterable[float]) -> Stats:
        values = sorted(samples)
        return cls(statistics.median(values), float(np.percentile(values, 95)), len(values))

    def ms(self) -> str:
        return f"{self.median * 1000:.1f} / {self.p95 * 1000:.1f}"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MiB).

    From /proc's VmHWM where there is one: ``ru_maxrss`` survives ``exec`` on Linux, so
    a child started from a large parent would report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# --- embeddings -----------------------------------------------------------------------------


class DiskVectorCache(MutableMapping):
    """A dict of text key -> vector, saved to and loaded from one ``.npz`` file."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, np.ndarray] = {}
        self.dirty = False
        if path.exists():
            with np.load(path, allow_pickle=False) as saved:
                keys, vectors = saved["keys"], saved["vectors"]
            self.data = dict(zip(keys.tolist(), vectors, strict=True))

    def __getitem__(self, key: str) -> np.ndarray:
        return self.data[key]

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        self.data[key] = np.asarray(value, dtype=np.float32)
        self.dirty = True

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.dirty = True

    def __iter__(self):
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def save(self) -> None:
        if not self.dirty:
            return
        keys = np.array(list(self.data), dtype=str)
        vectors = np.stack(list(self.data.values())) if self.data else np.zeros((0, 384))
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors.astype(np.float32))
        tmp.replace(self.path)
        self.dirty = False


_REAL: dict[str, SentenceTransformerEmbedder] = {}


def real_embedder(backend: str | None = None) -> SentenceTransformerEmbedder:
    """The product's embedder (all-MiniLM-L6-v2), loaded once per process and backend.

    ``backend`` None is the product's default (``MATCHER_ENCODER``, else ONNX); the
    benchmarks' baseline, the bare encode, asks for ``"torch"``. Both backends share the
    model's name, so the on-disk vector cache serves both (their vectors agree to float
    rounding; ``tests/matcher/ranking/test_encoder_agreement.py``).
    """
    backend = encoder_backend(backend)
    if backend not in _REAL:
        embedder = SentenceTransformerEmbedder(backend=backend)
        embedder.encode(["warm-up"])
        _REAL[backend] = embedder
    return _REAL[backend]


def disk_cache() -> DiskVectorCache:
    return DiskVectorCache(cache_dir() / "embeddings.npz")


def cached_embedder(cache: DiskVectorCache | None = None) -> CachedEmbedder:
    """The real embedder behind the on-disk cache (roster and pool texts cost nothing)."""
    return CachedEmbedder(real_embedder(), cache if cache is not None else disk_cache())


# --- simulated worlds -------------------------------------------------------------------------


def _validated(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    return validate_frame(frame, kind)


@dataclass
class Pool:
    """Simulated therapists and clients whose texts are embedded with the real model."""

    therapists: pd.DataFrame  # validated
    clients: pd.DataFrame  # validated intakes


def pool(n_therapists: int = POOL_THERAPISTS, n_clients: int = POOL_CLIENTS) -> Pool:
    world = simulate_world(n_therapists, n_clients, seed=POOL_SEED, history=False)
    return Pool(_validated(world.therapists, "therapists"), _validated(world.intakes, "intakes"))


def roster_texts(therapists: pd.DataFrame) -> list[str]:
    """Every text Roster.build encodes for these therapists (incl. style sentences)."""
    texts = list(therapists["approach"])
    texts += [
        specialties_text(s, m)
        for s, m in zip(therapists["specialties"], therapists["modalities"], strict=True)
    ]
    unrated = therapists[therapists[list(STYLE_AXES)].isna().any(axis=1)]
    texts += [s for text in unrated["approach"] for s in split_sentences(text)]
    return texts


def client_texts(intakes: pd.DataFrame) -> list[str]:
    """Every text encode_clients encodes for these intakes."""
    texts: list[str] = []
    for story, hopes, concerns in zip(
        intakes["story"], intakes["hopes"], intakes["concerns"], strict=True
    ):
        texts += [story, hopes, concerns_text(concerns), *split_sentences(hopes)]
    return texts


def pole_texts() -> list[str]:
    return [t for a in style_axes().values() for t in (*a.anchors_negative, *a.anchors_positive)]


def ensure_embedded(texts: Iterable[str], cache: DiskVectorCache, log=print) -> float:
    """Encode (with the real model, in batches) the texts the cache lacks; returns texts/s
    of that encode (nan when nothing was missing). Saves the cache."""
    embedder = real_embedder()
    wanted = list(dict.fromkeys(texts))
    missing = [t for t in wanted if text_key(embedder.name, t) not in cache]
    if not missing:
        return float("nan")
    log(f"  embedding {len(missing):,} uncached texts with {embedder.name} (cached afterwards)")
    # in batches of 2,000 texts: quieter (no progress bar) and the same vectors
    elapsed, vectors = timed(
        lambda: np.concatenate(
            [embedder.encode(missing[i : i + 2000]) for i in range(0, len(missing), 2000)]
        )
    )
    for text, vector in zip(missing, vectors, strict=True):
        cache[text_key(embedder.name, text)] = vector
    cache.save()
    return len(missing) / elapsed


def tiled_roster(n: int, source: pd.DataFrame, seed: int = ROSTER_SEED) -> pd.DataFrame:
    """A validated roster of ``n`` simulated therapists whose texts (and the self-ratings
    that go with them) are those of ``source`` row ``j % len(source)``."""
    world = simulate_world(n, 0, seed=seed, history=False)
    frame = _validated(world.therapists, "therapists")
    take = np.arange(n) % len(source)
    for column in THERAPIST_TEXT_COLUMNS:
        frame[column] = source[column].to_numpy()[take]
    return frame


def tile_client_texts(intakes: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    """Intakes whose story and hopes are those of ``source`` row ``i % len(source)``
    (concerns, stated preferences and practicalities stay per client)."""
    take = np.arange(len(intakes)) % len(source)
    frame = intakes.copy()
    for column in CLIENT_TEXT_COLUMNS:
        frame[column] = source[column].to_numpy()[take]
    return frame


def fresh_intakes(n: int, roster_seed: int, client_seed: int) -> list[dict[str, Any]]:
    """``n`` new simulated intakes (validated records), never embedded before."""
    world = simulate_world(60, n, seed=roster_seed, client_seed=client_seed, history=False)
    intakes = _validated(world.intakes, "intakes")
    return [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in intakes.to_dict("records")
    ]


# --- a learned model whose track record covers the first therapists of every roster ----------

HISTORY_THERAPISTS = 1000
HISTORY_CLIENTS = 8000
HISTORY_SEED = 31


@dataclass
class History:
    """A simulated outcome history (texts tiled from the pool) and the model trained on it."""

    therapists: pd.DataFrame
    intakes: pd.DataFrame
    outcomes: pd.DataFrame


def history(
    source: Pool,
    n_therapists: int = HISTORY_THERAPISTS,
    n_clients: int = HISTORY_CLIENTS,
    seed: int = HISTORY_SEED,
) -> History:
    world = simulate_world(n_therapists, n_clients, seed=seed)
    therapists = _validated(world.therapists, "therapists")
    take = np.arange(len(therapists)) % len(source.therapists)
    for column in THERAPIST_TEXT_COLUMNS:
        therapists[column] = source.therapists[column].to_numpy()[take]
    intakes = tile_client_texts(_validated(world.intakes, "intakes"), source.clients)
    return History(therapists, intakes, _validated(world.outcomes, "outcomes"))


def training_tables(n_rows: int, n_therapists: int, source: Pool, seed: int = 41) -> dict:
    """Validated therapists, intakes and outcomes with ``n_rows`` outcomes (one per client);
    texts tiled from the pool, everything else simulated per row."""
    world = simulate_world(n_therapists, n_rows, seed=seed)
    therapists = _validated(world.therapists, "therapists")
    take = np.arange(len(therapists)) % len(source.therapists)
    for column in THERAPIST_TEXT_COLUMNS:
        therapists[column] = source.therapists[column].to_numpy()[take]
    intakes = tile_client_texts(_validated(world.intakes, "intakes"), source.clients)
    return {
        "therapists": therapists,
        "intakes": intakes,
        "outcomes": _validated(world.outcomes, "outcomes"),
    }


# --- shared state of one benchmark run ------------------------------------------------------


class Context:
    """What the benchmarks share in one run: the pool, the embedding cache, the big
    roster frame and the scorers, each made once on first use."""

    def __init__(self, quick: bool, log=print):
        self.quick = quick
        self.log = log
        self._pool: Pool | None = None
        self._cache: DiskVectorCache | None = None
        self._frames: dict[int, pd.DataFrame] = {}
        self._scorers: dict[str, Any] | None = None
        self._history: History | None = None

    @property
    def cache(self) -> DiskVectorCache:
        if self._cache is None:
            self._cache = disk_cache()
        return self._cache

    @property
    def pool(self) -> Pool:
        if self._pool is None:
            self._pool = pool()
            texts = roster_texts(self._pool.therapists) + client_texts(self._pool.clients)
            rate = ensure_embedded([*texts, *pole_texts()], self.cache, self.log)
            if rate == rate:
                self.log(f"  (first run: pool embedded at {rate:.0f} texts/s, now cached)")
        return self._pool

    def embedder(self) -> CachedEmbedder:
        """The real model behind the on-disk cache: roster texts cost nothing."""
        return CachedEmbedder(real_embedder(), self.cache)

    @property
    def history(self) -> History:
        if self._history is None:
            self._history = history(self.pool)
            ensure_embedded(client_texts(self._history.intakes), self.cache, self.log)
        return self._history

    def roster_frame(self, n: int) -> pd.DataFrame:
        """A validated roster of n therapists: the history's therapists first (so the
        learned model's track record applies), then simulated ones with pool texts."""
        if n not in self._frames:
            head = self.history.therapists
            frame = tiled_roster(max(n, len(head)), self.pool.therapists)
            frame = pd.concat([head, frame.iloc[len(head) :]], ignore_index=True).head(n)
            self._frames[n] = frame
        return self._frames[n]

    def scorers(self) -> dict[str, Any]:
        """{"learned": what train.py would choose, "linear": logistic, "boosted": trees},
        trained on the simulated history (cached on disk between runs)."""
        if self._scorers is None:
            self._scorers = _trained_scorers(self)
        return self._scorers


def _source_digest() -> str:
    import hashlib

    import matcher

    root = Path(matcher.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):  # any library change retrains the benchmark's models
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _trained_scorers(ctx: Context) -> dict[str, Any]:
    import joblib

    from matcher.learning.datasets import build_training_set
    from matcher.learning.training import features_with_history, fit_scorer, train

    path = cache_dir() / f"scorers-{_source_digest()}.joblib"
    if path.exists():
        return joblib.load(path)
    h = ctx.history
    ctx.log(f"  training the benchmark's models on {len(h.outcomes):,} simulated outcomes")
    ts = build_training_set(h.therapists, h.intakes, h.outcomes, ctx.embedder())
    result = train(ts)
    features = features_with_history(ts, ~ts.holdout)
    scorers = {"learned": result.scorer, "learned_candidate": result.card["candidate"]}
    for name, candidate in (("linear", "logistic"), ("boosted", "boosted")):
        scorer = fit_scorer(ts, features, ~ts.holdout, candidate)
        scorer.version = candidate
        scorers[name] = scorer
    joblib.dump(scorers, path)
    return scorers


class HashingEmbedder:
    """Words hashed into signed dimensions and normalised: texts sharing words are close.

    Deterministic, offline and fast: the tests' fake embedder and the benchmarks that
    exercise everything but the sentence model (the simulated year, the soak).
    """

    def __init__(self, dimension: int = 64, name: str | None = None):
        self.dimension = dimension
        self.name = name or f"hashing-bow-{dimension}"

    def encode(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                digest = hashlib.md5(word.encode()).digest()
                out[i, digest[0] % self.dimension] += 1.0 if digest[1] % 2 else -1.0
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out
