"""Production mode refuses to start without a real secret and marks cookies secure."""

import pytest

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
    monkeypatch.setenv("MATCHER_ENV", "production")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "SECRET_KEY": "x" * 40})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
