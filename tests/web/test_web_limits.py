"""Rate limits: 429 with a clear message and Retry-After, nothing changed; counted per
client address (also behind a trusted proxy), only for what costs us, in memory or Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from web.limits import DEFAULT_LIMITS

BODY = {"concerns": ["anxiety"], "language": "english", "modality": "telehealth"}


def _csrf(client, path="/intake"):
    page = client.get(path).get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_api_over_its_limit_gets_a_json_429(make_app):
    client = make_app(RATE_LIMITS={"api.matches": (2, 60)}).test_client()
    assert [client.post("/api/v1/matches", json=BODY).status_code for _ in range(2)] == [200, 200]
    response = client.post("/api/v1/matches", json=BODY)
    assert response.status_code == 429
    assert response.get_json()["ok"] is False and "try again" in response.get_json()["errors"]["_"]
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_only_stored_intakes_count_and_a_429_keeps_what_was_typed(make_app, intake_form, store):
    client = make_app(RATE_LIMITS={"intake.submit": (1, 3600)}).test_client()

    def post(**changes):
        return client.post("/intake", data={**intake_form, **changes, "csrf_token": _csrf(client)})

    for _ in range(3):  # forms sent back with errors store nothing, and do not count
        assert post(language="").status_code == 400
    assert post().status_code == 303
    response = post(story="A second request, typed with care.")
    page = response.get_data(as_text=True)
    assert response.status_code == 429 and "try again" in page
    assert "A second request, typed with care." in page  # the form, with everything typed
    assert 'value="alex@example.org"' in page and int(response.headers["Retry-After"]) > 0
    assert store.counts()["intakes"] == 1


def test_failed_logins_are_limited_per_address(make_app):
    client = make_app(RATE_LIMITS={"auth.login": (3, 900)}).test_client()
    form = {"csrf_token": _csrf(client, "/login"), "username": "nobody", "password": "wrong-pw"}
    assert [client.post("/login", data=form).status_code for _ in range(3)] == [401] * 3
    response = client.post("/login", data=form)
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(make_app):
    app = make_app(RATE_LIMITS={"api.matches": (1, 60)}, TRUSTED_PROXIES=1)
    client = app.test_client()

    def post(address):
        return client.post(
            "/api/v1/matches", json=BODY, headers={"X-Forwarded-For": address}
        ).status_code

    assert [post("203.0.113.7"), post("198.51.100.9")] == [200, 200]  # two people
    assert post("203.0.113.7") == 429  # the first one, again
    # the proxy appends the real address: what a client puts before it is not trusted
    assert post("10.9.9.9, 198.51.100.9") == 429


def test_without_a_trusted_proxy_the_header_is_ignored(make_app):
    client = make_app(RATE_LIMITS={"api.matches": (1, 60)}).test_client()
    first = client.post("/api/v1/matches", json=BODY, headers={"X-Forwarded-For": "1.2.3.4"})
    spoofed = client.post("/api/v1/matches", json=BODY, headers={"X-Forwarded-For": "5.6.7.8"})
    assert (first.status_code, spoofed.status_code) == (200, 429)


@pytest.mark.parametrize("hops", ["-1", "many", "9"])
def test_a_wrong_proxy_count_stops_the_start(make_app, hops):
    with pytest.raises(RuntimeError, match="MATCHER_TRUSTED_PROXIES"):
        make_app(TRUSTED_PROXIES=hops)


def test_the_defaults_limit_the_three_costly_endpoints():
    assert set(DEFAULT_LIMITS) == {"intake.submit", "auth.login", "api.matches"}


# --- shared storage: a real redis-server on loopback -----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("MATCHER_REQUIRE_REDIS"):
            pytest.fail("redis-server is required (apt-get install redis-server)")
        pytest.skip("no redis-server (apt-get install redis-server); .ci/run installs it")
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path_factory.mktemp("redis"),
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def test_workers_sharing_redis_share_one_limit(make_app, redis_url):
    """Two apps stand for two worker processes: with Redis, they count together."""
    limits = {"api.matches": (3, 60)}
    workers = [
        make_app(RATE_LIMITS=limits, RATELIMIT_STORAGE_URI=redis_url).test_client()
        for _ in range(2)
    ]
    codes = [workers[i % 2].post("/api/v1/matches", json=BODY).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
