"""The outbox page for admins, and the sender the app starts when SMTP is configured."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from matcher.clinic import SmtpSettings, outbox_counts, queue_message
from web import mail


def _queue(store, n: int = 1, *, client_id: str | None = None) -> None:
    with Session(store.engine) as session, session.begin():
        for i in range(n):
            queue_message(
                session,
                kind="referral",
                to=f"therapist{i}@example.org",
                subject=f"Referral {i}",
                body=f"Log in to see referral {i}.",
                client_id=client_id,
            )


@pytest.fixture
def admin(login):
    return login("admin")


def test_admins_read_the_outbox_newest_first(client, store, admin):
    _queue(store, 3)
    response = client.get("/admin/outbox")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.index("Referral 2") < page.index("Referral 1") < page.index("Referral 0")
    assert "Log in to see referral 0." in page and "therapist0@example.org" in page
    assert "3 waiting" in page and "Email is not set up" in page
    assert 'href="/admin/outbox"' in client.get("/admin/").get_data(as_text=True)


def test_the_outbox_pages_and_filters(client, store, admin):
    _queue(store, 51)
    first = client.get("/admin/outbox").get_data(as_text=True)
    assert "Referral 50" in first and "Referral 0<" not in first and "page=2" in first
    second = client.get("/admin/outbox?page=2").get_data(as_text=True)
    assert "Referral 0" in second and "Referral 50" not in second
    assert "No messages with this status" in client.get("/admin/outbox?status=sent").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "query", ["page=abc", "page=0", "page=-1", "page=1.5", "page=99999999999", "status=bogus"]
)
def test_a_bad_page_or_status_is_refused(client, admin, query):
    assert client.get(f"/admin/outbox?{query}").status_code == 400


def test_coordinators_are_refused_and_visitors_sent_to_log_in(client, login):
    response = client.get("/admin/outbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login("coordinator")
    assert client.get("/admin/outbox").status_code == 403


def test_a_testing_app_starts_no_sender_unless_asked(make_app):
    settings = SmtpSettings("127.0.0.1", 1, "none", None, None, "noreply@example.org")
    app = make_app(SMTP_SETTINGS=settings)
    assert app.extensions[mail.EXTENSION] is None
    assert mail.delivery_state(app) == "off"
    assert mail.delivery_state(make_app(roster=False)) in ("unconfigured", "off")


@pytest.fixture
def smtp_server():
    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            received.append(envelope)
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def test_the_app_sends_in_the_background_when_smtp_is_configured(make_app, store, smtp_server):
    port, received = smtp_server
    settings = SmtpSettings("127.0.0.1", port, "none", None, None, "noreply@example.org")
    try:
        app = make_app(SMTP_SETTINGS=settings, OUTBOX_SENDER=True, OUTBOX_INTERVAL=0.05)
        sender = app.extensions[mail.EXTENSION]
        assert sender is not None and sender.is_alive()
        assert (
            make_app(SMTP_SETTINGS=settings, OUTBOX_SENDER=True).extensions[mail.EXTENSION]
            is sender
        )  # one sender per process and database
        _queue(store, 2)
        deadline = time.monotonic() + 10
        while outbox_counts(store)["sent"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert outbox_counts(store)["sent"] == 2 and len(received) == 2
    finally:
        mail.stop_senders()
    assert not any(t.name == "outbox-sender" and t.is_alive() for t in threading.enumerate())
