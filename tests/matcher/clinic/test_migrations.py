"""The Alembic migrations build exactly the schema the models describe, on every database."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from matcher.clinic.store import Store
from matcher.clinic.tables import Base


@pytest.fixture
def database_url(any_database_url):
    return any_database_url


def test_migrated_schema_matches_the_models(database_url):
    Store(database_url)
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() is not None
    assert "alembic_version" in inspect(engine).get_table_names()


def test_opening_a_migrated_database_again_changes_nothing(database_url):
    Store(database_url)
    store = Store(database_url)  # already at head: no migration runs
    assert store.counts() == {"therapists": 0, "intakes": 0, "outcomes": 0}
