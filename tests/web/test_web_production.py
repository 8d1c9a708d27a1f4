"""Production mode refuses to start without a real secret and marks cookies secure."""

import pytest

from matcher import MatcherError
from matcher.cli import main as matcher_main
from web import create_app


def test_production_without_a_secret_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    monkeypatch.setenv("MATCHER_ENV", "production")
    with pytest.raises(RuntimeError, match="refusing to start in production"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})
    with pytest.raises(RuntimeError, match="refusing to start in production"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "SECRET_KEY": "short"})


def test_production_with_a_secret_sets_secure_cookies(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert matcher_main(["--database-url", url, "db", "upgrade"]) == 0
    monkeypatch.setenv("MATCHER_ENV", "production")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x" * 40})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_production_refuses_a_schema_that_was_not_upgraded(monkeypatch, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    monkeypatch.setenv("MATCHER_ENV", "production")
    with pytest.raises(MatcherError, match="run `matcher db upgrade` first"):
        create_app({"DATABASE_URL": url, "SECRET_KEY": "x" * 40})
    assert matcher_main(["--database-url", url, "db", "upgrade"]) == 0
    assert "upgraded the database schema from empty to" in capsys.readouterr().out
    assert matcher_main(["--database-url", url, "db", "upgrade"]) == 0
    assert "is current" in capsys.readouterr().out
    create_app({"DATABASE_URL": url, "SECRET_KEY": "x" * 40})  # starts once upgraded


def test_production_sends_hsts_and_development_does_not(make_app, monkeypatch):
    production = make_app(PRODUCTION=True, SECRET_KEY="s" * 40).test_client()
    assert (
        production.get("/intake")
        .headers["Strict-Transport-Security"]
        .startswith("max-age=31536000")
    )
    assert "Strict-Transport-Security" not in make_app().test_client().get("/intake").headers
