"""A real SMTP server on loopback for tests (aiosmtpd), that can be stopped and restarted."""

from __future__ import annotations

import socket
import threading
import time
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller

from matcher.clinic import SmtpSettings


class Collector:
    """Keeps every message the server accepts."""

    def __init__(self):
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        with self.lock:
            return [header(e, "Subject") for e in self.messages]


def header(envelope, name: str) -> str:
    """One header of a received message, as sent."""
    for line in envelope.content.decode().splitlines():
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started again on its port."""

    def __init__(self):
        self.port = free_port()
        self.handler = Collector()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list:
        return self.handler.messages

    def emails(self) -> list[Message]:
        with self.handler.lock:
            return [message_from_bytes(e.content) for e in self.handler.messages]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Message]:
        """The messages received, once there are at least ``count`` (or fail after timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            emails = self.emails()
            if len(emails) >= count:
                return emails
            time.sleep(0.1)
        raise AssertionError(f"expected {count} emails, got {len(self.emails())}")

    def settings(self, **changes) -> SmtpSettings:
        values = {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "username": None,
            "password": None,
            "from_address": "Practice <noreply@practice.example>",
            "timeout": 5.0,
            **changes,
        }
        return SmtpSettings(**values)
