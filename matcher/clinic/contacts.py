"""How to reach a client: validated, stored apart from the intake, shown to few.

Contact details never enter the intake record (which the model, the training
data and the JSON API read). Coordinators and the therapist a client is placed
with see them; export and delete include them; logs never do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..errors import Problem, ValidationError
from ..vocab import CONTACT_METHODS
from .store import Store
from .tables import ContactRow

MAX_NAME_CHARS = 100
MAX_TIMES_CHARS = 200
# Deliberately loose: one "@", something on each side, a dot in the domain. A stricter
# pattern rejects real addresses; the confirmation email is the real check.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-]+$")


@dataclass(frozen=True)
class Contact:
    preferred_name: str
    email: str
    phone: str
    method: str  # one of vocab.CONTACT_METHODS
    times: str

    @property
    def address(self) -> str:
        """What to use for the chosen way: the email address, or the phone number."""
        return self.email if self.method == "email" else self.phone


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    return value.strip() if isinstance(value, str) else ""


def validate_contact(raw: Mapping[str, Any]) -> Contact:
    """Check a client's contact details; every problem is reported at once.

    Keys: ``preferred_name`` (required), ``email`` and/or ``phone`` (at least
    one), ``method`` (how they would like to be reached; needs that detail),
    ``times`` (optional, when to reach them).

    Raises
    ------
    ValidationError
        Keyed by those names.
    """
    name, email, phone = _text(raw, "preferred_name"), _text(raw, "email"), _text(raw, "phone")
    method, times = _text(raw, "method").lower(), _text(raw, "times")
    not_text = [
        key
        for key in ("preferred_name", "email", "phone", "method", "times")
        if "\x00" in _text(raw, key)
    ]
    if not_text:
        raise ValidationError(
            [Problem(key, "contains a NUL character, which is not text") for key in not_text]
        )
    problems: list[Problem] = []
    if not name:
        problems.append(Problem("preferred_name", "is required, so we know what to call you"))
    elif len(name) > MAX_NAME_CHARS:
        problems.append(Problem("preferred_name", f"expected at most {MAX_NAME_CHARS} characters"))
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        problems.append(Problem("email", "does not look like an email address (name@example.org)"))
    digits = re.sub(r"\D", "", phone)
    if phone and (not _PHONE_CHARS.match(phone) or not 7 <= len(digits) <= 15):
        problems.append(Problem("phone", "expected a phone number of 7 to 15 digits"))
    if not email and not phone:
        problems.append(Problem("email", "give an email address or a phone number (or both)"))
    if method not in CONTACT_METHODS:
        problems.append(Problem("method", f"choose one of {', '.join(CONTACT_METHODS)}"))
    elif method == "email" and not email and phone:
        problems.append(Problem("email", "is needed to be contacted by email"))
    elif method in ("phone", "text") and not phone and email:
        problems.append(Problem("phone", f"is needed to be contacted by {method}"))
    if len(times) > MAX_TIMES_CHARS:
        problems.append(Problem("times", f"expected at most {MAX_TIMES_CHARS} characters"))
    if problems:
        raise ValidationError(problems)
    return Contact(name, email, phone, method, times)


def add_contact(session: Session, client_id: str, contact: Contact) -> None:
    """Store a client's contact details in the caller's transaction."""
    session.add(
        ContactRow(
            client_id=client_id,
            preferred_name=contact.preferred_name,
            email=contact.email,
            phone=contact.phone,
            method=contact.method,
            times=contact.times,
        )
    )


def contact_of(store: Store, client_id: str) -> Contact | None:
    """The client's contact details, or None (imported intakes have none)."""
    with Session(store.engine) as session:
        row = session.get(ContactRow, client_id)
        if row is None:
            return None
        return Contact(row.preferred_name, row.email, row.phone, row.method, row.times)
