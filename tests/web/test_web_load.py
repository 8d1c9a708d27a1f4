"""A bounded load test: concurrent intakes to the WSGI server on loopback lose nothing."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from matcher.clinic.store import Store
from matcher.schema import read_csv

ROOT = Path(__file__).resolve().parents[2]
CLIENTS, INTAKES_EACH = 8, 6  # 48 intakes, 8 at a time: seconds, not minutes

SERVER = """
import sys
from waitress import serve
from web import create_app
from tests.conftest import FakeEmbedder
app = create_app({"DATABASE_URL": sys.argv[1], "MODEL_DIR": sys.argv[2], "SECRET_KEY": "l" * 40,
                  "EMBEDDER": FakeEmbedder(), "RATE_LIMITS": {}})
serve(app, host="127.0.0.1", port=int(sys.argv[3]), threads=8, _quiet=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the server at {url} never answered")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _submit_intakes(base: str, n: int, form: dict) -> list[tuple[int, str]]:
    """One browser: fetch the form (cookie and token), then post ``n`` intakes."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
    )
    page = opener.open(f"{base}/intake", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    results = []
    for _ in range(n):
        body = urllib.parse.urlencode({**form, "csrf_token": token}, doseq=True).encode()
        try:
            response = opener.open(f"{base}/intake", data=body, timeout=60)
            results.append((response.status, response.headers.get("Location", "")))
        except urllib.error.HTTPError as error:  # 303 arrives here with redirects disabled
            results.append((error.code, error.headers.get("Location", "")))
    return results


def test_concurrent_intakes_are_all_stored_exactly_once(tmp_path, fixtures_dir, intake_form):
    url = f"sqlite:///{tmp_path / 'load.db'}"
    Store(url).import_tables(therapists=read_csv(fixtures_dir / "therapists.csv", "therapists"))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, url, str(tmp_path / "models"), str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/intake")
        with ThreadPoolExecutor(CLIENTS) as pool:
            batches = list(
                pool.map(lambda _: _submit_intakes(base, INTAKES_EACH, intake_form), range(CLIENTS))
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    results = [r for batch in batches for r in batch]
    assert [status for status, _ in results] == [303] * (CLIENTS * INTAKES_EACH)
    tokens = [location.rsplit("/", 1)[-1] for _, location in results]
    assert len(set(tokens)) == len(tokens)
    store = Store(url)
    assert store.counts()["intakes"] == len(tokens)
    for token in tokens:
        assert store.latest_ranking(store.intake_by_token(token).client_id) is not None
