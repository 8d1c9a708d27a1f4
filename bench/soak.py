"""Soak: the app under steady load for minutes, its memory sampled. Does it grow?

``python -m bench.soak --minutes 10`` serves the app on loopback in this process
(waitress when installed, else Werkzeug's threaded server) over a temporary SQLite
database holding a simulated roster, and runs a few client threads. Each client
plays one new visitor after another, each from an address of its own (sent as
``X-Forwarded-For``, with ``TRUSTED_PROXIES=1``, so the rate limiter keeps a key per
visitor): the questionnaire (GET), the intake (POST, stored), the private results
page, and a ranking from the JSON API. Rate limits are high enough that every
request succeeds, with one-minute windows, so a limiter that forgets expired keys
holds a steady number of them.

The process's resident memory (``VmRSS`` of ``/proc/self/status``) is sampled every
few seconds. After the warm-up (the model, the roster arrays, the first database
pages and allocator arenas), it must not grow by more than ``--bound-mb`` (50 MB):
PASS or FAIL, exit status 0 or 1. The client threads live in the same process; they
keep nothing between visitors.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import itertools
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import HashingEmbedder

#: Growth allowed after the warm-up, in MB, for a 10-minute soak.
BOUND_MB = 50.0
#: Per-address limits for the soak: far above what one visitor sends, one-minute windows.
SOAK_LIMITS = {
    "intake.submit": (1000, 60),
    "auth.login": (1000, 60),
    "api.matches": (1000, 60),
}
ROSTER, CLIENTS, SEED = 60, 2000, 7

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

#: The questionnaire as a browser posts it; story and hopes change per visitor.
FORM: dict[str, Any] = {
    "safety": "no",
    "concerns": ["anxiety", "work_stress"],
    "concerns_other": "",
    "directive": "3",
    "intensity": "",
    "past_focus": "-2",
    "challenge": "3",
    "language": "english",
    "modality": "either",
    "city": "",
    "availability": ["mon_am", "mon_eve"],
    "insurance": "",
    "max_fee": "",
    "therapist_gender": "",
    "faith": "",
    "support_note": "",
    "region": "california",
    "age_group": "adults",
    "preferred_name": "Sam",
    "email": "",
    "phone": "",
    "contact_method": "email",
    "contact_times": "weekday evenings",
    "consent": "yes",
}


def rss_mb() -> float:
    """This process's resident set size now, in MB (Linux ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def address(n: int) -> str:
    """The n-th visitor's address, from 10.0.0.1 on (16 million before repeating)."""
    n = n % (2**24 - 2) + 1
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


@dataclass
class Visitors:
    """Texts for intakes and API bodies: simulated clients, used round-robin."""

    stories: list[tuple[str, str]]
    bodies: list[bytes]

    @classmethod
    def simulated(cls, n: int = CLIENTS, seed: int = SEED) -> Visitors:
        from matcher.schema import validate_frame
        from matcher.simulation import simulate_world

        world = simulate_world(ROSTER, n, seed=seed, client_seed=seed + 1, history=False)
        intakes = validate_frame(world.intakes, "intakes")
        records = [
            {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in intakes.to_dict("records")
        ]
        stories = [(r.get("story") or "", r.get("hopes") or "") for r in records]
        bodies = [
            json.dumps(
                {k: v for k, v in r.items() if k != "client_id" and v not in (None, "", [])}
                | {"k": 5}
            ).encode()
            for r in records
        ]
        return cls(stories, bodies)


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    visitors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, request: str, status: int, expected: int) -> None:
        with self.lock:
            self.statuses[f"{request} {status}"] += 1
            if status != expected:
                self.errors[f"{request} {status}"] += 1


class Client:
    """One load thread: a keep-alive connection, one visitor after another."""

    def __init__(self, host: str, port: int, visitors: Visitors, tally: Tally):
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.visitors, self.tally = visitors, tally

    def _send(self, method: str, path: str, headers: dict, body: bytes | None = None):
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            return response, response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()  # reconnects on the next request
            raise

    def visit(self, n: int) -> None:
        """One new visitor: questionnaire, intake, results page, an API ranking."""
        story, hopes = self.visitors.stories[n % len(self.visitors.stories)]
        headers = {"X-Forwarded-For": address(n)}
        response, page = self._send("GET", "/intake", headers)
        self.tally.count("GET /intake", response.status, 200)
        cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
        token = _CSRF.search(page.decode())
        if response.status != 200 or not cookie or token is None:
            return
        form = {
            **FORM,
            "story": story or "I worry about work.",
            "hopes": hopes,
            "email": f"visitor{n}@example.org",
            "csrf_token": token.group(1),
        }
        posted = {
            **headers,
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = urllib.parse.urlencode(form, doseq=True).encode()
        response, _ = self._send("POST", "/intake", posted, body)
        self.tally.count("POST /intake", response.status, 303)
        location = response.getheader("Location") or ""
        if response.status == 303 and location.startswith("/matches/"):
            response, _ = self._send("GET", location, {**headers, "Cookie": cookie})
            self.tally.count("GET /matches/[token]", response.status, 200)
        api = {**headers, "Content-Type": "application/json"}
        body = self.visitors.bodies[n % len(self.visitors.bodies)]
        response, _ = self._send("POST", "/api/v1/matches", api, body)
        self.tally.count("POST /api/v1/matches", response.status, 200)

    def close(self) -> None:
        self.connection.close()


@dataclass
class Server:
    """The app on a loopback port, in a thread of this process."""

    kind: str
    port: int
    stop: Callable[[], None]


def serve(app, threads: int = 8) -> Server:
    """Serve ``app`` on 127.0.0.1: waitress when installed, else Werkzeug's threaded server.

    Waitress strips ``X-Forwarded-*`` headers from peers it does not trust by default;
    here the app itself decides (``TRUSTED_PROXIES``), so they are passed through.
    """
    if importlib.util.find_spec("waitress") is not None:
        from waitress.server import create_server

        server = create_server(
            app,
            host="127.0.0.1",
            port=0,
            threads=threads,
            clear_untrusted_proxy_headers=False,
        )
        thread = threading.Thread(target=server.run, name="soak-waitress", daemon=True)
        thread.start()

        def close_all() -> None:
            for channel in list(server._map.values()):  # open connections, then the server
                if channel is not server and channel is not server.trigger:
                    channel.close()
            server.close()  # and its trigger: the map is empty, so the loop returns

        def stop() -> None:
            server.task_dispatcher.shutdown()  # the last responses finish first
            # closed from the loop's own thread: closing the sockets from this one raced
            # the loop's select() ("Bad file descriptor")
            server.trigger.pull_trigger(close_all)
            thread.join(timeout=10)

        return Server(f"waitress, {threads} threads", server.effective_port, stop)
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="soak-werkzeug", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=10)

    return Server("werkzeug, threaded", server.server_port, stop)


def make_app(folder: Path, embedder=None, limits: dict | None = None):
    """The app on a new SQLite database in ``folder`` holding a simulated roster."""
    from matcher.clinic.store import Store
    from matcher.schema import validate_frame
    from matcher.simulation import simulate_world
    from web import create_app

    url = f"sqlite:///{folder / 'soak.db'}"
    world = simulate_world(ROSTER, 0, seed=SEED, history=False)
    Store(url).import_tables(therapists=validate_frame(world.therapists, "therapists"))
    return create_app(
        {
            "DATABASE_URL": url,
            "MODEL_DIR": str(folder / "models"),  # empty: the prior ranks
            "SECRET_KEY": "soak-" + "s" * 40,
            "EMBEDDER": embedder,
            "TRUSTED_PROXIES": 1,
            "RATE_LIMITS": limits or SOAK_LIMITS,
            "ACCESS_LOG": False,  # a line per request would be most of the output
        }
    )


def limiter_keys(app) -> int:
    """How many keys the app's rate limiter holds now (in-memory storage only)."""
    storage = app.extensions["matcher.limiter"].storage
    held = set(getattr(storage, "events", {})) | set(getattr(storage, "storage", {}))
    return len(held)


@dataclass
class SoakResult:
    seconds: float
    warmup: float
    server: str
    clients: int
    embedder: str
    #: (seconds since the start, RSS in MB, limiter keys held)
    samples: list[tuple[float, float, int]]
    visitors: int
    statuses: dict[str, int]
    errors: dict[str, int]

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def after_warmup(self) -> list[tuple[float, float, int]]:
        later = [s for s in self.samples if s[0] >= self.warmup]
        return later or self.samples[-1:]

    @property
    def baseline(self) -> float:
        """RSS when the warm-up ended."""
        return self.after_warmup[0][1]

    @property
    def growth(self) -> float:
        """The most RSS grew above its level at the end of the warm-up, in MB."""
        return max(rss for _, rss, _ in self.after_warmup) - self.baseline

    @property
    def slope(self) -> float:
        """RSS trend after the warm-up, MB per minute (least squares)."""
        points = self.after_warmup
        if len(points) < 3:
            return 0.0
        times = [t / 60 for t, _, _ in points]
        return statistics.linear_regression(times, [rss for _, rss, _ in points]).slope

    def verdict(self, bound_mb: float) -> str:
        ok = self.growth <= bound_mb and not self.errors and self.visitors > 0
        return "PASS" if ok else "FAIL"


def soak(
    seconds: float,
    *,
    clients: int = 4,
    warmup: float = 60.0,
    sample_every: float = 5.0,
    pause: float = 0.0,
    embedder=None,
    limits: dict | None = None,
    distinct_texts: int = CLIENTS,
    folder: Path | None = None,
    app_ready: Callable[[Any], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> SoakResult:
    """Serve the app, load it for ``seconds`` from ``clients`` threads (``pause`` seconds
    between one thread's visitors), sampling RSS every ``sample_every`` seconds."""
    with tempfile.TemporaryDirectory(prefix="matcher-soak-") as tmp:
        app = make_app(Path(folder or tmp), embedder, limits)
        if app_ready is not None:
            app_ready(app)
        server = serve(app)
        texts, tally = Visitors.simulated(distinct_texts), Tally()
        numbers = itertools.count()
        numbers_lock = threading.Lock()
        stop = threading.Event()

        def load() -> None:
            client = Client("127.0.0.1", server.port, texts, tally)
            try:
                while not stop.is_set():
                    with numbers_lock:
                        n = next(numbers)
                    try:
                        client.visit(n)
                    except (OSError, http.client.HTTPException) as error:
                        with tally.lock:
                            tally.errors[type(error).__name__] += 1
                    with tally.lock:
                        tally.visitors += 1
                    if pause:
                        stop.wait(pause)
            finally:
                client.close()

        threads = [
            threading.Thread(target=load, name=f"soak-client-{i}", daemon=True)
            for i in range(clients)
        ]
        samples: list[tuple[float, float, int]] = []
        started = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            while True:
                elapsed = time.monotonic() - started
                samples.append((elapsed, rss_mb(), limiter_keys(app)))
                if log is not None:
                    t, rss, keys = samples[-1]
                    log(
                        f"{t:6.0f}s  RSS {rss:7.1f} MB  limiter keys {keys:6d}  "
                        f"visitors {tally.visitors:7d}  errors {sum(tally.errors.values())}"
                    )
                if elapsed >= seconds:
                    break
                time.sleep(min(sample_every, max(seconds - elapsed, 0.05)))
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            server.stop()
            app.extensions["matcher.store"].engine.dispose()
        name = getattr(embedder, "name", None) or "the configured one"
        return SoakResult(
            seconds=samples[-1][0],
            warmup=warmup,
            server=server.kind,
            clients=clients,
            embedder=name,
            samples=samples,
            visitors=tally.visitors,
            statuses=dict(tally.statuses),
            errors=dict(tally.errors),
        )


def report(result: SoakResult, bound_mb: float) -> str:
    """The soak's figures as Markdown: the run, the RSS series, the verdict."""
    later = result.after_warmup
    rss_after = [rss for _, rss, _ in later]
    keys_after = [keys for _, _, keys in later]
    minutes = result.seconds / 60
    every = max(1, len(result.samples) // 12)
    series = result.samples[::every]
    if series[-1] is not result.samples[-1]:
        series.append(result.samples[-1])
    verdict = result.verdict(bound_mb)
    lines = [
        f"{minutes:.1f} minutes, {result.server}, {result.clients} client threads in the "
        f"same process, embedder {result.embedder}: {result.visitors:,} visitors, each from "
        f"its own address, {result.requests:,} requests "
        f"({result.requests / result.seconds:.1f}/s), "
        f"{sum(result.errors.values())} errors"
        + (
            f" ({', '.join(f'{k}: {v}' for k, v in sorted(result.errors.items()))})"
            if result.errors
            else ""
        )
        + ".",
        "",
        "| requests | count |",
        "| --- | --- |",
        *(f"| {name} | {count:,} |" for name, count in sorted(result.statuses.items())),
        "",
        "| time (s) | RSS (MB) | limiter keys held |",
        "| --- | --- | --- |",
        *(f"| {t:.0f} | {rss:.1f} | {keys:,} |" for t, rss, keys in series),
        "",
        f"RSS at the start {result.samples[0][1]:.1f} MB; after the {result.warmup:.0f} s "
        f"warm-up {result.baseline:.1f} MB; from then on min {min(rss_after):.1f}, median "
        f"{statistics.median(rss_after):.1f}, max {max(rss_after):.1f}, end "
        f"{rss_after[-1]:.1f} MB; trend {result.slope:+.2f} MB/min. Limiter keys after the "
        f"warm-up: {min(keys_after):,} to {max(keys_after):,}, for {result.visitors:,} "
        f"addresses seen.",
        "",
        f"**Growth after warm-up: {result.growth:.1f} MB (bound {bound_mb:.0f} MB): {verdict}**",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="load threads (default 4)")
    parser.add_argument(
        "--pause", type=float, default=0.1, help="seconds between one thread's visitors"
    )
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--bound-mb", type=float, default=BOUND_MB, help="growth allowed")
    parser.add_argument(
        "--embedder",
        choices=["real", "fake"],
        default="real",
        help="real: all-MiniLM-L6-v2, as served; fake: a hashing stand-in (fast, no model)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.basicConfig(level=logging.WARNING)
    if args.embedder == "fake":
        embedder = HashingEmbedder(64, "hashing-64")
    else:
        from matcher.ranking.embed import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
        embedder.encode(["warm-up"])  # loaded before the first sample: not growth

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    result = soak(
        args.minutes * 60,
        clients=args.clients,
        warmup=args.warmup,
        sample_every=args.sample_every,
        pause=args.pause,
        embedder=embedder,
        log=log,
    )
    print(report(result, args.bound_mb))
    return 0 if result.verdict(args.bound_mb) == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
