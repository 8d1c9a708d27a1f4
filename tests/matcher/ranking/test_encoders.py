"""The ONNX encoder's export cache and its fallback to torch, on a tiny random model.

A two-layer BERT with 32-wide hidden states (the bundled model's vocabulary, random
weights) exports in about a second, so the cache keying, the reuse of an export and
every fallback run without the real model. Agreement with the real model is checked
in ``test_encoder_agreement.py``.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from matcher.errors import MatcherError
from matcher.ranking import encoders
from matcher.ranking.embed import SentenceTransformerEmbedder, default_model_path

TEXTS = ["I feel anxious before work.", "We focus on your goals.", "ok", ""]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A local sentence-transformers folder (the bundled model's layout): a tiny random
    BERT with the bundled vocabulary, then mean pooling."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    tokenizer = BertTokenizerFast(vocab_file=f"{default_model_path()}/vocab.txt")
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    modules = [
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (path, kind) in enumerate([("", "Transformer"), ("1_Pooling", "Pooling")])
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    (folder / "1_Pooling").mkdir()
    pooling = {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return str(folder)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "encoders"
    monkeypatch.setenv(encoders.ENCODER_CACHE_ENV, str(folder))
    return folder


def _fallbacks(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "matcher.ranking.embed" and r.levelno >= logging.WARNING
    ]


def test_the_backend_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(encoders.ENCODER_ENV, raising=False)
    assert encoders.encoder_backend() == encoders.DEFAULT_BACKEND == "onnx"
    monkeypatch.setenv(encoders.ENCODER_ENV, "Torch")
    assert encoders.encoder_backend() == "torch"
    assert encoders.encoder_backend("onnx") == "onnx"
    monkeypatch.setenv(encoders.ENCODER_ENV, "tensorflow")
    with pytest.raises(MatcherError, match="MATCHER_ENCODER"):
        SentenceTransformerEmbedder(model_path="/nowhere")


def test_the_cache_folder_is_keyed_by_model_bytes_and_library_versions(tmp_path, monkeypatch):
    model = tmp_path / "my-model"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "config.json").write_text("{}")
    (model / "1_Pooling" / "config.json").write_text("{}")
    (model / "README.md").write_text("not part of the model")
    root = tmp_path / "cache"
    first = encoders.export_dir(model, "fp32", root)
    assert first.parent == root and first.name.startswith("my-model-fp32-")
    assert encoders.export_dir(model, "fp32", root) == first
    assert encoders.export_dir(model, "int8", root) != first
    (model / "README.md").write_text("edited docs do not change the model")
    assert encoders.export_dir(model, "fp32", root) == first
    (model / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    second = encoders.export_dir(model, "fp32", root)
    assert second != first
    versions = {**encoders.library_versions(), "onnxruntime": "0.0.1"}
    monkeypatch.setattr(encoders, "library_versions", lambda: versions)
    assert encoders.export_dir(model, "fp32", root) not in (first, second)


def test_the_cache_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(encoders.ENCODER_CACHE_ENV, str(tmp_path))
    assert encoders.cache_root() == tmp_path
    monkeypatch.delenv(encoders.ENCODER_CACHE_ENV)
    assert encoders.cache_root().parts[-3:] == (".cache", "therapist-matcher", "encoders")


def test_onnx_exports_once_then_reuses_the_export(tiny_model, cache, caplog, monkeypatch):
    torch_vectors = SentenceTransformerEmbedder(tiny_model, backend="torch").encode(TEXTS)
    onnx = SentenceTransformerEmbedder(tiny_model, backend="onnx")
    vectors = onnx.encode(TEXTS)
    assert onnx.backend == "onnx" and onnx.name == "tiny-bert"
    assert vectors.shape == torch_vectors.shape == (4, 32) and vectors.dtype == np.float32
    assert np.min(np.sum(vectors[:3] * torch_vectors[:3], axis=1)) > 0.9999
    assert not vectors[3].any()  # blank text stays "no text"
    (folder,) = cache.iterdir()
    manifest = json.loads((folder / encoders.MANIFEST_FILE).read_text())
    assert manifest["variant"] == "fp32" and set(manifest["libraries"]) >= {"onnxruntime"}

    def no_second_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(encoders, "_export", no_second_export)
    again = SentenceTransformerEmbedder(tiny_model, backend="onnx")
    np.testing.assert_allclose(again.encode(TEXTS), vectors, atol=1e-6)
    assert again.backend == "onnx" and _fallbacks(caplog) == []


def test_a_corrupt_export_falls_back_to_torch_with_one_warning(tiny_model, cache, caplog):
    SentenceTransformerEmbedder(tiny_model, backend="onnx").encode(TEXTS)
    (folder,) = cache.iterdir()
    data = bytearray((folder / encoders.MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / encoders.MODEL_FILE).write_bytes(bytes(data))
    torch_vectors = SentenceTransformerEmbedder(tiny_model, backend="torch").encode(TEXTS)

    embedder = SentenceTransformerEmbedder(tiny_model, backend="onnx")
    with caplog.at_level(logging.WARNING):
        vectors = embedder.encode(TEXTS)
        embedder.encode(TEXTS)
    assert embedder.backend == "torch"
    np.testing.assert_array_equal(vectors, torch_vectors)
    (warning,) = _fallbacks(caplog)
    assert "corrupt" in warning and "\n" not in warning
    assert not folder.exists()  # removed: the next start exports again
    rebuilt = SentenceTransformerEmbedder(tiny_model, backend="onnx")
    rebuilt.encode(TEXTS)
    assert rebuilt.backend == "onnx"


@pytest.mark.parametrize("damage", ["manifest", "unloadable", "export fails"])
def test_other_broken_exports_fall_back_too(tiny_model, cache, caplog, monkeypatch, damage):
    folder = encoders.export_dir(tiny_model, "fp32")
    if damage == "export fails":

        def failing(*args, **kwargs):
            raise RuntimeError("exporter exploded\nwith a second line")

        monkeypatch.setattr(encoders, "_export", failing)
    else:
        SentenceTransformerEmbedder(tiny_model, backend="onnx").encode(TEXTS)
        if damage == "manifest":
            (folder / encoders.MANIFEST_FILE).write_text("{not json")
        else:  # a file whose checksum matches but is no ONNX model
            (folder / encoders.MODEL_FILE).write_bytes(b"garbage")
            manifest = json.loads((folder / encoders.MANIFEST_FILE).read_text())
            manifest["sha256"] = encoders.file_sha256(folder / encoders.MODEL_FILE)
            (folder / encoders.MANIFEST_FILE).write_text(json.dumps(manifest))
    embedder = SentenceTransformerEmbedder(tiny_model, backend="onnx")
    with caplog.at_level(logging.WARNING):
        assert embedder.encode(TEXTS).shape == (4, 32)
    assert embedder.backend == "torch"
    (warning,) = _fallbacks(caplog)
    assert "\n" not in warning
    assert not list(cache.glob(".building-*"))  # no half-built export left behind


def test_torch_never_touches_the_export_cache(tiny_model, cache):
    embedder = SentenceTransformerEmbedder(tiny_model, backend="torch")
    embedder.encode(TEXTS)
    assert embedder.backend == "torch" and not cache.exists()


def test_a_lost_race_uses_the_winners_export(tiny_model, cache, monkeypatch):
    SentenceTransformerEmbedder(tiny_model, backend="onnx").encode(TEXTS)
    (folder,) = cache.iterdir()
    winner = cache.parent / "winner"
    shutil.copytree(folder, winner)
    shutil.rmtree(folder)
    real_export = encoders._export

    def slow_export(*args, **kwargs):
        real_export(*args, **kwargs)
        shutil.copytree(winner, folder)  # another process finished first

    monkeypatch.setattr(encoders, "_export", slow_export)
    embedder = SentenceTransformerEmbedder(tiny_model, backend="onnx")
    embedder.encode(TEXTS)
    assert embedder.backend == "onnx"
    assert [p.name for p in cache.iterdir()] == [folder.name]
