"""The app factory, the matcher extension and the headers every response carries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from matcher import Matcher
from web import create_app
from web.extensions import current_matcher
from web.security import CONTENT_SECURITY_POLICY

REPO = Path(__file__).resolve().parents[2]


def test_defaults(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "MATCHER_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"TESTING": True})
    assert app.config["MODEL_DIR"] == str(REPO / "models")
    assert app.config["DATABASE_URL"] == f"sqlite:///{Path(app.instance_path) / 'matcher.db'}"
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert app.config["MATCHES_K"] == 5
    assert len(app.config["SECRET_KEY"]) >= 32
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert {"intake", "results", "api", "auth", "coordinator"} <= set(app.blueprints)


def test_environment_then_test_config(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the relative database file lands in the test's folder
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("MATCHER_MODEL_DIR", str(tmp_path / "env-models"))
    monkeypatch.setenv("FLASK_MATCHES_K", "3")
    app = create_app({"TESTING": True, "MATCHES_K": 7})
    assert app.config["DATABASE_URL"] == "sqlite:///from-env.db"
    assert app.config["MODEL_DIR"] == str(tmp_path / "env-models")
    assert app.config["MATCHES_K"] == 7
    assert create_app().config["MATCHES_K"] == 3


def test_matcher_loads_lazily_once_per_app(app, make_app):
    assert app.extensions["matcher"] is None  # nothing heavy at creation
    with app.app_context():
        first = current_matcher()
        assert isinstance(first, Matcher)
        assert current_matcher() is first
        assert first.store.url == app.config["DATABASE_URL"]
        assert first.embedder.name == "fake-bow"
    other = make_app(roster=False)
    with other.app_context():
        assert current_matcher() is not first


def test_matcher_is_not_loaded_to_show_the_form(app, client):
    client.get("/intake")
    assert app.extensions["matcher"] is None


@pytest.mark.parametrize("path", ["/intake", "/matches/unknown", "/api/v1/matches"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_security_headers_on_results_pages(submit, intake_form, client):
    response = client.get(submit(intake_form).headers["Location"])
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_session_cookie_is_httponly_and_samesite(client):
    client.get("/intake")
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only is True
    assert cookie.same_site == "Lax"


def test_static_css_is_served_and_cacheable(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert ':has(input[value="yes"]:checked) .crisis' in response.get_data(as_text=True)
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()


def test_unhandled_errors_use_the_envelope_under_api(make_app):
    app = make_app(TESTING=False)

    def boom():
        raise RuntimeError("kaboom")

    app.add_url_rule("/api/v1/boom", view_func=boom)
    app.add_url_rule("/boom", view_func=boom)
    client = app.test_client()
    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.get_json() == {
        "ok": False,
        "errors": {"_": "an internal error occurred; nothing was stored"},
    }
    page = client.get("/boom")
    assert page.status_code == 500
    assert "Something went wrong on our side" in page.get_data(as_text=True)
    assert "kaboom" not in page.get_data(as_text=True)


def test_creating_the_app_loads_no_model():
    code = (
        "import sys; from web import create_app; create_app({'TESTING': True}); "
        "print(sorted({'torch', 'sentence_transformers'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
