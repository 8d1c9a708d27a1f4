"""An intake's way into the practice: stored with consent, ranked, its suggestions kept,
the client's choice among them recorded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ..errors import MatcherError, NotFoundError
from ..ranking.rank import Ranking
from ..schema import Intake
from .accounts import STAFF_ROLES, audit
from .contacts import Contact, add_contact
from .outbox import queue_intake_confirmation, queue_urgent_intake
from .store import Store, StoredIntake
from .tables import IntakeRow, UserRow

log = logging.getLogger(__name__)

#: What a client can answer on their results page.
CHOICES: tuple[str, ...] = ("therapist", "any", "none")


class Ranker(Protocol):
    """What the clinic needs of :class:`matcher.Matcher`: a ranking for a validated intake."""

    def rank(self, intake: Intake, k: int = 5, *, policy: str | None = None) -> Ranking: ...


@dataclass(frozen=True)
class Links:
    """Absolute links the notifications carry (the library does not know the site's address)."""

    #: The private results page of a client, from their token.
    results: Callable[[str], str]
    #: The coordinators' queue.
    queue: str


def submit_intake(
    store: Store,
    ranker: Ranker,
    intake: Intake,
    *,
    k: int = 5,
    urgent: bool = False,
    support_note: str = "",
    wellbeing: dict[str, int] | None = None,
    contact: Contact | None = None,
    links: Links | None = None,
    policy: str | None = None,
) -> StoredIntake:
    """Store a consenting client's intake, rank therapists for it and keep what they see.

    The intake, its contact details and its notifications (a confirmation to the
    client, a notice to coordinators when urgent) are written in one
    transaction. The intake is stored before ranking and is never lost: when
    ranking fails (an empty roster, say) the client's page says a coordinator
    will follow up, and a coordinator's view ranks it later (:func:`ranking_for`).
    ``policy`` names the ranking policy for this intake (default: the ranker's own).
    """

    def with_intake(session: Session, client_id: str, token: str) -> None:
        if contact is not None:
            add_contact(session, client_id, contact)
        if links is None:
            return
        if contact is not None and contact.email:
            queue_intake_confirmation(
                session,
                client_id=client_id,
                to=contact.email,
                name=contact.preferred_name,
                link=links.results(token),
            )
        if urgent:
            recipients = _staff_emails(session)
            if recipients:
                queue_urgent_intake(
                    session, client_id=client_id, recipients=recipients, link=links.queue
                )

    stored = store.add_intake(
        intake,
        urgent=urgent,
        support_note=support_note,
        wellbeing=wellbeing,
        consented_at=datetime.now(UTC),
        with_intake=with_intake,
    )
    try:
        ranking = ranker.rank(intake.with_client_id(stored.client_id), k=k, policy=policy)
        store.save_ranking(stored.client_id, ranking)
    except (MatcherError, OperationalError, InterfaceError) as error:
        # The intake is stored: the database going away now must not tell the client that
        # nothing was (they would send it again). Only the error's kind is logged: its
        # message could quote what the client wrote.
        log.warning("could not rank intake %s: %s", stored.client_id, type(error).__name__)
    return stored


def _staff_emails(session: Session) -> list[str]:
    """Where urgent intakes are announced: every active coordinator or admin with an email."""
    rows = session.scalars(
        select(UserRow.email).where(
            UserRow.active, UserRow.role.in_(STAFF_ROLES), UserRow.email.is_not(None)
        )
    )
    return sorted(set(rows))


def roster_terms(store: Store) -> dict[str, list[str]]:
    """The terms the roster uses, for the intake form's lists (read from the database,
    so showing the form needs no model): languages, insurers, cities, the regions
    therapists are licensed in, and the kinds of therapy offered."""
    t = store.therapists()

    def terms(column: str) -> list[str]:
        return sorted({term for row in t[column] if isinstance(row, list) for term in row})

    return {
        "language": terms("languages"),
        "insurer": terms("insurance"),
        "city": sorted({city for city in t["city"] if isinstance(city, str) and city}),
        "region": terms("licensed_regions"),
        "therapy_type": terms("modalities"),
    }


def ranking_for(
    store: Store, ranker: Ranker, stored: StoredIntake, *, policy: str | None = None
) -> Ranking | None:
    """The suggestions this client was shown; ranked and kept now if they never were
    (an imported intake, or one whose ranking failed). None when it cannot be ranked."""
    ranking = store.latest_ranking(stored.client_id)
    if ranking is None:
        try:
            ranking = ranker.rank(stored.record, policy=policy)
        except MatcherError:
            return None
        store.save_ranking(stored.client_id, ranking)
    return ranking


class ChoiceError(MatcherError):
    """The client's answer could not be recorded; nothing changed. The message says why."""


def record_choice(
    store: Store, client_id: str, choice: str, therapist_id: str | None = None
) -> StoredIntake:
    """Record what the client answered on their results page.

    ``choice`` is "therapist" (with one of the suggestions they were shown as
    ``therapist_id``), "any" (any of them is fine) or "none" (none feels
    right). A client may change their answer until they are placed.
    """
    if choice not in CHOICES:
        raise ChoiceError(f"choose one of {', '.join(CHOICES)}")
    if choice == "therapist":
        ranking = store.latest_ranking(client_id)
        shown = {s.therapist_id for s in ranking or ()}
        if therapist_id not in shown:
            raise ChoiceError("you can choose one of the therapists suggested to you")
    else:
        therapist_id = None
    with Session(store.engine) as session, session.begin():
        changed = session.execute(
            update(IntakeRow)
            .where(IntakeRow.client_id == client_id, IntakeRow.status == "waiting")
            .values(choice=choice, chosen_therapist_id=therapist_id, chosen_at=datetime.now(UTC))
        ).rowcount
        if not changed:
            if session.get(IntakeRow, client_id) is None:
                raise NotFoundError(f"no client {client_id!r}")
            raise ChoiceError("you have been placed with a therapist already")
        audit(
            store,
            "client",
            "client_choice",
            client_id=client_id,
            therapist_id=therapist_id,
            detail={"choice": choice},
            session=session,
        )
    return store.intake(client_id)
