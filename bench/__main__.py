"""Run the benchmarks: ``python -m bench [--quick] [--only 1 3 ...]`` (``make bench``).

Prints the machine line and one Markdown section per benchmark, and writes the
whole report to ``$MATCHER_BENCH_CACHE/report[-quick].md`` (default
``/tmp/matcher-bench-cache``). docs/performance.md holds the last full report.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

#: Benchmark number -> (module, title).
BENCHMARKS = {
    1: "ranking",  # 1 and 2 share a module and a run
    3: "training",
    4: "placement",
    5: "web",
    6: "memory",
    7: "encoders",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 3 minutes")
    parser.add_argument(
        "--only",
        type=int,
        nargs="+",
        choices=sorted({1, 2, *BENCHMARKS}),
        help="run only these benchmarks (2 runs with 1)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # One thread per process unless told otherwise (set before torch and OpenMP load): on a
    # shared 2-core machine, spinning OpenMP and torch thread pools slow everything down.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.WARNING)
    from importlib import import_module

    from .common import Context, cache_dir, machine_line

    wanted = {1 if n == 2 else n for n in (args.only or BENCHMARKS)}
    mode = "quick" if args.quick else "full"
    started = time.perf_counter()
    header = [
        f"## Benchmark report ({mode}: `python -m bench{' --quick' if args.quick else ''}`)",
        "",
        f"Machine: {machine_line()}",
        "",
    ]
    print("\n".join(header), flush=True)
    ctx = Context(args.quick, log=lambda message: print(message, file=sys.stderr, flush=True))
    sections = []
    for number in sorted(wanted):
        module = import_module(f"bench.{BENCHMARKS[number]}")
        began = time.perf_counter()
        section = module.run(ctx)
        section += f"\n\n_({time.perf_counter() - began:.0f} s)_\n"
        print(section, flush=True)
        sections.append(section)
    footer = f"Total: {time.perf_counter() - started:.0f} s."
    print(footer)
    report = "\n".join([*header, *sections, footer, ""])
    path = cache_dir() / f"report{'-quick' if args.quick else ''}.md"
    path.write_text(report)
    print(f"(written to {path})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
