"""Accounts and the audit log.

Passwords are hashed with Argon2id (argon2-cffi's current parameters); a hash
from an older scheme (scrypt) or weaker parameters is replaced at the next
successful login. After ``FREE_ATTEMPTS`` failed passwords in a row an
account makes the next attempt wait, doubling each time up to
``MAX_LOCK_SECONDS``: guessing one account's password is throttled wherever the
guesses come from, while its owner is held up for minutes, not locked out.
The audit log records who viewed or changed what, never what a client wrote.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import MatcherError, NotFoundError, Problem, ValidationError
from .store import Store
from .tables import AuditRow, TherapistRow, UserRow

#: Staff roles in rising order of rights (an admin can do everything a coordinator can).
STAFF_ROLES: tuple[str, ...] = ("coordinator", "admin")
#: Every role. A therapist is outside the staff order: they reach only their own area.
ROLES: tuple[str, ...] = ("therapist", *STAFF_ROLES)
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")
#: Failed passwords in a row before an account makes the next attempt wait.
FREE_ATTEMPTS = 5
FIRST_LOCK_SECONDS = 30
MAX_LOCK_SECONDS = 15 * 60
_HASHER = PasswordHasher()  # Argon2id with the library's current (RFC 9106) parameters


def hash_password(password: str) -> str:
    """An Argon2id hash (with its salt and parameters), for :func:`verify_password`."""
    return _HASHER.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (Argon2id, or a legacy ``scrypt$`` hash)."""
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a legacy scheme or weaker parameters than the current ones."""
    return stored.startswith("scrypt$") or _HASHER.check_needs_rehash(stored)


def _verify_scrypt(password: str, stored: str) -> bool:
    """Hashes made before Argon2 (``scrypt$n$r$p$salt$hash``); replaced at the next login."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 2**20,
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate, base64.b64decode(digest))


class AccountThrottled(MatcherError):
    """Too many failed passwords for this account: the next attempt must wait."""

    def __init__(self, wait_seconds: float):
        self.wait_seconds = max(1, math.ceil(wait_seconds))
        minutes = max(1, math.ceil(self.wait_seconds / 60))
        super().__init__(
            "too many wrong passwords for this account in a row; "
            f"please try again in {minutes} minute(s)"
        )


def lock_seconds(failures: int) -> float:
    """How long an account waits after ``failures`` failed passwords in a row."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return float(min(MAX_LOCK_SECONDS, FIRST_LOCK_SECONDS * 2 ** (failures - FREE_ATTEMPTS)))


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    active: bool = True
    #: The therapist this account belongs to (therapist accounts only).
    therapist_id: str | None = None
    #: Changes on logout and password change; a session from before is no longer valid.
    session_version: int = 0
    #: Where this account's notifications go, if anywhere.
    email: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_therapist(self) -> bool:
        return self.role == "therapist"

    def can(self, role: str) -> bool:
        """True when this user has ``role``, or a higher staff role (admin covers
        coordinator). The therapist role is its own: no staff role covers it, nor it them."""
        if "therapist" in (role, self.role):
            return role == self.role
        return STAFF_ROLES.index(self.role) >= STAFF_ROLES.index(role)


def _user(row: UserRow) -> User:
    return User(
        row.id,
        row.username,
        row.role,
        row.active,
        row.therapist_id,
        row.session_version or 0,
        row.email,
    )


def create_user(
    store: Store,
    username: str,
    password: str,
    role: str = "coordinator",
    *,
    therapist_id: str | None = None,
    email: str | None = None,
) -> User:
    """Add an account; every problem with the input is reported at once.

    A therapist account names the ``therapist_id`` it belongs to (and no other
    role may name one).
    """
    username = username.strip().lower()
    problems = []
    if not _USERNAME.match(username):
        problems.append(Problem("username", "use 2-64 lower-case letters, digits, '_', '.' or '-'"))
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            Problem("password", f"must be at least {MIN_PASSWORD_LENGTH} characters long")
        )
    if role not in ROLES:
        problems.append(Problem("role", f"expected one of {', '.join(ROLES)}, got {role!r}"))
    if (role == "therapist") != bool(therapist_id):
        problems.append(
            Problem("therapist_id", "a therapist account, and only one, names its therapist")
        )
    if problems:
        raise ValidationError(problems)
    row = UserRow(
        username=username,
        password_hash=hash_password(password),
        role=role,
        therapist_id=therapist_id or None,
        email=(email or "").strip() or None,
    )
    try:
        with Session(store.engine, expire_on_commit=False) as session, session.begin():
            if therapist_id and session.get(TherapistRow, therapist_id) is None:
                raise ValidationError([Problem("therapist_id", f"no therapist {therapist_id!r}")])
            session.add(row)
    except IntegrityError:
        raise ValidationError([Problem("username", f"{username!r} is already taken")]) from None
    return _user(row)


def authenticate(
    store: Store, username: str, password: str, *, now: datetime | None = None
) -> User | None:
    """The user when the password matches an active account, else None.

    An unknown name costs the same hashing time as a wrong password, so the
    response time does not reveal which names exist. A successful login
    replaces an outdated hash and clears the failure count.

    Raises
    ------
    AccountThrottled
        The account is waiting out failed attempts; the password is not checked.
    """
    now = now or datetime.now(UTC)
    name = username.strip().lower()
    with Session(store.engine) as session, session.begin():
        row = session.scalar(select(UserRow).where(UserRow.username == name).with_for_update())
        if row is None or not row.active:
            verify_password(password, _DUMMY_HASH)
            return None
        locked_until = _aware(row.locked_until)
        if locked_until is not None and locked_until > now:
            raise AccountThrottled((locked_until - now).total_seconds())
        if not verify_password(password, row.password_hash):
            row.failed_logins = (row.failed_logins or 0) + 1
            wait = lock_seconds(row.failed_logins)
            row.locked_until = now + timedelta(seconds=wait) if wait else None
            return None
        row.failed_logins, row.locked_until = 0, None
        if needs_rehash(row.password_hash):
            row.password_hash = hash_password(password)
        return _user(row)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def change_password(store: Store, user_id: int, current: str, new: str) -> User:
    """Set a new password after checking the current one; every other session ends.

    Raises
    ------
    ValidationError
        The current password is wrong, or the new one is too short.
    """
    problems = []
    if len(new) < MIN_PASSWORD_LENGTH:
        problems.append(
            Problem("new_password", f"must be at least {MIN_PASSWORD_LENGTH} characters long")
        )
    with Session(store.engine, expire_on_commit=False) as session, session.begin():
        row = session.get(UserRow, user_id)
        if row is None or not row.active:
            raise NotFoundError("no such account")
        if not verify_password(current, row.password_hash):
            problems.insert(0, Problem("current_password", "is not your current password"))
        if problems:
            raise ValidationError(problems)
        row.password_hash = hash_password(new)
        row.session_version = (row.session_version or 0) + 1
    return _user(row)


_DUMMY_HASH = hash_password(secrets.token_hex(8))


def get_user(store: Store, user_id: int) -> User | None:
    with Session(store.engine) as session:
        row = session.get(UserRow, user_id)
        return _user(row) if row is not None and row.active else None


def list_users(store: Store) -> list[User]:
    with Session(store.engine) as session:
        return [_user(r) for r in session.scalars(select(UserRow).order_by(UserRow.username))]


def has_users(store: Store) -> bool:
    with Session(store.engine) as session:
        return session.scalar(select(UserRow.id).limit(1)) is not None


def set_active(store: Store, username: str, active: bool) -> None:
    with Session(store.engine) as session, session.begin():
        row = session.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            raise NotFoundError(f"no user {username!r}")
        row.active = active
        row.session_version = (row.session_version or 0) + 1


def end_sessions(store: Store, user_id: int) -> None:
    """Invalidate every session of this account (logout, password change)."""
    with Session(store.engine) as session, session.begin():
        row = session.get(UserRow, user_id)
        if row is not None:
            row.session_version = (row.session_version or 0) + 1


def therapist_account(store: Store, therapist_id: str) -> User | None:
    """The active account linked to a therapist, if they have one."""
    with Session(store.engine) as session:
        row = session.scalar(
            select(UserRow).where(UserRow.therapist_id == therapist_id, UserRow.active)
        )
        return _user(row) if row is not None else None


# --- the audit log ------------------------------------------------------------------------

AUDIT_ACTIONS = frozenset(
    {
        "view_intake",
        "assign",
        "override",
        "rematch",
        "batch_place",
        "end_placement",
        "enter_feedback",
        "export_client",
        "delete_client",
        "create_user",
        "login",
        "login_failed",
        "import_roster",
        "promote_model",
        "logout",
        "activate_user",
        "deactivate_user",
        "client_choice",
        "accept_referral",
        "decline_referral",
        "edit_profile",
        "invite_therapist",
        "view_client",
        "change_password",
        "login_throttled",
    }
)


def audit(
    store: Store,
    actor: str,
    action: str,
    *,
    client_id: str | None = None,
    therapist_id: str | None = None,
    detail: dict[str, Any] | None = None,
    session: Session | None = None,
) -> None:
    """Record an action. Pass ``session`` to make the entry part of that transaction."""
    if action not in AUDIT_ACTIONS:
        raise MatcherError(f"unknown audit action {action!r}")
    row = AuditRow(
        actor=actor,
        action=action,
        client_id=client_id,
        therapist_id=therapist_id,
        detail=detail or {},
    )
    if session is not None:
        session.add(row)
        return
    with Session(store.engine) as own, own.begin():
        own.add(row)


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    client_id: str | None
    therapist_id: str | None
    detail: dict[str, Any]


def audit_entries(
    store: Store,
    *,
    client_id: str | None = None,
    action: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditEntry]:
    """The newest entries first, optionally for one client or one action; ``offset`` pages."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit).offset(offset)
    if client_id is not None:
        query = query.where(AuditRow.client_id == client_id)
    if action is not None:
        query = query.where(AuditRow.action == action)
    with Session(store.engine) as session:
        return [
            AuditEntry(r.at, r.actor, r.action, r.client_id, r.therapist_id, dict(r.detail or {}))
            for r in session.scalars(query)
        ]
