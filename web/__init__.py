"""The web edge: a thin Flask layer over :mod:`matcher`.

Views parse and validate the request, call the library, then render or
redirect. Build the app with :func:`create_app`; nothing heavy happens at
import time (the model and roster load on the first request that needs them).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

#: The repository's ``models/`` folder, found from this package, not the working directory.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models"


#: A production secret must be at least this long (e.g. ``python -c "import secrets;
#: print(secrets.token_hex(32))"``).
MIN_SECRET_LENGTH = 32


def _production(app: Flask, generated_key: str) -> None:
    """Refuse to serve real clients without a real secret; cookies only over HTTPS."""
    secret = app.config["SECRET_KEY"]
    if secret == generated_key or len(str(secret)) < MIN_SECRET_LENGTH:
        raise RuntimeError(
            "refusing to start in production without a real secret: set SECRET_KEY to "
            f"{MIN_SECRET_LENGTH} or more random characters (see docs/operations.md)"
        )
    app.config.update(SESSION_COOKIE_SECURE=True, PRODUCTION=True)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``FLASK_*`` environment variables, then ``test_config``.

    Parameters
    ----------
    test_config : mapping, optional
        Overrides applied last. Besides Flask's keys it may carry ``EMBEDDER``
        (anything with ``name``, ``dimension`` and ``encode``) to use instead
        of the real sentence-transformers model.
    """
    app = Flask(__name__, instance_relative_config=True)
    generated_key = secrets.token_hex(32)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY") or generated_key,
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or f"sqlite:///{Path(app.instance_path) / 'matcher.db'}",
        MODEL_DIR=os.environ.get("MATCHER_MODEL_DIR") or str(DEFAULT_MODEL_DIR),
        MAX_CONTENT_LENGTH=1024 * 1024,
        MATCHES_K=5,
        EMBEDDER=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.from_mapping(test_config)
    if app.config.get("PRODUCTION") or os.environ.get("MATCHER_ENV") == "production":
        _production(app, generated_key)
    elif app.config["SECRET_KEY"] == generated_key and not app.testing:
        app.logger.warning(
            "SECRET_KEY is not set; using a random key for this process only "
            "(sessions and forms break across restarts and between workers)"
        )

    # Keep the rendered HTML tidy; templates use explicit whitespace control where it matters.
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    from . import (
        access_log,
        admin,
        admin_data,
        admin_outbox,
        api,
        auth,
        coordinator,
        dashboard,
        errors,
        extensions,
        feedback,
        intake,
        limits,
        mail,
        proxies,
        results,
        security,
        therapist,
    )

    app.config.setdefault("BODY_LIMITS", {"admin_data.import_roster": admin_data.MAX_ROSTER_BYTES})
    extensions.init_app(app)
    proxies.init_app(app)
    access_log.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    mail.init_app(app)
    app.register_blueprint(coordinator.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin_data.bp)
    app.register_blueprint(admin_outbox.bp)
    app.register_blueprint(intake.bp)
    app.register_blueprint(results.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(therapist.bp)
    limits.init_app(app)  # wraps views, so after every blueprint is registered
    return app
