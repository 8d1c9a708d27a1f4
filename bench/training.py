"""Benchmark 3: training time with cached embeddings, and encode throughput."""

from __future__ import annotations

import gc

from matcher.learning.datasets import build_training_set
from matcher.learning.training import train
from matcher.ranking.roster import concerns_text
from matcher.schema import validate_frame
from matcher.simulation import simulate_world

from .common import (
    Context,
    ensure_embedded,
    peak_rss_mb,
    real_embedder,
    table,
    timed,
    training_tables,
)

#: Therapists in the training worlds (a regional network).
TRAINING_THERAPISTS = 200


def run(ctx: Context) -> str:
    sizes = (10_000, 100_000) if ctx.quick else (10_000, 100_000, 1_000_000)
    rows = []
    for n in sizes:
        make_time, tables = timed(lambda n=n: training_tables(n, TRAINING_THERAPISTS, ctx.pool))
        # story and hopes are tiled from the pool; only new concern-tag texts need encoding
        concerns = {concerns_text(c) for c in tables["intakes"]["concerns"]}
        ensure_embedded(concerns, ctx.cache, ctx.log)
        build_time, ts = timed(
            lambda tables=tables: build_training_set(**tables, embedder=ctx.embedder())
        )
        fit_time, result = timed(lambda ts=ts: train(ts))
        total = build_time + fit_time
        target = ""
        if n == 100_000:
            target = " (target <= 60 s: " + ("met)" if total <= 60 else "MISSED)")
        rows.append(
            [
                f"{n:,}",
                f"{make_time:.0f}",
                f"{build_time:.1f}",
                f"{fit_time:.1f}",
                f"**{total:.1f}**{target}",
                f"{n / total:,.0f}",
                result.card["candidate"],
                f"{peak_rss_mb():,.0f}",
            ]
        )
        ctx.log(f"  trained on {n:,} outcomes in {total:.1f} s ({result.card['candidate']})")
        del tables, ts, result
        gc.collect()
    throughput = _throughput(ctx)
    return "\n".join(
        [
            "### 3. Training time (cached embeddings) and encode throughput",
            "",
            f"`build_training_set` + `train` (what `train.py` runs): candidate selection by "
            f"client-grouped 5-fold CV (logistic and boosted), calibrated fit, held-out "
            f"evaluation of the model, the prior and random (ranking metrics rank every "
            f"eligible therapist for each held-out client). One outcome per simulated client, "
            f"{TRAINING_THERAPISTS} therapists; the texts of intakes and therapists are tiled "
            f"from the embedded pool, so no text is encoded during the timing (the stored "
            f"embeddings of the product). Simulating and validating the tables is not "
            f"counted.",
            "",
            table(
                [
                    "outcome rows",
                    "simulate + validate (s)",
                    "features (s)",
                    "fit + evaluate (s)",
                    "total (s)",
                    "rows/s",
                    "chosen",
                    "peak RSS so far (MB)",
                ],
                rows,
            ),
            "",
            throughput,
        ]
    )


def _throughput(ctx: Context) -> str:
    """Texts/s of the real model on texts it has never seen, batched vs one at a time."""
    n = 256 if ctx.quick else 1024
    world = simulate_world(60, n, seed=99, client_seed=4242, history=False)
    intakes = validate_frame(world.intakes, "intakes")
    texts = list(dict.fromkeys([*intakes["story"], *intakes["hopes"]]))[:n]
    embedder = real_embedder()
    lines = [
        f"Encoding texts never seen before (all-MiniLM-L6-v2, CPU, {embedder.backend}):",
        "",
    ]
    rows = []
    default = embedder.batch_size
    for batch in (None, 64, 256):
        embedder.batch_size = batch
        elapsed, _ = timed(lambda: embedder.encode(texts))
        how = f"batches of {batch}" if batch else f"{embedder.backend}'s default batching"
        rows.append([how, len(texts), f"{elapsed:.1f}", f"{len(texts) / elapsed:,.0f}"])
    embedder.batch_size = default
    single = texts[:64]
    elapsed, _ = timed(lambda: [embedder.encode([t]) for t in single])
    rows.append(
        ["one text per call", len(single), f"{elapsed:.1f}", f"{len(single) / elapsed:,.0f}"]
    )
    lines.append(table(["how", "texts", "seconds", "texts/s"], rows))
    return "\n".join(lines)
