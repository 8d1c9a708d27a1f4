"""The learning loop on the web: the API's ranking policy, the results page's near-tie
sentence, the dashboard's exploration figures, and the admin's "retrain now"."""

from __future__ import annotations

import re

import pytest

from matcher import Ranking
from matcher.clinic import Store
from matcher.schema import parse_intake, validate_frame
from matcher.simulation import simulate_world
from web.admin_data import RETRAINING

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
INTAKE = {"concerns": "grief", "language": "english", "modality": "telehealth"}


def _token(client, path: str) -> str:
    return _CSRF.search(client.get(path).get_data(as_text=True)).group(1)


@pytest.mark.parametrize("policy", ["random", 3, ["explore"], ""])
def test_api_rejects_an_unknown_policy_naming_the_field(client, policy):
    response = client.post("/api/v1/matches", json={**INTAKE, "policy": policy})
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert set(errors) == {"policy"} and "deterministic" in errors["policy"]


@pytest.mark.parametrize("policy", ["deterministic", "explore"])
def test_api_ranks_under_the_policy_asked_for(client, policy):
    response = client.post("/api/v1/matches", json={**INTAKE, "policy": policy, "k": 3})
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["policy"]["name"] == policy and len(data["suggestions"]) == 3
    assert "candidates" not in data  # the log is kept only with stored rankings


def _shown(store: Store, policy: dict, propensities: list[float]):
    """A stored intake shown T1, T2, T3 under ``policy``."""
    stored = store.add_intake(parse_intake({**INTAKE, "modality": "either"}))
    suggestions = [
        {"rank": r, "therapist_id": t, "name": t, "score": 0.6, "propensity": p}
        | {"style": [0.0] * 4}
        for r, (t, p) in enumerate(zip(["T1", "T2", "T3"], propensities, strict=True), start=1)
    ]
    style = {"client_style": [0.0] * 4, "client_style_source": ["none"] * 4}
    data = {"suggestions": suggestions, "eligible": 4, "policy": policy, **style}
    store.save_ranking(stored.client_id, Ranking.from_dict(data))
    return stored


def test_results_say_when_the_order_was_drawn_among_near_ties(client, store, login):
    drawn = _shown(
        store,
        {"name": "explore", "expected_loss": 0.004, "near_ties": ["T2", "T1"]},
        [0.5, 0.3, 0.3],
    )
    page = client.get(f"/matches/{drawn.token}").get_data(as_text=True)
    assert "The first two fit you about equally well" in page
    plain = _shown(store, {"name": "explore", "expected_loss": 0.0, "near_ties": []}, [1.0] * 3)
    page = client.get(f"/matches/{plain.token}").get_data(as_text=True)
    assert "about equally well" not in page
    # the coordinator reviewing the intake is told the same, in their words
    login("coordinator")
    page = client.get(f"/coordinator/clients/{drawn.client_id}").get_data(as_text=True)
    assert "The first 2 fit about equally well" in page and "not a ranking" in page
    page = client.get(f"/coordinator/clients/{plain.client_id}").get_data(as_text=True)
    assert "about equally well" not in page


def test_dashboard_shows_exploration_cost_and_coverage(client, store, login):
    _shown(store, {"name": "explore", "expected_loss": 0.004, "loss_bound": 0.01}, [0.5] * 3)
    _shown(store, {"name": "deterministic", "loss_bound": 0.01}, [1.0] * 3)
    login("coordinator")
    page = client.get("/coordinator/dashboard").get_data(as_text=True)
    assert "1 by the exploring policy, 1 with an order drawn among near-ties" in page
    assert "0.20% of the top score on average, 0.40% at most (bound 1.0%)" in page
    assert "0 of 6 therapists have been placed at least once" in page


def test_admin_retrains_in_the_background_and_shows_how_it_went(app, client, store, login):
    world = simulate_world(20, 300, seed=3)
    store.import_tables(
        therapists=validate_frame(world.therapists, "therapists"),
        intakes=validate_frame(world.intakes, "intakes"),
        outcomes=validate_frame(world.outcomes, "outcomes"),
    )
    login("admin")
    page = client.get("/admin/models").get_data(as_text=True)
    assert "Retrain now" in page
    token = _token(client, "/admin/models")

    job = app.extensions[RETRAINING]
    job.lock.acquire()  # one is running already: a second is refused
    response = client.post("/admin/models/retrain", data={"csrf_token": token})
    assert response.status_code == 303
    assert "already running" in client.get("/admin/models").get_data(as_text=True)
    job.lock.release()

    client.post("/admin/models/retrain", data={"csrf_token": token})
    job.thread.join(timeout=60)
    assert job.state == "done", job.message
    page = client.get("/admin/models").get_data(as_text=True)
    assert "Last retraining (finished" in page and re.search(r"Model \d{8}-", page)
    assert ("promoted to current" in page) or ("saved, not promoted" in page)
