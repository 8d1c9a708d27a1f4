"""Rate limits answer 429 with a clear message and Retry-After; nothing else changes."""

from web.limits import SlidingWindow


def test_sliding_window_counts_per_key_and_forgets_old_events():
    window = SlidingWindow()
    assert [window.hit(("a",), 2, 10, now=t) for t in (0, 1)] == [0.0, 0.0]
    assert window.hit(("a",), 2, 10, now=2) == 8.0  # the first event leaves the window at 10
    assert window.hit(("b",), 2, 10, now=2) == 0.0
    assert window.hit(("a",), 2, 10, now=10.5) == 0.0


def test_api_over_its_limit_gets_a_json_429(make_app):
    app = make_app(RATE_LIMITS={"api.matches": (2, 60)})
    client = app.test_client()
    body = {"concerns": ["anxiety"], "language": "english", "modality": "telehealth"}
    assert [client.post("/api/v1/matches", json=body).status_code for _ in range(2)] == [200, 200]
    response = client.post("/api/v1/matches", json=body)
    assert response.status_code == 429
    assert response.get_json()["ok"] is False and "try again" in response.get_json()["errors"]["_"]
    assert int(response.headers["Retry-After"]) > 0


def test_intake_over_its_limit_gets_a_429_page_and_stores_nothing(make_app, intake_form, store):
    app = make_app(RATE_LIMITS={"intake.submit": (1, 3600)})
    client = app.test_client()

    def post():
        page = client.get("/intake").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        return client.post("/intake", data={**intake_form, "csrf_token": token})

    assert post().status_code == 303
    response = post()
    assert response.status_code == 429 and "try again" in response.get_data(as_text=True)
    assert store.counts()["intakes"] == 1


def test_login_attempts_are_limited(make_app):
    app = make_app(RATE_LIMITS={"auth.login": (3, 900)})
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "username": "nobody", "password": "wrong-password"}
    assert [client.post("/login", data=form).status_code for _ in range(3)] == [401] * 3
    response = client.post("/login", data=form)
    assert response.status_code == 429 and "Retry-After" in response.headers
