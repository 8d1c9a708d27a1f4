"""Placing clients with therapists under real caseload limits.

One placement is one transaction: a conditional update takes an open place
(``capacity = capacity - 1 WHERE capacity > 0``), a second one moves the
client from "waiting" to "placed", and the placement and its audit entry are
written. If either update finds nothing to change, the transaction rolls
back: two coordinators giving away the last place at the same moment cannot
both succeed, on SQLite or PostgreSQL.

What a placement records is decided here, never taken from a form:
:func:`place_client` re-checks every hard constraint against the live roster
and takes the kind, rank, score and model version from the ranking the client
was shown. A therapist outside those suggestions is an override that needs a
reason; one who breaks a hard constraint is refused with what does not fit.
Batch placement lives in :mod:`matcher.clinic.batch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import MatcherError, NotFoundError
from ..ranking.filters import unmet_constraints
from ..ranking.roster import Roster
from .accounts import audit
from .outbox import queue_referral
from .store import Store
from .tables import IntakeRow, PlacementRow, TherapistRow, UserRow

PLACEMENT_KINDS = ("suggested", "override", "batch")
#: Every status a placement can have; "active" until it ends one of the other ways.
PLACEMENT_STATUSES = ("active", "ended", "dropped_out", "rematch", "declined")
END_STATUSES = ("ended", "dropped_out")


class PlacementError(MatcherError):
    """A placement could not be made; nothing was changed. The message says why."""


@dataclass(frozen=True)
class Placement:
    id: int
    client_id: str
    therapist_id: str
    therapist_name: str
    placed_at: datetime
    placed_by: str
    kind: str
    reason: str
    rank_shown: int | None
    score: float | None
    model_version: str
    status: str
    accepted_at: datetime | None = None
    decline_reason: str | None = None

    @property
    def awaiting_therapist(self) -> bool:
        """Placed, and the therapist has not yet accepted the referral."""
        return self.status == "active" and self.accepted_at is None


def _placement(row: PlacementRow, name: str) -> Placement:
    return Placement(
        row.id,
        row.client_id,
        row.therapist_id,
        name,
        row.placed_at,
        row.placed_by,
        row.kind,
        row.reason,
        row.rank_shown,
        row.score,
        row.model_version,
        row.status,
        row.accepted_at,
        row.decline_reason,
    )


def assign(
    store: Store,
    client_id: str,
    therapist_id: str,
    *,
    by: str,
    kind: str = "suggested",
    reason: str = "",
    rank_shown: int | None = None,
    score: float | None = None,
    model_version: str = "",
    referral_link: str | None = None,
) -> Placement:
    """Place a waiting client with a therapist who has an open place.

    With ``referral_link`` (where the therapist answers referrals), a therapist
    whose account has an email is told of the referral, in the same transaction.

    Raises
    ------
    PlacementError
        The therapist has no open place left ("no longer available"), the
        client is not waiting, or an override has no reason. Nothing changes.
    NotFoundError
        Unknown client or therapist.
    """
    if kind not in PLACEMENT_KINDS:
        raise ValueError(f"kind must be one of {PLACEMENT_KINDS}, got {kind!r}")
    if kind == "override" and not reason.strip():
        raise PlacementError("say why you are choosing someone other than the suggestions")
    with Session(store.engine, expire_on_commit=False) as session, session.begin():
        therapist = session.get(TherapistRow, therapist_id)
        if therapist is None:
            raise NotFoundError(f"no therapist {therapist_id!r}")
        if session.get(IntakeRow, client_id) is None:
            raise NotFoundError(f"no client {client_id!r}")
        took_place = session.execute(
            update(TherapistRow)
            .where(TherapistRow.therapist_id == therapist_id, TherapistRow.capacity > 0)
            .values(capacity=TherapistRow.capacity - 1)
        ).rowcount
        if not took_place:
            raise PlacementError(
                f"{therapist.name} is no longer available: their last open place was just taken"
            )
        moved = session.execute(
            update(IntakeRow)
            .where(IntakeRow.client_id == client_id, IntakeRow.status == "waiting")
            .values(status="placed")
        ).rowcount
        if not moved:
            raise PlacementError("this client is not waiting any more (placed or closed)")
        row = PlacementRow(
            client_id=client_id,
            therapist_id=therapist_id,
            placed_by=by,
            kind=kind,
            reason=reason.strip(),
            rank_shown=rank_shown,
            score=score,
            model_version=model_version,
        )
        session.add(row)
        if referral_link:
            _tell_therapist(session, therapist, client_id, referral_link)
        store.bump(session, "capacity")
        action = (
            "override" if kind == "override" else "batch_place" if kind == "batch" else "assign"
        )
        audit(store, by, action, client_id=client_id, therapist_id=therapist_id, session=session)
        name = therapist.name
    return _placement(row, name)


def _tell_therapist(session: Session, therapist: TherapistRow, client_id: str, link: str) -> None:
    email = session.scalar(
        select(UserRow.email).where(
            UserRow.therapist_id == therapist.therapist_id,
            UserRow.active,
            UserRow.email.is_not(None),
        )
    )
    if email:
        queue_referral(
            session, client_id=client_id, to=email, therapist_name=therapist.name, link=link
        )


class LiveRoster(Protocol):
    """What placement needs of :class:`matcher.Matcher`: the current roster arrays."""

    @property
    def roster(self) -> Roster: ...


def check_fit(matcher: LiveRoster, record: dict, therapist_id: str) -> None:
    """Refuse a therapist who breaks one of the client's hard constraints.

    Raises
    ------
    NotFoundError
        The therapist is not on the roster.
    PlacementError
        Saying everything that does not fit (capacity is checked when the place is taken).
    """
    roster = matcher.roster
    row = roster.row_of.get(therapist_id)
    if row is None:
        raise NotFoundError(f"no therapist {therapist_id!r}")
    unmet = unmet_constraints(record, roster, row, skip=("capacity",))
    if unmet:
        name = roster.record(row)["name"]
        misses = "; ".join(unmet)
        raise PlacementError(f"{name} cannot be placed with this client: {name} {misses}")


def place_client(
    store: Store,
    matcher: LiveRoster,
    client_id: str,
    therapist_id: str,
    *,
    by: str,
    reason: str = "",
    client_chose: bool = False,
    referral_link: str | None = None,
) -> Placement:
    """Place a waiting client, with everything the placement records decided here.

    The therapist must pass every hard constraint of the client's intake. One of
    the suggestions the client was shown is a "suggested" placement with that
    suggestion's rank, score and model version; anyone else is an "override"
    and needs a ``reason``. ``client_chose`` notes that the client asked for
    this therapist on their results page.

    Raises
    ------
    PlacementError, NotFoundError
        As :func:`assign`, plus a broken hard constraint. Nothing changes.
    """
    stored = store.intake(client_id)
    check_fit(matcher, stored.record, therapist_id)
    ranking = store.latest_ranking(client_id)
    shown = next((s for s in ranking or () if s.therapist_id == therapist_id), None)
    model_version = ranking.model_version if ranking is not None else ""
    if shown is None:
        return assign(
            store,
            client_id,
            therapist_id,
            by=by,
            kind="override",
            reason=reason,
            model_version=model_version,
            referral_link=referral_link,
        )
    return assign(
        store,
        client_id,
        therapist_id,
        by=by,
        kind="suggested",
        reason=reason.strip() or ("the client's choice" if client_chose else ""),
        rank_shown=shown.rank,
        score=shown.score,
        model_version=model_version,
        referral_link=referral_link,
    )


def _close_active(
    store: Store, client_id: str, status: str, by: str, action: str, intake_status: str
) -> Placement:
    with Session(store.engine, expire_on_commit=False) as session, session.begin():
        row = session.scalar(
            select(PlacementRow).where(
                PlacementRow.client_id == client_id, PlacementRow.status == "active"
            )
        )
        if row is None:
            raise PlacementError("this client has no active placement")
        row.status = status
        row.ended_at = datetime.now(UTC)
        session.execute(
            update(TherapistRow)
            .where(TherapistRow.therapist_id == row.therapist_id)
            .values(capacity=TherapistRow.capacity + 1)  # the place is free again
        )
        session.execute(
            update(IntakeRow).where(IntakeRow.client_id == client_id).values(status=intake_status)
        )
        store.bump(session, "capacity")
        audit(
            store,
            by,
            action,
            client_id=client_id,
            therapist_id=row.therapist_id,
            detail={"status": status},
            session=session,
        )
        name = session.get(TherapistRow, row.therapist_id).name
    return _placement(row, name)


def request_rematch(store: Store, client_id: str, *, by: str) -> Placement:
    """After a poor start: end the placement, free the place, requeue the client."""
    return _close_active(store, client_id, "rematch", by, "rematch", "waiting")


def end_placement(store: Store, client_id: str, *, by: str, status: str = "ended") -> Placement:
    """Therapy ended by agreement ("ended") or the client dropped out ("dropped_out")."""
    if status not in END_STATUSES:
        raise ValueError(f"status must be one of {END_STATUSES}, got {status!r}")
    return _close_active(store, client_id, status, by, "end_placement", "closed")


def accept_referral(store: Store, placement_id: int, *, therapist_id: str, by: str) -> Placement:
    """The therapist takes the client they were referred. Only their own, pending referral."""
    with Session(store.engine, expire_on_commit=False) as session, session.begin():
        row = _pending_referral(session, placement_id, therapist_id)
        row.accepted_at = datetime.now(UTC)
        audit(
            store,
            by,
            "accept_referral",
            client_id=row.client_id,
            therapist_id=therapist_id,
            session=session,
        )
        name = session.get(TherapistRow, therapist_id).name
    return _placement(row, name)


def decline_referral(
    store: Store, placement_id: int, *, therapist_id: str, by: str, reason: str
) -> Placement:
    """The therapist cannot take the client: the place is freed and the client goes back
    to the top of the queue (``returned_at``) with the reason, for the coordinator."""
    reason = reason.strip()
    if not reason:
        raise PlacementError("say why you cannot take this client, so the coordinator can")
    now = datetime.now(UTC)
    with Session(store.engine, expire_on_commit=False) as session, session.begin():
        row = _pending_referral(session, placement_id, therapist_id)
        row.status, row.ended_at, row.decline_reason = "declined", now, reason[:2000]
        session.execute(
            update(TherapistRow)
            .where(TherapistRow.therapist_id == therapist_id)
            .values(capacity=TherapistRow.capacity + 1)
        )
        session.execute(
            update(IntakeRow)
            .where(IntakeRow.client_id == row.client_id)
            .values(status="waiting", returned_at=now)
        )
        store.bump(session, "capacity")
        audit(
            store,
            by,
            "decline_referral",
            client_id=row.client_id,
            therapist_id=therapist_id,
            session=session,
        )
        name = session.get(TherapistRow, therapist_id).name
    return _placement(row, name)


def _pending_referral(session: Session, placement_id: int, therapist_id: str) -> PlacementRow:
    row = session.get(PlacementRow, placement_id, with_for_update=True)
    if row is None or row.therapist_id != therapist_id:
        raise NotFoundError("no such referral")  # another therapist's looks like none
    if row.status != "active" or row.accepted_at is not None:
        raise PlacementError("this referral has already been answered")
    return row


def placements_of(store: Store, client_id: str) -> list[Placement]:
    """Every placement of a client, newest first."""
    with Session(store.engine) as session:
        rows = session.execute(
            select(PlacementRow, TherapistRow.name)
            .join(TherapistRow, TherapistRow.therapist_id == PlacementRow.therapist_id)
            .where(PlacementRow.client_id == client_id)
            .order_by(PlacementRow.id.desc())
        )
        return [_placement(row, name) for row, name in rows]


def active_placement(store: Store, client_id: str) -> Placement | None:
    return next((p for p in placements_of(store, client_id) if p.status == "active"), None)


@dataclass(frozen=True)
class QueueItem:
    client_id: str
    created_at: datetime
    urgent: bool
    concerns: list[str]
    modality: str
    waiting_days: float
    #: The client's answer on their results page ("therapist", "any", "none") or None.
    choice: str | None = None
    chosen_therapist_id: str | None = None
    #: The chosen therapist's name (their id when they are no longer on the roster).
    chosen_therapist_name: str | None = None
    #: A therapist declined this client's referral: they come right after urgent ones.
    returned: bool = False


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def waiting_queue(
    store: Store, *, concern: str | None = None, modality: str | None = None
) -> list[QueueItem]:
    """Intakes waiting for placement: urgent first, then those a therapist declined,
    then longest waiting."""
    now = datetime.now(UTC)
    with Session(store.engine) as session:
        rows = list(session.scalars(select(IntakeRow).where(IntakeRow.status == "waiting")))
        chosen = {row.chosen_therapist_id for row in rows if row.chosen_therapist_id}
        names = dict(
            session.execute(
                select(TherapistRow.therapist_id, TherapistRow.name).where(
                    TherapistRow.therapist_id.in_(chosen)
                )
            ).all()
        )
        items = []
        for row in rows:
            created = _aware(row.created_at)
            record = row.record
            if concern and concern not in record.get("concerns", []):
                continue
            if modality and record.get("modality") != modality:
                continue
            items.append(
                QueueItem(
                    client_id=row.client_id,
                    created_at=created,
                    urgent=row.urgent,
                    concerns=list(record.get("concerns", [])),
                    modality=record.get("modality", ""),
                    waiting_days=(now - created).total_seconds() / 86400,
                    choice=row.choice,
                    chosen_therapist_id=row.chosen_therapist_id,
                    chosen_therapist_name=names.get(
                        row.chosen_therapist_id, row.chosen_therapist_id
                    ),
                    returned=row.returned_at is not None,
                )
            )
    return sorted(
        items,
        key=lambda item: (not item.urgent, not item.returned, item.created_at, item.client_id),
    )
