"""End to end in Chromium: intake by keyboard, the safety screen, a coordinator's placement."""

from __future__ import annotations

import os
from pathlib import Path

from matcher.clinic.accounts import create_user
from matcher.schema import parse_intake

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def tab_to(page, selector: str, limit: int = 250) -> None:
    """Press Tab until ``selector`` has the keyboard focus (no mouse, no scripted focus)."""
    target = page.locator(selector)
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus by Tab")


def fill_minimal_intake_by_keyboard(page) -> None:
    """The required answers only, without consent: suggestions are shown, nothing is kept."""
    tab_to(page, "#f-concerns-anxiety")
    page.keyboard.press("Space")
    tab_to(page, "#f-region")
    page.keyboard.press("End")  # the list's last option: "Other (type it below)"
    tab_to(page, "#f-region_other")
    page.keyboard.type("CA")
    tab_to(page, "#f-age_group")
    page.keyboard.press("End")  # 65 or older
    assert page.locator("#f-age_group").input_value() == "older_adults"
    tab_to(page, "#f-modality-either")
    page.keyboard.press("ArrowDown")  # radio groups move with the arrow keys: telehealth
    assert page.locator("#f-modality-telehealth").is_checked()
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your matches").wait_for()


def test_client_completes_the_intake_by_keyboard_and_sees_matches(live_app, page, screenshot):
    base, _ = live_app
    page.goto(f"{base}/intake")
    tab_to(page, "#f-safety-no")
    page.keyboard.press("Space")
    fill_minimal_intake_by_keyboard(page)
    assert page.get_by_role("heading", name="Your matches").is_visible()
    assert page.locator(".match").count() >= 1
    assert page.locator(".match svg[role=img]").first.is_visible()
    screenshot(page, "client-results")


def test_safety_yes_shows_crisis_resources_at_once_and_on_results(live_app, page, screenshot):
    base, store = live_app
    page.goto(f"{base}/intake")
    crisis = page.get_by_text("Call or text 988").first
    assert not crisis.is_visible()
    tab_to(page, "#f-safety-no")  # Tab enters a radio group once; arrows choose within it
    page.keyboard.press("ArrowRight")
    assert page.locator("#f-safety-yes").is_checked()
    assert crisis.is_visible()  # shown by CSS the moment "yes" is chosen, no script
    screenshot(page, "safety-screen")
    fill_minimal_intake_by_keyboard(page)
    assert page.locator("#crisis-banner").is_visible()
    assert "988" in page.locator("#crisis-banner").inner_text()


def test_coordinator_logs_in_assigns_and_the_client_sees_it(live_app, page, screenshot):
    base, store = live_app
    intake = parse_intake(
        {
            "concerns": "anxiety;work_stress",
            "story": "I panic before meetings and lie awake going over what went wrong.",
            "hopes": "Someone practical who gives me tools and a plan.",
            "directive": 2,
            "challenge": 3,
            "language": "english",
            "modality": "either",
            "city": "Springfield",
            "availability": "mon_eve;wed_eve",
        }
    )
    stored = store.add_intake(intake, support_note="My partner knows I am looking for help.")
    client_page = f"{base}/matches/{stored.token}"
    create_user(store, "maria", "a-long-test-password", "coordinator")

    page.goto(f"{base}/coordinator/")
    page.wait_for_url("**/login**")
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/coordinator/**")
    page.locator("table a").first.click()
    assert page.get_by_role("heading", name="Suggestions").is_visible()
    shot = screenshot(page, "coordinator-intake")
    if os.environ.get("MATCHER_UPDATE_SCREENSHOTS"):
        from tests.e2e.conftest import keep

        keep(shot, DOCS_IMAGES / "coordinator-intake.png")
    first = page.locator("button:has-text('Assign ')").first
    chosen = first.inner_text().removeprefix("Assign ").strip()
    first.click()
    assert page.get_by_text(f"Placed with {chosen}.", exact=False).is_visible()

    page.goto(client_page)
    assert page.get_by_role("heading", name=f"You have a therapist: {chosen}").is_visible()
