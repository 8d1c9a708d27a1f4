"""A practice can run on it: consent and contact at intake, the client's decision page,
their choice in the coordinator's queue, and placing them with it in one step."""

from __future__ import annotations

import logging
import re

from matcher.clinic import contact_of, outbox_messages, placements_of, waiting_queue
from matcher.clinic.accounts import audit_entries, create_user
from matcher.ranking import text_key


def _text(response) -> str:
    return response.get_data(as_text=True)


def _form_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_consent_stores_the_contact_apart_and_queues_a_confirmation(
    submit, intake_form, token_of, store, caplog
):
    caplog.set_level(logging.DEBUG)
    response = submit(intake_form)
    token = token_of(response)
    stored = store.intake_by_token(token)
    contact = contact_of(store, stored.client_id)
    assert (contact.preferred_name, contact.email, contact.method) == (
        "Alex",
        "alex@example.org",
        "email",
    )
    assert stored.consented_at is not None
    # the intake record (what the model and the training data read) holds no contact detail
    assert "alex@example.org" not in repr(stored.record) and "Alex" not in repr(stored.record)
    (message,) = outbox_messages(store)
    assert message.kind == "intake_confirmation" and message.to == "alex@example.org"
    assert f"/matches/{token}" in message.body and "worry" not in message.body
    assert "alex@example.org" not in caplog.text and "Alex" not in caplog.text


def test_without_consent_suggestions_are_shown_and_nothing_is_kept(
    submit, intake_form, store, db_snapshot, client, fake_embedder
):
    before = db_snapshot()
    anonymous = {
        **intake_form,
        "consent": "",
        "preferred_name": "",
        "email": "",
        "contact_method": "",
        "contact_times": "",
    }
    response = submit(anonymous)
    page = _text(response)
    assert response.status_code == 200
    assert (
        "Nothing you told us was kept" in page
        and "Nobody from the practice will contact you" in page
    )
    assert "Dr. Ana Ruiz" in page and "% match" in page  # nobody is turned away
    assert "like to start with" not in page  # nothing stored, nothing to choose with
    after = db_snapshot()
    # The embedding cache gains the roster's and the style reader's vectors on first use;
    # nothing else changes, and none of the client's texts is cached.
    assert {t: rows for t, rows in after.items() if t != "embeddings"} == {
        t: rows for t, rows in before.items() if t != "embeddings"
    }
    for text in (intake_form["story"], intake_form["hopes"]):
        assert text_key(fake_embedder.name, text) not in store.embeddings


def test_contact_details_without_consent_are_refused_with_everything_kept(
    submit, intake_form, store, db_snapshot, client
):
    client.get("/intake")
    before = db_snapshot()
    response = submit({**intake_form, "consent": ""})
    page = _text(response)
    assert response.status_code == 400
    assert "tick the box to let us keep your details" in page.lower() or "Tick the box" in page
    assert 'value="alex@example.org"' in page  # what was typed is still there
    assert db_snapshot() == before


def test_consent_needs_a_way_to_reach_the_client(submit, intake_form, db_snapshot, client):
    client.get("/intake")
    before = db_snapshot()
    response = submit({**intake_form, "preferred_name": "", "email": "not-an-email"})
    page = _text(response)
    assert response.status_code == 400
    assert "What we should call you is required" in page
    assert "does not look like an email address" in page.lower()
    assert db_snapshot() == before


def test_the_results_page_is_a_decision_page(submit, intake_form, token_of, client):
    token = token_of(submit(intake_form))
    page = _text(client.get(f"/matches/{token}"))
    # a profile: the therapist's own words, fee, languages, where, the matching times
    assert "I bring a clear structure to each session" in page
    assert "Fee per session" in page and "$120" in page
    assert "Languages" in page and "English, Spanish" in page
    assert "Free at your times" in page and "Monday morning" in page
    assert "I'd like to start with Dr. Ana Ruiz" in page
    assert "Any of these is fine" in page and "None of these feels right" in page
    assert "What happens next" in page and "by email at alex@example.org" in page


def test_a_client_chooses_and_the_coordinator_places_them_in_one_step(
    submit, intake_form, token_of, client, store, login
):
    token = token_of(submit({**intake_form, "availability": [], "max_fee": ""}))
    stored = store.intake_by_token(token)
    ranking = store.latest_ranking(stored.client_id)
    second = ranking[1]
    page = _text(client.get(f"/matches/{token}"))
    response = client.post(
        f"/matches/{token}/choice",
        data={
            "csrf_token": _form_token(page),
            "choice": "therapist",
            "therapist_id": second.therapist_id,
        },
    )
    assert response.status_code == 303
    page = _text(client.get(f"/matches/{token}"))
    assert f"You would like to start with {second.name}" in page
    (item,) = [i for i in waiting_queue(store) if i.client_id == stored.client_id]
    assert (item.choice, item.chosen_therapist_id) == ("therapist", second.therapist_id)
    assert item.chosen_therapist_name == second.name

    login("coordinator")
    queue = _text(client.get("/coordinator/"))
    assert f"Chose {second.name}" in queue  # the name a coordinator knows, not the id
    client_page = _text(client.get(f"/coordinator/clients/{stored.client_id}"))
    assert "The client's choice" in client_page and "alex@example.org" in client_page
    response = client.post(
        f"/coordinator/clients/{stored.client_id}/assign",
        data={"csrf_token": _form_token(client_page), "therapist_id": second.therapist_id},
    )
    assert response.status_code == 303
    placement = store_placement(store, stored.client_id)
    assert placement.kind == "suggested" and placement.rank_shown == second.rank
    assert placement.reason == "the client's choice"
    assert audit_entries(store, client_id=stored.client_id, action="client_choice")


def test_a_choice_outside_the_suggestions_is_refused(submit, intake_form, token_of, client, store):
    token = token_of(submit(intake_form))
    stored = store.intake_by_token(token)
    shown = {s.therapist_id for s in store.latest_ranking(stored.client_id)}
    outsider = next(t for t in ("T1", "T2", "T3", "T4", "T5", "T6") if t not in shown)
    page = _text(client.get(f"/matches/{token}"))
    client.post(
        f"/matches/{token}/choice",
        data={"csrf_token": _form_token(page), "choice": "therapist", "therapist_id": outsider},
    )
    assert store.intake(stored.client_id).choice is None
    assert "one of the therapists suggested to you" in _text(client.get(f"/matches/{token}"))


def test_the_form_tampered_with_cannot_write_rank_score_or_model(
    submit, intake_form, token_of, client, store, login
):
    token = token_of(submit(intake_form))
    stored = store.intake_by_token(token)
    top = store.latest_ranking(stored.client_id)[0]
    login("coordinator")
    page = _text(client.get(f"/coordinator/clients/{stored.client_id}"))
    client.post(
        f"/coordinator/clients/{stored.client_id}/assign",
        data={
            "csrf_token": _form_token(page),
            "therapist_id": top.therapist_id,
            "rank": "1",
            "score": "0.99999",
            "model_version": "forged",
            "kind": "batch",
        },
    )
    placement = store_placement(store, stored.client_id)
    assert placement.score == top.score and placement.model_version != "forged"
    assert placement.kind == "suggested"


def test_an_urgent_intake_tells_coordinators_by_email(submit, intake_form, store):
    create_user(store, "maria", "a-long-test-password", "coordinator", email="maria@clinic.org")
    submit({**intake_form, "safety": "yes"})
    kinds = {m.kind: m for m in outbox_messages(store)}
    assert kinds["urgent_intake"].to == "maria@clinic.org"
    assert "worry" not in kinds["urgent_intake"].body  # nothing the client wrote


def store_placement(store, client_id):
    (placement,) = placements_of(store, client_id)
    return placement
