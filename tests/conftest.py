"""Shared fixtures: a fake embedder, the hand-made CSV fixtures, a store, the web app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.common import HashingEmbedder
from matcher.schema import read_csv

FIXTURES = Path(__file__).parent / "fixtures"


class FakeEmbedder(HashingEmbedder):
    """A deterministic bag-of-words embedder: texts sharing words have similar vectors.

    Fast and offline, so most tests need not load the real model; one test
    module (``tests/matcher/ranking/test_embed_real.py``) checks the real one.
    It counts its calls, so tests can check how often a ranking encodes.
    """

    name = "fake-bow"  # also readable on the class, before any instance exists
    dimension = 64

    def __init__(self):
        super().__init__(64, "fake-bow")
        self.calls = 0
        self.texts_encoded = 0

    def encode(self, texts):
        self.calls += 1
        self.texts_encoded += len(texts)
        return super().encode(texts)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def matcher(fixtures_dir, fake_embedder):
    """A matcher over the hand-made roster with the prior scorer and the fake embedder."""
    from matcher import Matcher

    return Matcher.load("", fixtures_dir / "therapists.csv", embedder=fake_embedder)


@pytest.fixture
def therapists_frame():
    return read_csv(FIXTURES / "therapists.csv", "therapists")


@pytest.fixture
def database_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


POSTGRES_URL = os.environ.get("MATCHER_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request, tmp_path) -> str:
    """A fresh empty database on SQLite, then on PostgreSQL.

    PostgreSQL runs when ``MATCHER_TEST_POSTGRES_URL`` names a database the
    tests may wipe (``.ci/run`` starts one); otherwise that half is skipped,
    except under ``MATCHER_REQUIRE_POSTGRES`` (CI), where it fails.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    if not POSTGRES_URL:
        if os.environ.get("MATCHER_REQUIRE_POSTGRES"):
            pytest.fail("MATCHER_REQUIRE_POSTGRES is set but MATCHER_TEST_POSTGRES_URL is not")
        pytest.skip("set MATCHER_TEST_POSTGRES_URL to run against PostgreSQL (.ci/run does)")
    from sqlalchemy import create_engine, text

    from matcher.clinic.tables import Base

    engine = create_engine(POSTGRES_URL)
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return POSTGRES_URL
