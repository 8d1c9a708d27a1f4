"""Sessions end when they should (logout, password change, idle and absolute timeouts),
passwords are Argon2id and rehashed from older schemes, and guessing one account's
password is throttled wherever the guesses come from."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from matcher.clinic import AccountThrottled, authenticate
from matcher.clinic.accounts import (
    FREE_ATTEMPTS,
    MAX_LOCK_SECONDS,
    _verify_scrypt,
    audit_entries,
    create_user,
    lock_seconds,
)
from matcher.clinic.tables import UserRow

PASSWORD = "a-long-test-password"


def _token(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _log_in(client, username="maria", password=PASSWORD):
    return client.post(
        "/login",
        data={"csrf_token": _token(client), "username": username, "password": password},
    )


def test_a_cookie_copied_before_logout_no_longer_opens_anything(make_app, store):
    app = make_app()
    create_user(store, "maria", PASSWORD, "coordinator")
    browser = app.test_client()
    assert _log_in(browser).status_code == 302
    copied = browser.get_cookie("session").value  # what a thief took before logout
    browser.post("/logout", data={"csrf_token": _token(browser, "/coordinator/")})
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/coordinator/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_password_change_ends_every_other_session(make_app, store):
    app = make_app()
    create_user(store, "maria", PASSWORD, "coordinator")
    laptop, phone = app.test_client(), app.test_client()
    for device in (laptop, phone):
        assert _log_in(device).status_code == 302
    token = _token(laptop, "/account/password")
    response = laptop.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "a-brand-new-passphrase",
            "repeat_password": "a-brand-new-passphrase",
        },
    )
    assert response.status_code == 303
    assert laptop.get("/coordinator/").status_code == 200  # the session that changed it stays
    assert phone.get("/coordinator/").status_code == 302  # every other one has ended
    assert authenticate(store, "maria", "a-brand-new-passphrase") is not None
    assert [e.action for e in audit_entries(store, action="change_password")] == ["change_password"]


def test_a_wrong_current_password_changes_nothing(client, store, coordinator):
    token = _token(client, "/account/password")
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "not-it-at-all",
            "new_password": "a-brand-new-passphrase",
            "repeat_password": "a-brand-new-passphrase",
        },
    )
    assert response.status_code == 400
    assert "Is not your current password." in response.get_data(as_text=True)
    assert client.get("/coordinator/").status_code == 200
    assert authenticate(store, coordinator.username, PASSWORD) is not None


@pytest.mark.parametrize(
    ("config", "moved_back", "message"),
    [
        ({"SESSION_IDLE_MINUTES": 30}, {"seen_at": 31 * 60}, "30 minutes without activity"),
        ({"SESSION_MAX_HOURS": 12}, {"logged_in_at": 12 * 3600 + 60}, "at most 12 hours"),
    ],
)
def test_staff_sessions_time_out(make_app, store, config, moved_back, message):
    app = make_app(**config)
    create_user(store, "maria", PASSWORD, "coordinator")
    client = app.test_client()
    _log_in(client)
    assert client.get("/coordinator/").status_code == 200
    with client.session_transaction() as session:
        for key, seconds in moved_back.items():
            session[key] = int(time.time()) - seconds
    response = client.get("/coordinator/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert message in client.get("/login").get_data(as_text=True)


def test_activity_keeps_a_session_alive(make_app, store):
    app = make_app(SESSION_IDLE_MINUTES=30)
    create_user(store, "maria", PASSWORD, "coordinator")
    client = app.test_client()
    _log_in(client)
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 29 * 60
    assert client.get("/coordinator/").status_code == 200
    with client.session_transaction() as session:
        assert time.time() - session["seen_at"] < 5  # the clock restarted


def test_passwords_are_argon2id_and_old_hashes_are_replaced_at_login(store):
    user = create_user(store, "maria", PASSWORD, "coordinator")
    with Session(store.engine) as session:
        assert session.get(UserRow, user.id).password_hash.startswith("$argon2id$")
    legacy = _legacy_scrypt(PASSWORD)
    assert _verify_scrypt(PASSWORD, legacy)
    with Session(store.engine) as session, session.begin():
        session.execute(update(UserRow).where(UserRow.id == user.id).values(password_hash=legacy))
    assert authenticate(store, "maria", PASSWORD) is not None  # the old hash still works once
    with Session(store.engine) as session:
        assert session.get(UserRow, user.id).password_hash.startswith("$argon2id$")
    assert authenticate(store, "maria", PASSWORD) is not None


def _legacy_scrypt(password: str) -> str:
    """A hash as ``hash_password`` made it before Argon2 (scrypt)."""
    salt = b"saltsaltsaltsalt"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_the_lock_doubles_and_is_capped():
    assert [lock_seconds(n) for n in range(FREE_ATTEMPTS)] == [0.0] * FREE_ATTEMPTS
    waits = [lock_seconds(FREE_ATTEMPTS + n) for n in range(8)]
    assert waits[:3] == [30.0, 60.0, 120.0] and max(waits) == MAX_LOCK_SECONDS


def test_guessing_one_account_is_throttled_even_from_many_addresses(make_app, store):
    """The per-address limit cannot see a guesser who changes address; the account can."""
    app = make_app(RATE_LIMITS={"auth.login": (1000, 900)}, TRUSTED_PROXIES=1)
    create_user(store, "maria", PASSWORD, "coordinator")
    client = app.test_client()
    for attempt in range(FREE_ATTEMPTS):
        response = client.post(
            "/login",
            data={
                "csrf_token": _token(client),
                "username": "maria",
                "password": f"guess-{attempt}",
            },
            headers={"X-Forwarded-For": f"203.0.113.{attempt}"},
        )
        assert response.status_code == 401
    # now even the right password waits, from anywhere, with a clear message
    response = client.post(
        "/login",
        data={"csrf_token": _token(client), "username": "maria", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.1"},
    )
    assert response.status_code == 429 and 0 < int(response.headers["Retry-After"]) <= 30
    assert "too many wrong passwords for this account" in response.get_data(as_text=True).lower()
    # other accounts are untouched
    create_user(store, "joe", PASSWORD, "coordinator")
    assert authenticate(store, "joe", PASSWORD) is not None


def test_after_the_wait_the_right_password_works_and_resets_the_count(store):
    create_user(store, "maria", PASSWORD, "coordinator")
    start = datetime.now(UTC)
    for _ in range(FREE_ATTEMPTS):
        assert authenticate(store, "maria", "wrong-guess!", now=start) is None
    with pytest.raises(AccountThrottled):
        authenticate(store, "maria", PASSWORD, now=start + timedelta(seconds=10))
    later = start + timedelta(seconds=31)
    assert authenticate(store, "maria", PASSWORD, now=later) is not None
    assert authenticate(store, "maria", "wrong-again!", now=later) is None  # counting anew
    assert authenticate(store, "maria", PASSWORD, now=later) is not None
