"""Benchmark 7: the encoders. torch against ONNX Runtime (fp32, and int8 by dynamic
quantisation), timed side by side on texts never seen before, and their agreement."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from matcher.ranking import encoders
from matcher.ranking.embed import default_model_path
from matcher.ranking.features import ClientProfile
from matcher.ranking.rank import rank_client
from matcher.ranking.roster import Roster
from matcher.ranking.style import StyleInferrer
from matcher.schema import parse_intake, validate_frame
from matcher.simulation import simulate_world

from .common import Context, Stats, client_texts, fresh_intakes, table, timed

K = 5
ROSTER = 1_000


class Encoder:
    """One way to encode: a ``SentenceTransformer`` (torch, or with the ONNX export
    swapped in) and the torch threads to run it with."""

    def __init__(self, label: str, variant: str | None, threads: int = 1):
        self.label, self.variant, self.threads = label, variant, threads
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        path = default_model_path()
        started = time.perf_counter()
        self.model = SentenceTransformer(path, device="cpu")
        if variant is not None:
            encoders.use_onnx(self.model, path, variant, threads=threads)
            self.size_mb = os.path.getsize(encoders.export_dir(path, variant) / "model.onnx")
        else:
            self.size_mb = sum(p.numel() * p.element_size() for p in self.model.parameters())
        self.size_mb /= 2**20
        self.name = "all-MiniLM-L6-v2"
        self.dimension = 384
        self.encode(["warm-up"])
        self.load_s = time.perf_counter() - started

    def encode(self, texts) -> np.ndarray:
        previous = torch.get_num_threads()
        if self.variant is None:
            torch.set_num_threads(self.threads)
        try:
            batch_size = 64 if self.variant is None else encoders.onnx_batch_size(len(texts))
            vectors = self.model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
        finally:
            torch.set_num_threads(previous)
        blank = np.array([not t.strip() for t in texts])
        vectors[blank] = 0.0
        return vectors.astype(np.float32, copy=False)


def _interleaved(encoders_: list[Encoder], jobs: list, call: Callable) -> dict[str, list[float]]:
    """Time ``call(encoder, job)`` for every job and encoder, rotating the encoders' order
    job by job so that a busy moment of the shared machine falls on all of them."""
    times: dict[str, list[float]] = {e.label: [] for e in encoders_}
    for i, job in enumerate(jobs):
        for j in range(len(encoders_)):
            encoder = encoders_[(i + j) % len(encoders_)]
            times[encoder.label].append(timed(lambda e=encoder, job=job: call(e, job))[0])
    return times


def run(ctx: Context) -> str:
    n_single, n_batches, n_agree, n_clients = (32, 4, 300, 30) if ctx.quick else (96, 12, 800, 60)
    world = simulate_world(400, 300, seed=777, client_seed=778, history=False)
    intakes = validate_frame(world.intakes, "intakes")
    therapists = validate_frame(world.therapists, "therapists")
    texts = list(
        dict.fromkeys(
            [*intakes["story"], *intakes["hopes"], *therapists["approach"], *client_texts(intakes)]
        )
    )
    texts = [t for t in texts if t.strip()]
    rng = np.random.default_rng(7)
    rng.shuffle(texts)
    ctx.log("  loading the encoders (the first ONNX start exports and caches the model)")
    all_ = [
        Encoder("torch", None),
        Encoder("ONNX fp32", "fp32"),
        Encoder("ONNX int8", "int8"),
        Encoder("torch, 2 threads", None, threads=2),
        Encoder("ONNX fp32, 2 intra-op threads", "fp32", threads=2),
    ]
    requests = [client_texts(intakes.iloc[[i]]) for i in range(n_clients)]
    single = _interleaved(all_, texts[:n_single], lambda e, t: e.encode([t]))
    per_request = _interleaved(all_, requests, lambda e, batch: e.encode(batch))
    batches = [texts[n_single + 32 * i : n_single + 32 * (i + 1)] for i in range(n_batches)]
    batched = _interleaved(all_, batches, lambda e, batch: e.encode(batch))
    agree_texts = texts[:n_agree]
    reference = all_[0].encode(agree_texts)
    top5 = _top5_agreement(ctx, all_[:3], n_clients)
    torch_request = Stats.of(per_request["torch"])
    rows = []
    for encoder in all_:
        cosine = np.sum(encoder.encode(agree_texts) * reference, axis=1)
        one, request = Stats.of(single[encoder.label]), Stats.of(per_request[encoder.label])
        many = Stats.of(np.array(batched[encoder.label]) / 32)
        rows.append(
            [
                encoder.label,
                f"{one.median * 1000:.1f}",
                f"{many.median * 1000:.1f}",
                request.ms(),
                f"{torch_request.median / request.median:.2f}x",
                f"{cosine.min():.4f} / {cosine.mean():.4f}",
                f"{np.mean(cosine >= 0.99):.1%}",
                top5.get(encoder.label, "(same model)"),
                f"{encoder.size_mb:.0f}",
                f"{encoder.load_s:.1f}",
            ]
        )
    sizes = [len(r) for r in requests]
    return "\n".join(
        [
            "### 7. Encoders: torch vs ONNX Runtime",
            "",
            f"all-MiniLM-L6-v2 on the CPU, texts never seen before (simulated stories, hopes, "
            f"their sentences and approaches; {len(texts):,} distinct). Each encoder is "
            f"`SentenceTransformer.encode` (tokenizer, pooling and normalisation the "
            f"library's) with the transformer in torch (batches of 64) or in ONNX Runtime "
            f"(batches of 2 up to 16 texts, else 8: `encoders.onnx_batch_size`) "
            f"(`matcher.ranking.encoders`: fp32 export, or int8 by "
            f"`onnxruntime.quantization.quantize_dynamic`, weights per channel). Timed side by "
            f"side: every text or batch goes through every encoder in rotating order. "
            f"Batch 1: {n_single} texts one per call; a request: the {n_clients} batches "
            f"`Matcher.rank` encodes for one intake ({min(sizes)}-{max(sizes)} texts, "
            f"median {int(np.median(sizes))}); 32 per call: {n_batches} calls. Cosine with the "
            f"torch vectors over {len(agree_texts)} texts. Top-5 identical: "
            f"{n_clients} new intakes ranked on a {ROSTER:,} roster (stored torch vectors, "
            f"learned scorer) with each encoder's client vectors, against torch's ranking.",
            "",
            table(
                [
                    "encoder",
                    "batch 1 (ms/text)",
                    "32 texts per call (ms/text)",
                    "one request (ms, median / p95)",
                    "speed-up (request)",
                    "cosine vs torch (min / mean)",
                    "texts >= 0.99",
                    "top-5 identical",
                    "model (MB)",
                    "load (s)",
                ],
                rows,
            ),
        ]
    )


def _top5_agreement(ctx: Context, candidates: list[Encoder], n_clients: int) -> dict[str, str]:
    scorer = ctx.scorers()["learned"]
    styles = StyleInferrer(ctx.embedder())
    roster = Roster.build(ctx.roster_frame(ROSTER), ctx.embedder(), styles)
    records = fresh_intakes(n_clients, roster_seed=7, client_seed=5150)
    tops: dict[str, list[list[str]]] = {}
    for encoder in candidates:
        tops[encoder.label] = [
            [
                s.therapist_id
                for s in rank_client(
                    ClientProfile.build(parse_intake(r), encoder, styles), roster, scorer, K
                )
            ]
            for r in records
        ]
    reference = tops[candidates[0].label]
    return {
        label: f"{np.mean([a == b for a, b in zip(found, reference, strict=True)]):.1%}"
        for label, found in tops.items()
        if label != candidates[0].label
    }
