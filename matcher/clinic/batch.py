"""Placing everyone waiting at once: the best total match under every caseload.

Batch placement maximises the total match score under every therapist's
capacity with :func:`scipy.optimize.linear_sum_assignment` on
capacity-expanded columns (one column per open place). Confirming re-checks
each pair (:func:`matcher.clinic.placement.check_fit`) and scores it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..errors import NotFoundError
from ..ranking.features import encode_clients, pair_features
from ..ranking.filters import constraint_masks, eligible
from ..ranking.rank import track_record_of
from .placement import Placement, PlacementError, assign, check_fit, waiting_queue
from .store import Store

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
    store: Store,
    matcher,
    placements: Sequence[tuple[str, str]],
    *,
    by: str,
    referral_link: str | None = None,
) -> BatchOutcome:
    """Make the chosen (client, therapist) placements; each is its own capacity-safe
    transaction.

    Every pair is checked again here, and its score computed again, with the
    model in force: what the proposal page sent back is only a choice. A pair
    that can no longer be made (a hard constraint, or the place or the client
    taken meanwhile) is reported, not forced.
    """
    done, failed = [], []
    for client_id, therapist_id in placements:
        try:
            stored = store.intake(client_id)
            check_fit(matcher, stored.record, therapist_id)
            row = matcher.roster.row_of[therapist_id]
            score = float(score_matrix(matcher, [_with_id(stored)])[0, row])
            done.append(
                assign(
                    store,
                    client_id,
                    therapist_id,
                    by=by,
                    kind="batch",
                    score=score,
                    model_version=matcher.model_version,
                    referral_link=referral_link,
                )
            )
        except (PlacementError, NotFoundError) as error:
            failed.append((client_id, str(error)))
    return BatchOutcome(tuple(done), tuple(failed))
