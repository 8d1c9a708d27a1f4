"""Fixtures for the clinic layer: a database holding the hand-made roster."""

from __future__ import annotations

import pytest

from matcher.clinic import Store
from matcher.schema import read_csv


@pytest.fixture
def store(fixtures_dir, database_url):
    """The fixture roster in a fresh database (a module may make ``database_url`` run on
    PostgreSQL too by overriding it with ``any_database_url``)."""
    store = Store(database_url)
    store.import_tables(therapists=read_csv(fixtures_dir / "therapists.csv", "therapists"))
    return store
