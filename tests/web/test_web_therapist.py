"""The therapist's own area: referrals, clients, feedback, profile, invitations."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

from matcher.clinic import (
    accept_invitation,
    active_placement,
    assign,
    audit_entries,
    authenticate,
    invite_therapist,
    list_users,
    outbox_messages,
    therapist_profile,
    validate_contact,
    waiting_queue,
)
from matcher.clinic.contacts import add_contact
from matcher.schema import parse_intake

PASSWORD = "a-long-test-password"
INTAKE = {
    "concerns": "anxiety",
    "story": "I worry a lot before work.",
    "hopes": "HOPES-MARKER someone calm",
    "language": "english",
    "modality": "telehealth",
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SESSION_ANSWERS = {
    "session_heard": "8",
    "session_goals": "7",
    "session_approach": "9",
    "session_overall": "8",
}


def _token(client, path: str = "/intake") -> str:
    return _CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def _referral(store, therapist_id: str = "T2", name: str = "Robin") -> tuple[str, int]:
    client_id = store.add_intake(parse_intake(INTAKE)).client_id
    details = validate_contact(
        {"preferred_name": name, "phone": "555 123 4567", "method": "phone", "times": "mornings"}
    )
    with Session(store.engine) as session, session.begin():
        add_contact(session, client_id, details)
    return client_id, assign(store, client_id, therapist_id, by="maria").id


def _is_login_redirect(response) -> bool:
    return (
        response.status_code in (302, 303)
        and urlsplit(response.headers["Location"]).path == "/login"
    )


# --- referrals -------------------------------------------------------------------------------


def test_a_therapist_sees_accepts_and_declines_referrals(client, store, therapist, db_snapshot):
    first, first_placement = _referral(store, name="Robin")
    second, second_placement = _referral(store, name="Alex")
    other, _ = _referral(store, "T4", name="Kim")
    page = client.get("/therapist/").get_data(as_text=True)
    assert "Robin" in page and "Alex" in page and "Kim" not in page and other not in page
    assert "HOPES-MARKER" in page
    assert 'href="/coordinator/"' not in page and 'href="/admin/"' not in page
    assert 'href="/therapist/"' in page  # the nav's "My area"

    token = _token(client, "/therapist/")
    accepted = client.post(
        f"/therapist/referrals/{first_placement}/accept", data={"csrf_token": token}
    )
    assert accepted.status_code == 303
    assert active_placement(store, first).accepted_at is not None

    before = db_snapshot()
    blank = client.post(
        f"/therapist/referrals/{second_placement}/decline",
        data={"csrf_token": token, "reason": "   "},
    )
    assert blank.status_code == 400
    assert "Say why you cannot take this client" in blank.get_data(as_text=True)
    assert db_snapshot() == before

    declined = client.post(
        f"/therapist/referrals/{second_placement}/decline",
        data={"csrf_token": token, "reason": "I have no evening slots left"},
    )
    assert declined.status_code == 303
    assert active_placement(store, second) is None
    assert second in {item.client_id for item in waiting_queue(store)}
    assert store.capacities()["T2"] == 1  # one taken by the accepted client, one given back
    page = client.get("/therapist/").get_data(as_text=True)
    assert "back at the top of the queue" in page
    assert "No referrals are waiting for you" in page and "Robin" in page
    actions = [e.action for e in audit_entries(store) if e.actor == therapist.username]
    assert actions == ["decline_referral", "accept_referral"]


def test_another_therapists_referral_cannot_be_answered(client, store, therapist, db_snapshot):
    _, placement = _referral(store, "T4")
    token = _token(client, "/therapist/")
    before = db_snapshot()
    for action, data in (("accept", {}), ("decline", {"reason": "no"}), ("decline", {})):
        response = client.post(
            f"/therapist/referrals/{placement}/{action}", data={"csrf_token": token, **data}
        )
        assert response.status_code == 404
    assert (
        client.post("/therapist/referrals/9999/accept", data={"csrf_token": token}).status_code
        == 404
    )
    assert db_snapshot() == before


# --- one client ------------------------------------------------------------------------------


def test_a_therapist_sees_their_client_and_records_feedback(client, store, therapist):
    client_id, placement = _referral(store)
    page = client.get(f"/therapist/clients/{client_id}").get_data(as_text=True)
    assert "555 123 4567" in page and "HOPES-MARKER" in page
    assert "Record session feedback" not in page  # not before accepting
    token = _token(client, "/therapist/")
    client.post(f"/therapist/referrals/{placement}/accept", data={"csrf_token": token})
    page = client.get(f"/therapist/clients/{client_id}").get_data(as_text=True)
    assert "Record session feedback" in page and 'name="session_heard"' in page

    partial = client.post(
        f"/therapist/clients/{client_id}/feedback",
        data={"csrf_token": token, "session_heard": "8"},
    )
    assert partial.status_code == 400
    body = partial.get_data(as_text=True)
    assert "error-summary" in body and 'value="8" checked' in body.replace("\n", "")

    saved = client.post(
        f"/therapist/clients/{client_id}/feedback", data={"csrf_token": token, **SESSION_ANSWERS}
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Feedback for session 1 saved." in page
    (entry,) = audit_entries(store, action="enter_feedback")
    assert (entry.actor, entry.client_id, entry.therapist_id) == (
        therapist.username,
        client_id,
        "T2",
    )
    assert audit_entries(store, action="view_client")[0].actor == therapist.username


def test_another_therapists_client_is_a_404_like_an_unknown_one(client, store, therapist):
    other, _ = _referral(store, "T4")
    theirs = client.get(f"/therapist/clients/{other}")
    unknown = client.get("/therapist/clients/nobody")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.get_data(as_text=True) == unknown.get_data(as_text=True)
    token = _token(client, "/therapist/")
    posted = client.post(
        f"/therapist/clients/{other}/feedback", data={"csrf_token": token, **SESSION_ANSWERS}
    )
    assert posted.status_code == 404
    assert audit_entries(store, action="view_client") == []


# --- the profile -----------------------------------------------------------------------------


def _profile_form(client) -> dict:
    """The profile form as the browser would send it back unchanged."""
    page = client.get("/therapist/profile").get_data(as_text=True)
    form: dict = {"csrf_token": _CSRF.search(page).group(1)}
    for name, value in re.findall(r'<input type="text"[^>]*name="([^"]+)" value="([^"]*)"', page):
        form[name] = value.replace("&#39;", "'")
    form["approach"] = re.search(r'name="approach"[^>]*>([^<]*)</textarea>', page).group(1)
    for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"\s*checked', page):
        form.setdefault(name, [])
        if isinstance(form[name], list):
            form[name].append(value)
    return form


def test_a_therapist_edits_their_profile(client, store, therapist):
    page = client.get("/therapist/profile").get_data(as_text=True)
    assert "Sam Lindqvist" in page and "Who would you like to lead the sessions?" in page
    assert 'id="f-availability-tue_pm" name="availability" value="tue_pm" checked' in page
    form = _profile_form(client)
    form["fee"] = "95"
    form["languages"] = "english; swedish"
    form["age_groups"] = ["adults"]
    response = client.post("/therapist/profile", data=form)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your profile is updated; new suggestions use it from now on." in page
    profile = therapist_profile(store, "T2")
    assert profile["fee"] == 95.0 and profile["languages"] == ["english", "swedish"]
    assert profile["age_groups"] == ["adults"] and profile["approach"].startswith("You set the")
    assert profile["directive"] == -3.0 and profile["availability"] == ["tue_pm", "thu_pm"]
    (entry,) = audit_entries(store, action="edit_profile")
    assert entry.detail == {"fields": ["fee", "languages", "age_groups"]}


def test_profile_errors_show_beside_the_fields_and_keep_what_was_typed(
    client, store, therapist, db_snapshot
):
    form = {**_profile_form(client), "fee": "lots", "city": "", "approach": "KEPT-TEXT"}
    form["in_person"] = "yes"
    form.pop("age_groups", None)
    before = db_snapshot()
    response = client.post("/therapist/profile", data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="err-fee"' in page and 'id="err-city"' in page and 'id="err-age_groups"' in page
    assert 'value="lots"' in page and "KEPT-TEXT" in page
    assert 'href="#f-fee"' in page
    assert db_snapshot() == before


# --- who may come in -------------------------------------------------------------------------


def test_a_therapist_is_kept_out_of_staff_pages(client, therapist):
    for path in ("/coordinator/", "/admin/", "/coordinator/dashboard", "/admin/users"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "/therapist/" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_are_kept_out_of_the_therapist_area(client, login, role):
    login(role)
    assert client.get("/therapist/").status_code == 403
    assert client.get("/therapist/profile").status_code == 403


def test_anonymous_visitors_are_sent_to_login(client):
    for path in ("/therapist/", "/therapist/profile", "/therapist/clients/x"):
        assert _is_login_redirect(client.get(path)), path


# --- invitations -----------------------------------------------------------------------------


def test_an_admin_invites_and_the_therapist_sets_up_their_account(client, store, login):
    login("admin", "ada")
    token = _token(client, "/admin/users")
    response = client.post(
        "/admin/invitations",
        data={"csrf_token": token, "therapist_id": "T4", "email": "jo@example.org"},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    link = re.search(r'value="(http://localhost/therapist/join/[^"]+)"', page).group(1)
    (message,) = outbox_messages(store)
    assert message.to == "jo@example.org" and link in message.body
    assert link not in client.get("/admin/users").get_data(as_text=True)  # shown once
    client.post("/logout", data={"csrf_token": token})

    path = urlsplit(link).path
    page = client.get(path).get_data(as_text=True)
    assert "Jo Okafor" in page
    join_token = _token(client, path)
    mismatch = client.post(
        path,
        data={
            "csrf_token": join_token,
            "username": "jo",
            "password": PASSWORD,
            "password_again": "something else",
        },
    )
    assert mismatch.status_code == 400 and 'value="jo"' in mismatch.get_data(as_text=True)
    made = client.post(
        path,
        data={
            "csrf_token": join_token,
            "username": "jo",
            "email": "jo@example.org",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert _is_login_redirect(made)
    user = authenticate(store, "jo", PASSWORD)
    assert (user.role, user.therapist_id, user.email) == ("therapist", "T4", "jo@example.org")
    again = client.get(path)
    assert again.status_code == 404 and "already been used" in again.get_data(as_text=True)
    logged_in = client.post(
        "/login",
        data={"csrf_token": _token(client, "/login"), "username": "jo", "password": PASSWORD},
    )
    assert logged_in.headers["Location"] == "/therapist/"


def test_an_unknown_or_expired_link_says_so(client, store):
    response = client.get("/therapist/join/not-a-real-token")
    assert response.status_code == 404 and "not valid" in response.get_data(as_text=True)
    assert list_users(store) == []


def test_the_admin_cannot_invite_a_therapist_twice(client, store, login):
    login("admin", "ada")
    invite_therapist(store, "T2", by="ada")
    token = _token(client, "/admin/users")
    accept_invitation(store, invite_therapist(store, "T2", by="ada"), "sam", PASSWORD)
    response = client.post("/admin/invitations", data={"csrf_token": token, "therapist_id": "T2"})
    assert response.status_code == 400
    assert "already has an account" in response.get_data(as_text=True)
    unknown = client.post("/admin/invitations", data={"csrf_token": token, "therapist_id": "T9"})
    assert unknown.status_code == 400


def test_the_admin_creates_a_therapist_account_directly(client, store, login):
    login("admin", "ada")
    token = _token(client, "/admin/users")
    missing = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "sam", "role": "therapist", "password": PASSWORD},
    )
    assert missing.status_code == 400 and 'id="err-therapist_id"' in missing.get_data(as_text=True)
    made = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "sam",
            "role": "therapist",
            "therapist_id": "T2",
            "password": PASSWORD,
        },
    )
    assert made.status_code == 303
    assert authenticate(store, "sam", PASSWORD).therapist_id == "T2"
    coordinator = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "maria",
            "role": "coordinator",
            "therapist_id": "T2",  # ignored for a staff role
            "password": PASSWORD,
        },
    )
    assert coordinator.status_code == 303
    assert authenticate(store, "maria", PASSWORD).therapist_id is None
