"""The whole loop of a practice in Chromium: a client consents, gives contact details, reads
profiles and chooses a therapist; the coordinator sees the choice and places them; the
therapist logs in, sees the referral and accepts it; the emails arrive over SMTP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from matcher.clinic import placements_of
from matcher.clinic.accounts import create_user
from tests.smtp import SmtpServer

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
PASSWORD = "a-long-test-password"


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def keep_for_docs(screenshot, page, name: str) -> None:
    shot = screenshot(page, name)
    if os.environ.get("MATCHER_UPDATE_SCREENSHOTS"):
        from tests.e2e.conftest import keep

        keep(shot, DOCS_IMAGES / f"{name}.png")


def test_client_chooses_coordinator_places_therapist_accepts(serve_app, browser, smtp, screenshot):
    base, store = serve_app(SMTP_SETTINGS=smtp.settings(), OUTBOX_SENDER=True, OUTBOX_INTERVAL=0.2)
    create_user(store, "maria", PASSWORD, "coordinator", email="maria@clinic.example")
    create_user(store, "ana", PASSWORD, "therapist", therapist_id="T1", email="ana@clinic.example")

    # 1. The client: consent, contact details, profiles, a choice.
    client = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    client.goto(f"{base}/intake")
    client.check("#f-safety-no")
    client.check("#f-concerns-anxiety")
    client.fill("#f-story", "I worry about work and cannot sleep before meetings.")
    client.select_option("#f-language", "english")
    client.select_option("#f-region", "_other")
    client.fill("#f-region_other", "CA")
    client.select_option("#f-age_group", "adults")
    client.check("#f-modality-either")
    client.select_option("#f-city", "Springfield")
    client.fill("#f-preferred_name", "Alex")
    client.fill("#f-email", "alex@example.org")
    client.check("#f-contact_method-email")
    client.check("#f-consent")
    client.get_by_role("button", name="See my matches").click()
    client.wait_for_url("**/matches/**")
    results_url = client.url
    assert client.get_by_role("heading", name="About Dr. Ana Ruiz").is_visible()
    assert client.get_by_role("heading", name="What happens next").is_visible()
    keep_for_docs(screenshot, client, "client-decision")
    client.get_by_role("button", name="I'd like to start with Dr. Ana Ruiz").click()
    assert client.get_by_text("You would like to start with Dr. Ana Ruiz.").is_visible()

    # 2. The coordinator sees the choice in the queue and places the client in one step.
    coordinator = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    log_in(coordinator, base, "maria")
    coordinator.wait_for_url("**/coordinator/**")
    assert coordinator.get_by_text("Chose Dr. Ana Ruiz").is_visible()
    coordinator.locator("table a").first.click()
    assert coordinator.get_by_text("alex@example.org").first.is_visible()
    coordinator.get_by_role("button", name="Place with Dr. Ana Ruiz, as they chose").click()
    assert coordinator.get_by_text("Placed with Dr. Ana Ruiz").is_visible()

    # 3. The therapist logs in, sees the referral (and only what they need) and accepts it.
    therapist = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    log_in(therapist, base, "ana")
    therapist.wait_for_url("**/therapist/**")
    assert therapist.get_by_text("Alex").first.is_visible()
    keep_for_docs(screenshot, therapist, "therapist-area")
    therapist.get_by_role("button", name="Accept").first.click()
    response = therapist.goto(f"{base}/coordinator/")
    assert response.status == 403 and "for the practice's staff" in therapist.content()

    client.goto(results_url)
    assert client.get_by_role("heading", name="You have a therapist: Dr. Ana Ruiz").is_visible()
    (placement,) = placements_of(
        store, store.intake_by_token(results_url.rsplit("/", 1)[1]).client_id
    )
    assert placement.kind == "suggested" and placement.accepted_at is not None
    assert placement.reason == "the client's choice"

    # 4. The emails arrive: the client's confirmation with their link, the referral.
    emails = smtp.wait_for(2)
    by_recipient = {email["To"]: email for email in emails}
    assert results_url in by_recipient["alex@example.org"].get_payload(decode=True).decode()
    referral = by_recipient["ana@clinic.example"].get_payload(decode=True).decode()
    assert "Alex" not in referral and "worry" not in referral  # nothing the therapist's inbox leaks
