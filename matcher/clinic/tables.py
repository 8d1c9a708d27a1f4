"""The database tables (SQLAlchemy declarative models).

Records are stored in their validated, normalised form (as JSON) beside the
few columns queries need. The schema is managed by the Alembic migrations in
``migrations/``; ``tests/matcher/test_migrations.py`` checks they build
exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def now_utc() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class TherapistRow(Base):
    __tablename__ = "therapists"
    therapist_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict] = mapped_column(JSON)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)


class IntakeRow(Base):
    __tablename__ = "intakes"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    record: Mapped[dict] = mapped_column(JSON)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    token: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    support_note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="import")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    #: "waiting" for placement, "placed" with a therapist, or "closed" (history, ended).
    status: Mapped[str] = mapped_column(String(20), default="waiting", index=True)
    #: Optional wellbeing at intake: {"personal", "relationships", "social", "overall"} 0..10.
    wellbeing: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: When the client agreed to their intake being stored (None: imported records).
    consented_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The client's answer on their results page: "therapist", "any" or "none".
    choice: Mapped[str | None] = mapped_column(String(20), nullable=True)
    chosen_therapist_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    chosen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Set when a therapist declined the referral: the client goes to the top of the queue.
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ContactRow(Base):
    """How to reach a client. Kept apart from the intake record, which the model reads:
    contact details reach coordinators and the placed therapist only."""

    __tablename__ = "contacts"
    client_id: Mapped[str] = mapped_column(ForeignKey("intakes.client_id"), primary_key=True)
    preferred_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    #: "email", "phone" or "text".
    method: Mapped[str] = mapped_column(String(20))
    #: When they would like to be contacted, in their words.
    times: Mapped[str] = mapped_column(String(200), default="")


class OutcomeRow(Base):
    __tablename__ = "outcomes"
    __table_args__ = (UniqueConstraint("client_id", "therapist_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("intakes.client_id"))
    therapist_id: Mapped[str] = mapped_column(ForeignKey("therapists.therapist_id"))
    record: Mapped[dict] = mapped_column(JSON)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)


class RankingRow(Base):
    """What a client was shown: the full ranking payload, kept for the results page."""

    __tablename__ = "rankings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("intakes.client_id"), index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    top_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)


class PlacementRow(Base):
    """A client placed with a therapist: by a coordinator, an override, or a batch."""

    __tablename__ = "placements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("intakes.client_id"), index=True)
    therapist_id: Mapped[str] = mapped_column(ForeignKey("therapists.therapist_id"), index=True)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    placed_by: Mapped[str] = mapped_column(String(64))
    #: "suggested" (one of the shown suggestions), "override" (someone else), "batch".
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    rank_shown: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_version: Mapped[str] = mapped_column(String(64), default="")
    #: "active", "ended" (by agreement), "dropped_out", "rematch" (replaced) or
    #: "declined" (the therapist did not take the referral).
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: When the therapist accepted the referral (None while it waits for them).
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decline_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class FeedbackRow(Base):
    """One session's optional feedback: four relationship items and four wellbeing items."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    placement_id: Mapped[int] = mapped_column(ForeignKey("placements.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("intakes.client_id"), index=True)
    session_number: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    #: None when the client gave it through their link; else the coordinator's username.
    entered_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: {"heard", "goals", "approach", "overall"} each 0..10 (sum = session alliance 0..40).
    session: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    #: {"personal", "relationships", "social", "overall"} each 0..10 (sum 0..40).
    wellbeing: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    #: "therapist", "coordinator" or "admin" (an admin can do everything a coordinator can;
    #: a therapist reaches only their own area).
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    #: The therapist this account belongs to (therapist accounts only).
    therapist_id: Mapped[str | None] = mapped_column(
        ForeignKey("therapists.therapist_id"), nullable=True
    )
    #: Where notifications for this account go (referrals, urgent intakes); optional.
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    #: Bumped on logout and password change: session cookies carry it, older ones stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    #: Failed passwords in a row, and until when the account makes the next attempt wait.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class InvitationRow(Base):
    """A one-time link that lets a therapist set up their own account."""

    __tablename__ = "invitations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: sha256 of the token: the token itself is only ever in the link.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    therapist_id: Mapped[str] = mapped_column(ForeignKey("therapists.therapist_id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OutboxRow(Base):
    """An email to send, written in the same transaction as the event it tells of."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    #: What it tells of: "intake_confirmation", "referral", "urgent_intake", "invitation".
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: The client the message is about (export and delete find it by this).
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    #: "pending", "sent", or "failed" (gave up after the last retry).
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditRow(Base):
    """Who viewed or changed what. Never holds intake text or safety answers."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now_utc, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    therapist_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class EmbeddingRow(Base):
    __tablename__ = "embeddings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class CounterRow(Base):
    """Version counters, bumped atomically in SQL, that caches compare against."""

    __tablename__ = "counters"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
