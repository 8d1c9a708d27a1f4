"""The JSON API: stateless ranking, one envelope for every answer."""

from __future__ import annotations

import pytest

VALID = {
    "concerns": ["anxiety", "work_stress"],
    "story": "I worry constantly about work.",
    "directive": 3,
    "challenge": 3,
    "language": "english",
    "modality": "either",
    "city": "Springfield",
    "availability": ["mon_am", "mon_eve"],
    "insurance": "aetna",
    "max_fee": 130,
}


def test_ranks_an_intake_without_storing_it(client, store):
    response = client.post(
        "/api/v1/matches",
        json={"concerns": "grief", "language": "english", "modality": "telehealth", "k": 2},
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["ok"] is True
    data = body["data"]
    assert [s["rank"] for s in data["suggestions"]] == [1, 2]
    first = data["suggestions"][0]
    assert set(first) == {
        "rank",
        "therapist_id",
        "name",
        "score",
        "reasons",
        "style",
        "model_version",
    }
    assert 0.0 <= first["score"] <= 1.0 and first["reasons"]
    assert data["roster_size"] == 6
    assert len(data["client_style"]) == 4 and len(data["client_style_source"]) == 4
    assert store.counts()["intakes"] == 0


def test_default_k_and_near_misses(client):
    data = client.post("/api/v1/matches", json=VALID).get_json()["data"]
    assert data["eligible"] == 1
    assert [s["therapist_id"] for s in data["suggestions"]] == ["T1"]
    assert data["near_misses"] and data["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(
            {k: v for k, v in VALID.items() if k != "language"}, "language", id="missing-language"
        ),
        pytest.param({**VALID, "modality": "carrier-pigeon"}, "modality", id="bad-modality"),
        pytest.param({**VALID, "directive": 7}, "directive", id="style-7"),
        pytest.param({**VALID, "k": 0}, "k", id="k-0"),
        pytest.param({**VALID, "k": 21}, "k", id="k-21"),
        pytest.param({**VALID, "k": "5"}, "k", id="k-string"),
        pytest.param({**VALID, "k": True}, "k", id="k-bool"),
        pytest.param({**VALID, "k": 2.5}, "k", id="k-float"),
        pytest.param({**VALID, "availability": ["someday"]}, "availability", id="bad-slot"),
        pytest.param([VALID], "_", id="json-list"),
        pytest.param("anxiety", "_", id="json-string"),
    ],
)
def test_bad_input_names_the_field(client, store, body, field):
    response = client.post("/api/v1/matches", json=body)
    payload = response.get_json()
    assert response.status_code == 400
    assert payload["ok"] is False
    assert field in payload["errors"] and payload["errors"][field]
    assert store.counts()["intakes"] == 0


def test_every_bad_field_is_named_at_once(client):
    body = {**VALID, "language": "", "modality": "boat", "directive": 9, "k": 99}
    errors = client.post("/api/v1/matches", json=body).get_json()["errors"]
    assert set(errors) == {"language", "modality", "directive", "k"}


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (
            "language=english",
            "application/x-www-form-urlencoded",
            "expected a JSON object of intake fields (Content-Type: application/json)",
        ),
        (
            "{not json",
            "application/json",
            "the body is not valid JSON: Expecting property name enclosed in double quotes",
        ),
        (
            '{"language": "english"}',
            "text/plain",
            "expected a JSON object of intake fields (Content-Type: application/json)",
        ),
        ('["english"]', "application/json", "expected a JSON object of intake fields"),
    ],
)
def test_non_json_body_is_400(client, data, content_type, message):
    response = client.post("/api/v1/matches", data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json() == {"ok": False, "errors": {"_": message}}


def test_wrong_method_is_405_json(client):
    response = client.get("/api/v1/matches")
    assert response.status_code == 405
    assert response.get_json()["ok"] is False
    assert "POST" in response.headers["Allow"]


def test_unknown_endpoint_is_404_json(client):
    response = client.post("/api/v1/nothing-here", json={})
    assert response.status_code == 404
    assert response.get_json()["ok"] is False


def test_too_large_body_is_413_json(client):
    response = client.post(
        "/api/v1/matches", data=b"x" * (1024 * 1024 + 1), content_type="application/json"
    )
    assert response.status_code == 413
    assert response.get_json()["ok"] is False


def test_api_needs_no_csrf_token(client):
    assert client.post("/api/v1/matches", json=VALID).status_code == 200


def test_empty_roster_is_503_json(make_app):
    client = make_app(roster=False).test_client()
    response = client.post("/api/v1/matches", json=VALID)
    assert response.status_code == 503
    assert "roster is empty" in response.get_json()["errors"]["_"]
