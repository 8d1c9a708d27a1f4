"""Placing clients with therapists under real caseload limits.

One placement is one transaction: a conditional update takes an open place
(``capacity = capacity - 1 WHERE capacity > 0``), a second one moves the
client from "waiting" to "placed", and the placement and its audit entry are
written. If either update finds nothing to change, the transaction rolls
back: two coordinators giving away the last place at the same moment cannot
both succeed, on SQLite or PostgreSQL.

Batch placement maximises the total match score under every therapist's
capacity with :func:`scipy.optimize.linear_sum_assignment` on
capacity-expanded columns (one column per open place).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import MatcherError, NotFoundError
from ..ranking.features import encode_clients, pair_features
from ..ranking.filters import constraint_masks, eligible
from ..ranking.rank import track_record_of
from .accounts import audit
from .store import Store
from .tables import IntakeRow, PlacementRow, TherapistRow

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
) -> Placement:
    """Place a waiting client with a therapist who has an open place.

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
        store.bump(session, "capacity")
        action = (
            "override" if kind == "override" else "batch_place" if kind == "batch" else "assign"
        )
        audit(store, by, action, client_id=client_id, therapist_id=therapist_id, session=session)
        name = therapist.name
    return _placement(row, name)


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


def waiting_queue(
    store: Store, *, concern: str | None = None, modality: str | None = None
) -> list[QueueItem]:
    """Intakes waiting for placement: urgent first, then longest waiting."""
    now = datetime.now(UTC)
    with Session(store.engine) as session:
        rows = session.scalars(select(IntakeRow).where(IntakeRow.status == "waiting"))
        items = []
        for row in rows:
            created = (
                row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            )
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
                )
            )
    return sorted(items, key=lambda item: (not item.urgent, item.created_at, item.client_id))


# --- batch placement ------------------------------------------------------------------------

#: Score of a pair that must never be placed (fails a hard constraint).
INELIGIBLE = -np.inf


@dataclass(frozen=True)
class BatchResult:
    """One therapist column per client (-1 = not placed) and the total score."""

    assignment: np.ndarray  # (m,) int
    total_score: float

    @property
    def placed(self) -> int:
        return int((self.assignment >= 0).sum())


def optimal_batch(
    scores: np.ndarray, capacities: np.ndarray, *, spread: float = 0.0
) -> BatchResult:
    """The placement that maximises the total score under every capacity.

    Parameters
    ----------
    scores : (m, n) float, the match score of client i with therapist j;
        ``-inf`` where the pair fails a hard constraint
    capacities : (n,) int, open places per therapist
    spread : float >= 0
        Each further place given to the same therapist in this batch is worth
        ``spread`` less, so newer therapists with room are not starved. 0 = pure
        total score.

    Returns
    -------
    BatchResult
        As many clients as possible are placed (a lower total never trades
        against placing one more client: each placement earns a bonus larger
        than any score difference); ``total_score`` sums the plain scores.
    """
    scores = np.asarray(scores, dtype=float)
    capacities = np.minimum(np.asarray(capacities, dtype=int), scores.shape[0])
    if spread < 0:
        raise ValueError(f"spread must be >= 0, got {spread!r}")
    m = scores.shape[0]
    if m == 0 or capacities.sum() <= 0:
        return BatchResult(np.full(m, -1), 0.0)
    columns = np.repeat(np.arange(len(capacities)), np.maximum(capacities, 0))  # one per place
    place_index = np.concatenate([np.arange(c) for c in capacities if c > 0])
    value = scores[:, columns] - spread * place_index[None, :]
    eligible = np.isfinite(value)
    # Maximise placements first, then value: every eligible pair gets a bonus
    # larger than the whole spread of values, ineligible pairs are never chosen.
    bonus = 1.0 + (np.ptp(value[eligible]) if eligible.any() else 0.0) + 1.0
    profit = np.where(eligible, value + bonus, 0.0)
    rows, cols = linear_sum_assignment(profit, maximize=True)
    assignment = np.full(m, -1)
    keep = eligible[rows, cols]
    assignment[rows[keep]] = columns[cols[keep]]
    return BatchResult(assignment, _total(scores, assignment))


def greedy_batch(scores: np.ndarray, capacities: np.ndarray) -> BatchResult:
    """The baseline: in queue order, each client takes their best therapist with room."""
    scores = np.asarray(scores, dtype=float)
    left = np.asarray(capacities, dtype=int).copy()
    assignment = np.full(scores.shape[0], -1)
    for i, row in enumerate(scores):
        options = np.where((left > 0) & np.isfinite(row), row, -np.inf)
        best = int(np.argmax(options))
        if np.isfinite(options[best]):
            assignment[i] = best
            left[best] -= 1
    return BatchResult(assignment, _total(scores, assignment))


def _total(scores: np.ndarray, assignment: np.ndarray) -> float:
    placed = assignment >= 0
    return float(scores[np.flatnonzero(placed), assignment[placed]].sum())


@dataclass(frozen=True)
class ProposedPlacement:
    client_id: str
    therapist_id: str
    therapist_name: str
    score: float
    greedy_therapist_id: str | None


@dataclass(frozen=True)
class BatchProposal:
    placements: tuple[ProposedPlacement, ...]
    unplaced: tuple[str, ...]
    total_score: float
    greedy_total_score: float
    greedy_placed: int
    spread: float
    model_version: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "placements": [vars(p) for p in self.placements],
            "unplaced": list(self.unplaced),
            "total_score": self.total_score,
            "greedy_total_score": self.greedy_total_score,
            "greedy_placed": self.greedy_placed,
            "spread": self.spread,
            "model_version": self.model_version,
        }


def score_matrix(matcher, records: Sequence[dict[str, Any]]) -> np.ndarray:
    """(m, n) scores of each waiting client against the whole roster; -inf where ineligible."""
    roster = matcher.roster
    scorer = matcher.scorer
    profiles = encode_clients(list(records), matcher.embedder, matcher.styles, matcher.concerns)
    scores = np.full((len(profiles), len(roster)), INELIGIBLE)
    for i, profile in enumerate(profiles):
        rows = np.flatnonzero(eligible(constraint_masks(profile.record, roster)))
        if len(rows):
            features = pair_features(profile, roster, rows, track_record_of(scorer))
            scores[i, rows] = np.clip(scorer.score(features), 0.0, 1.0)
    return scores


def propose_batch(store: Store, matcher, *, spread: float = 0.0) -> BatchProposal:
    """The optimal placement of everyone waiting (queue order), beside greedy's."""
    queue = waiting_queue(store)
    records = [_with_id(store.intake(item.client_id)) for item in queue]
    roster = matcher.roster
    scores = score_matrix(matcher, records) if records else np.zeros((0, len(roster)))
    capacities = roster.capacity
    best = optimal_batch(scores, capacities, spread=spread)
    greedy = greedy_batch(scores, capacities)
    placements, unplaced = [], []
    names = roster.therapists["name"].tolist()
    for i, item in enumerate(queue):
        j = best.assignment[i]
        if j < 0:
            unplaced.append(item.client_id)
            continue
        g = greedy.assignment[i]
        placements.append(
            ProposedPlacement(
                client_id=item.client_id,
                therapist_id=str(roster.ids[j]),
                therapist_name=names[j],
                score=float(scores[i, j]),
                greedy_therapist_id=str(roster.ids[g]) if g >= 0 else None,
            )
        )
    return BatchProposal(
        tuple(placements),
        tuple(unplaced),
        best.total_score,
        greedy.total_score,
        greedy.placed,
        spread,
        matcher.model_version,
    )


def _with_id(stored) -> dict[str, Any]:
    return {**stored.record, "client_id": stored.client_id}


@dataclass(frozen=True)
class BatchOutcome:
    placed: tuple[Placement, ...]
    failed: tuple[tuple[str, str], ...]  # (client_id, why)


def confirm_batch(
    store: Store, placements: Sequence[tuple[str, str, float]], *, by: str, model_version: str
) -> BatchOutcome:
    """Make the proposed placements; each is its own capacity-safe transaction.

    A placement that can no longer be made (the place or the client was taken
    meanwhile) is reported, not forced.
    """
    done, failed = [], []
    for client_id, therapist_id, score in placements:
        try:
            done.append(
                assign(
                    store,
                    client_id,
                    therapist_id,
                    by=by,
                    kind="batch",
                    score=score,
                    model_version=model_version,
                )
            )
        except (PlacementError, NotFoundError) as error:
            failed.append((client_id, str(error)))
    return BatchOutcome(tuple(done), tuple(failed))
