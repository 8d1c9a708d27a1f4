"""Alembic environment: migrations run on the connection that ``clinic.store.migrate`` passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from matcher.clinic.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
)
if connection.dialect.name == "postgresql":
    # Several workers starting at once: one migrates, the others wait for it.
    connection.execute(text("SELECT pg_advisory_xact_lock(7463621)"))
with context.begin_transaction():
    context.run_migrations()
