"""Benchmark 6: resident memory of one process holding a Matcher with a large roster."""

from __future__ import annotations

import argparse
import json
import sys

from .child import run_child
from .common import Context, current_rss_mb, fresh_intakes, peak_rss_mb, table, timed

#: Roster sizes measured (each in a fresh process) and the peak RSS each must stay under.
TARGETS_MB = {10_000: 1024, 100_000: 1536}


def measure(quick: bool, n: int) -> dict:
    from matcher import Matcher

    ctx = Context(quick, log=lambda m: print(m, file=sys.stderr))
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
        "encoder": ctx.embedder().embedder.backend,
    }


def run(ctx: Context) -> str:
    ctx.scorers()  # pool embedded and models trained here first; the child reads the cache
    sizes = (10_000,) if ctx.quick else (10_000, 100_000)
    results = [run_child("memory", ctx.quick, "--size", str(n)) for n in sizes]
    rows = []
    for r in results:
        limit = TARGETS_MB[r["n"]]
        verdict = "met" if r["peak_rss_mb"] <= limit else "MISSED"
        rows.append(
            [
                f"{r['n']:,}",
                f"{r['build_time']:.1f}",
                f"{r['arrays_mb']:,.0f}",
                f"{r['frame_mb']:,.0f}",
                f"{r['before_mb']:,.0f}",
                f"{r['rss_mb']:,.0f}",
                f"**{r['peak_rss_mb']:,.0f}** (target <= {limit:,}: {verdict})",
            ]
        )
    r = results[-1]
    return "\n".join(
        [
            "### 6. Memory of one process holding a Matcher",
            "",
            f"A fresh process per size builds `Matcher(learned scorer, cached "
            f"all-MiniLM-L6-v2 ({r['encoder']}), therapists=<frame>)`, loads the roster arrays "
            f"and ranks 20 new intakes (the real model loaded), as one web worker does. "
            f'"Before" is what the process held before the matcher: Python, libraries, the '
            f"loaded embedding model, the simulated frame and the benchmark's vector cache "
            f"of {r['cached_vectors']:,} texts, which a web worker keeps in the database.",
            "",
            table(
                [
                    "roster",
                    "arrays built (s)",
                    "roster arrays (MB)",
                    "roster frame (MB)",
                    "before (MB)",
                    "RSS after (MB)",
                    "peak RSS (MB)",
                ],
                rows,
            ),
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(measure(args.quick, args.size)))
