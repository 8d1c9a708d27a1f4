"""The loaded :class:`matcher.Matcher`, one per app, created on first use.

It lives in ``app.extensions["matcher"]`` (never a module global) so that each
app, and each test's app, has its own model, roster arrays and database.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask, abort, current_app
from sqlalchemy.engine import make_url

from matcher import Matcher, NotFoundError
from matcher.clinic import Store, StoredIntake

EXTENSION = "matcher"
STORE = "matcher.store"
_LOCK = "matcher.lock"


def init_app(app: Flask) -> None:
    """Open the database; the matcher (model, roster arrays) loads lazily on first use.

    The store does not depend on the model, so a client's intake is stored
    even when the model cannot be loaded.
    """
    url = app.config["DATABASE_URL"]
    _ensure_sqlite_folder(url)
    # Production changes the schema only through `matcher db upgrade`, run as its own step.
    app.extensions[STORE] = Store(url, upgrade=not app.config.get("PRODUCTION"))
    app.extensions[EXTENSION] = None
    app.extensions[_LOCK] = threading.Lock()


def current_matcher() -> Matcher:
    """The app's matcher, loading the model and opening the database on first call."""
    app = current_app
    loaded = app.extensions.get(EXTENSION)
    if loaded is not None:
        return loaded
    with app.extensions[_LOCK]:
        loaded = app.extensions.get(EXTENSION)
        if loaded is None:
            loaded = _load(app)
            app.extensions[EXTENSION] = loaded
    return loaded


def current_store() -> Store:
    """The app's database (the one the matcher reads its roster from)."""
    return current_app.extensions[STORE]


def _load(app: Flask) -> Matcher:
    return Matcher.load(
        app.config["MODEL_DIR"],
        therapists=None,
        embedder=app.config.get("EMBEDDER"),
        store=app.extensions[STORE],
        strict=False,  # an unloadable model must not take the service down: the prior ranks
    )


def _ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder (the default lives in ``instance/``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def intake_or_404(client_id: str) -> StoredIntake:
    """The stored intake with this id, or a 404 page."""
    try:
        return current_store().intake(client_id)
    except NotFoundError:
        abort(404)


def intake_by_token_or_404(token: str) -> StoredIntake:
    """The stored intake behind a client's private link, or a 404 page (a wrong token
    looks the same as a deleted client)."""
    try:
        return current_store().intake_by_token(token)
    except NotFoundError:
        abort(404)
