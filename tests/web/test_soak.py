"""A short soak (the 10-minute one is ``python -m bench.soak``): steady load from many
client addresses leaves memory flat, and the in-memory rate limiter forgets an address
once its window has passed instead of keeping a key per address seen for ever."""

from __future__ import annotations

import time

from bench.soak import address, limiter_keys, soak

WINDOW = 5
SHORT_LIMITS = {"intake.submit": (5, WINDOW), "auth.login": (5, WINDOW), "api.matches": (5, WINDOW)}
BODY = {"concerns": ["anxiety"], "language": "english", "modality": "telehealth"}


def _api(client, ip: str):
    return client.post("/api/v1/matches", json=BODY, headers={"X-Forwarded-For": ip})


def test_the_in_memory_limiter_forgets_addresses_whose_window_has_passed(make_app):
    app = make_app(RATE_LIMITS=SHORT_LIMITS, TRUSTED_PROXIES=1)
    client = app.test_client()
    started = time.monotonic()
    for n in range(40):
        assert _api(client, address(n)).status_code == 200
    assert time.monotonic() - started < WINDOW, "too slow to check the keys within a window"
    assert limiter_keys(app) >= 40  # one key per address while its window runs

    time.sleep(WINDOW + 0.2)  # every window has passed
    assert _api(client, address(40)).status_code == 200  # expiry runs as hits come in
    deadline = time.monotonic() + 2
    while limiter_keys(app) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert limiter_keys(app) <= 1, f"{limiter_keys(app)} keys kept for 41 addresses"

    # and the limit itself still holds
    statuses = [_api(client, "192.0.2.7").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_a_short_soak_from_many_addresses_stays_flat(fake_embedder, tmp_path):
    window = 2
    result = soak(
        15,
        clients=3,
        distinct_texts=300,
        warmup=6,
        sample_every=1,
        embedder=fake_embedder,
        limits={endpoint: (1000, window) for endpoint in SHORT_LIMITS},
        folder=tmp_path,
    )
    assert not result.errors, result.errors
    assert result.visitors >= 60  # each from an address of its own
    assert result.growth <= 25, f"RSS grew {result.growth:.1f} MB after the warm-up"
    # The limiter holds the addresses of the last few seconds only (two limited requests
    # per visitor, each kept for its window until the storage's expiry pass), not all.
    per_second = result.visitors / result.seconds
    held = max(keys for _, _, keys in result.after_warmup)
    assert held <= 2 * per_second * (window + 3), (held, result.visitors)
    assert held < result.visitors
