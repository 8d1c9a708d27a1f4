"""Run one benchmark function in a fresh process, so its peak memory is its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run_child(module: str, quick: bool, *extra: str) -> dict:
    """Run ``python -m bench.<module> --child [--quick] [extra...]`` and return the JSON it
    prints last."""
    command = [
        sys.executable,
        "-m",
        f"bench.{module}",
        "--child",
        *(["--quick"] if quick else []),
        *extra,
    ]
    done = subprocess.run(
        command,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
