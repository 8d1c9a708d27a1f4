"""The coordinator's workspace: queue, one intake, placing, batch placement."""

from __future__ import annotations

import re

import pytest

from matcher import Matcher
from matcher.clinic.placement import waiting_queue
from matcher.schema import parse_intake

INTAKE = {
    "concerns": "anxiety",
    "story": "I worry before work.",
    "hopes": "practical tools",
    "language": "english",
    "modality": "telehealth",
}


def _csrf(client, path):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _waiting(store, **changes):
    return store.add_intake(
        parse_intake({**INTAKE, **changes}), urgent=changes.pop("urgent", False)
    )


def test_anonymous_is_sent_to_login(client):
    response = client.get("/coordinator/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_queue_lists_urgent_first_and_filters(client, store, coordinator):
    calm = _waiting(store)
    urgent = store.add_intake(parse_intake({**INTAKE, "concerns": "grief"}), urgent=True)
    page = client.get("/coordinator/").get_data(as_text=True)
    assert page.index(urgent.client_id) < page.index(calm.client_id)
    assert "Urgent" in page
    filtered = client.get("/coordinator/?concern=anxiety").get_data(as_text=True)
    assert calm.client_id in filtered and urgent.client_id not in filtered


def test_client_page_shows_suggestions_with_model_capacity_and_times(client, store, coordinator):
    stored = _waiting(store)
    page = client.get(f"/coordinator/clients/{stored.client_id}").get_data(as_text=True)
    assert "What they told us" in page and "I worry before work." in page
    assert "Model prior" in page and "open place" in page
    assert page.count("Assign ") >= 3
    assert "Assign someone else" in page
    from matcher.clinic.accounts import audit_entries

    assert audit_entries(store, client_id=stored.client_id)[0].action == "view_intake"


def test_assign_then_the_clients_page_shows_the_placement(client, store, coordinator):
    stored = _waiting(store)
    path = f"/coordinator/clients/{stored.client_id}"
    response = client.post(
        f"{path}/assign",
        data={
            "csrf_token": _csrf(client, path),
            "therapist_id": "T2",
            "rank": "1",
            "score": "0.7",
            "model_version": "prior",
        },
    )
    assert response.status_code == 303
    page = client.get(path).get_data(as_text=True)
    assert "Placed with Sam Lindqvist." in page
    assert store.capacities()["T2"] == 1
    results = client.get(f"/matches/{stored.token}").get_data(as_text=True)
    assert "You have a therapist: Sam Lindqvist" in results


def test_a_full_therapist_gets_a_clear_no(client, store, coordinator):
    stored = _waiting(store, modality="either", city="Springfield")  # T5 fits but is full
    path = f"/coordinator/clients/{stored.client_id}"
    client.post(
        f"{path}/assign",
        data={"csrf_token": _csrf(client, path), "therapist_id": "T5", "reason": "asked for"},
    )
    page = client.get(path).get_data(as_text=True)
    assert "Not placed:" in page and "no longer available" in page
    assert store.intake(stored.client_id).status == "waiting"


def test_a_therapist_who_breaks_a_hard_constraint_is_refused_with_the_reason(
    client, store, coordinator, db_snapshot
):
    stored = _waiting(store, language="french")  # T2 works in English only
    path = f"/coordinator/clients/{stored.client_id}"
    token = _csrf(client, path)
    before = db_snapshot()
    client.post(
        f"{path}/assign", data={"csrf_token": token, "therapist_id": "T2", "reason": "insisted"}
    )
    page = client.get(path).get_data(as_text=True)
    assert "Not placed: Sam Lindqvist cannot be placed with this client" in page
    assert "does not work in French" in page
    assert {k: v for k, v in db_snapshot().items() if k != "audit_log"} == {
        k: v for k, v in before.items() if k != "audit_log"
    }  # only the coordinator's view of the page is audited


def test_override_needs_a_reason_and_is_recorded(client, store, coordinator, fake_embedder):
    stored = _waiting(store)
    # the client was shown one suggestion; anyone else who fits is an override
    matcher = Matcher.load("", embedder=fake_embedder, store=store)
    (shown,) = matcher.rank(stored.record.with_client_id(stored.client_id), k=1)
    store.save_ranking(
        stored.client_id, matcher.rank(stored.record.with_client_id(stored.client_id), k=1)
    )
    other = next(
        t
        for t in matcher.eligible_therapists(stored.record)
        if t["therapist_id"] != shown.therapist_id
    )
    path = f"/coordinator/clients/{stored.client_id}"
    token = _csrf(client, path)
    client.post(f"{path}/assign", data={"csrf_token": token, "therapist_id": other["therapist_id"]})
    assert store.intake(stored.client_id).status == "waiting"
    assert "say why" in client.get(path).get_data(as_text=True)
    client.post(
        f"{path}/assign",
        data={
            "csrf_token": token,
            "therapist_id": other["therapist_id"],
            "reason": "asked by name",
        },
    )
    page = client.get(path).get_data(as_text=True)
    assert "override by coordinator-user" in page and "asked by name" in page


def test_rematch_puts_the_client_back_in_the_queue(client, store, coordinator):
    stored = _waiting(store)
    path = f"/coordinator/clients/{stored.client_id}"
    token = _csrf(client, path)
    client.post(f"{path}/assign", data={"csrf_token": token, "therapist_id": "T2"})
    client.post(f"{path}/rematch", data={"csrf_token": token})
    assert stored.client_id in {i.client_id for i in waiting_queue(store)}
    assert store.capacities()["T2"] == 2


@pytest.mark.parametrize("action", ["assign", "rematch", "end"])
def test_posts_without_csrf_change_nothing(client, store, coordinator, action):
    stored = _waiting(store)
    response = client.post(
        f"/coordinator/clients/{stored.client_id}/{action}", data={"therapist_id": "T2"}
    )
    assert response.status_code == 400
    assert store.intake(stored.client_id).status == "waiting"


def test_batch_proposal_compares_with_greedy_and_confirms(client, store, coordinator):
    clients = [_waiting(store).client_id for _ in range(4)]
    page = client.get("/coordinator/batch").get_data(as_text=True)
    assert "One by one in queue order" in page
    placements = re.findall(r'name="placement" value="([^"]+)"', page)
    assert placements
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/coordinator/batch",
        data={"csrf_token": token, "placement": placements, "model_version": "prior"},
    )
    assert response.status_code == 303
    placed = [c for c in clients if store.intake(c).status == "placed"]
    assert len(placed) == len(placements)
    assert all(v >= 0 for v in store.capacities().values())


@pytest.mark.parametrize("spread", ["nan", "inf", "-0.1", "0.5", "abc"])
def test_a_batch_spread_out_of_range_is_refused_not_ignored(client, coordinator, spread):
    response = client.get(f"/coordinator/batch?spread={spread}")
    assert response.status_code == 400
    assert "spread must be a number from 0 to 0.2" in response.get_data(as_text=True)
