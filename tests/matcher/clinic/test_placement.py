"""Placement under real caseload limits: one at a time, concurrently, and in batches."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from matcher import Matcher
from matcher.clinic.accounts import audit_entries
from matcher.clinic.batch import confirm_batch, greedy_batch, optimal_batch, propose_batch
from matcher.clinic.placement import (
    PlacementError,
    active_placement,
    assign,
    end_placement,
    request_rematch,
    waiting_queue,
)
from matcher.schema import parse_intake

INTAKE = {
    "concerns": "anxiety",
    "story": "I worry a lot.",
    "language": "english",
    "modality": "telehealth",
}


@pytest.fixture
def database_url(any_database_url):
    """Storage, import and placement run on SQLite and on PostgreSQL."""
    return any_database_url


def _waiting(store, n=1, **changes):
    return [store.add_intake(parse_intake({**INTAKE, **changes})).client_id for _ in range(n)]


def _capacity(store, therapist_id):
    return store.capacities()[therapist_id]


def test_assign_takes_a_place_and_is_audited(store):
    (client,) = _waiting(store)
    placement = assign(
        store, client, "T2", by="maria", rank_shown=1, score=0.7, model_version="prior"
    )
    assert placement.therapist_name == "Sam Lindqvist" and placement.status == "active"
    assert _capacity(store, "T2") == 1
    assert store.intake(client).status == "placed"
    assert active_placement(store, client).therapist_id == "T2"
    assert client not in {item.client_id for item in waiting_queue(store)}
    (entry,) = audit_entries(store, client_id=client)
    assert (entry.actor, entry.action, entry.therapist_id) == ("maria", "assign", "T2")


def test_a_full_therapist_is_refused_and_nothing_changes(store):
    (client,) = _waiting(store)
    with pytest.raises(PlacementError, match="no longer available"):
        assign(store, client, "T5", by="maria")  # T5 has no open places
    assert store.intake(client).status == "waiting"
    assert _capacity(store, "T5") == 0
    assert audit_entries(store, client_id=client) == []


def test_a_client_is_placed_once(store):
    (client,) = _waiting(store)
    assign(store, client, "T2", by="maria")
    with pytest.raises(PlacementError, match="not waiting"):
        assign(store, client, "T4", by="joe")
    assert _capacity(store, "T4") == 4  # the second attempt gave its place back


def test_override_needs_a_reason(store):
    (client,) = _waiting(store)
    with pytest.raises(PlacementError, match="say why"):
        assign(store, client, "T4", by="maria", kind="override", reason="  ")
    placement = assign(
        store, client, "T4", by="maria", kind="override", reason="client knows T1 socially"
    )
    assert placement.kind == "override" and placement.reason == "client knows T1 socially"
    assert audit_entries(store, client_id=client)[0].action == "override"


def test_rematch_frees_the_place_and_requeues(store):
    (client,) = _waiting(store)
    assign(store, client, "T2", by="maria")
    request_rematch(store, client, by="maria")
    assert _capacity(store, "T2") == 2
    assert store.intake(client).status == "waiting"
    assert active_placement(store, client) is None
    assign(store, client, "T4", by="maria")
    end_placement(store, client, by="maria", status="dropped_out")
    assert store.intake(client).status == "closed" and _capacity(store, "T4") == 4


def test_queue_puts_urgent_first_then_longest_waiting(store):
    first, second = _waiting(store, 2)
    urgent = store.add_intake(parse_intake({**INTAKE, "concerns": "grief"}), urgent=True)
    order = [item.client_id for item in waiting_queue(store)]
    assert order == [urgent.client_id, first, second]
    assert [i.client_id for i in waiting_queue(store, concern="grief")] == [urgent.client_id]
    assert waiting_queue(store, modality="in_person") == []


@pytest.mark.parametrize("places", [1, 3])
def test_concurrent_assignments_never_exceed_capacity(store, places):
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from matcher.clinic.tables import TherapistRow

    with Session(store.engine) as session, session.begin():
        session.execute(
            update(TherapistRow).where(TherapistRow.therapist_id == "T4").values(capacity=places)
        )
    clients = _waiting(store, 16)
    barrier = threading.Barrier(len(clients))
    results: list[str] = []

    def place(client):
        barrier.wait()
        try:
            assign(store, client, "T4", by="coordinator")
            results.append("ok")
        except PlacementError as error:
            results.append(str(error))

    threads = [threading.Thread(target=place, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == places
    refused = [r for r in results if r != "ok"]
    assert len(refused) == len(clients) - places
    assert all("no longer available" in r for r in refused)
    assert _capacity(store, "T4") == 0
    assert sum(store.intake(c).status == "placed" for c in clients) == places


def test_optimal_batch_respects_capacity_and_beats_greedy():
    # client 0 is first in the queue and greedily takes therapist 0, which client 1 needs more
    scores = np.array([[0.9, 0.8], [0.85, -np.inf]])
    capacities = np.array([1, 1])
    greedy, best = greedy_batch(scores, capacities), optimal_batch(scores, capacities)
    assert greedy.assignment.tolist() == [0, -1] and greedy.total_score == pytest.approx(0.9)
    assert best.assignment.tolist() == [1, 0] and best.total_score == pytest.approx(1.65)


@pytest.mark.parametrize("seed", range(5))
def test_optimal_batch_on_random_problems(seed):
    rng = np.random.default_rng(seed)
    scores = rng.random((30, 8))
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    capacities = rng.integers(0, 5, 8)
    best, greedy = optimal_batch(scores, capacities), greedy_batch(scores, capacities)
    placed = best.assignment[best.assignment >= 0]
    assert (np.bincount(placed, minlength=8) <= capacities).all()
    assert all(np.isfinite(scores[i, j]) for i, j in enumerate(best.assignment) if j >= 0)
    assert best.placed >= greedy.placed
    if best.placed == greedy.placed:
        assert best.total_score >= greedy.total_score - 1e-9


def test_spread_gives_new_therapists_a_share():
    scores = np.array([[0.80, 0.75], [0.80, 0.75], [0.80, 0.75]])
    capacities = np.array([3, 3])
    assert np.bincount(optimal_batch(scores, capacities).assignment, minlength=2)[1] == 0
    spread = optimal_batch(scores, capacities, spread=0.1).assignment
    assert np.bincount(spread, minlength=2).tolist() == [2, 1]


def test_propose_and_confirm_batch(store, fake_embedder):
    clients = _waiting(store, 5)
    matcher = Matcher.load("", embedder=fake_embedder, store=store)
    proposal = propose_batch(store, matcher)
    assert proposal.total_score >= proposal.greedy_total_score - 1e-9
    assert {p.client_id for p in proposal.placements} | set(proposal.unplaced) == set(clients)
    outcome = confirm_batch(
        store, matcher, [(p.client_id, p.therapist_id) for p in proposal.placements], by="maria"
    )
    assert len(outcome.placed) == len(proposal.placements) and not outcome.failed
    # what is recorded is scored again on the server, not taken from the proposal page
    proposed = {p.client_id: p.score for p in proposal.placements}
    for placed in outcome.placed:
        assert placed.kind == "batch" and placed.model_version == matcher.model_version
        assert placed.score == pytest.approx(proposed[placed.client_id], abs=1e-6)
    capacities = store.capacities()
    assert all(v >= 0 for v in capacities.values())
    # the running matcher sees the places that were taken
    taken = {p.therapist_id for p in outcome.placed}
    for therapist in taken:
        row = matcher.roster.row_of[therapist]
        assert matcher.roster.capacity[row] == capacities[therapist]
