"""practice workflow: consent and contact, client choice, referrals, therapist accounts,
invitations, the outbox, licensure and age groups

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: New record fields and the value rows stored before them take.
THERAPIST_DEFAULTS = {"licensed_regions": [], "age_groups": ["adults", "older_adults"]}
INTAKE_DEFAULTS = {"region": "", "age_group": "", "therapy_type": ""}


def _backfill(table: str, key: str, defaults: dict) -> None:
    """Give every stored record the new fields, so old rows read like validated new ones."""
    rows = sa.table(table, sa.column(key, sa.String), sa.column("record", sa.JSON))
    connection = op.get_bind()
    for row_key, record in connection.execute(sa.select(rows.c[key], rows.c.record)).all():
        filled = {**defaults, **(record or {})}
        if filled != record:
            connection.execute(rows.update().where(rows.c[key] == row_key).values(record=filled))


def upgrade() -> None:
    with op.batch_alter_table("intakes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("choice", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("chosen_therapist_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decline_reason", sa.Text(), nullable=True))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("therapist_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_foreign_key(
            "fk_users_therapist_id", "therapists", ["therapist_id"], ["therapist_id"]
        )

    op.create_table(
        "contacts",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("preferred_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("times", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["intakes.client_id"]),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("therapist_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["therapist_id"], ["therapists.therapist_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_status"), ["status"], unique=False)

    _backfill("therapists", "therapist_id", THERAPIST_DEFAULTS)
    _backfill("intakes", "client_id", INTAKE_DEFAULTS)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_client_id"))
    op.drop_table("outbox")
    op.drop_table("invitations")
    op.drop_table("contacts")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("fk_users_therapist_id", type_="foreignkey")
        batch_op.drop_column("session_version")
        batch_op.drop_column("email")
        batch_op.drop_column("therapist_id")
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.drop_column("decline_reason")
        batch_op.drop_column("accepted_at")
    with op.batch_alter_table("intakes", schema=None) as batch_op:
        batch_op.drop_column("returned_at")
        batch_op.drop_column("chosen_at")
        batch_op.drop_column("chosen_therapist_id")
        batch_op.drop_column("choice")
        batch_op.drop_column("consented_at")
