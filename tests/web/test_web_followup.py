"""Session feedback on the web: the client's optional form, coordinator entry, intake baseline."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matcher.clinic.accounts import audit_entries
from matcher.clinic.followup import feedback_of
from matcher.clinic.placement import assign
from matcher.clinic.tables import FeedbackRow

from .conftest import read_csrf_token

SESSION_FIELDS = ("session_heard", "session_goals", "session_approach", "session_overall")
WELLBEING_FIELDS = (
    "wellbeing_personal",
    "wellbeing_relationships",
    "wellbeing_social",
    "wellbeing_overall",
)


def _count(store) -> int:
    with Session(store.engine) as db:
        return db.scalar(select(func.count()).select_from(FeedbackRow))


@pytest.fixture
def placed_token(submit, intake_form, token_of, store):
    """A client who filled in the intake and was placed with T2: their results token."""

    def make(baseline: dict | None = None) -> str:
        token = token_of(submit({**intake_form, **(baseline or {})}))
        assign(store, store.intake_by_token(token).client_id, "T2", by="maria")
        return token

    return make


def _answers(session=(9, 9, 9, 9), wellbeing=(6, 6, 6, 6)) -> dict:
    data = {}
    if session is not None:
        data.update({f: str(v) for f, v in zip(SESSION_FIELDS, session, strict=True)})
    if wellbeing is not None:
        data.update({f: str(v) for f, v in zip(WELLBEING_FIELDS, wellbeing, strict=True)})
    return data


def _post(client, url, data):
    return client.post(url, data={**data, "csrf_token": read_csrf_token(client)})


# --- the client's link ------------------------------------------------------------------------


def test_results_link_to_feedback_only_when_placed(client, submit, intake_form, token_of, store):
    token = token_of(submit(intake_form))
    assert f"/matches/{token}/feedback" not in client.get(f"/matches/{token}").get_data(True)
    assert client.get(f"/matches/{token}/feedback").status_code == 303  # nothing to rate yet
    assign(store, store.intake_by_token(token).client_id, "T2", by="maria")
    page = client.get(f"/matches/{token}").get_data(as_text=True)
    assert f'href="/matches/{token}/feedback"' in page
    assert "(optional)" in page


def test_the_form_is_accessible_and_optional(client, placed_token):
    token = placed_token()
    response = client.get(f"/matches/{token}/feedback")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<fieldset") == 2 + 8  # two parts, one group per question
    assert page.count("<legend") == 10
    assert page.count('type="radio"') == 8 * 11
    for name in (*SESSION_FIELDS, *WELLBEING_FIELDS):
        for n in (0, 10):
            assert f'<label for="f-{name}-{n}">' in page
    assert 'value="send">Send</button>' in page
    assert 'value="skip" formnovalidate>Not today</button>' in page
    assert " checked" not in page  # nothing pre-chosen: a skipped part is left untouched
    assert "988" in page  # people in crisis are pointed away from the form
    assert "<script" not in page and "style=" not in page


def test_skipping_feedback_stores_nothing(client, placed_token, store):
    token = placed_token()
    before = _count(store), store.counts()["outcomes"]
    response = _post(
        client, f"/matches/{token}/feedback", {**_answers(), "action": "skip"}
    )  # even with answers filled in
    assert response.status_code == 303
    assert response.headers["Location"] == f"/matches/{token}"
    assert (_count(store), store.counts()["outcomes"]) == before
    page = client.get(f"/matches/{token}").get_data(as_text=True)
    assert "No problem: nothing was saved" in page
    # nothing nags: the next visit has no prompt, only the same discreet link
    again = client.get(f"/matches/{token}").get_data(as_text=True)
    assert "nothing was saved" not in again
    assert again.count("/feedback") == 1


def test_sending_feedback_stores_it_and_its_outcome(client, placed_token, store):
    token = placed_token()
    response = _post(client, f"/matches/{token}/feedback", {**_answers(), "action": "send"})
    assert response.status_code == 303
    assert "Thank you" in client.get(f"/matches/{token}").get_data(as_text=True)
    client_id = store.intake_by_token(token).client_id
    (feedback,) = feedback_of(store, client_id)
    assert feedback.session_total == 36 and feedback.wellbeing_total == 24
    assert feedback.entered_by is None
    outcome = store.outcomes().iloc[0]
    assert (outcome["client_id"], outcome["alliance"]) == (client_id, 36.0)


def test_one_part_is_enough(client, placed_token, store):
    token = placed_token()
    response = _post(client, f"/matches/{token}/feedback", _answers(session=None))
    assert response.status_code == 303
    (feedback,) = feedback_of(store, store.intake_by_token(token).client_id)
    assert feedback.session is None and feedback.wellbeing_total == 24


def test_invalid_feedback_names_every_item_and_stores_nothing(client, placed_token, store):
    token = placed_token()
    data = {"session_heard": "7", "session_goals": "8", **_answers(session=None)}
    data["wellbeing_social"] = "11"
    response = _post(client, f"/matches/{token}/feedback", data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "3 answers need a second look" in page
    for question in (
        "The way my therapist works suits me",
        "Overall, the session was right for me",
        "At work, school or socially",
    ):
        assert f"“{question}”" in page
    assert 'href="#f-session_approach-0"' in page
    assert "expected a whole number from 0 to 10, got &#39;11&#39;" in page
    assert 'value="8" checked' in page  # what was chosen is kept
    assert _count(store) == 0


def test_an_empty_form_asks_for_one_part(client, placed_token, store):
    token = placed_token()
    response = _post(client, f"/matches/{token}/feedback", {"action": "send"})
    assert response.status_code == 400
    assert "at least one of the two parts" in response.get_data(as_text=True)
    assert _count(store) == 0


def test_feedback_needs_the_token_and_csrf(client, placed_token, store):
    token = placed_token()
    assert client.get("/matches/not-a-token/feedback").status_code == 404
    assert client.post(f"/matches/{token}/feedback", data=_answers()).status_code == 400
    assert _count(store) == 0


def test_no_feedback_without_a_current_therapist(client, submit, intake_form, token_of, store):
    token = token_of(submit(intake_form))
    response = _post(client, f"/matches/{token}/feedback", _answers())
    assert response.status_code == 303
    assert "not saved" in client.get(f"/matches/{token}").get_data(as_text=True)
    assert _count(store) == 0


# --- the coordinator ----------------------------------------------------------------------------


def test_anonymous_coordinator_feedback_redirects_to_login(client, placed_token, store):
    client_id = store.intake_by_token(placed_token()).client_id
    response = client.get(f"/coordinator/clients/{client_id}/feedback")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/login")


def test_the_coordinator_can_enter_feedback(client, coordinator, placed_token, store):
    client_id = store.intake_by_token(placed_token()).client_id
    page = client.get(f"/coordinator/clients/{client_id}").get_data(as_text=True)
    assert f'href="/coordinator/clients/{client_id}/feedback"' in page
    url = f"/coordinator/clients/{client_id}/feedback"
    form = client.get(url)
    assert form.status_code == 200 and "No feedback on this placement yet" in form.get_data(True)
    response = _post(client, url, _answers(session=(8, 8, 8, 8), wellbeing=None))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/coordinator/clients/{client_id}"
    (feedback,) = feedback_of(store, client_id)
    assert (feedback.entered_by, feedback.session_total) == (coordinator.username, 32)
    (entry,) = audit_entries(store, client_id=client_id, action="enter_feedback")
    assert entry.actor == coordinator.username and entry.detail == {"session_number": 1}
    _post(client, url, _answers(session=(8, 8, 8, 8), wellbeing=None))
    page = client.get(url).get_data(as_text=True)
    assert "Not on track" in page and "Session rating low" in page
    assert "<td>" + coordinator.username + "</td>" in page


def test_coordinator_entry_errors_and_no_placement(client, coordinator, placed_token, store):
    client_id = store.intake_by_token(placed_token()).client_id
    url = f"/coordinator/clients/{client_id}/feedback"
    response = _post(client, url, {"session_heard": "5"})
    assert response.status_code == 400
    assert response.get_data(as_text=True).count('class="field-error"') == 3
    assert _count(store) == 0
    assert client.get("/coordinator/clients/nobody/feedback").status_code == 404
    _post(client, f"/coordinator/clients/{client_id}/end", {"status": "dropped_out"})
    assert client.get(url).status_code == 303  # no active placement any more


def test_a_coordinator_drop_out_becomes_an_outcome(client, coordinator, placed_token, store):
    client_id = store.intake_by_token(placed_token()).client_id
    _post(client, f"/coordinator/clients/{client_id}/end", {"status": "dropped_out"})
    outcome = store.outcomes().iloc[0]
    assert outcome["client_id"] == client_id and bool(outcome["dropped_out"]) is True


# --- the optional baseline at intake -------------------------------------------------------------


def test_intake_asks_wellbeing_optionally(client):
    page = client.get("/intake").get_data(as_text=True)
    assert "How you have been this past week (optional)" in page
    for name in WELLBEING_FIELDS:
        assert re.search(rf'id="f-{name}-none" name="{name}" value=""\s*checked', page)


def test_intake_stores_the_baseline(submit, intake_form, token_of, store):
    token = token_of(submit({**intake_form, **_answers(session=None, wellbeing=(3, 4, 5, 6))}))
    assert store.intake_by_token(token).wellbeing == {
        "personal": 3,
        "relationships": 4,
        "social": 5,
        "overall": 6,
    }


def test_intake_baseline_is_skippable_and_not_asked_in_crisis(submit, intake_form, token_of, store):
    assert store.intake_by_token(token_of(submit(intake_form))).wellbeing is None
    crisis = {**intake_form, "safety": "yes", "wellbeing_personal": "2"}
    stored = store.intake_by_token(token_of(submit(crisis)))
    assert stored.urgent and stored.wellbeing is None


def test_a_partial_intake_baseline_is_named(submit, intake_form, store):
    response = submit({**intake_form, "wellbeing_personal": "4", "wellbeing_social": "12"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "How you have been (in your close relationships" in page
    assert "How you have been (at work, school or socially): Expected a whole number" in page
    assert 'href="#f-wellbeing_overall-none"' in page
    assert store.counts()["intakes"] == 0
