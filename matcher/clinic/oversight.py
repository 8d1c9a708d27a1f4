"""What the coordinator's dashboard shows, as plain data (the plots are in :mod:`matcher.plots`).

* caseloads: each therapist's active placements against their capacity
  (active + open places);
* waiting times of the clients waiting for placement;
* the click rate by placement month: among placements whose early course is
  known (an early alliance from session feedback, or a recorded drop-out),
  the share with early alliance ≥ :data:`matcher.followup.LOW_SESSION_TOTAL`
  and no drop-out;
* the current model's calibration curve, from its card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..learning.registry import read_card, read_registry
from .followup import LOW_SESSION_TOTAL, courses
from .placement import waiting_queue
from .store import Store
from .tables import PlacementRow, TherapistRow

NO_MODEL_MESSAGE = "prior scorer: no calibration curve"


@dataclass(frozen=True)
class Caseload:
    therapist_id: str
    name: str
    active: int  # active placements
    open: int  # open places left

    @property
    def capacity(self) -> int:
        return self.active + self.open


def caseloads(store: Store) -> list[Caseload]:
    """Every therapist's caseload, in roster order (by id)."""
    with Session(store.engine) as db:
        active = dict(
            db.execute(
                select(PlacementRow.therapist_id, func.count())
                .where(PlacementRow.status == "active")
                .group_by(PlacementRow.therapist_id)
            ).all()
        )
        rows = db.execute(
            select(TherapistRow.therapist_id, TherapistRow.name, TherapistRow.capacity).order_by(
                TherapistRow.therapist_id
            )
        ).all()
    return [
        Caseload(therapist_id, name, int(active.get(therapist_id, 0)), int(capacity))
        for therapist_id, name, capacity in rows
    ]


def waiting_days(store: Store) -> list[float]:
    """Days each waiting client has waited so far, queue order (urgent first)."""
    return [item.waiting_days for item in waiting_queue(store)]


@dataclass(frozen=True)
class MonthRate:
    month: str  # "YYYY-MM" of placement
    placements: int  # placements whose early course is known
    clicked: int

    @property
    def rate(self) -> float:
        return self.clicked / self.placements if self.placements else 0.0


def click_rate_by_month(store: Store) -> list[MonthRate]:
    """Share of placements that clicked, by the month they were made (oldest first).

    A placement counts once its early course is known: it has a session
    rating (early alliance) or was recorded as a drop-out. It clicked when the
    early alliance is at least :data:`LOW_SESSION_TOTAL` and it did not drop out.
    """
    known: dict[str, list[int]] = {}
    for course in courses(store):
        outcome = course.outcome()
        if outcome is None or (outcome["alliance"] is None and not outcome["dropped_out"]):
            continue
        clicked = not outcome["dropped_out"] and outcome["alliance"] >= LOW_SESSION_TOTAL
        counts = known.setdefault(course.placed_at.strftime("%Y-%m"), [0, 0])
        counts[0] += 1
        counts[1] += int(clicked)
    return [MonthRate(month, n, k) for month, (n, k) in sorted(known.items())]


@dataclass(frozen=True)
class Calibration:
    """The current model's calibration; ``curve`` is empty with a ``message`` when there is none."""

    version: str | None
    curve: list[dict[str, float]] = field(default_factory=list)
    ece: float | None = None
    message: str | None = None


def current_calibration(model_dir: Path | str) -> Calibration:
    """The calibration curve on the current model's card (predicted, observed, count per bin).

    Raises
    ------
    ModelArtifactError
        The registry or the card cannot be read.
    """
    current = read_registry(model_dir).get("current")
    if not current:
        return Calibration(None, message=NO_MODEL_MESSAGE)
    card: dict[str, Any] = read_card(model_dir, current)
    curve = [dict(b) for b in card.get("calibration_curve") or []]
    ece = ((card.get("metrics") or {}).get("model") or {}).get("ece")
    if not curve:
        return Calibration(current, ece=ece, message=f"model {current}: no calibration curve")
    return Calibration(current, curve, ece)
