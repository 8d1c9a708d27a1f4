"""The ONNX Runtime encoder: a one-time export of the sentence model, cached on disk.

:class:`~matcher.ranking.embed.SentenceTransformerEmbedder` keeps
``SentenceTransformer`` as the API (tokenizer, batching, pooling and
normalisation stay the library's own); with the ONNX backend only the
transformer's forward pass runs in ONNX Runtime. ``sentence-transformers``'
own ``backend="onnx"`` needs optimum-onnx, which (at 0.1.0, the newest) caps
transformers below 5 while sentence-transformers 6 needs 5 or later, so the
export here is the same one optimum performs (``torch.onnx.export`` of the
Hugging Face model, output ``last_hidden_state``) done with torch and onnx.

The export is made once, on the first start that needs it, and kept under
``$MATCHER_ENCODER_CACHE`` (default ``~/.cache/therapist-matcher/encoders``)
in a folder keyed by the model's digest (its weight, tokenizer and config
files) and the versions of the libraries that made it and run it; either
changing gives a new folder, so a new export. A manifest records the
export's sha256, checked on every load. Whatever goes wrong (no onnxruntime,
an export that fails, a corrupt file, vectors that disagree with the torch
model on the probe texts) raises :class:`EncoderUnavailable` with a one-line
reason, and the embedder falls back to torch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ENCODER_ENV = "MATCHER_ENCODER"
ENCODER_CACHE_ENV = "MATCHER_ENCODER_CACHE"
ENCODER_THREADS_ENV = "MATCHER_ENCODER_THREADS"
BACKENDS = ("onnx", "torch")
#: ONNX (fp32) is the default: it passes the agreement checks of
#: tests/matcher/ranking/test_encoder_agreement.py (int8 does not; see docs/performance.md).
DEFAULT_BACKEND = "onnx"
#: Variants of the export: the float model, and dynamic int8 quantisation of its weight
#: matrices (per channel). Only fp32 serves: int8 fails the per-text agreement check.
VARIANTS = ("fp32", "int8")
#: Bumped when the export procedure itself changes (a new folder, so a new export).
EXPORT_FORMAT = 1
MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
#: Libraries whose versions key the export: the exporter, the model code it traced, the
#: tokenizer/pooling side, the quantiser and the runtime.
KEY_LIBRARIES = ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime")
#: Files of a model folder whose content defines the model (weights, tokenizer, config).
MODEL_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model")
#: Texts run through both encoders on every load: an export that traced the wrong
#: shapes or lost a weight disagrees here and is not used.
PROBE_TEXTS = (
    "I feel anxious before work and cannot sleep.",
    "We focus on the here and now and on your goals for the future.",
    "ok",
)
PROBE_MIN_COSINE = 0.99


def onnx_batch_size(n_texts: int) -> int:
    """Texts per ONNX Runtime call. Small batches: ``SentenceTransformer.encode`` sorts the
    texts by length and pads each batch to its longest, and ONNX Runtime pays for the
    padding but (unlike torch) little per call. Measured on 2 cores: a request's 4-6 texts
    are fastest 2 at a time (0.70x torch's one batch, against 0.90x in one batch), bulk
    encodes 8 at a time (one batch of 64 was 1.5x slower than batches of 8)."""
    return 2 if n_texts <= 16 else 8


class EncoderUnavailable(RuntimeError):
    """The ONNX encoder cannot be used here; the message is one line saying why."""


def encoder_backend(requested: str | None = None) -> str:
    """The backend to use: ``requested``, else ``$MATCHER_ENCODER``, else the default."""
    backend = (requested or os.environ.get(ENCODER_ENV) or DEFAULT_BACKEND).strip().lower()
    if backend not in BACKENDS:
        raise ValueError(f"{ENCODER_ENV} must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return backend


def encoder_threads() -> int:
    """ONNX Runtime intra-op threads per session (``$MATCHER_ENCODER_THREADS``, default 1:
    one request per core beats two cores per request when requests run concurrently)."""
    try:
        return max(1, int(os.environ.get(ENCODER_THREADS_ENV) or 1))
    except ValueError:
        return 1


def cache_root() -> Path:
    override = os.environ.get(ENCODER_CACHE_ENV)
    if override:
        return Path(override)
    return Path.home() / ".cache" / "therapist-matcher" / "encoders"


@functools.lru_cache(maxsize=8)
def _digest_of(model_path: str, stamp: tuple) -> str:
    digest = hashlib.sha256()
    root = Path(model_path)
    for path in _model_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\x00")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _model_files(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix in MODEL_SUFFIXES
        and not {"onnx", "openvino"} & set(path.relative_to(root).parts)
    )


def model_digest(model_path: str | Path) -> str:
    """sha256 of the model folder's weight, tokenizer and config files (names and bytes)."""
    root = Path(model_path)
    if not root.is_dir():
        raise EncoderUnavailable(f"the model {str(model_path)!r} is not a local folder")
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in _model_files(root))
    return _digest_of(str(root.resolve()), stamp)


def library_versions() -> dict[str, str]:
    versions = {}
    for name in KEY_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def export_key(model_path: str | Path, variant: str) -> dict[str, Any]:
    """What an export depends on; its hash names the export's folder."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}")
    return {
        "format": EXPORT_FORMAT,
        "variant": variant,
        "model_digest": model_digest(model_path),
        "libraries": library_versions(),
    }


def export_dir(model_path: str | Path, variant: str = "fp32", root: Path | None = None) -> Path:
    key = export_key(model_path, variant)
    name = Path(os.path.normpath(model_path)).name
    if name == "model":  # the bundled package's folder name
        name = Path(os.path.normpath(model_path)).parent.name
    stamp = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return (root or cache_root()) / f"{name}-{variant}-{stamp}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_export(folder: Path) -> Path:
    """The export's model file, after checking it against its manifest."""
    manifest_path, model_path = folder / MANIFEST_FILE, folder / MODEL_FILE
    try:
        manifest = json.loads(manifest_path.read_text())
        expected = manifest["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EncoderUnavailable(f"the ONNX export in {folder} has no valid manifest") from error
    if not model_path.is_file() or file_sha256(model_path) != expected:
        raise EncoderUnavailable(f"the ONNX export in {folder} is corrupt (checksum mismatch)")
    return model_path


def ensure_export(model, model_path: str | Path, variant: str = "fp32") -> Path:
    """The checked ``model.onnx`` of this model and variant, exported first if missing.

    ``model`` is the torch ``SentenceTransformer`` loaded from ``model_path``. A
    corrupt export raises :class:`EncoderUnavailable` and is removed, so the next
    start exports it again. Two processes exporting at once each build in a
    temporary folder; the first to rename it into place wins.
    """
    folder = export_dir(model_path, variant)
    if folder.exists():
        try:
            return check_export(folder)
        except EncoderUnavailable:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    try:
        _export(model, building / MODEL_FILE, variant)
        manifest = {
            **export_key(model_path, variant),
            "sha256": file_sha256(building / MODEL_FILE),
            "model_path": str(model_path),
        }
        (building / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        try:
            building.rename(folder)
        except OSError:  # another process got there first
            if not folder.exists():
                raise
    except EncoderUnavailable:
        raise
    except Exception as error:
        raise EncoderUnavailable(f"exporting to ONNX failed: {_one_line(error)}") from error
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return check_export(folder)


def _export(model, target: Path, variant: str) -> None:
    """Write the model's transformer as ONNX (``last_hidden_state``), quantised for int8."""
    import torch

    transformer = model[0]
    hf_model = transformer.auto_model.eval()
    sample = transformer.tokenizer(
        ["A sample sentence to trace the export.", "Two words"],
        padding=True,
        return_tensors="pt",
    )
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    fp32 = target if variant == "fp32" else target.with_name("fp32.onnx")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's and the legacy exporter's notices
        torch.onnx.export(
            LastHiddenState(hf_model),
            tuple(sample[n] for n in names),
            str(fp32),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    if variant == "int8":
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            str(fp32),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        fp32.unlink()


def open_session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (not spinning)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or encoder_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: a failure reaches the caller as one line
    # idle pool threads sleep instead of spinning: requests run concurrently on 2 cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:
        raise EncoderUnavailable(f"ONNX Runtime cannot load {path}: {_one_line(error)}") from error


@functools.cache
def _stand_in_class():
    import torch

    class OnnxTransformerModel(torch.nn.Module):
        """Stands in for the Hugging Face model inside ``SentenceTransformer``'s
        Transformer module: same inputs, ``last_hidden_state`` out, run by ONNX Runtime."""

        def __init__(self, session, config):
            super().__init__()
            self.session = session
            self.config = config
            self.device = torch.device("cpu")
            self.input_names = [i.name for i in session.get_inputs()]

        def forward(self, **features):
            feeds = {
                name: np.asarray(features[name].numpy(), dtype=np.int64)
                for name in self.input_names
            }
            (hidden,) = self.session.run(["last_hidden_state"], feeds)
            return {"last_hidden_state": torch.from_numpy(hidden)}

    return OnnxTransformerModel


def use_onnx(model, model_path: str | Path, variant: str = "fp32", threads: int | None = None):
    """Swap the torch transformer of ``model`` (a ``SentenceTransformer``) for the cached
    ONNX export, in place, after checking both agree on :data:`PROBE_TEXTS`.

    Raises :class:`EncoderUnavailable` (the model is then left as it was, on torch).
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError as error:
        raise EncoderUnavailable("onnxruntime is not installed") from error
    try:
        return _use_onnx(model, model_path, variant, threads)
    except EncoderUnavailable:
        raise
    except Exception as error:  # anything else the export or the runtime raises
        raise EncoderUnavailable(f"the ONNX encoder failed: {_one_line(error)}") from error


def _use_onnx(model, model_path, variant, threads):
    transformer = model[0]
    if not hasattr(transformer, "auto_model") or not hasattr(transformer, "model"):
        raise EncoderUnavailable("this sentence-transformers model has no transformer module")
    path = ensure_export(model, model_path, variant)
    session = open_session(path, threads)
    expected = _encode(model, PROBE_TEXTS)
    original = transformer.model
    transformer.model = _stand_in_class()(session, original.config)
    try:
        got = _encode(model, PROBE_TEXTS)
    except Exception as error:
        transformer.model = original
        raise EncoderUnavailable(f"the ONNX encoder failed: {_one_line(error)}") from error
    cosine = float(np.min(np.sum(expected * got, axis=1)))
    if variant == "fp32" and cosine < PROBE_MIN_COSINE:
        transformer.model = original
        raise EncoderUnavailable(
            f"the ONNX export in {path.parent} disagrees with torch (cosine {cosine:.3f})"
        )
    return model


def _encode(model, texts) -> np.ndarray:
    return model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
