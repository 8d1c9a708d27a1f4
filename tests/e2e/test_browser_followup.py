"""Session feedback in Chromium: by keyboard alone, skippable, and never asked in a crisis."""

from __future__ import annotations

from matcher.clinic.accounts import create_user
from matcher.clinic.followup import feedback_of, record_feedback
from matcher.clinic.placement import assign
from matcher.schema import parse_intake

from .test_browser import tab_to

INTAKE = {"concerns": "anxiety", "language": "english", "modality": "telehealth"}


def _placed(store):
    stored = store.add_intake(parse_intake(INTAKE))
    assign(store, stored.client_id, "T2", by="maria")
    return stored


def test_feedback_by_keyboard_then_not_today_stores_nothing(live_app, page, screenshot):
    base, store = live_app
    stored = _placed(store)
    page.goto(f"{base}/matches/{stored.token}")
    page.get_by_role("link", name="After a session, tell us how it went").click()
    page.wait_for_url("**/feedback")
    for field in ("session_heard", "session_goals", "session_approach", "session_overall"):
        tab_to(page, f"#f-{field}-0")  # Tab enters each 0-10 group once
        page.keyboard.press("Space")
        for _ in range(8):
            page.keyboard.press("ArrowRight")  # arrows move along the scale
        assert page.locator(f"#f-{field}-8").is_checked()
    screenshot(page, "session-feedback")
    tab_to(page, "button[value=skip]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/matches/{stored.token}")
    assert page.get_by_text("No problem: nothing was saved").is_visible()
    assert feedback_of(store, stored.client_id) == []

    page.goto(f"{base}/matches/{stored.token}/feedback")
    page.locator("#f-wellbeing_personal-6").check()
    page.locator("#f-wellbeing_relationships-6").check()
    page.locator("#f-wellbeing_social-6").check()
    page.locator("#f-wellbeing_overall-7").check()
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"**/matches/{stored.token}")
    (feedback,) = feedback_of(store, stored.client_id)
    assert feedback.wellbeing_total == 25 and feedback.session is None


def test_the_wellbeing_baseline_is_not_shown_in_a_crisis(live_app, page):
    base, _ = live_app
    page.goto(f"{base}/intake")
    part = page.get_by_text("How you have been this past week (optional)")
    assert part.is_visible()
    page.locator("#f-safety-yes").check()
    assert not part.is_visible()  # CSS alone: the questionnaire gives way to crisis resources


def test_the_dashboard_shows_its_plots(live_app, page, screenshot):
    base, store = live_app
    stored = _placed(store)
    low = {"heard": 5, "goals": 5, "approach": 5, "overall": 5}
    record_feedback(store, stored.client_id, low, None)
    record_feedback(store, stored.client_id, low, None)
    create_user(store, "maria", "a-long-test-password", "coordinator")
    page.goto(f"{base}/coordinator/dashboard")
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/coordinator/dashboard")
    images = page.locator(".plot img")
    assert images.count() == 3  # no model yet: no calibration curve
    for i in range(3):  # each decoded and drawn (the CSP allows data: images)
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.get_by_text("prior scorer: no calibration curve").is_visible()
    screenshot(page, "dashboard")
    page.get_by_role("button", name=f"Re-match {stored.client_id}").click()
    page.wait_for_url(f"**/coordinator/clients/{stored.client_id}")
    assert store.intake(stored.client_id).status == "waiting"
