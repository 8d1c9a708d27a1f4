"""Benchmark 5: ``POST /api/v1/matches`` with concurrent clients on loopback, under the
ways ``make serve`` could run: waitress threads (torch or ONNX, one or two intra-op
threads), and gunicorn worker processes forked after the app, the model and the roster
arrays are loaded (``--preload``)."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
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
#: Request threads of ``make serve`` (waitress: one per core), the earlier 8, and the
#: gunicorn alternative.
THREADS = os.cpu_count() or 2
MANY_THREADS = 8
WORKERS = 2
WORKER_THREADS = 4


@dataclass
class Setup:
    """One way to serve: a label, the command after ``python -m`` and its environment."""

    label: str
    server: str  # "waitress" or "gunicorn"
    env: dict[str, str] = field(default_factory=dict)
    threads: int = THREADS  # waitress request threads

    def command(self, port: int) -> list[str]:
        if self.server == "waitress":
            return [
                "waitress",
                "--host=127.0.0.1",
                f"--port={port}",
                f"--threads={self.threads}",
                "--call",
                "bench.web:serve_app",
            ]
        return [
            "gunicorn",
            "--preload",  # app, model and roster loaded once, then forked
            f"--workers={WORKERS}",
            "--worker-class=gthread",
            f"--threads={WORKER_THREADS}",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
            "bench.web:preloaded_app()",
        ]


def setups(quick: bool) -> list[Setup]:
    onnx = {"MATCHER_ENCODER": "onnx", "MATCHER_ENCODER_THREADS": "1"}
    many = MANY_THREADS
    found = [
        Setup(f"waitress, {many} threads, torch", "waitress", {"MATCHER_ENCODER": "torch"}, many),
        Setup(f"waitress, {many} threads, ONNX, 1 intra-op thread", "waitress", onnx, many),
        Setup(
            f"waitress, {many} threads, ONNX, 2 intra-op threads",
            "waitress",
            {**onnx, "MATCHER_ENCODER_THREADS": "2"},
            many,
        ),
        Setup(
            f"waitress, {THREADS} threads, ONNX, 1 intra-op thread (`make serve`)", "waitress", onnx
        ),
    ]
    if importlib.util.find_spec("gunicorn") is not None:
        found.append(
            Setup(
                f"gunicorn --preload, {WORKERS} workers x {WORKER_THREADS} threads, ONNX, "
                f"1 intra-op thread",
                "gunicorn",
                onnx,
            )
        )
    return found[1:] if quick else found


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


def preloaded_app():
    """The app with its matcher loaded and warm (model, roster arrays, style and concern
    readers): what gunicorn's ``--preload`` forks, so the workers share those pages."""
    from web.extensions import current_matcher

    app = serve_app()
    with app.app_context():
        matcher = current_matcher()
        record = fresh_intakes(1, roster_seed=7, client_seed=1)[0]
        matcher.rank(record, k=5, remember=False)
    return app


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


def _tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc)."""
    found = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += _tree(int(child))
    except OSError:
        pass
    return found


def _memory_mb(pid: int) -> dict[str, float]:
    """RSS of each process of the server, and their PSS summed (shared pages counted once)."""
    rss, pss = [], 0.0
    for member in _tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text().splitlines()
            rss += [int(x.split()[1]) / 1024 for x in status if x.startswith("VmRSS:")]
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text().splitlines()
            pss += sum(int(x.split()[1]) / 1024 for x in rollup if x.startswith("Pss:"))
        except OSError:
            continue
    return {"rss": rss, "pss": pss}


def run(ctx: Context) -> str:
    duration = 10.0 if ctx.quick else 30.0
    bodies = [
        json.dumps({**r, "k": 5}).encode()
        for r in fresh_intakes(4000, roster_seed=7, client_seed=9090)
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="matcher-bench-web-") as tmp:
        prepared = _prepare(ctx, Path(tmp))
        for setup in setups(ctx.quick):
            rows.append(_serve_and_load(ctx, setup, prepared, bodies, duration))
    return "\n".join(
        [
            "### 5. Web: `POST /api/v1/matches`",
            "",
            f"Each setup serves an app from `web.create_app` with its rate limit off "
            f"(`bench.web:serve_app`; for gunicorn `bench.web:preloaded_app()`, which also "
            f"loads the matcher before the fork) on loopback, with `OMP_NUM_THREADS=1`, a "
            f"temporary SQLite database holding a simulated {ROSTER:,}-therapist roster (its "
            f"texts' embeddings stored, as after an import) and the learned model in a "
            f"registry. {CLIENTS} concurrent clients (threads in the benchmark process, on "
            f"the same 2 cores) with keep-alive connections, each posting a new intake "
            f"(k = 5) as soon as the last answer came, for {duration:.0f} s after warm-up. "
            f"The setups run one after another in the same benchmark run. Memory: RSS of "
            f"each server process after the load, and PSS summed over them (pages shared "
            f"after the fork counted once).",
            "",
            table(
                [
                    "setup",
                    "first answer (s)",
                    "requests",
                    "errors",
                    "req/s",
                    "p50 (ms)",
                    "p95 (ms)",
                    "target: 0 errors, p95 <= 250 ms",
                    "RSS per process (MB)",
                    "PSS total (MB)",
                ],
                rows,
            ),
        ]
    )


def _serve_and_load(ctx, setup: Setup, prepared, bodies, duration) -> list:
    env = {
        **os.environ,
        **prepared,
        **setup.env,
        "TOKENIZERS_PARALLELISM": "false",
        # one torch thread per request thread: two requests use the two cores
        "OMP_NUM_THREADS": "1",
    }
    port = _free_port()
    log = Path(prepared["BENCH_MODEL_DIR"]).parent / f"server-{port}.log"
    began = time.perf_counter()
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", *setup.command(port)],
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            latencies, errors, total, elapsed, first = _load(port, bodies, duration, ctx)
            memory = _memory_mb(server.pid)
        except Exception:
            ctx.log(log.read_text(errors="replace")[-3000:])
            raise
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    start = first - began
    ctx.log(f"  {setup.label}: {total / elapsed:.1f} req/s, first answer after {start:.1f} s")
    s = Stats.of(latencies) if len(latencies) else Stats(float("nan"), float("nan"), 0)
    verdict = "met" if errors == 0 and s.p95 * 1000 <= 250 else "MISSED"
    return [
        setup.label,
        f"{start:.0f}",
        total,
        errors,
        f"{total / elapsed:.1f}",
        f"{s.median * 1000:.0f}",
        f"**{s.p95 * 1000:.0f}**",
        verdict,
        " + ".join(f"{m:,.0f}" for m in memory["rss"]),
        f"{memory['pss']:,.0f}",
    ]


def _load(port: int, bodies: list[bytes], duration: float, ctx: Context):
    deadline = time.monotonic() + 120
    while True:  # wait for the server
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            status = _post(connection, bodies[0])
            first = time.perf_counter()  # when the server gave its first answer
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
