"""A demo practice that shows every part of the workflow on first start.

:func:`stage_practice` takes a database seeded with a simulated roster and
waiting clients (``matcher seed-demo``) and plays a few weeks of the
practice through the product's own functions: clients ranked and placed,
referrals accepted (one left waiting for the therapist), session feedback
(one course not on track), and a client who chose a therapist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..errors import MatcherError
from .contacts import Contact, add_contact
from .followup import record_feedback
from .intakes import Ranker, record_choice
from .placement import LiveRoster, PlacementError, accept_referral, place_client, waiting_queue
from .store import Store
from .tables import PlacementRow

DEMO_ACTOR = "demo"
#: Session ratings (heard, goals, approach, overall; 0..10 each) of a course going well,
#: and of one that is not (totals under the alliance cut-off of 36).
GOING_WELL = ({"heard": 9, "goals": 9, "approach": 9, "overall": 9},) * 3
NOT_ON_TRACK = (
    {"heard": 6, "goals": 5, "approach": 5, "overall": 6},
    {"heard": 5, "goals": 4, "approach": 5, "overall": 5},
    {"heard": 5, "goals": 5, "approach": 4, "overall": 5},
)


class DemoMatcher(Ranker, LiveRoster, Protocol):
    """What staging needs: rankings and the live roster (a :class:`matcher.Matcher`)."""


@dataclass(frozen=True)
class StagedPractice:
    placed: tuple[str, ...]
    pending_referral: str | None
    chose: str | None


def stage_practice(store: Store, matcher: DemoMatcher, *, placements: int = 4) -> StagedPractice:
    """Rank, contact-detail, place and follow up the first waiting clients who have
    suggestions, and let the next one choose a therapist (see module doc)."""
    ranked = []
    for item in waiting_queue(store):
        if len(ranked) > placements:
            break
        stored = store.intake(item.client_id)
        ranking = matcher.rank(stored.record.with_client_id(item.client_id))
        store.save_ranking(item.client_id, ranking)
        if len(ranking):
            ranked.append((item.client_id, ranking))
    chooser = ranked.pop()[0] if ranked else None  # the last one chooses
    with Session(store.engine) as session, session.begin():
        for number, client_id in enumerate([c for c, _ in ranked] + [chooser], start=1):
            if client_id is not None:
                contact = Contact(
                    f"Demo client {number}", f"client{number}@example.org", "", "email", ""
                )
                add_contact(session, client_id, contact)
    placed: list[str] = []
    for client_id, ranking in ranked:
        try:
            placement = place_client(
                store, matcher, client_id, ranking[0].therapist_id, by=DEMO_ACTOR
            )
        except (PlacementError, MatcherError):
            continue
        placed.append(client_id)
        if len(placed) < len(ranked):  # the last one waits for the therapist to accept
            accept_referral(store, placement.id, therapist_id=placement.therapist_id, by=DEMO_ACTOR)
            course = NOT_ON_TRACK if len(placed) == 1 else GOING_WELL
            for answers in course:
                record_feedback(store, client_id, answers, None, entered_by=DEMO_ACTOR)
    if chooser is not None:
        chosen = store.latest_ranking(chooser)[0].therapist_id
        record_choice(store, chooser, "therapist", chosen)
    return StagedPractice(tuple(placed), placed[-1] if placed else None, chooser)


def demo_therapist(store: Store) -> str | None:
    """The therapist with the most active placements (a pending referral first): the one
    the demo therapist login belongs to."""
    with Session(store.engine) as session:
        row = session.execute(
            select(PlacementRow.therapist_id)
            .where(PlacementRow.status == "active")
            .group_by(PlacementRow.therapist_id)
            .order_by(
                func.sum(case((PlacementRow.accepted_at.is_(None), 1), else_=0)).desc(),
                func.count().desc(),
                PlacementRow.therapist_id,
            )
            .limit(1)
        ).first()
    return row[0] if row else None
