"""The access log, with every private token masked.

A client's results link (``/matches/<token>``), its feedback and choice pages,
and a therapist's invitation (``/therapist/join/<token>``) carry a token that
is the key to private data; a log line must never hold one. The app writes
its own access line (logger ``web.access``: address, method, masked path,
status, milliseconds), so waitress, which keeps no access log, and any other
server log the same way; the development server's own request lines pass
through :class:`TokenMasking` too.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, request

log = logging.getLogger("web.access")

#: Path segments after which the next segment is a private token.
_TOKEN_PATHS = re.compile(r"(/(?:matches|join)/)[^/?\s\"]+")


def mask_tokens(text: str) -> str:
    """``/matches/AbC123/feedback`` -> ``/matches/[token]/feedback``."""
    return _TOKEN_PATHS.sub(r"\1[token]", text)


class TokenMasking(logging.Filter):
    """Masks tokens in a record's message (the development server's request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_tokens(record.getMessage())
        record.args = None
        return True


def _start_clock() -> None:
    g.access_started = time.perf_counter()


def _write_line(response: Response) -> Response:
    elapsed = (time.perf_counter() - g.get("access_started", time.perf_counter())) * 1000
    log.info(
        '%s "%s %s" %s %.0fms',
        request.remote_addr,
        request.method,
        mask_tokens(request.full_path.rstrip("?")),
        response.status_code,
        elapsed,
    )
    return response


def init_app(app: Flask) -> None:
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, TokenMasking) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(TokenMasking())
    if app.config.setdefault("ACCESS_LOG", True):
        app.before_request(_start_clock)
        app.after_request(_write_line)
