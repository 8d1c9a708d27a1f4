"""Fixtures for the web layer: an app per test on a temporary database, a client, helpers."""

from __future__ import annotations

import re

import pytest

from matcher.clinic.store import Store
from matcher.schema import read_csv
from tests.sessions import sign_in
from web import create_app

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def make_app(tmp_path, database_url, fake_embedder, fixtures_dir):
    """Build an app on a fresh database; ``roster=False`` leaves the roster empty."""

    def make(roster: bool = True, **overrides):
        if roster:
            therapists = read_csv(fixtures_dir / "therapists.csv", "therapists")
            Store(database_url).import_tables(therapists=therapists)
        config = {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "MODEL_DIR": str(tmp_path / "models"),
            "EMBEDDER": fake_embedder,
            "SECRET_KEY": "test",
            **overrides,
        }
        return create_app(config)

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(database_url) -> Store:
    """A second handle on the app's database, to check what was (not) stored."""
    return Store(database_url)


def read_csrf_token(client) -> str:
    """The session's form token, read from the questionnaire as a browser would."""
    page = client.get("/intake").get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, "the intake form has no CSRF field"
    return match.group(1)


def read_results_token(response) -> str:
    """The private results token from the redirect after a successful intake."""
    location = response.headers["Location"]
    assert location.startswith("/matches/"), location
    return location.removeprefix("/matches/")


@pytest.fixture
def csrf_token(client):
    return lambda: read_csrf_token(client)


@pytest.fixture
def token_of():
    return read_results_token


@pytest.fixture
def intake_form() -> dict:
    """A complete, valid questionnaire as the browser posts it (T1 and others fit)."""
    return {
        "safety": "no",
        "concerns": ["anxiety", "work_stress"],
        "concerns_other": "",
        "story": "I worry constantly about work and can't sleep before meetings.",
        "directive": "3",
        "intensity": "",
        "past_focus": "-2",
        "challenge": "3",
        "hopes": "I want practical tools and someone who gives me structure.",
        "language": "english",
        "modality": "either",
        "city": "Springfield",
        "availability": ["mon_am", "mon_eve"],
        "insurance": "aetna",
        "max_fee": "130",
        "therapist_gender": "",
        "faith": "",
        "support_note": "",
        "region": "california",
        "age_group": "adults",
        "preferred_name": "Alex",
        "email": "alex@example.org",
        "phone": "",
        "contact_method": "email",
        "contact_times": "weekday evenings",
        "consent": "yes",
    }


@pytest.fixture
def submit(client):
    """Post the questionnaire with a valid CSRF token; returns the response."""

    def post(form: dict, **kwargs):
        data = {**form, "csrf_token": read_csrf_token(client)}
        return client.post("/intake", data=data, **kwargs)

    return post


@pytest.fixture
def login(client, store):
    """Log the test client in as a new staff member: ``login("coordinator")`` or ``"admin"``."""
    from matcher.clinic.accounts import create_user

    def log_in(role: str = "coordinator", username: str | None = None):
        user = create_user(store, username or f"{role}-user", "a-long-test-password", role)
        sign_in(client, user)
        return user

    return log_in


@pytest.fixture
def coordinator(login):
    """The test client, logged in as a coordinator."""
    return login("coordinator")


@pytest.fixture
def db_snapshot(store):
    """Every row of every table, for asserting that a refused request changed nothing."""
    from sqlalchemy import select

    from matcher.clinic.tables import Base

    def take() -> dict[str, list[str]]:
        with store.engine.connect() as connection:
            return {
                table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
                for table in Base.metadata.sorted_tables
            }

    return take


@pytest.fixture
def therapist_login(client, store):
    """Log the test client in as a therapist: ``therapist_login("T2")`` (their own account)."""
    from matcher.clinic.accounts import create_user

    def log_in(therapist_id: str = "T2", username: str | None = None):
        user = create_user(
            store,
            username or f"therapist-{therapist_id.lower()}",
            "a-long-test-password",
            "therapist",
            therapist_id=therapist_id,
        )
        sign_in(client, user)
        return user

    return log_in


@pytest.fixture
def therapist(therapist_login):
    """The test client, logged in as therapist T2 (Sam Lindqvist, two open places)."""
    return therapist_login("T2")
