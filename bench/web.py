"""Benchmark 5: ``POST /api/v1/matches`` under waitress (the product's WSGI server,
``make serve``) with concurrent clients on loopback."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from matcher.clinic.store import Store
from matcher.learning import registry
from matcher.ranking.embed import text_key

from .common import (
    Context,
    Stats,
    fresh_intakes,
    pole_texts,
    real_embedder,
    roster_texts,
    table,
)

ROSTER = 1_000
CLIENTS = 10
THREADS = 2


def serve_app():
    """The app factory waitress calls (``--call bench.web:serve_app``)."""
    from web import create_app

    return create_app(
        {
            "DATABASE_URL": os.environ["BENCH_DATABASE_URL"],
            "MODEL_DIR": os.environ["BENCH_MODEL_DIR"],
            "SECRET_KEY": "bench-" + "x" * 40,
            # The per-address API limit (120/min) would answer most of the load with 429:
            # this measures the ranking service, not the limiter.
            "RATE_LIMITS": {},
        }
    )


def _prepare(ctx: Context, folder: Path) -> dict[str, str]:
    frame = ctx.roster_frame(ROSTER)
    url = f"sqlite:///{folder / 'bench.db'}"
    store = Store(url)
    store.import_tables(therapists=frame)
    name = real_embedder().name
    texts = [*roster_texts(frame), *pole_texts()]
    # The roster's texts were embedded when it was imported (stored, as in production).
    store.embeddings.put_many(
        {text_key(name, t): ctx.cache[text_key(name, t)] for t in dict.fromkeys(texts)}
    )
    models = folder / "models"
    registry.save_version(models, "bench", ctx.scorers()["learned"], {"created": "bench"})
    registry.promote(models, "bench")
    return {"BENCH_DATABASE_URL": url, "BENCH_MODEL_DIR": str(models)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(connection: http.client.HTTPConnection, body: bytes) -> int:
    connection.request(
        "POST", "/api/v1/matches", body=body, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    response.read()
    return response.status


def run(ctx: Context) -> str:
    duration = 10.0 if ctx.quick else 30.0
    bodies = [
        json.dumps({**r, "k": 5}).encode()
        for r in fresh_intakes(3000, roster_seed=7, client_seed=9090)
    ]
    with tempfile.TemporaryDirectory(prefix="matcher-bench-web-") as tmp:
        env = {
            **os.environ,
            **_prepare(ctx, Path(tmp)),
            "TOKENIZERS_PARALLELISM": "false",
            # one torch thread per request thread: two requests use the two cores
            "OMP_NUM_THREADS": "1",
        }
        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "waitress",
                "--host=127.0.0.1",
                f"--port={port}",
                f"--threads={THREADS}",
                "--call",
                "bench.web:serve_app",
            ],
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            result = _load(port, bodies, duration, ctx)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    latencies, errors, total, elapsed, first = result
    s = Stats.of(latencies) if len(latencies) else Stats(float("nan"), float("nan"), 0)
    p95_ms = s.p95 * 1000
    verdict = "met" if errors == 0 and p95_ms <= 250 else "MISSED"
    return "\n".join(
        [
            "### 5. Web: `POST /api/v1/matches`",
            "",
            f"waitress with {THREADS} threads (`OMP_NUM_THREADS=1 python -m waitress "
            f"--threads={THREADS} --call bench.web:serve_app`, an app from `web.create_app` "
            f"with its rate limit off) on "
            f"loopback, a temporary SQLite database holding a simulated {ROSTER:,}-therapist "
            f"roster (its texts' embeddings stored, as after an import) and the learned model "
            f"in a registry. {CLIENTS} concurrent clients (threads in the benchmark process, "
            f"on the same 2 cores) with keep-alive connections, each posting a new intake "
            f"(k = 5) as soon as the last answer came, for {duration:.0f} s after warm-up. "
            f"The first request (loading the model and the roster arrays) took "
            f"{first:.1f} s and is not counted.",
            "",
            table(
                ["requests", "errors", "throughput (req/s)", "p50 (ms)", "p95 (ms)", "target"],
                [
                    [
                        total,
                        errors,
                        f"{total / elapsed:.1f}",
                        f"{s.median * 1000:.0f}",
                        f"**{p95_ms:.0f}**",
                        f"0 errors, p95 <= 250 ms: {verdict}",
                    ]
                ],
            ),
        ]
    )


def _load(port: int, bodies: list[bytes], duration: float, ctx: Context):
    deadline = time.monotonic() + 120
    while True:  # wait for the server
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            started = time.perf_counter()
            status = _post(connection, bodies[0])
            first = time.perf_counter() - started
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    if status != 200:
        raise RuntimeError(f"the app answered {status} to a valid intake")
    for body in bodies[1:20]:  # warm both threads
        _post(connection, body)
    connection.close()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    next_body = iter(range(20, len(bodies)))
    stop = time.perf_counter() + duration

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < stop:
            with lock:
                index = next(next_body, None)
            if index is None:
                break
            began = time.perf_counter()
            try:
                ok = _post(connection, bodies[index]) == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            spent = time.perf_counter() - began
            with lock:
                latencies.append(spent)
                errors[0] += not ok
        connection.close()

    began = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    ctx.log(f"  web: {len(latencies)} requests in {elapsed:.0f} s, {errors[0]} errors")
    return np.array(latencies), errors[0], len(latencies), elapsed, first
