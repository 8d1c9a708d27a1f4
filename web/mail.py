"""Email: the outbox sender that runs beside the app when SMTP is configured.

Settings come from ``MATCHER_SMTP_*`` and ``MATCHER_MAIL_FROM`` (see
:meth:`matcher.clinic.SmtpSettings.from_env`); ``app.config["SMTP_SETTINGS"]``
overrides them (tests). Without them nothing is sent: messages wait in the outbox,
where admins can read them at ``/admin/outbox``.

One sender runs per process and database, whatever the number of apps built; a
testing app starts none unless ``OUTBOX_SENDER=True``.
"""

from __future__ import annotations

import threading

from flask import Flask

from matcher.clinic import OutboxSender, SmtpSettings

from .extensions import STORE

EXTENSION = "matcher.outbox_sender"
SETTINGS = "matcher.smtp_settings"
#: Senders started in this process, by database URL.
_SENDERS: dict[str, OutboxSender] = {}
_LOCK = threading.Lock()


def init_app(app: Flask) -> None:
    """Start the outbox sender for this app's database, when SMTP is configured."""
    if "SMTP_SETTINGS" in app.config:
        settings = app.config["SMTP_SETTINGS"]
    else:
        settings = SmtpSettings.from_env()  # a misconfiguration stops the start, loudly
    app.extensions[EXTENSION] = None
    app.extensions[SETTINGS] = settings
    if settings is None:
        app.logger.info("SMTP is not configured: notifications wait in the outbox")
        return
    if not app.config.get("OUTBOX_SENDER", not app.testing):
        return
    store = app.extensions[STORE]
    interval = float(app.config.get("OUTBOX_INTERVAL", 5.0))
    with _LOCK:
        sender = _SENDERS.get(store.url)
        if sender is None or not sender.is_alive():
            sender = OutboxSender(store, settings, interval=interval)
            sender.start()
            _SENDERS[store.url] = sender
    app.extensions[EXTENSION] = sender


def delivery_state(app: Flask) -> str:
    """``sending`` (a sender runs), ``off`` (SMTP set, no sender here) or ``unconfigured``."""
    if app.extensions.get(EXTENSION) is not None:
        return "sending"
    return "off" if app.extensions.get(SETTINGS) is not None else "unconfigured"


def stop_senders() -> None:
    """Stop every sender this process started (tests, orderly shutdown)."""
    with _LOCK:
        senders = list(_SENDERS.values())
        _SENDERS.clear()
    for sender in senders:
        sender.stop()
