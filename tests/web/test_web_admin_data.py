"""Admins import the roster and manage model versions from the browser."""

from __future__ import annotations

import io
import re

import pytest

from matcher.clinic.accounts import create_user
from matcher.learning import registry
from matcher.simulation import simulate_world
from tests.sessions import sign_in


def _csrf(client, path):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_roster_import_adds_and_replaces(client, store, login, fixtures_dir):
    login("admin")
    text = (
        (fixtures_dir / "therapists.csv").read_text().replace("Dr. Ana Ruiz", "Dr. Ana Ruiz-Vega")
    )
    response = client.post(
        "/admin/roster",
        data={
            "csrf_token": _csrf(client, "/admin/roster"),
            "therapists": (io.BytesIO(text.encode()), "therapists.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert store.therapists().set_index("therapist_id").loc["T1", "name"] == "Dr. Ana Ruiz-Vega"
    assert "Imported 6 therapists" in client.get("/admin/roster").get_data(as_text=True)


def test_a_bad_roster_is_rejected_whole_with_row_and_column(client, store, login, fixtures_dir):
    login("admin")
    before = store.therapists()
    text = (fixtures_dir / "therapists.csv").read_text()
    text = text.replace("Dr. Ana Ruiz", "Dr. Ana New").replace("200,no,0", "200,no,many")
    response = client.post(
        "/admin/roster",
        data={
            "csrf_token": _csrf(client, "/admin/roster"),
            "therapists": (io.BytesIO(text.encode()), "therapists.csv"),
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "row 6, column &#39;capacity&#39;" in page or "row 6, column 'capacity'" in page
    assert store.therapists().equals(before)


def test_coordinators_cannot_import(client, login):
    login("coordinator")
    assert client.get("/admin/roster").status_code == 403


@pytest.fixture
def two_versions(app, fake_embedder, tmp_path):
    import train as train_script

    world = tmp_path / "world"
    simulate_world(30, 400, seed=2).write_csv(world)
    argv = [f"--{kind}={world / f'{kind}.csv'}" for kind in ("therapists", "intakes", "outcomes")]
    model_dir = app.config["MODEL_DIR"]
    for extra in ([], ["--force"]):
        assert (
            train_script.main([*argv, "--model-dir", model_dir, *extra], embedder=fake_embedder)
            == 0
        )
    return model_dir


def test_admin_sees_models_and_rolls_back_and_promotes(client, login, two_versions):
    login("admin")
    first, second = sorted(registry.read_registry(two_versions)["versions"])
    page = client.get("/admin/models").get_data(as_text=True)
    assert first in page and second in page and "current" in page
    token = _csrf(client, "/admin/models")
    client.post("/admin/models/rollback", data={"csrf_token": token})
    assert registry.read_registry(two_versions)["current"] == first
    client.post("/admin/models/promote", data={"csrf_token": token, "version": second})
    assert registry.read_registry(two_versions)["current"] == second
    response = client.post("/admin/models/promote", data={"csrf_token": token, "version": "x"})
    assert "Nothing changed" in client.get(response.headers["Location"]).get_data(as_text=True)


def _padded_roster(fixtures_dir, size: int) -> bytes:
    """The fixture roster with a long extra column, about ``size`` bytes in all."""
    lines = (fixtures_dir / "therapists.csv").read_text().splitlines()
    pad = "x" * (size // (len(lines) - 1))
    padded = [lines[0] + ",padding"] + [f"{line},{pad}" for line in lines[1:]]
    return ("\n".join(padded) + "\n").encode()


def test_a_roster_over_the_app_wide_limit_is_accepted_up_to_its_own(make_app, store, fixtures_dir):
    """The roster's limit applies before the form (and its CSRF token) is read."""
    app = make_app(BODY_LIMITS={"admin_data.import_roster": 3 * 2**20})
    client = app.test_client()
    sign_in(client, create_user(store, "ada", "a-long-test-password", "admin"))
    token = _csrf(client, "/admin/roster")
    body = _padded_roster(fixtures_dir, int(1.05 * 2**20))  # over the app's 1 MB
    response = client.post(
        "/admin/roster",
        data={"csrf_token": token, "therapists": (io.BytesIO(body), "therapists.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303

    too_big = _padded_roster(fixtures_dir, int(3.2 * 2**20))
    response = client.post(
        "/admin/roster",
        data={"csrf_token": token, "therapists": (io.BytesIO(too_big), "therapists.csv")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "larger than the 3 MB an upload here may be" in page and "Nothing was imported" in page
