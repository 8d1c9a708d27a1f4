"""Benchmark 6: resident memory of one process holding a Matcher with a large roster."""

from __future__ import annotations

import argparse
import json
import sys

from .child import run_child
from .common import Context, current_rss_mb, fresh_intakes, peak_rss_mb, table, timed


def measure(quick: bool) -> dict:
    from matcher import Matcher

    ctx = Context(quick, log=lambda m: print(m, file=sys.stderr))
    n = 10_000 if quick else 100_000
    scorer = ctx.scorers()["learned"]
    frame = ctx.roster_frame(n)
    start = current_rss_mb()
    matcher = Matcher(scorer, ctx.embedder(), therapists=frame)
    build_time, roster = timed(lambda: matcher.roster)
    for record in fresh_intakes(20, roster_seed=7, client_seed=6060):
        matcher.rank(record, k=5)
    arrays = sum(
        value.nbytes
        for value in vars(roster).values()
        if hasattr(value, "nbytes") and not isinstance(value, str)
    )
    frame_bytes = int(roster.therapists.memory_usage(deep=True).sum())
    return {
        "n": n,
        "build_time": build_time,
        "before_mb": start,
        "rss_mb": current_rss_mb(),
        "peak_rss_mb": peak_rss_mb(),
        "arrays_mb": arrays / 2**20,
        "frame_mb": frame_bytes / 2**20,
        "cached_vectors": len(ctx.cache),
    }


def run(ctx: Context) -> str:
    ctx.scorers()  # pool embedded and models trained here first; the child reads the cache
    ctx.scorers()
    r = run_child("memory", ctx.quick)
    target = (
        ""
        if ctx.quick
        else (" (target <= 1,536: " + ("met)" if r["peak_rss_mb"] <= 1536 else "MISSED)"))
    )
    return "\n".join(
        [
            "### 6. Memory of one process holding a Matcher",
            "",
            f"A fresh process builds `Matcher(learned scorer, cached all-MiniLM-L6-v2, "
            f"therapists=<{r['n']:,}-therapist frame>)`, loads the roster arrays and ranks 20 "
            f"new intakes (the real model loaded), as one web worker does. Before the "
            f"matcher the process held {r['before_mb']:,.0f} MB (Python, libraries, the "
            f"loaded embedding model, the simulated frame and the benchmark's vector cache "
            f"of {r['cached_vectors']:,} texts, which a web worker keeps in the database).",
            "",
            table(
                [
                    "roster",
                    "arrays built (s)",
                    "roster arrays (MB)",
                    "roster frame (MB)",
                    "RSS after (MB)",
                    "peak RSS (MB)",
                ],
                [
                    [
                        f"{r['n']:,}",
                        f"{r['build_time']:.1f}",
                        f"{r['arrays_mb']:,.0f}",
                        f"{r['frame_mb']:,.0f}",
                        f"{r['rss_mb']:,.0f}",
                        f"**{r['peak_rss_mb']:,.0f}**{target}",
                    ]
                ],
            ),
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(measure(args.quick)))
