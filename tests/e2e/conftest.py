"""A real browser (Debian's Chromium, driven by Playwright) against the app served on loopback."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from matcher.clinic.store import Store
from matcher.schema import read_csv
from web import create_app, mail

CHROMIUM = os.environ.get("MATCHER_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists() or os.environ.get("MATCHER_REQUIRE_BROWSER"):
        return  # CI sets MATCHER_REQUIRE_BROWSER, so a missing browser fails there
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture
def serve_app(tmp_path, database_url, fake_embedder, fixtures_dir):
    """Start the app on a random loopback port with the fixture roster and any config
    overrides; returns (base_url, store). Servers stop when the test ends."""
    servers = []

    def serve(**overrides):
        store = Store(database_url)
        store.import_tables(therapists=read_csv(fixtures_dir / "therapists.csv", "therapists"))
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": database_url,
                "MODEL_DIR": str(tmp_path / "models"),
                "EMBEDDER": fake_embedder,
                "SECRET_KEY": "e2e-secret",
                **overrides,
            }
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}", store

    yield serve
    for server in servers:
        server.shutdown()
    # an app started with OUTBOX_SENDER leaves its sender thread polling the database:
    # stopped here, or it claims the messages of later tests on the same PostgreSQL
    mail.stop_senders()


@pytest.fixture
def live_app(serve_app):
    """The app on a random loopback port, with the fixture roster; (base_url, store)."""
    return serve_app()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def screenshot():
    """Save a named screenshot of the page to test-artifacts/."""

    def take(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def keep(path: Path, destination: Path) -> None:
    """Copy a screenshot into the docs (used to refresh README images)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, destination)
