"""The coordinator's dashboard: four plots with text alternatives, and the not-on-track list."""

from __future__ import annotations

import base64
import html
import json
import re

import pytest

from matcher.clinic.followup import record_feedback
from matcher.clinic.placement import assign
from matcher.schema import parse_intake

from .conftest import read_csrf_token

INTAKE = {"concerns": "anxiety", "language": "english", "modality": "telehealth"}
_IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)">')
LOW = {"heard": 5, "goals": 5, "approach": 5, "overall": 5}


@pytest.fixture
def model_card(tmp_path):
    """A current model in the app's model folder whose card has a calibration curve."""
    folder = tmp_path / "models"
    (folder / "v1").mkdir(parents=True)
    curve = [
        {"predicted": 0.2, "observed": 0.25, "count": 40},
        {"predicted": 0.7, "observed": 0.65, "count": 60},
    ]
    card = {"calibration_curve": curve, "metrics": {"model": {"ece": 0.04}}}
    (folder / "v1" / "card.json").write_text(json.dumps(card))
    (folder / "registry.json").write_text(
        json.dumps({"current": "v1", "versions": {"v1": {"sha256": "x"}}})
    )
    return folder


def _not_on_track(store) -> str:
    client = store.add_intake(parse_intake(INTAKE)).client_id
    assign(store, client, "T2", by="maria")
    record_feedback(store, client, LOW, None)
    record_feedback(store, client, LOW, None)
    return client


def test_anonymous_dashboard_redirects_to_login(client):
    response = client.get("/coordinator/dashboard")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/login")


def test_the_staff_nav_links_the_dashboard(client, coordinator):
    assert 'href="/coordinator/dashboard">Dashboard</a>' in client.get("/coordinator/").get_data(
        as_text=True
    )


def test_four_plots_with_text_alternatives(client, coordinator, store, model_card):
    _not_on_track(store)
    store.add_intake(parse_intake(INTAKE))  # someone waiting
    response = client.get("/coordinator/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    images = _IMAGE.findall(page)
    assert len(images) == 4
    for data, _ in images:
        assert base64.b64decode(data).startswith(b"\x89PNG")
    alts = [html.unescape(alt) for _, alt in images]
    assert alts[0].startswith("Caseload against capacity: 6 therapists: 1 client in active")
    assert alts[1].startswith("Waiting time: 1 client waiting: median 0.0 days")
    assert "2 placements" not in alts[2] and re.search(r"\d{4}-\d{2}: 0% of 1\.", alts[2])
    assert alts[3] == (
        "Current model's calibration: Model v1: predicted against observed rates in 2 bins "
        "from 0.20 to 0.70, expected calibration error 0.040."
    )
    # the numbers behind each plot, as tables
    assert page.count("<summary>The numbers</summary>") == 4
    assert "<td>Sam Lindqvist (T2)</td>" in page
    # nothing the Content-Security-Policy would block
    assert "<style" not in page and "style=" not in page and "<script" not in page


def test_without_a_model_the_calibration_says_so(client, coordinator):
    page = client.get("/coordinator/dashboard").get_data(as_text=True)
    assert "prior scorer: no calibration curve" in page
    assert len(_IMAGE.findall(page)) == 3
    assert "Nobody is waiting." in page
    assert "Every active placement is on track." in page


def test_not_on_track_offers_a_rematch(client, coordinator, store):
    client_id = _not_on_track(store)
    page = client.get("/coordinator/dashboard").get_data(as_text=True)
    assert f'href="/coordinator/clients/{client_id}"' in page
    assert "Session rating low (under 36 of 40) in 2 of the last 2 sessions rated" in page
    action = f'action="/coordinator/clients/{client_id}/rematch"'
    form = page[page.index(action) :]
    assert form.index('name="csrf_token"') < form.index("</form>")
    response = client.post(
        f"/coordinator/clients/{client_id}/rematch",
        data={"csrf_token": read_csrf_token(client)},
    )
    assert response.status_code in (302, 303)
    assert store.intake(client_id).status == "waiting"
    assert "Every active placement is on track." in client.get("/coordinator/dashboard").get_data(
        as_text=True
    )
