"""Notifications that are never lost: an outbox table and an SMTP sender.

A message is queued with :func:`queue_message` in the caller's transaction, so it
exists exactly when the event it tells of does. :func:`deliver_due` (run by
:class:`OutboxSender` in the web process, or ``matcher outbox send``) sends what is
due over SMTP and records the result; a message that cannot be sent now is tried
again later with a growing delay, and given up on (``failed``, still listed) only
after :data:`MAX_ATTEMPTS`. Delivery never deletes a message.

Messages carry nothing sensitive beyond what the recipient may already see: never
what a client wrote, never their concerns. Without SMTP settings nothing is sent
and messages wait as ``pending``: an admin can read them at ``/admin/outbox`` and
send them by hand.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..errors import MatcherError
from .store import Store
from .tables import OutboxRow

log = logging.getLogger(__name__)

#: What a message can tell of.
MESSAGE_KINDS: tuple[str, ...] = ("intake_confirmation", "referral", "urgent_intake", "invitation")
#: A message's states: waiting to be sent, sent, or given up on after the last retry.
STATUSES: tuple[str, ...] = ("pending", "sent", "failed")
#: Attempts before a message is marked ``failed``.
MAX_ATTEMPTS = 10
#: The first retry waits this long; each further one twice as long, up to :data:`MAX_BACKOFF`.
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
#: How long a sender holds the messages it claimed: no other sender takes them meanwhile.
LEASE = timedelta(minutes=10)
#: How many working days a client waits at most for a coordinator's first contact.
CONTACT_WORKING_DAYS = 2

SECURITY_MODES: tuple[str, ...] = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
DEFAULT_TIMEOUT = 30.0
_MAX_ERROR_CHARS = 200
_SIGNATURE = "\n\n-- \nThis message was sent automatically; please do not reply to it.\n"


# --- queueing ----------------------------------------------------------------------------------


def _check_address(to: str) -> str:
    address = to.strip() if isinstance(to, str) else ""
    if (
        not address
        or len(address) > 254
        or any(c.isspace() for c in address)
        or address.count("@") != 1
    ):
        raise MatcherError(f"cannot queue a message: {to!r} is not an email address")
    return address


def queue_message(
    session: Session,
    *,
    kind: str,
    to: str,
    subject: str,
    body: str,
    client_id: str | None = None,
) -> None:
    """Add a message to the outbox in the caller's transaction (sent once it commits).

    ``kind`` is one of :data:`MESSAGE_KINDS`; ``client_id`` names the client the
    message is about, so their export and deletion include it.

    Raises
    ------
    MatcherError
        An unknown kind, a malformed address, or a subject longer than one line of 200.
    """
    if kind not in MESSAGE_KINDS:
        raise MatcherError(f"unknown message kind {kind!r}; expected one of {MESSAGE_KINDS}")
    address = _check_address(to)
    if not subject or len(subject) > 200 or "\n" in subject or "\r" in subject:
        raise MatcherError("a message subject must be one line of at most 200 characters")
    session.add(
        OutboxRow(
            kind=kind,
            to_address=address,
            subject=subject,
            body=body,
            client_id=client_id,
            status="pending",
            attempts=0,
            next_attempt_at=datetime.now(UTC),
        )
    )


def queue_intake_confirmation(
    session: Session, *, client_id: str, to: str, name: str, link: str
) -> None:
    """To the client: we have their request, their private link, and what happens next."""
    body = (
        f"Dear {name},\n\n"
        "Thank you: we have your request for a therapist.\n\n"
        "You can see your suggestions, and tell us your choice, on your private page:\n"
        f"{link}\n"
        "Please keep this link to yourself: anyone who has it can open the page.\n\n"
        f"What happens next: a coordinator will contact you within {CONTACT_WORKING_DAYS} "
        "working days, in the way you chose, to talk about the next step.\n\n"
        "If you are in crisis or feel unsafe, do not wait for us: call your local "
        "emergency number."
    )
    queue_message(
        session,
        kind="intake_confirmation",
        to=to,
        subject="We have your request",
        body=body + _SIGNATURE,
        client_id=client_id,
    )


def queue_referral(
    session: Session, *, client_id: str, to: str, therapist_name: str, link: str
) -> None:
    """To a therapist: a referral waits for them (no client name or details in the email)."""
    body = (
        f"Dear {therapist_name},\n\n"
        "A new referral is waiting for you.\n\n"
        f"Log in at {link} to see it and to accept or decline it."
    )
    queue_message(
        session,
        kind="referral",
        to=to,
        subject="A new referral is waiting for you",
        body=body + _SIGNATURE,
        client_id=client_id,
    )


def queue_urgent_intake(
    session: Session, *, client_id: str, recipients: Sequence[str], link: str
) -> None:
    """To each coordinator: an intake marked urgent arrived (only its client id)."""
    body = (
        f"An intake marked urgent has arrived: client {client_id}.\n\nPlease open {link} to see it."
    )
    for to in dict.fromkeys(recipients):
        queue_message(
            session,
            kind="urgent_intake",
            to=to,
            subject="An urgent intake has arrived",
            body=body + _SIGNATURE,
            client_id=client_id,
        )


def queue_invitation(
    session: Session, *, to: str, therapist_name: str, link: str, expires_at: datetime
) -> None:
    """To a therapist: set up their account at the link, before it expires."""
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    until = expires_at.astimezone(UTC).strftime("%d %B %Y, %H:%M UTC")
    body = (
        f"Dear {therapist_name},\n\n"
        "You are invited to set up your account with the practice, where you will see "
        "and answer your referrals.\n\n"
        f"Set up your account here: {link}\n"
        f"The link works once and is valid until {until}."
    )
    queue_message(
        session,
        kind="invitation",
        to=to,
        subject="Set up your account",
        body=body + _SIGNATURE,
    )


# --- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. ``security``: ``none``, ``starttls`` or ``ssl``."""

    host: str
    port: int
    security: str
    username: str | None
    password: str | None = field(repr=False)
    from_address: str
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SmtpSettings | None:
        """The settings from ``MATCHER_SMTP_*`` and ``MATCHER_MAIL_FROM``; None without a host.

        Raises
        ------
        MatcherError
            A variable is missing or malformed; the message names it.
        """
        host = (environ.get("MATCHER_SMTP_HOST") or "").strip()
        if not host:
            return None
        security = (environ.get("MATCHER_SMTP_SECURITY") or "starttls").strip().lower()
        if security not in SECURITY_MODES:
            raise MatcherError(
                f"MATCHER_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, "
                f"not {security!r}"
            )
        raw_port = (environ.get("MATCHER_SMTP_PORT") or "").strip()
        port = DEFAULT_PORTS[security]
        if raw_port:
            if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
                raise MatcherError(f"MATCHER_SMTP_PORT must be a port number, not {raw_port!r}")
            port = int(raw_port)
        raw_timeout = (environ.get("MATCHER_SMTP_TIMEOUT") or "").strip()
        timeout = DEFAULT_TIMEOUT
        if raw_timeout:
            try:
                timeout = float(raw_timeout)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= 600:
                raise MatcherError(
                    f"MATCHER_SMTP_TIMEOUT must be seconds between 0 and 600, not {raw_timeout!r}"
                )
        from_address = (environ.get("MATCHER_MAIL_FROM") or "").strip()
        if not from_address:
            raise MatcherError(
                "MATCHER_MAIL_FROM is required when MATCHER_SMTP_HOST is set "
                "(the sender address, e.g. Practice <noreply@example.org>)"
            )
        _, parsed = parseaddr(from_address)
        if parsed.count("@") != 1 or any(c.isspace() for c in parsed) or "\n" in from_address:
            raise MatcherError(
                f"MATCHER_MAIL_FROM is not an email address: {from_address!r} "
                "(expected e.g. noreply@example.org or Practice <noreply@example.org>)"
            )
        username = (environ.get("MATCHER_SMTP_USERNAME") or "").strip() or None
        password = environ.get("MATCHER_SMTP_PASSWORD") or None
        if password and not username:
            raise MatcherError(
                "MATCHER_SMTP_USERNAME is required when MATCHER_SMTP_PASSWORD is set"
            )
        return cls(host, port, security, username, password, from_address, timeout)


# --- delivery ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    """What one :func:`deliver_due` did: sent, to be tried again, given up on."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def backoff(attempts: int) -> timedelta:
    """The wait before the next try, after ``attempts`` failed ones (30 s, 1 min, … 1 h)."""
    return min(BASE_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def _describe(error: BaseException, settings: SmtpSettings) -> str:
    """A short, content-free description of a failure, for ``last_error``."""
    name = type(error).__name__
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in error.recipients.values()})
        text = f"{name}: refused with {', '.join(map(str, codes))}"
    elif isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        if isinstance(reply, bytes):
            reply = reply.decode("utf-8", "replace")
        text = f"{name} {error.smtp_code}: {' '.join(str(reply).split())}"
    elif isinstance(error, OSError) and error.strerror:
        text = f"{name}: {error.strerror}"
    else:
        text = name
    if settings.password:
        text = text.replace(settings.password, "***")
    return text[:_MAX_ERROR_CHARS]


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "ssl":
        context = ssl.create_default_context()
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.username:
            smtp.login(settings.username, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _email(row: OutboxRow, settings: SmtpSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(settings.from_address)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}", domain=domain)
    message.set_content(row.body)
    return message


def _claim(store: Store, now: datetime, batch: int) -> list[int]:
    """Take up to ``batch`` due messages for this sender, safely against other senders.

    Each is claimed by an UPDATE that pushes ``next_attempt_at`` past ``now`` (a lease):
    a second sender's UPDATE then matches nothing, whichever database this is.
    """
    with Session(store.engine) as session:
        candidates = list(
            session.scalars(
                select(OutboxRow.id)
                .where(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now)
                .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
                .limit(batch)
            )
        )
    claimed = []
    # A transaction of writes only: SQLite takes its write lock on the first UPDATE.
    with Session(store.engine) as session, session.begin():
        for message_id in candidates:
            result = session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == message_id,
                    OutboxRow.status == "pending",
                    OutboxRow.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                claimed.append(message_id)
    return claimed


def _record(store: Store, row: OutboxRow, now: datetime, error: str | None) -> str:
    """Store one attempt's result; returns ``sent``, ``retried``, ``failed`` (or ``gone``:
    the message was deleted with its client meanwhile)."""
    attempts = (row.attempts or 0) + (error is not None)
    if error is None:
        values: dict = {"status": "sent", "sent_at": now, "last_error": None}
        outcome = "sent"
    elif attempts >= MAX_ATTEMPTS:
        values = {"status": "failed", "attempts": attempts, "last_error": error}
        outcome = "failed"
    else:
        next_at = now + backoff(attempts)
        values = {"attempts": attempts, "last_error": error, "next_attempt_at": next_at}
        outcome = "retried"
    with Session(store.engine) as session, session.begin():
        result = session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row.id, OutboxRow.status == "pending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return outcome if result.rowcount == 1 else "gone"


def deliver_due(
    store: Store, settings: SmtpSettings, *, now: datetime | None = None, batch: int = 50
) -> DeliveryReport:
    """Send the pending messages that are due (one SMTP connection for the batch).

    A sent message is marked ``sent``; a failure adds an attempt, keeps a short
    description of the error and schedules the next try (:func:`backoff`); after
    :data:`MAX_ATTEMPTS` the message is ``failed``. Several senders at once never
    send a message twice (see :func:`_claim`).
    """
    now = _utc(now or datetime.now(UTC))
    claimed = _claim(store, now, batch)
    if not claimed:
        return DeliveryReport()
    with Session(store.engine) as session:
        rows = session.scalars(
            select(OutboxRow).where(OutboxRow.id.in_(claimed)).order_by(OutboxRow.id)
        ).all()
        session.expunge_all()
    outcomes = {"sent": 0, "retried": 0, "failed": 0, "gone": 0}
    smtp: smtplib.SMTP | None = None
    broken: str | None = None
    try:
        try:
            smtp = _connect(settings)
        except (smtplib.SMTPException, OSError) as error:
            broken = _describe(error, settings)
        for row in rows:
            error = broken
            if error is None and smtp is not None:
                try:
                    smtp.send_message(_email(row, settings))
                except (
                    smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPSenderRefused,
                    smtplib.SMTPDataError,
                ) as refused:  # this message only; the connection is still good
                    error = _describe(refused, settings)
                except (smtplib.SMTPException, OSError) as lost:  # the rest cannot go either
                    error = broken = _describe(lost, settings)
            outcomes[_record(store, row, now, error)] += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    return DeliveryReport(outcomes["sent"], outcomes["retried"], outcomes["failed"])


# --- reading the outbox ------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxMessage:
    """One message as stored (times in UTC)."""

    id: int
    created_at: datetime
    kind: str
    to: str
    subject: str
    body: str
    client_id: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


def _message(row: OutboxRow) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        created_at=_utc(row.created_at),
        kind=row.kind,
        to=row.to_address,
        subject=row.subject,
        body=row.body,
        client_id=row.client_id,
        status=row.status,
        attempts=row.attempts or 0,
        next_attempt_at=_utc(row.next_attempt_at),
        last_error=row.last_error,
        sent_at=_utc(row.sent_at) if row.sent_at is not None else None,
    )


def outbox_messages(
    store: Store, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[OutboxMessage]:
    """Messages newest first, optionally only those with ``status`` (one of :data:`STATUSES`)."""
    if status is not None and status not in STATUSES:
        raise MatcherError(f"unknown message status {status!r}; expected one of {STATUSES}")
    query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(max(limit, 0))
    query = query.offset(max(offset, 0))
    if status is not None:
        query = query.where(OutboxRow.status == status)
    with Session(store.engine) as session:
        return [_message(row) for row in session.scalars(query)]


def outbox_counts(store: Store) -> dict[str, int]:
    """How many messages are in each status (every status present, zero included)."""
    with Session(store.engine) as session:
        rows = session.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        ).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


# --- the background sender ---------------------------------------------------------------------


class OutboxSender(threading.Thread):
    """A daemon thread that runs :func:`deliver_due` every ``interval`` seconds until
    :meth:`stop`. A failed round is logged (its kind only) and the next one runs as usual."""

    def __init__(
        self, store: Store, settings: SmtpSettings, *, interval: float = 5.0, batch: int = 50
    ):
        super().__init__(name="outbox-sender", daemon=True)
        self.store = store
        self.settings = settings
        self.interval = interval
        self.batch = batch
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                report = deliver_due(self.store, self.settings, batch=self.batch)
            except Exception as error:  # never let one bad round end the sender
                log.warning("outbox delivery round failed: %s", type(error).__name__)
            else:
                if report.retried or report.failed:
                    log.warning(
                        "outbox: sent %d, will retry %d, gave up on %d",
                        report.sent,
                        report.retried,
                        report.failed,
                    )
                elif report.sent:
                    log.info("outbox: sent %d", report.sent)
            self._stopping.wait(self.interval)

    def stop(self, timeout: float | None = 10.0) -> None:
        """Ask the thread to end after its current round, and wait for it."""
        self._stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
