"""Session feedback, the outcomes it becomes, and not-on-track alerts.

After a session a client may rate it (four 0..10 items on the relationship)
and how they are doing (four 0..10 wellbeing items), through their private
link or via a coordinator. Feedback is always optional: skipping stores
nothing. Each record is attached to the client's active placement.

Outcomes (the rows training learns from) are derived, never typed in:

* ``alliance``: the mean session total (0..40) over the first
  :data:`ALLIANCE_SESSIONS` session ratings;
* ``improvement``: the latest wellbeing total minus the baseline total (the
  wellbeing given at intake, else the first wellbeing given in feedback);
  ``None`` until there are two measurements;
* ``dropped_out``: the coordinator recorded a drop-out (placement status
  ``"dropped_out"``);
* ``sessions``: the number of feedback records;
* ``click``: ``None`` (training derives it from alliance and dropout).

A placement has an outcome as soon as it has feedback or was recorded as a
drop-out; a placement ended or re-matched without any feedback has none
(nothing was measured).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import MatcherError, NotFoundError, Problem, ValidationError
from ..vocab import ALLIANCE_CUTOFF, ALLIANCE_MAX, RELIABLE_CHANGE
from .accounts import audit
from .store import Store
from .tables import FeedbackRow, IntakeRow, OutcomeRow, PlacementRow, TherapistRow

#: The four relationship items of one session (their sum is the session's alliance, 0..40).
SESSION_ITEMS: dict[str, str] = {
    "heard": "felt heard",
    "goals": "worked on what I wanted",
    "approach": "the approach fit me",
    "overall": "the session overall",
}
#: The four wellbeing items (their sum is the wellbeing total, 0..40).
WELLBEING_ITEMS: dict[str, str] = {
    "personal": "personally",
    "relationships": "close relationships",
    "social": "work, school or social life",
    "overall": "overall wellbeing",
}
SECTIONS: dict[str, dict[str, str]] = {"session": SESSION_ITEMS, "wellbeing": WELLBEING_ITEMS}
ITEM_MIN, ITEM_MAX = 0, 10
TOTAL_MAX = int(ALLIANCE_MAX)

#: A session total below the usual cut-off on 0..40 session alliance scales is low.
LOW_SESSION_TOTAL = ALLIANCE_CUTOFF
#: Early alliance is the mean over this many first session ratings.
ALLIANCE_SESSIONS = 3
#: Alert when at least LOW_SESSIONS_FOR_ALERT of the last ALERT_WINDOW session ratings are low.
LOW_SESSIONS_FOR_ALERT = 2
ALERT_WINDOW = 3


class FeedbackError(MatcherError):
    """Feedback could not be recorded (for example, no active placement); nothing changed."""


def field_name(section: str, item: str) -> str:
    """The name of one item in forms and error messages, e.g. ``"session_heard"``."""
    return f"{section}_{item}"


# --- validation ---------------------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _item_value(value: Any) -> int | None:
    """The whole number 0..10 in ``value``, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if ITEM_MIN <= number <= ITEM_MAX else None


def validate_section(
    section: str, values: Mapping[str, Any] | None
) -> tuple[dict[str, int] | None, list[Problem]]:
    """One section's answers: all four items, or none of them (skipped).

    Returns
    -------
    (answers, problems)
        ``answers`` is ``{item: int 0..10}`` for a complete section and None
        for a skipped or invalid one; ``problems`` name each bad item by its
        :func:`field_name`.
    """
    items = SECTIONS[section]
    values = values or {}
    given = {item: values.get(item) for item in items if not _blank(values.get(item))}
    if not given:
        return None, []
    problems = []
    answers: dict[str, int] = {}
    for item in items:
        name = field_name(section, item)
        if item not in given:
            problems.append(
                Problem(name, f"is missing: answer all four {section} questions, or none of them")
            )
            continue
        number = _item_value(given[item])
        if number is None:
            problems.append(
                Problem(
                    name,
                    f"expected a whole number from {ITEM_MIN} to {ITEM_MAX}, got {given[item]!r}",
                )
            )
        else:
            answers[item] = number
    return (None, problems) if problems else (answers, [])


def validate_feedback(
    session: Mapping[str, Any] | None, wellbeing: Mapping[str, Any] | None
) -> tuple[dict[str, int] | None, dict[str, int] | None]:
    """Validate one feedback: either section may be skipped, but not both.

    Raises
    ------
    ValidationError
        Naming every bad item (``session_heard`` …), or ``"_"`` when both
        sections are empty.
    """
    session_answers, problems = validate_section("session", session)
    wellbeing_answers, more = validate_section("wellbeing", wellbeing)
    problems += more
    if not problems and session_answers is None and wellbeing_answers is None:
        problems.append(
            Problem("_", "give at least one complete set of answers (the session, or how you are)")
        )
    if problems:
        raise ValidationError(problems)
    return session_answers, wellbeing_answers


def total(answers: Mapping[str, int] | None) -> int | None:
    """The 0..40 total of one complete section (four items); None when missing or incomplete."""
    if not answers or len(answers) != 4 or any(v is None for v in answers.values()):
        return None
    return int(sum(int(v) for v in answers.values()))


# --- feedback records ---------------------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    """One session's feedback; either section may be None (skipped)."""

    session: dict[str, int] | None = None
    wellbeing: dict[str, int] | None = None
    session_number: int = 1
    id: int = 0
    placement_id: int = 0
    client_id: str = ""
    submitted_at: datetime | None = None
    #: None when the client gave it through their link; else the staff member's username.
    entered_by: str | None = None

    @property
    def session_total(self) -> int | None:
        return total(self.session)

    @property
    def wellbeing_total(self) -> int | None:
        return total(self.wellbeing)


def _feedback(row: FeedbackRow) -> Feedback:
    return Feedback(
        session=dict(row.session) if row.session else None,
        wellbeing=dict(row.wellbeing) if row.wellbeing else None,
        session_number=row.session_number,
        id=row.id,
        placement_id=row.placement_id,
        client_id=row.client_id,
        submitted_at=_aware(row.submitted_at),
        entered_by=row.entered_by,
    )


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def feedback_of(store: Store, client_id: str) -> list[Feedback]:
    """Every feedback a client gave (all placements), oldest first."""
    with Session(store.engine) as db:
        rows = db.scalars(
            select(FeedbackRow).where(FeedbackRow.client_id == client_id).order_by(FeedbackRow.id)
        )
        return [_feedback(row) for row in rows]


def record_feedback(
    store: Store,
    client_id: str,
    session_values: Mapping[str, Any] | None,
    wellbeing_values: Mapping[str, Any] | None,
    *,
    entered_by: str | None = None,
) -> Feedback:
    """Store one feedback on the client's active placement and update its outcome.

    ``session_values`` and ``wellbeing_values`` map item names
    (:data:`SESSION_ITEMS`, :data:`WELLBEING_ITEMS`) to 0..10; either may be
    None or empty (skipped), not both. The record gets ``session_number`` =
    the placement's feedback count + 1. A staff entry (``entered_by``) is
    audited as ``enter_feedback``. Feedback, outcome and audit entry are one
    transaction.

    Raises
    ------
    ValidationError
        Naming each bad item; nothing is stored.
    NotFoundError
        Unknown client.
    FeedbackError
        The client has no active placement.
    """
    session_answers, wellbeing_answers = validate_feedback(session_values, wellbeing_values)
    with Session(store.engine, expire_on_commit=False) as db, db.begin():
        if db.get(IntakeRow, client_id) is None:
            raise NotFoundError(f"no client {client_id!r}")
        placement = db.scalar(
            select(PlacementRow).where(
                PlacementRow.client_id == client_id, PlacementRow.status == "active"
            )
        )
        if placement is None:
            raise FeedbackError(
                "this client has no active placement, so there is no session to give feedback on"
            )
        count = db.scalar(
            select(func.count())
            .select_from(FeedbackRow)
            .where(FeedbackRow.placement_id == placement.id)
        )
        row = FeedbackRow(
            placement_id=placement.id,
            client_id=client_id,
            session_number=int(count or 0) + 1,
            entered_by=entered_by,
            session=session_answers,
            wellbeing=wellbeing_answers,
        )
        db.add(row)
        db.flush()
        if entered_by is not None:
            audit(
                store,
                entered_by,
                "enter_feedback",
                client_id=client_id,
                therapist_id=placement.therapist_id,
                detail={"session_number": row.session_number},  # never the answers themselves
                session=db,
            )
        _sync(db, _load_courses(db, [PlacementRow.id == placement.id]))
        return _feedback(row)


# --- from feedback to outcomes ------------------------------------------------------------


@dataclass(frozen=True)
class Course:
    """One placement with its feedback (oldest first) and the client's intake wellbeing."""

    placement_id: int
    client_id: str
    therapist_id: str
    therapist_name: str
    placed_at: datetime
    status: str
    feedback: tuple[Feedback, ...]
    baseline: dict[str, int] | None = None

    def outcome(self) -> dict[str, Any] | None:
        return outcome_for(
            self.client_id, self.therapist_id, self.status, self.feedback, self.baseline
        )


def _ordered(feedback: Iterable[Feedback]) -> list[Feedback]:
    return sorted(feedback, key=lambda f: (f.session_number, f.id))


def early_alliance(feedback: Sequence[Feedback]) -> float | None:
    """Mean session total (0..40) over the first :data:`ALLIANCE_SESSIONS` session ratings."""
    totals = [t for f in _ordered(feedback) if (t := f.session_total) is not None]
    early = totals[:ALLIANCE_SESSIONS]
    return float(sum(early) / len(early)) if early else None


@dataclass(frozen=True)
class WellbeingChange:
    start: int  # 0..40
    latest: int  # 0..40
    source: str  # "intake" or "first feedback"

    @property
    def change(self) -> int:
        return self.latest - self.start


def wellbeing_change(
    feedback: Sequence[Feedback], baseline: Mapping[str, int] | None = None
) -> WellbeingChange | None:
    """Latest wellbeing total against the baseline: intake's, else the first feedback's.

    None until there are two measurements (a baseline and a later one).
    """
    totals = [t for f in _ordered(feedback) if (t := f.wellbeing_total) is not None]
    start = total(baseline)
    source = "intake"
    if start is None:
        if len(totals) < 2:
            return None
        start, totals, source = totals[0], totals[1:], "first feedback"
    if not totals:
        return None
    return WellbeingChange(start, totals[-1], source)


def outcome_for(
    client_id: str,
    therapist_id: str,
    status: str,
    feedback: Sequence[Feedback],
    baseline: Mapping[str, int] | None = None,
) -> dict[str, Any] | None:
    """A placement's outcome in the validated ``outcomes`` shape, or None when nothing is known.

    Parameters
    ----------
    status : the placement's status ("active", "ended", "dropped_out", "rematch")
    feedback : the placement's feedback records (any order; sorted by session number)
    baseline : the client's wellbeing at intake, if they gave it
    """
    dropped_out = status == "dropped_out"
    if not feedback and not dropped_out:
        return None
    change = wellbeing_change(feedback, baseline)
    return {
        "client_id": client_id,
        "therapist_id": therapist_id,
        "sessions": len(feedback),
        "dropped_out": dropped_out,
        "alliance": early_alliance(feedback),
        "improvement": None if change is None else float(change.change),
        "click": None,
    }


def _load_courses(db: Session, conditions: list[Any]) -> list[Course]:
    rows = db.execute(
        select(PlacementRow, TherapistRow.name)
        .join(TherapistRow, TherapistRow.therapist_id == PlacementRow.therapist_id)
        .where(*conditions)
        .order_by(PlacementRow.id)
    ).all()
    ids = [placement.id for placement, _ in rows]
    clients = sorted({placement.client_id for placement, _ in rows})
    feedback: dict[int, list[Feedback]] = {}
    baselines: dict[str, dict[str, int] | None] = {}
    for start in range(0, len(ids), 500):
        for row in db.scalars(
            select(FeedbackRow)
            .where(FeedbackRow.placement_id.in_(ids[start : start + 500]))
            .order_by(FeedbackRow.session_number, FeedbackRow.id)
        ):
            feedback.setdefault(row.placement_id, []).append(_feedback(row))
    for start in range(0, len(clients), 500):
        for client_id, wellbeing in db.execute(
            select(IntakeRow.client_id, IntakeRow.wellbeing).where(
                IntakeRow.client_id.in_(clients[start : start + 500])
            )
        ):
            baselines[client_id] = dict(wellbeing) if wellbeing else None
    return [
        Course(
            placement_id=placement.id,
            client_id=placement.client_id,
            therapist_id=placement.therapist_id,
            therapist_name=name,
            placed_at=_aware(placement.placed_at),
            status=placement.status,
            feedback=tuple(feedback.get(placement.id, ())),
            baseline=baselines.get(placement.client_id),
        )
        for placement, name in rows
    ]


def courses(
    store: Store, *, client_id: str | None = None, active_only: bool = False
) -> list[Course]:
    """Placements with their feedback, oldest placement first."""
    conditions = []
    if client_id is not None:
        conditions.append(PlacementRow.client_id == client_id)
    if active_only:
        conditions.append(PlacementRow.status == "active")
    with Session(store.engine) as db:
        return _load_courses(db, conditions)


def _sync(db: Session, found: Sequence[Course]) -> int:
    """Upsert the outcome of each course (by client and therapist); returns how many."""
    written = 0
    for course in found:  # oldest first: a later placement of the same pair wins
        record = course.outcome()
        if record is None:
            continue
        extra = {"source": "feedback", "placement_id": course.placement_id}
        existing = db.scalar(
            select(OutcomeRow).where(
                OutcomeRow.client_id == course.client_id,
                OutcomeRow.therapist_id == course.therapist_id,
            )
        )
        if existing is None:
            db.add(
                OutcomeRow(
                    client_id=course.client_id,
                    therapist_id=course.therapist_id,
                    record=record,
                    extra=extra,
                )
            )
        else:
            existing.record, existing.extra = record, extra
        written += 1
    db.flush()
    return written


def sync_outcomes(store: Store, *, client_id: str | None = None) -> int:
    """Write the outcome of every placement with feedback or a drop-out (one client's, if given).

    Idempotent; call it after feedback or a placement's status changes.
    Returns the number of outcome rows written.
    """
    conditions = [] if client_id is None else [PlacementRow.client_id == client_id]
    with Session(store.engine) as db, db.begin():
        return _sync(db, _load_courses(db, conditions))


# --- not-on-track alerts ------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """An active placement whose early sessions signal risk, and why, in words."""

    client_id: str
    therapist_id: str
    therapist_name: str
    placement_id: int
    placed_at: datetime
    sessions: int
    reasons: tuple[str, ...]


def alert_reasons(
    feedback: Sequence[Feedback], baseline: Mapping[str, int] | None = None
) -> list[str]:
    """Why a course is not on track (empty when it is).

    Two signals: at least :data:`LOW_SESSIONS_FOR_ALERT` of the last
    :data:`ALERT_WINDOW` session totals below :data:`LOW_SESSION_TOTAL`; or
    the latest wellbeing total at least :data:`RELIABLE_CHANGE` points below
    the baseline.
    """
    reasons = []
    totals = [t for f in _ordered(feedback) if (t := f.session_total) is not None]
    recent = totals[-ALERT_WINDOW:]
    low = [t for t in recent if t < LOW_SESSION_TOTAL]
    if len(low) >= LOW_SESSIONS_FOR_ALERT:
        shown = ", ".join(str(t) for t in recent)
        reasons.append(
            f"Session rating low (under {LOW_SESSION_TOTAL} of {TOTAL_MAX}) in {len(low)} of "
            f"the last {len(recent)} sessions rated ({shown})."
        )
    change = wellbeing_change(feedback, baseline)
    if change is not None and change.change <= -RELIABLE_CHANGE:
        when = "at intake" if change.source == "intake" else "in the first feedback"
        reasons.append(
            f"Wellbeing {-change.change} points worse than {when} ({change.latest} of "
            f"{TOTAL_MAX}, from {change.start}); {RELIABLE_CHANGE} points is a reliable change."
        )
    return reasons


def not_on_track(store: Store) -> list[Alert]:
    """Active placements that are not on track, the longest-running first."""
    alerts = []
    for course in courses(store, active_only=True):
        reasons = alert_reasons(course.feedback, course.baseline)
        if reasons:
            alerts.append(
                Alert(
                    client_id=course.client_id,
                    therapist_id=course.therapist_id,
                    therapist_name=course.therapist_name,
                    placement_id=course.placement_id,
                    placed_at=course.placed_at,
                    sessions=len(course.feedback),
                    reasons=tuple(reasons),
                )
            )
    return sorted(alerts, key=lambda a: (a.placed_at, a.placement_id))
