"""Rate limits on the endpoints people (or scripts) could hammer.

Sliding windows per client address, in memory: each worker process counts
on its own, so with N workers a client can make up to N times the limit.
That bounds abuse without a shared store; put a proxy limit in front for more.
Limits come from ``RATE_LIMITS`` in the config: endpoint -> (requests, seconds).
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

from flask import Flask, current_app, request
from werkzeug.exceptions import TooManyRequests

DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "intake.submit": (10, 3600),  # intakes per address per hour
    "auth.login": (10, 900),  # login attempts per address per 15 minutes
    "api.matches": (120, 60),  # API rankings per address per minute
}
_EXTENSION = "rate_limiter"


class SlidingWindow:
    """Counts events per key over the last ``window`` seconds."""

    def __init__(self):
        self._events: dict[tuple, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: tuple, limit: int, window: float, now: float | None = None) -> float:
        """Record one event; returns 0 if allowed, else seconds until the next is allowed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            events = self._events[key]
            while events and events[0] <= now - window:
                events.popleft()
            if len(events) >= limit:
                return events[0] + window - now
            events.append(now)
            return 0.0


def check_rate_limit() -> None:
    if request.method != "POST":
        return
    limits = current_app.config.get("RATE_LIMITS", DEFAULT_LIMITS)
    rule = limits.get(request.endpoint or "")
    if not rule:
        return
    limit, window = rule
    wait = current_app.extensions[_EXTENSION].hit(
        (request.endpoint, request.remote_addr), limit, window
    )
    if wait > 0:
        error = TooManyRequests(
            "Too many requests from your connection in a short time. Nothing was lost: "
            f"please try again in {math.ceil(wait / 60)} minute(s).",
            retry_after=math.ceil(wait),
        )
        raise error


def init_app(app: Flask) -> None:
    app.config.setdefault("RATE_LIMITS", DEFAULT_LIMITS)
    app.extensions[_EXTENSION] = SlidingWindow()
    app.before_request(check_rate_limit)
