"""Staff accounts and the audit log.

Passwords are hashed with scrypt (a memory-hard KDF) and a random salt, and
compared in constant time. The audit log records who viewed or changed what,
never what a client wrote.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
# scrypt cost: 2**15 x 8 x 1 takes ~32 MB and ~0.1 s; slow for guessing, fine for logins.
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64), for :func:`verify_password`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=64 * 2**20, **_SCRYPT)
    encode = base64.b64encode
    n, r, p = _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"]
    return f"scrypt${n}${r}${p}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        maxmem=64 * 2**20,
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))


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


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The user when the password matches an active account, else None.

    An unknown name costs the same hashing time as a wrong password, so the
    response time does not reveal which names exist.
    """
    with Session(store.engine) as session:
        row = session.scalar(select(UserRow).where(UserRow.username == username.strip().lower()))
    if row is None or not row.active:
        verify_password(password, _DUMMY_HASH)
        return None
    return _user(row) if verify_password(password, row.password_hash) else None


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
