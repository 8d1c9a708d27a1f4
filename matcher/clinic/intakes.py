"""An intake's way into the practice: stored, ranked, and its suggestions kept."""

from __future__ import annotations

import logging
from typing import Protocol

from ..errors import MatcherError
from ..ranking.rank import Ranking
from ..schema import Intake
from .store import Store, StoredIntake

log = logging.getLogger(__name__)


class Ranker(Protocol):
    """What the clinic needs of :class:`matcher.Matcher`: a ranking for a validated intake."""

    def rank(self, intake: Intake, k: int = 5) -> Ranking: ...


def submit_intake(
    store: Store,
    ranker: Ranker,
    intake: Intake,
    *,
    k: int = 5,
    urgent: bool = False,
    support_note: str = "",
    wellbeing: dict[str, int] | None = None,
) -> StoredIntake:
    """Store a client's intake, rank therapists for it and keep what they will be shown.

    The intake is stored first and is never lost: when ranking fails (an empty
    roster, say) the client's page says a coordinator will follow up, and a
    coordinator's view ranks it later (:func:`ranking_for`).
    """
    stored = store.add_intake(intake, urgent=urgent, support_note=support_note, wellbeing=wellbeing)
    try:
        ranking = ranker.rank(intake.with_client_id(stored.client_id), k=k)
    except MatcherError as error:
        # Only the error's kind is logged: its message could quote what the client wrote.
        log.warning("could not rank intake %s: %s", stored.client_id, type(error).__name__)
    else:
        store.save_ranking(stored.client_id, ranking)
    return stored


def ranking_for(store: Store, ranker: Ranker, stored: StoredIntake) -> Ranking | None:
    """The suggestions this client was shown; ranked and kept now if they never were
    (an imported intake, or one whose ranking failed). None when it cannot be ranked."""
    ranking = store.latest_ranking(stored.client_id)
    if ranking is None:
        try:
            ranking = ranker.rank(stored.record)
        except MatcherError:
            return None
        store.save_ranking(stored.client_id, ranking)
    return ranking
