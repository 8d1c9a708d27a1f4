"""The outbox: messages are delivered over real SMTP (on loopback), retried, never lost."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import matcher.clinic.outbox as outbox
from matcher import MatcherError
from matcher.cli import main
from matcher.clinic import (
    MAX_ATTEMPTS,
    MESSAGE_KINDS,
    OutboxSender,
    SmtpSettings,
    create_user,
    delete_client,
    deliver_due,
    outbox_counts,
    outbox_messages,
    queue_intake_confirmation,
    queue_invitation,
    queue_message,
    queue_referral,
    queue_urgent_intake,
)
from matcher.clinic.tables import OutboxRow
from matcher.schema import parse_intake
from tests.sessions import sign_in
from tests.smtp import Collector, SmtpServer, header
from web import create_app

INTAKE = {
    "concerns": "grief",
    "story": "My sister died in March and I cannot sleep.",
    "hopes": "Someone gentle.",
    "language": "english",
    "modality": "telehealth",
}
PASSWORD = "s3cret-smtp-password"
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def database_url(any_database_url):
    """Claiming messages must be safe on SQLite and on PostgreSQL alike."""
    return any_database_url


@pytest.fixture
def smtp():
    """A running SMTP server; ``smtp.stop()`` / ``smtp.start()`` take it down and back."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def no_server():
    """Settings for a port where nothing listens (the server is down); start it later."""
    server = SmtpServer()
    yield server
    server.stop()


def _queue(store, n: int = 1, *, client_id: str | None = None, to: str = "ana@example.org"):
    with Session(store.engine) as session, session.begin():
        for i in range(n):
            queue_message(
                session,
                kind="referral",
                to=to,
                subject=f"Message {i}",
                body=f"Body of message {i}.",
                client_id=client_id,
            )


def _rows(store) -> list[OutboxRow]:
    with Session(store.engine) as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# --- queueing and composing ----------------------------------------------------------------------


def test_a_message_is_queued_in_the_callers_transaction(store):
    with pytest.raises(RuntimeError), Session(store.engine) as session, session.begin():
        queue_message(session, kind="referral", to="a@example.org", subject="S", body="B")
        raise RuntimeError("the event failed")
    assert outbox_counts(store) == {"pending": 0, "sent": 0, "failed": 0}
    _queue(store)
    assert outbox_counts(store) == {"pending": 1, "sent": 0, "failed": 0}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"kind": "newsletter"}, "unknown message kind"),
        ({"to": "not an address"}, "not an email address"),
        ({"to": "a@example.org\r\nBcc: b@example.org"}, "not an email address"),
        ({"subject": "one\nBcc: x@example.org"}, "one line"),
    ],
)
def test_a_malformed_message_is_refused(store, changes, match):
    message = {"kind": "referral", "to": "a@example.org", "subject": "S", "body": "B", **changes}
    with Session(store.engine) as session, pytest.raises(MatcherError, match=match):
        queue_message(session, **message)
    assert set(MESSAGE_KINDS) == {"intake_confirmation", "referral", "urgent_intake", "invitation"}


def test_composed_messages_carry_nothing_sensitive(store):
    stored = store.add_intake(parse_intake(INTAKE), urgent=True, support_note="Lives alone.")
    client = stored.client_id
    with Session(store.engine) as session, session.begin():
        queue_intake_confirmation(
            session, client_id=client, to="alex@example.org", name="Alex", link="https://x/m/TOK"
        )
        queue_referral(
            session, client_id=client, to="t2@example.org", therapist_name="Sam", link="https://x/t"
        )
        queue_urgent_intake(
            session,
            client_id=client,
            recipients=["c1@example.org", "c2@example.org", "c1@example.org"],
            link="https://x/q",
        )
        queue_invitation(
            session,
            to="new@example.org",
            therapist_name="Robin",
            link="https://x/invite/abc",
            expires_at=datetime(2030, 2, 3, 12, 0, tzinfo=UTC),
        )
    messages = {(m.kind, m.to): m for m in outbox_messages(store)}
    assert len(messages) == 5  # one urgent notice per coordinator, no duplicates
    everything = repr(list(messages.values()))
    for secret in (INTAKE["story"], INTAKE["hopes"], "grief", "Lives alone"):
        assert secret not in everything

    confirmation = messages["intake_confirmation", "alex@example.org"]
    assert "Alex" in confirmation.body and "https://x/m/TOK" in confirmation.body
    assert "2 working days" in confirmation.body and confirmation.client_id == client
    referral = messages["referral", "t2@example.org"]
    assert "https://x/t" in referral.body and "accept or decline" in referral.body
    assert client not in referral.body and "Alex" not in referral.body
    urgent = messages["urgent_intake", "c2@example.org"]
    assert client in urgent.body and "https://x/q" in urgent.body
    invitation = messages["invitation", "new@example.org"]
    assert "https://x/invite/abc" in invitation.body and "03 February 2030" in invitation.body
    assert invitation.client_id is None


# --- settings ------------------------------------------------------------------------------------


def test_settings_from_the_environment():
    assert SmtpSettings.from_env({}) is None
    env = {"MATCHER_SMTP_HOST": "smtp.example.org", "MATCHER_MAIL_FROM": "noreply@example.org"}
    settings = SmtpSettings.from_env(env)
    assert (settings.host, settings.port, settings.security) == (
        "smtp.example.org",
        587,
        "starttls",
    )
    assert SmtpSettings.from_env({**env, "MATCHER_SMTP_SECURITY": "ssl"}).port == 465
    assert SmtpSettings.from_env({**env, "MATCHER_SMTP_SECURITY": "none"}).port == 25
    full = SmtpSettings.from_env(
        {
            **env,
            "MATCHER_SMTP_PORT": "2525",
            "MATCHER_SMTP_USERNAME": "mailer",
            "MATCHER_SMTP_PASSWORD": PASSWORD,
        }
    )
    assert (full.port, full.username, full.password) == (2525, "mailer", PASSWORD)
    assert PASSWORD not in repr(full)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "MATCHER_MAIL_FROM"),
        ({"MATCHER_MAIL_FROM": "nobody"}, "MATCHER_MAIL_FROM"),
        ({"MATCHER_MAIL_FROM": "a@b.org", "MATCHER_SMTP_PORT": "smtp"}, "MATCHER_SMTP_PORT"),
        ({"MATCHER_MAIL_FROM": "a@b.org", "MATCHER_SMTP_PORT": "70000"}, "MATCHER_SMTP_PORT"),
        ({"MATCHER_MAIL_FROM": "a@b.org", "MATCHER_SMTP_SECURITY": "tls"}, "MATCHER_SMTP_SECURITY"),
        ({"MATCHER_MAIL_FROM": "a@b.org", "MATCHER_SMTP_PASSWORD": "x"}, "MATCHER_SMTP_USERNAME"),
    ],
)
def test_a_missing_or_malformed_setting_is_named(env, variable):
    with pytest.raises(MatcherError, match=variable):
        SmtpSettings.from_env({"MATCHER_SMTP_HOST": "smtp.example.org", **env})


# --- delivery ------------------------------------------------------------------------------------


def test_a_queued_message_is_delivered_and_marked_sent(store, smtp):
    _queue(store)
    report = deliver_due(store, smtp.settings(), now=T0)

    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    (envelope,) = smtp.received
    assert envelope.rcpt_tos == ["ana@example.org"]
    assert header(envelope, "Subject") == "Message 0"
    assert "Body of message 0." in envelope.content.decode()
    (message,) = outbox_messages(store)
    assert message.status == "sent" and _utc(message.sent_at) == T0 and message.attempts == 0
    assert deliver_due(store, smtp.settings(), now=T0 + timedelta(hours=1)).sent == 0  # once only


def test_with_the_server_down_delivery_backs_off_and_the_message_waits(store, no_server):
    _queue(store)
    settings = no_server.settings(username="mailer", password=PASSWORD)
    waits, now = [], T0
    for attempt in range(1, 5):
        report = deliver_due(store, settings, now=now)
        assert (report.sent, report.retried, report.failed) == (0, 1, 0)
        (row,) = _rows(store)
        assert row.status == "pending" and row.attempts == attempt
        waits.append(_utc(row.next_attempt_at) - now)
        # not due before its time
        assert deliver_due(store, settings, now=now + waits[-1] / 2).retried == 0
        now = _utc(row.next_attempt_at)
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert "Refused" in row.last_error or "refused" in row.last_error
    assert "Body of message" not in row.last_error and PASSWORD not in row.last_error

    no_server.start()  # the server comes back
    assert deliver_due(store, replace(settings, username=None, password=None), now=now).sent == 1
    (row,) = _rows(store)
    assert row.status == "sent" and row.attempts == 4 and row.last_error is None
    assert no_server.handler.subjects() == ["Message 0"]


def test_after_the_last_attempt_a_message_is_failed_and_still_listed(store, no_server):
    _queue(store)
    settings, now, reports = no_server.settings(), T0, []
    for _ in range(MAX_ATTEMPTS):
        reports.append(deliver_due(store, settings, now=now))
        now += timedelta(hours=2)
    assert [r.failed for r in reports] == [0] * (MAX_ATTEMPTS - 1) + [1]
    assert sum(r.retried for r in reports) == MAX_ATTEMPTS - 1

    no_server.start()
    assert deliver_due(store, settings, now=now + timedelta(days=1)).sent == 0  # given up on
    (message,) = outbox_messages(store, status="failed")
    assert message.attempts == MAX_ATTEMPTS and message.last_error
    assert outbox_counts(store) == {"pending": 0, "sent": 0, "failed": 1}
    assert no_server.received == []


def test_a_refused_recipient_fails_only_that_message(store, smtp):
    class Picky(Collector):
        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
            if address.startswith("bounce"):
                return "550 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    smtp.stop()
    smtp.handler = Picky()
    smtp.start()
    _queue(store, to="bounce@example.org")
    _queue(store, to="ok@example.org")
    report = deliver_due(store, smtp.settings(), now=T0)
    assert (report.sent, report.retried) == (1, 1)
    bounced, delivered = _rows(store)
    assert bounced.status == "pending" and "550" in bounced.last_error
    assert delivered.status == "sent"


def test_two_senders_at_once_never_send_a_message_twice(store, smtp):
    _queue(store, 30)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def send():
        try:
            barrier.wait()
            reports.append(deliver_due(store, smtp.settings(), batch=50))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(r.sent for r in reports) == 30
    subjects = smtp.handler.subjects()
    assert sorted(subjects) == sorted(f"Message {i}" for i in range(30))  # each exactly once
    assert outbox_counts(store)["sent"] == 30


def test_a_claimed_message_is_not_taken_by_a_second_sender(store, smtp, monkeypatch):
    """The other sender claims between this one's look and its claim: this one sends nothing."""
    _queue(store, 3)
    real_claim = outbox._claim
    second: list = []

    def claim_after_another_sender(store_, now, batch):
        second.append(real_claim(store_, now, batch))  # the other sender wins the race
        return real_claim(store_, now, batch)

    monkeypatch.setattr(outbox, "_claim", claim_after_another_sender)
    assert deliver_due(store, smtp.settings(), now=T0).sent == 0
    assert len(second[0]) == 3 and smtp.received == []
    monkeypatch.setattr(outbox, "_claim", real_claim)
    # the lease runs out (the other sender died): the messages are due again, never lost
    later = T0 + outbox.LEASE + timedelta(seconds=1)
    assert deliver_due(store, smtp.settings(), now=later).sent == 3


def test_messages_about_a_deleted_client_go_with_them(store):
    stored = store.add_intake(
        parse_intake(INTAKE),
        with_intake=lambda session, client_id, token: queue_intake_confirmation(
            session, client_id=client_id, to="alex@example.org", name="Alex", link=token
        ),
    )
    _queue(store, client_id=None, to="staff@example.org")
    assert len(outbox_messages(store)) == 2

    deletion = delete_client(store, stored.client_id, by="admin")

    assert deletion.rows["outbox"] == 1
    with Session(store.engine) as session:
        query = select(func.count()).select_from(OutboxRow)
        assert session.scalar(query.where(OutboxRow.client_id == stored.client_id)) == 0
    assert [m.to for m in outbox_messages(store)] == ["staff@example.org"]


# --- without SMTP, the command line, the background sender -----------------------------------


def test_without_smtp_messages_stay_pending_and_admins_see_them(
    store, database_url, tmp_path, fake_embedder, monkeypatch, capsys
):
    for name in ("MATCHER_SMTP_HOST", "MATCHER_MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    _queue(store)
    assert main(["--database-url", database_url, "outbox", "send"]) == 1
    assert "MATCHER_SMTP_HOST" in capsys.readouterr().err
    assert outbox_counts(store)["pending"] == 1

    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "MODEL_DIR": str(tmp_path / "models"),
            "EMBEDDER": fake_embedder,
            "SECRET_KEY": "test",
        }
    )
    assert app.extensions["matcher.outbox_sender"] is None
    admin = create_user(store, "ada", "a-long-test-password", "admin")
    client = app.test_client()
    sign_in(client, admin)
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "Body of message 0." in page and "ana@example.org" in page and "pending" in page
    assert "Email is not set up" in page


def test_the_command_line_sends_what_is_due(store, database_url, smtp, monkeypatch, capsys):
    monkeypatch.setenv("MATCHER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MATCHER_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("MATCHER_SMTP_SECURITY", "none")
    monkeypatch.setenv("MATCHER_MAIL_FROM", "noreply@practice.example")
    _queue(store, 2)
    assert main(["--database-url", database_url, "outbox", "send"]) == 0
    assert capsys.readouterr().out.strip() == "sent 2, retried 0, failed 0, pending 0"
    assert len(smtp.received) == 2


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_background_sender_delivers_and_survives_errors(store, smtp, monkeypatch, caplog):
    _queue(store)
    sender = OutboxSender(store, smtp.settings(), interval=0.05)
    sender.start()
    try:
        assert _wait_for(lambda: outbox_counts(store)["sent"] == 1)
        calls = []

        def broken(*args, **kwargs):
            calls.append(1)
            raise RuntimeError("Body of message 1 leaked")

        with caplog.at_level(logging.WARNING, logger="matcher.clinic.outbox"):
            monkeypatch.setattr(outbox, "deliver_due", broken)
            assert _wait_for(lambda: len(calls) >= 3)
            assert sender.is_alive()
            monkeypatch.setattr(outbox, "deliver_due", deliver_due)
            _queue(store)
            assert _wait_for(lambda: outbox_counts(store)["sent"] == 2)
        lines = [r.getMessage() for r in caplog.records if r.name == "matcher.clinic.outbox"]
        assert lines and all("leaked" not in line and "\n" not in line for line in lines)
    finally:
        sender.stop()
    assert not sender.is_alive()
