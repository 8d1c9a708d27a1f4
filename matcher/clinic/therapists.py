"""Therapists' own area: their profile, their invitation, their referrals and clients.

A therapist edits the practical and stylistic parts of their roster record;
the whole row is validated exactly like a ``therapists.csv`` row and stored
through :meth:`Store.update_therapist`, so a running matcher re-reads it (and
re-embeds only that therapist) on its next ranking. Their id and name stay
with the administrator.

An administrator invites a therapist with a one-time link; only the sha256
of its token is stored. Accepting it creates the therapist's account.

A therapist sees only their own active placements: pending referrals (to
accept or decline) and accepted clients, with the little they need to start.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..errors import MatcherError, NotFoundError, Problem, ValidationError
from ..schema import frame_records, validate_therapists
from ..vocab import LIST_SEPARATOR, STYLE_AXES, THERAPIST_COLUMNS
from .accounts import User, audit, create_user, therapist_account
from .contacts import _EMAIL, Contact, contact_of
from .outbox import queue_invitation
from .store import Store
from .tables import FeedbackRow, IntakeRow, InvitationRow, PlacementRow, TherapistRow, UserRow

#: What a therapist may change in their own record, in the order the profile form asks.
EDITABLE_FIELDS: tuple[str, ...] = (
    "approach",
    *STYLE_AXES,
    "availability",
    "capacity",
    "fee",
    "sliding_scale",
    "insurance",
    "languages",
    "licensed_regions",
    "age_groups",
    "telehealth",
    "in_person",
    "city",
    "modalities",
    "specialties",
)
#: How long an invitation link works unless the administrator says otherwise.
INVITATION_DAYS = 7


class InvitationError(MatcherError):
    """An invitation cannot be made or used; the message says why. Nothing changed."""


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# --- the profile ---------------------------------------------------------------------------


def _therapist_row(session: Session, therapist_id: str) -> TherapistRow:
    row = session.get(TherapistRow, therapist_id)
    if row is None:
        raise NotFoundError(f"no therapist {therapist_id!r}")
    return row


def _profile(row: TherapistRow) -> dict[str, Any]:
    record = {column: row.record.get(column) for column in THERAPIST_COLUMNS}
    record["capacity"] = row.capacity  # open places now (placements take and give them back)
    return record


def therapist_profile(store: Store, therapist_id: str) -> dict[str, Any]:
    """The therapist's stored, validated record; ``capacity`` is their open places now.

    Raises
    ------
    NotFoundError
        Unknown therapist.
    """
    with Session(store.engine) as session:
        return _profile(_therapist_row(session, therapist_id))


def _cell(value: Any) -> str:
    """A record value as the text a CSV cell would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(_cell(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def update_profile(
    store: Store, therapist_id: str, changes: Mapping[str, Any], *, by: str
) -> dict[str, Any]:
    """Merge ``changes`` into the therapist's record, validate the whole row, store it.

    ``changes`` maps :data:`EDITABLE_FIELDS` to values as a CSV cell or a
    validated record holds them (lists may be lists or ``;``-separated text).
    The audit entry names the fields that changed, never their values.
    Returns the stored record (as :func:`therapist_profile`).

    Raises
    ------
    ValidationError
        Naming each bad field (and any field that is not the therapist's to
        change, such as ``therapist_id`` or ``name``); nothing is changed.
    NotFoundError
        Unknown therapist.
    """
    refused = [name for name in changes if name not in EDITABLE_FIELDS]
    if refused:
        raise ValidationError(
            [Problem(name, "cannot be changed here; ask an administrator") for name in refused]
        )
    with Session(store.engine) as session:
        row = _therapist_row(session, therapist_id)
        current, extra = _profile(row), dict(row.extra or {})
    merged = {**current, **changes}
    problems = []
    if "age_groups" in changes and not _cell(changes["age_groups"]):
        # blank means the default in a roster file; someone editing says which on purpose
        problems.append(Problem("age_groups", "is required: choose at least one age group"))
    raw = pd.DataFrame([{column: _cell(merged[column]) for column in THERAPIST_COLUMNS}])
    try:
        validated = validate_therapists(raw, source="profile")
    except ValidationError as error:  # a form has no file or row: name the fields only
        problems += [Problem(p.field, p.message) for p in error.problems]
    if problems:
        raise ValidationError(problems)
    (record,) = frame_records(validated)
    changed = [name for name in EDITABLE_FIELDS if record[name] != current[name]]
    if not changed:
        return current
    store.update_therapist(record, extra, set_capacity="capacity" in changed)
    audit(store, by, "edit_profile", therapist_id=therapist_id, detail={"fields": changed})
    return therapist_profile(store, therapist_id)


# --- invitations ---------------------------------------------------------------------------


def _checked_email(email: str | None) -> str | None:
    email = (email or "").strip() or None
    if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
        raise ValidationError(
            [Problem("email", "does not look like an email address (name@example.org)")]
        )
    return email


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _already_has_account(store: Store, therapist_id: str, name: str) -> None:
    account = therapist_account(store, therapist_id)
    if account is not None:
        raise InvitationError(
            f"{name} already has an account ({account.username!r}); one account per therapist. "
            "Deactivate it first to set up a new one."
        )


def invite_therapist(
    store: Store,
    therapist_id: str,
    *,
    by: str,
    email: str | None = None,
    valid_days: int = INVITATION_DAYS,
    link_for: Callable[[str], str] | None = None,
) -> str:
    """A one-time link token for a therapist to set up their account.

    Only the token's sha256 is stored; the token itself is returned once, to
    go into the link. A new invitation replaces the therapist's earlier unused
    ones. With ``email`` and ``link_for`` (token -> the full link), the email
    with the link is queued in the same transaction.

    Raises
    ------
    InvitationError
        The therapist already has an active account, or ``valid_days`` < 1.
    ValidationError
        ``email`` is not an email address.
    NotFoundError
        Unknown therapist.
    """
    if valid_days < 1:
        raise InvitationError("an invitation must be valid for at least one day")
    email = _checked_email(email)
    with Session(store.engine) as session:
        name = _therapist_row(session, therapist_id).name
    _already_has_account(store, therapist_id, name)
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires_at = now + timedelta(days=valid_days)
    with Session(store.engine) as session, session.begin():
        session.execute(
            update(InvitationRow)
            .where(InvitationRow.therapist_id == therapist_id, InvitationRow.used_at.is_(None))
            .values(expires_at=now)  # an earlier link stops working
        )
        session.add(
            InvitationRow(
                token_hash=_token_hash(token),
                therapist_id=therapist_id,
                created_by=by,
                expires_at=expires_at,
            )
        )
        emailed = bool(email and link_for)
        if emailed:
            queue_invitation(
                session, to=email, therapist_name=name, link=link_for(token), expires_at=expires_at
            )
        audit(
            store,
            by,
            "invite_therapist",
            therapist_id=therapist_id,
            detail={"valid_days": valid_days, "emailed": emailed},
            session=session,
        )
    return token


@dataclass(frozen=True)
class Invitation:
    therapist_id: str
    therapist_name: str
    expires_at: datetime


def open_invitation(store: Store, token: str) -> Invitation:
    """The unused, unexpired invitation behind a link.

    Raises
    ------
    InvitationError
        Unknown, used or expired; the message says which, and what to do.
    """
    with Session(store.engine) as session:
        row = session.scalar(
            select(InvitationRow).where(InvitationRow.token_hash == _token_hash(token or ""))
        )
        if row is None:
            raise InvitationError(
                "This invitation link is not valid. Check that the whole link was copied, "
                "or ask the practice for a new one."
            )
        if row.used_at is not None:
            raise InvitationError(
                "This invitation has already been used. Log in with the account you set up, "
                "or ask the practice for a new invitation."
            )
        expires_at = _aware(row.expires_at)
        if expires_at <= datetime.now(UTC):
            raise InvitationError("This invitation has expired. Ask the practice for a new one.")
        name = session.get(TherapistRow, row.therapist_id).name
        return Invitation(row.therapist_id, name, expires_at)


def accept_invitation(
    store: Store, token: str, username: str, password: str, *, email: str | None = None
) -> User:
    """Create the therapist's account from an invitation and use the invitation up.

    Raises
    ------
    InvitationError
        Unknown, used or expired link, or the therapist already has an account.
    ValidationError
        The username or password is not acceptable (the invitation stays open).
    """
    email = _checked_email(email)
    invitation = open_invitation(store, token)
    _already_has_account(store, invitation.therapist_id, invitation.therapist_name)
    user = create_user(
        store, username, password, "therapist", therapist_id=invitation.therapist_id, email=email
    )
    with Session(store.engine) as session, session.begin():
        used = session.execute(
            update(InvitationRow)
            .where(
                InvitationRow.token_hash == _token_hash(token),
                InvitationRow.used_at.is_(None),
            )
            .values(used_at=datetime.now(UTC))
        ).rowcount
        if not used:  # someone used the same link a moment ago: theirs stands, not this one
            session.execute(delete(UserRow).where(UserRow.id == user.id))
        else:
            audit(
                store,
                user.username,
                "create_user",
                therapist_id=invitation.therapist_id,
                detail={"username": user.username, "role": user.role, "via": "invitation"},
                session=session,
            )
    if not used:
        raise InvitationError("This invitation has already been used.")
    return user


# --- referrals and clients -----------------------------------------------------------------


@dataclass(frozen=True)
class TherapistClient:
    """What a therapist sees of one client referred to them: the minimum to start."""

    placement_id: int
    client_id: str
    placed_at: datetime
    accepted_at: datetime | None
    #: None for imported intakes (no contact details were collected).
    contact: Contact | None
    concerns: list[str]
    hopes: str
    urgent: bool
    feedback_count: int

    @property
    def preferred_name(self) -> str | None:
        return self.contact.preferred_name if self.contact else None

    @property
    def pending(self) -> bool:
        """A referral the therapist has not yet accepted."""
        return self.accepted_at is None


def _active_of(store: Store, therapist_id: str, client_id: str | None = None):
    """The therapist's active placements with their intakes and feedback counts."""
    counts = (
        select(FeedbackRow.placement_id, func.count().label("n"))
        .group_by(FeedbackRow.placement_id)
        .subquery()
    )
    query = (
        select(PlacementRow, IntakeRow, counts.c.n)
        .join(IntakeRow, IntakeRow.client_id == PlacementRow.client_id)
        .outerjoin(counts, counts.c.placement_id == PlacementRow.id)
        .where(PlacementRow.therapist_id == therapist_id, PlacementRow.status == "active")
        .order_by(IntakeRow.urgent.desc(), PlacementRow.placed_at, PlacementRow.id)
    )
    if client_id is not None:
        query = query.where(PlacementRow.client_id == client_id)
    with Session(store.engine) as session:
        rows = list(session.execute(query))
    return [
        TherapistClient(
            placement_id=placement.id,
            client_id=placement.client_id,
            placed_at=_aware(placement.placed_at),
            accepted_at=_aware(placement.accepted_at),
            contact=contact_of(store, placement.client_id),
            concerns=list(intake.record.get("concerns") or []),
            hopes=intake.record.get("hopes") or "",
            urgent=bool(intake.urgent),
            feedback_count=int(count or 0),
        )
        for placement, intake, count in rows
    ]


def referrals_for(store: Store, therapist_id: str) -> list[TherapistClient]:
    """Clients placed with this therapist who wait for them to accept; urgent first."""
    return [c for c in _active_of(store, therapist_id) if c.pending]


def clients_of(store: Store, therapist_id: str) -> list[TherapistClient]:
    """This therapist's current clients (referrals they accepted); urgent first."""
    return [c for c in _active_of(store, therapist_id) if not c.pending]


def client_of(store: Store, therapist_id: str, client_id: str) -> TherapistClient:
    """One of this therapist's active clients or referrals.

    Raises
    ------
    NotFoundError
        The client is unknown or not this therapist's (the two look the same).
    """
    found = _active_of(store, therapist_id, client_id)
    if not found:
        raise NotFoundError("no such client")
    return found[0]
