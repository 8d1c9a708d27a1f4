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
from .tables import AuditRow, UserRow

ROLES: tuple[str, ...] = ("coordinator", "admin")
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

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can(self, role: str) -> bool:
        """True when this user has ``role`` or a higher one (admin covers coordinator)."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _user(row: UserRow) -> User:
    return User(row.id, row.username, row.role, row.active)


def create_user(store: Store, username: str, password: str, role: str = "coordinator") -> User:
    """Add a staff account; every problem with the input is reported at once."""
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
    if problems:
        raise ValidationError(problems)
    row = UserRow(username=username, password_hash=hash_password(password), role=role)
    try:
        with Session(store.engine, expire_on_commit=False) as session, session.begin():
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
