"""Administration: staff accounts, the audit log, and a client's data on request."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher import NotFoundError, Ranking
from matcher.clinic.accounts import audit, audit_entries, authenticate, create_user, list_users
from matcher.clinic.placement import assign
from matcher.clinic.tables import FeedbackRow, PlacementRow, RankingRow
from matcher.schema import parse_intake

PASSWORD = "a-long-test-password"
STORY = "I have panic attacks on the train to work."
NOTE = "My partner knows; my manager does not."
INTAKE = {
    "concerns": "anxiety",
    "story": STORY,
    "hopes": "practical tools",
    "language": "english",
    "modality": "telehealth",
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def admin(login):
    """The test client, logged in as an admin."""
    return login("admin")


def _token(client, path: str = "/admin/users") -> str:
    return _CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def _placed_client(store) -> str:
    """A client placed with T2 (an active placement), with one session's feedback."""
    stored = store.add_intake(parse_intake(INTAKE), support_note=NOTE)
    store.save_ranking(stored.client_id, Ranking.from_dict({"model_version": "prior"}))
    placement = assign(store, stored.client_id, "T2", by="maria")
    with Session(store.engine) as session, session.begin():
        session.add(
            FeedbackRow(
                placement_id=placement.id,
                client_id=stored.client_id,
                session_number=1,
                session={"heard": 8, "goals": 8, "approach": 8, "overall": 8},
            )
        )
    return stored.client_id


# --- staff accounts -------------------------------------------------------------------------------


def test_the_admin_link_is_shown_to_admins_only(client, store, login):
    login("coordinator", "maria")
    assert 'href="/admin/"' not in client.get("/coordinator/").get_data(as_text=True)
    login("admin", "ada")
    assert 'href="/admin/"' in client.get("/coordinator/").get_data(as_text=True)


def test_create_a_user_from_the_form(client, store, admin):
    response = client.post(
        "/admin/users",
        data={
            "csrf_token": _token(client),
            "username": "Sam",
            "role": "coordinator",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 303
    assert authenticate(store, "sam", PASSWORD).role == "coordinator"
    (entry,) = audit_entries(store, action="create_user")
    assert entry.actor == admin.username
    assert entry.detail == {"username": "sam", "role": "coordinator"}
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Created the coordinator account" in page and "sam" in page
    assert PASSWORD not in page


def test_a_bad_new_user_re_renders_every_error_at_once(client, store, admin):
    response = client.post(
        "/admin/users",
        data={"csrf_token": _token(client), "username": "x!", "role": "boss", "password": "short"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="err-username"' in page and 'id="err-role"' in page and 'id="err-password"' in page
    assert 'value="x!"' in page and "short" not in page.split("New account")[1].split("</form>")[0]
    assert [u.username for u in list_users(store)] == [admin.username]


def test_a_taken_username_is_refused(client, store, admin):
    response = client.post(
        "/admin/users",
        data={
            "csrf_token": _token(client),
            "username": admin.username,
            "role": "admin",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 400 and "already taken" in response.get_data(as_text=True)


def test_deactivate_and_reactivate_a_user(app, client, store, admin):
    create_user(store, "sam", PASSWORD, "coordinator")
    other = app.test_client()
    token = _CSRF.search(other.get("/login").get_data(as_text=True)).group(1)
    other.post("/login", data={"csrf_token": token, "username": "sam", "password": PASSWORD})
    assert other.get("/coordinator/").status_code == 200

    response = client.post(
        "/admin/users/sam/active", data={"csrf_token": _token(client), "active": "0"}
    )
    assert response.status_code == 303
    assert authenticate(store, "sam", PASSWORD) is None
    assert other.get("/coordinator/").status_code == 302  # their session stops at once
    assert "can no longer log in" in client.get("/admin/users").get_data(as_text=True)

    client.post("/admin/users/sam/active", data={"csrf_token": _token(client), "active": "1"})
    assert authenticate(store, "sam", PASSWORD) is not None
    actions = [
        (e.action, e.detail)
        for e in audit_entries(store, client_id=None)
        if e.action.endswith("activate_user")
    ]
    assert actions == [
        ("activate_user", {"username": "sam"}),
        ("deactivate_user", {"username": "sam"}),
    ]


def test_an_admin_cannot_deactivate_themself(client, store, admin):
    response = client.post(
        f"/admin/users/{admin.username}/active", data={"csrf_token": _token(client), "active": "0"}
    )
    assert response.status_code == 303
    assert [u.active for u in list_users(store)] == [True]
    assert "cannot deactivate your own account" in client.get("/admin/users").get_data(as_text=True)
    assert client.get("/admin/users").status_code == 200


@pytest.mark.parametrize(
    ("username", "active", "status"), [("sam", "maybe", 400), ("nobody", "0", 404)]
)
def test_activation_needs_a_real_user_and_a_clear_choice(
    client, store, admin, username, active, status
):
    create_user(store, "sam", PASSWORD, "coordinator")
    response = client.post(
        f"/admin/users/{username}/active", data={"csrf_token": _token(client), "active": active}
    )
    assert response.status_code == status
    assert all(u.active for u in list_users(store))


# --- the audit log --------------------------------------------------------------------------------


def test_the_audit_log_shows_who_viewed_and_who_placed(app, client, store, admin):
    stored = store.add_intake(parse_intake(INTAKE))
    coordinator = app.test_client()
    create_user(store, "maria", PASSWORD, "coordinator")
    token = _CSRF.search(coordinator.get("/login").get_data(as_text=True)).group(1)
    coordinator.post(
        "/login", data={"csrf_token": token, "username": "maria", "password": PASSWORD}
    )
    path = f"/coordinator/clients/{stored.client_id}"
    token = _CSRF.search(coordinator.get(path).get_data(as_text=True)).group(1)
    coordinator.post(f"{path}/assign", data={"csrf_token": token, "therapist_id": "T2"})

    page = client.get("/admin/audit", query_string={"client_id": stored.client_id}).get_data(
        as_text=True
    )
    rows = re.findall(r"<tr>\s*<td class=\"figure\">.*?</tr>", page, flags=re.S)
    assert len(rows) == 2
    assert "maria" in rows[0] and "assign" in rows[0] and "T2" in rows[0]  # newest first
    assert "maria" in rows[1] and "view intake" in rows[1]
    assert STORY not in page


def test_the_audit_log_filters_and_pages(client, store, admin):
    for i in range(60):
        audit(store, "maria", "view_intake", client_id=f"c{i % 2}")
    audit(store, "maria", "export_client", client_id="c0")

    first = client.get("/admin/audit").get_data(as_text=True)
    assert first.count('<td class="figure">') == 50 and "Older" in first and "Newer" not in first
    assert first.index("export client") < first.index("view intake")
    second = client.get("/admin/audit?page=2").get_data(as_text=True)
    assert second.count('<td class="figure">') == 11 and "Newer" in second and "Older" not in second

    only_c1 = client.get("/admin/audit?client_id=c1").get_data(as_text=True)
    assert only_c1.count('<td class="figure">') == 30 and ">c0<" not in only_c1
    exports = client.get("/admin/audit?action=export_client").get_data(as_text=True)
    assert exports.count('<td class="figure">') == 1


@pytest.mark.parametrize(
    "query",
    ["action=steal", "page=0", "page=-3", "page=99999999999999999999", "page=1e3", "page=nan"],
)
def test_the_audit_log_refuses_bad_filters(client, admin, query):
    assert client.get(f"/admin/audit?{query}").status_code == 400


# --- a client's data ------------------------------------------------------------------------------


def test_find_a_client(client, store, admin):
    client_id = store.add_intake(parse_intake(INTAKE)).client_id
    response = client.get("/admin/clients", query_string={"client_id": f" {client_id} "})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/clients/{client_id}"
    missing = client.get("/admin/clients?client_id=nobody")
    assert missing.status_code == 404 and "No client has the id" in missing.get_data(as_text=True)


def test_the_privacy_page_says_what_is_held_without_showing_it(client, store, admin):
    client_id = _placed_client(store)
    page = client.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert "Download everything (JSON)" in page and "Delete this client" in page
    assert "1 active" in page and "with a note on their support" in page
    assert STORY not in page and NOTE not in page


def test_download_everything_as_json_and_csv(client, store, admin):
    client_id = _placed_client(store)
    response = client.get(f"/admin/clients/{client_id}/export.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    assert data["intake"]["record"]["story"] == STORY and data["intake"]["support_note"] == NOTE
    assert [p["therapist_id"] for p in data["placements"]] == ["T2"]
    assert len(data["feedback"]) == 1 and len(data["rankings"]) == 1

    sheet = client.get(f"/admin/clients/{client_id}/export.csv")
    assert sheet.status_code == 200 and sheet.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(sheet.get_data(as_text=True))))
    assert ["intake", "", "support_note", NOTE] in rows

    entries = audit_entries(store, client_id=client_id, action="export_client")
    assert [(e.actor, e.detail["format"]) for e in entries] == [
        (admin.username, "csv"),
        (admin.username, "json"),
    ]


def test_delete_needs_the_client_id_typed_to_confirm(client, store, admin, db_snapshot):
    client_id = _placed_client(store)
    path = f"/admin/clients/{client_id}"
    token = _token(client, path)
    before = db_snapshot()
    for typed in ("", "yes", client_id.upper()):
        response = client.post(f"{path}/delete", data={"csrf_token": token, "confirm": typed})
        assert response.status_code == 400
        assert "Type the client id exactly" in response.get_data(as_text=True)
    assert db_snapshot() == before


def test_delete_erases_the_client_and_gives_the_place_back(client, store, admin):
    client_id = _placed_client(store)
    capacity = store.capacities()["T2"]
    path = f"/admin/clients/{client_id}"
    response = client.post(
        f"{path}/delete", data={"csrf_token": _token(client, path), "confirm": client_id}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert "Deleted everything held about client" in client.get("/admin/").get_data(as_text=True)

    with pytest.raises(NotFoundError):
        store.intake(client_id)
    with Session(store.engine) as session:
        for table in (FeedbackRow, PlacementRow, RankingRow):
            assert not session.scalars(select(table).where(table.client_id == client_id)).all()
    assert store.capacities()["T2"] == capacity + 1
    (entry,) = audit_entries(store, client_id=client_id, action="delete_client")
    assert entry.actor == admin.username
    assert STORY not in repr(entry) and NOTE not in repr(entry)

    assert client.get(path).status_code == 404
    assert client.get(f"{path}/export.json").status_code == 404
    token = _token(client)
    assert (
        client.post(f"{path}/delete", data={"csrf_token": token, "confirm": client_id}).status_code
        == 404
    )
