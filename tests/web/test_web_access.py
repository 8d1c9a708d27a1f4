"""Who may do what: a sweep over every protected route, CSRF on every form, login and logout.

The routes come from the app's URL map (every rule under ``/coordinator/``,
``/admin/`` and ``/therapist/``, every method), so a route added later is
checked without being listed here: for anonymous visitors, therapists,
coordinators and admins alike.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session
from werkzeug.routing.converters import NumberConverter

from matcher.clinic.accounts import audit_entries, create_user, set_active
from matcher.clinic.placement import assign
from matcher.clinic.tables import UserRow
from matcher.schema import parse_intake
from web import create_app

STAFF_PREFIXES = ("/coordinator/", "/admin/", "/therapist/", "/account/")
#: Routes under those prefixes that need no login, and why.
PUBLIC_ENDPOINTS = {
    "therapist.join": "the one-time invitation link is the key",
}
#: Who the sweep logs in as; an admin has every staff role, but not the therapist's.
ROLES = ("therapist", "coordinator", "admin")
PASSWORD = "a-long-test-password"
INTAKE = {
    "concerns": "anxiety",
    "story": "I worry before work.",
    "language": "english",
    "modality": "telehealth",
}
JSON = {"Accept": "application/json"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _prefixed_rules():
    """Every (endpoint, rule, method, required role) under the prefixes, from a throwaway app."""
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "sweep"})
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(STAFF_PREFIXES) or rule.rule.rstrip("/") in (
            "/coordinator",
            "/admin",
            "/therapist",
        ):
            role = getattr(app.view_functions[rule.endpoint], "required_role", None)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((rule.endpoint, rule.rule, method, role))
    return found


ALL_RULES = _prefixed_rules()


def _params(rules):
    return [
        pytest.param(endpoint, rule, method, id=f"{method} {rule}")
        for endpoint, rule, method, _ in rules
    ]


PROTECTED = [r for r in ALL_RULES if r[0] not in PUBLIC_ENDPOINTS]
RULES = _params(PROTECTED)
GETS = [p for p in RULES if p.values[2] == "GET"]
POSTS = [p for p in RULES if p.values[2] != "GET"]
_ROLE_OF = {(endpoint, rule, method): role for endpoint, rule, method, role in PROTECTED}


def _can(user_role: str, required: str) -> bool:
    """What ``User.can`` says, written out: the therapist role is its own; "any" is every
    logged-in account (their own account pages)."""
    if required == "any":
        return True
    if "therapist" in (user_role, required):
        return user_role == required
    return user_role == "admin" or required == "coordinator"


def _by_role(allowed: bool):
    return [
        pytest.param(role, endpoint, rule, method, id=f"{role} {method} {rule}")
        for role in ROLES
        for endpoint, rule, method, required in PROTECTED
        if _can(role, required) == allowed
    ]


@pytest.fixture
def targets(app, store):
    """Real objects for the URL parameters, so an unprotected route would act, not 404.

    Therapist routes get a client referred to T2 (placement 1, the id a number in a
    URL becomes); staff routes a client still waiting.
    """
    referred = store.add_intake(parse_intake(INTAKE)).client_id
    placement = assign(store, referred, "T2", by="maria")
    assert placement.id == 1
    client_id = store.add_intake(parse_intake(INTAKE)).client_id
    with Session(store.engine) as session, session.begin():
        session.add(UserRow(username="someone", password_hash="x", role="coordinator"))
    return {"client_id": client_id, "referred_client_id": referred, "username": "someone"}


def _url(app, endpoint: str, rule_text: str, method: str, targets: dict) -> str:
    (rule,) = [r for r in app.url_map.iter_rules(endpoint) if r.rule == rule_text]
    own = {"client_id": targets["referred_client_id"]} if endpoint.startswith("therapist.") else {}
    values = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)
        if isinstance(converter, NumberConverter):
            values[name] = 1
        else:
            values[name] = own.get(name, targets.get(name, "x"))
    return app.url_map.bind("localhost").build(endpoint, values, method=method)


@pytest.fixture
def log_in_as(login, therapist_login):
    """Log the test client in with one of :data:`ROLES` (the therapist is T2)."""

    def log_in(role: str):
        return therapist_login("T2") if role == "therapist" else login(role)

    return log_in


def _token(client, path: str = "/login") -> str:
    return _CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def _is_login_redirect(response) -> bool:
    return (
        response.status_code in (302, 303)
        and urlsplit(response.headers["Location"]).path == "/login"
    )


def _envelope(response, status: int) -> None:
    assert response.status_code == status
    body = response.get_json()
    assert body["ok"] is False and isinstance(body["errors"]["_"], str) and body["errors"]["_"]


# --- the sweep ----------------------------------------------------------------------------


def test_the_sweep_covers_the_protected_routes(app):
    endpoints = {endpoint for endpoint, *_ in PROTECTED}
    assert {
        "coordinator.queue",
        "coordinator.client",
        "coordinator.place",
        "admin.users",
        "admin.add_user",
        "admin.invite",
        "admin.audit_log",
        "admin.client",
        "admin.delete",
        "therapist.home",
        "therapist.accept",
        "therapist.decline",
        "therapist.client",
        "therapist.feedback",
        "therapist.profile",
    } <= endpoints
    for endpoint in endpoints:
        view = app.view_functions[endpoint]
        assert getattr(view, "required_role", None), f"{endpoint} is not behind login_required"
        if endpoint.startswith("admin."):
            assert view.required_role == "admin", endpoint
        if endpoint.startswith("therapist."):
            assert view.required_role == "therapist", endpoint
    assert ("auth.password", "/account/password", "POST", "any") in PROTECTED
    for role in ROLES:  # every role is refused something, and reaches something
        assert any(_can(role, required) for *_, required in PROTECTED)
        assert not all(_can(role, required) for *_, required in PROTECTED)


def test_only_the_listed_routes_need_no_login(app):
    public = {endpoint for endpoint, *_, role in ALL_RULES if role is None}
    assert public == set(PUBLIC_ENDPOINTS)


@pytest.mark.parametrize(("endpoint", "rule", "method"), GETS)
def test_anonymous_get_is_sent_to_login(app, client, targets, db_snapshot, endpoint, rule, method):
    url = _url(app, endpoint, rule, method, targets)
    before = db_snapshot()
    response = client.get(url)
    assert _is_login_redirect(response), response.status_code
    assert urlsplit(response.headers["Location"]).query.startswith("next=")
    json_response = client.get(url, headers=JSON)
    _envelope(json_response, 401)
    assert db_snapshot() == before


@pytest.mark.parametrize(("endpoint", "rule", "method"), POSTS)
def test_anonymous_post_is_refused_and_changes_nothing(
    app, client, targets, db_snapshot, endpoint, rule, method
):
    url = _url(app, endpoint, rule, method, targets)
    token = _token(client)
    before = db_snapshot()
    without_token = client.open(url, method=method, data={"therapist_id": "T2"})
    assert without_token.status_code == 400  # the CSRF check comes first
    data = {
        "csrf_token": token,
        "therapist_id": "T2",
        "confirm": targets["client_id"],
        "reason": "a reason",
    }
    with_token = client.open(url, method=method, data=data)
    assert _is_login_redirect(with_token), with_token.status_code
    as_json = client.open(
        url, method=method, headers=JSON, data={"csrf_token": token, "therapist_id": "T2"}
    )
    _envelope(as_json, 401)
    assert db_snapshot() == before


@pytest.mark.parametrize(("role", "endpoint", "rule", "method"), _by_role(allowed=False))
def test_every_role_is_forbidden_what_is_not_theirs(
    app, client, targets, log_in_as, db_snapshot, role, endpoint, rule, method
):
    log_in_as(role)
    url = _url(app, endpoint, rule, method, targets)
    token = _token(client, "/intake")
    before = db_snapshot()
    data = {
        "csrf_token": token,
        "confirm": targets["client_id"],
        "active": "0",
        "therapist_id": "T2",
        "reason": "a reason",
    }
    response = client.open(url, method=method, data=data)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    if role == "therapist":
        assert "Your own area is at /therapist/" in page
        assert 'href="/coordinator/"' not in page and 'href="/admin/"' not in page
    else:
        assert "does not have access" in page
    _envelope(client.open(url, method=method, data=data, headers=JSON), 403)
    assert db_snapshot() == before


@pytest.mark.parametrize(("role", "endpoint", "rule", "method"), _by_role(allowed=True))
def test_every_role_reaches_what_is_theirs(
    app, client, targets, log_in_as, role, endpoint, rule, method
):
    log_in_as(role)
    url = _url(app, endpoint, rule, method, targets)
    data = {"csrf_token": _token(client, "/intake")} if method != "GET" else None
    response = client.open(url, method=method, data=data)
    assert response.status_code not in (401, 403) and response.status_code < 500
    if method == "GET":
        assert response.status_code < 400  # a page, or a redirect to one (never a refusal)


@pytest.mark.parametrize(("endpoint", "rule", "method"), POSTS)
@pytest.mark.parametrize("sent", [None, "not-the-token"])
def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    app, client, targets, login, db_snapshot, endpoint, rule, method, sent
):
    login("admin")
    url = _url(app, endpoint, rule, method, targets)
    _token(client, "/intake")  # the session has a token; the form does not send it back
    before = db_snapshot()
    data = {
        "therapist_id": "T2",
        "confirm": targets["client_id"],
        "active": "0",
        "username": "newcomer",
        "password": PASSWORD,
        "role": "coordinator",
        "reason": "a reason",
    }
    if sent is not None:
        data["csrf_token"] = sent
    response = client.open(url, method=method, data=data)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert db_snapshot() == before


def test_the_invitation_page_needs_no_login_and_a_bad_link_changes_nothing(
    client, db_snapshot, targets
):
    before = db_snapshot()
    assert client.get("/therapist/join/not-a-token").status_code == 404
    data = {"csrf_token": _token(client), "username": "sam", "password": PASSWORD}
    assert client.post("/therapist/join/not-a-token", data=data).status_code == 404
    assert db_snapshot() == before


# --- logging in and out -------------------------------------------------------------------


def test_login_end_to_end_comes_back_to_the_page_asked_for(client, store):
    create_user(store, "maria", PASSWORD, "coordinator")
    first = client.get("/coordinator/batch")
    assert _is_login_redirect(first)
    login_page = first.headers["Location"]
    token = _token(client, login_page)
    response = client.post(
        login_page, data={"csrf_token": token, "username": "Maria", "password": PASSWORD}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/coordinator/batch"
    assert client.get("/coordinator/").status_code == 200
    assert [e.action for e in audit_entries(store)] == ["login"]


def test_a_wrong_password_is_refused_and_audited(client, store):
    create_user(store, "maria", PASSWORD, "coordinator")
    token = _token(client)
    attempts = (("Maria", "wrong-password!"), ("nobody", PASSWORD), ("my-secret-pw", ""))
    for username, password in attempts:
        response = client.post(
            "/login", data={"csrf_token": token, "username": username, "password": password}
        )
        assert response.status_code == 401
        assert "do not match an account" in response.get_data(as_text=True)
    entries = audit_entries(store)
    assert [(e.actor, e.action, e.detail) for e in entries] == [
        ("unknown", "login_failed", {"known_account": False}),  # a typed name is not kept...
        ("unknown", "login_failed", {"known_account": False}),  # ...it may be a password
        ("maria", "login_failed", {"known_account": True}),
    ]
    everything = repr(entries)
    assert not any(typed in everything for typed in (PASSWORD, "wrong-password", "secret"))
    assert _is_login_redirect(client.get("/coordinator/"))


def test_login_needs_its_csrf_token(client, store):
    create_user(store, "maria", PASSWORD, "coordinator")
    _token(client)
    response = client.post("/login", data={"username": "maria", "password": PASSWORD})
    assert response.status_code == 400
    assert _is_login_redirect(client.get("/coordinator/"))


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "coordinator/",
        "",
    ],
)
def test_login_never_redirects_off_site(client, store, target):
    create_user(store, "maria", PASSWORD, "coordinator")
    token = _token(client)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": token, "username": "maria", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/coordinator/"


@pytest.mark.parametrize("target", ["/coordinator/batch", "/admin/audit?client_id=c1&page=2"])
def test_login_redirects_to_a_same_site_next(client, store, target):
    create_user(store, "maria", PASSWORD, "admin")
    token = _token(client)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": token, "username": "maria", "password": PASSWORD},
    )
    assert response.status_code == 302 and response.headers["Location"] == target


def test_logging_in_starts_a_fresh_session(client, store):
    create_user(store, "maria", PASSWORD, "coordinator")
    before = _token(client)
    client.post("/login", data={"csrf_token": before, "username": "maria", "password": PASSWORD})
    assert _token(client, "/intake") != before  # no session fixation


def test_logout_is_a_post_with_csrf(client, store, coordinator):
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token: still logged in
    assert client.get("/coordinator/").status_code == 200
    token = _token(client, "/coordinator/")
    response = client.post("/logout", data={"csrf_token": token})
    assert _is_login_redirect(response)
    assert _is_login_redirect(client.get("/coordinator/"))
    assert audit_entries(store, action="logout")[0].actor == coordinator.username


def test_a_deactivated_accounts_session_stops_working(client, store, coordinator):
    assert client.get("/coordinator/").status_code == 200
    set_active(store, coordinator.username, False)
    assert _is_login_redirect(client.get("/coordinator/"))
    _envelope(client.get("/coordinator/", headers=JSON), 401)
    token = _token(client)
    response = client.post(
        "/login",
        data={
            "csrf_token": token,
            "username": coordinator.username,
            "password": "a-long-test-password",
        },
    )
    assert response.status_code == 401
    set_active(store, coordinator.username, True)
    assert _is_login_redirect(client.get("/coordinator/"))  # the old session is gone for good


def test_the_wrong_role_gets_a_403_page_not_a_login_loop(client, coordinator):
    response = client.get("/admin/")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Not allowed" in page and 'href="/admin/"' not in page  # no Admin link either


# --- the command line ---------------------------------------------------------------------


def test_create_user_command(app, store):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "Maria", "--role", "admin", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "created admin 'maria'" in result.output
    users = {u.username: u.role for u in _users(store)}
    assert users == {"maria": "admin"}
    (entry,) = audit_entries(store, action="create_user")
    assert entry.actor == "cli" and entry.detail == {"username": "maria"}

    again = runner.invoke(args=["create-user", "maria", "--password", PASSWORD])
    assert again.exit_code != 0 and "already taken" in again.output
    bad = runner.invoke(args=["create-user", "x", "--password", "short"])
    assert bad.exit_code != 0
    assert "username" in bad.output and "at least 10 characters" in bad.output
    from_env = runner.invoke(args=["create-user", "sam"], env={"MATCHER_NEW_PASSWORD": PASSWORD})
    assert from_env.exit_code == 0 and {u.username for u in _users(store)} == {"maria", "sam"}


def test_ensure_demo_user_prints_credentials_once(app, client, store):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["ensure-demo-user"])
    assert first.exit_code == 0, first.output
    passwords = dict(re.findall(r"username: (\w+)\s+password: (\S+)", first.output))
    assert set(passwords) == {"coordinator", "admin"}
    token = _token(client)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": "coordinator", "password": passwords["coordinator"]},
    )
    assert response.status_code == 302

    second = runner.invoke(args=["ensure-demo-user"])
    assert second.exit_code == 0 and "password" not in second.output
    assert not any(p in second.output for p in passwords.values())
    assert len(_users(store)) == 2


def _users(store):
    from matcher.clinic.accounts import list_users

    return list_users(store)
