"""Rate limits, with Flask-Limiter: per client address, counted in shared storage.

Limits come from ``RATE_LIMITS`` in the config: endpoint -> (requests, seconds).
Counts live where ``MATCHER_RATELIMIT_STORAGE`` says (``RATELIMIT_STORAGE_URI``
in the config): ``memory://`` (the default) counts within one process, so use
``redis://host:port`` when several worker processes serve. Behind a proxy the
client's address comes from ``X-Forwarded-For`` only for the number of hops
``MATCHER_TRUSTED_PROXIES`` says (see :mod:`web.proxies`); otherwise everyone
would share the proxy's address and its limit.

Only what costs us counts: an intake counts when it is stored (not when the
form comes back with errors), a login when it fails. Accounts have their own
throttle on failed passwords (:func:`matcher.clinic.authenticate`), apart from
these per-address limits.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

from flask import Flask, Response, current_app
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

STORAGE_ENV = "MATCHER_RATELIMIT_STORAGE"
EXTENSION = "matcher.limiter"

DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "intake.submit": (10, 3600),  # stored intakes per address per hour
    "auth.login": (10, 900),  # failed logins per address per 15 minutes
    "api.matches": (120, 60),  # API rankings per address per minute
}

#: Which responses count against each endpoint's limit (all, when not listed).
COUNTED: dict[str, Callable[[Response], bool]] = {
    "intake.submit": lambda response: response.status_code == 303,  # stored, redirected
    "auth.login": lambda response: response.status_code == 401,  # a failed attempt
}


class RateLimited(TooManyRequests):
    """429 with the wait in words and in ``Retry-After``; nothing was changed."""

    def __init__(self, wait_seconds: float):
        minutes = max(1, math.ceil(wait_seconds / 60))
        super().__init__(
            "Too many requests from your connection in a short time. Nothing was changed: "
            f"please try again in {minutes} minute(s).",
            retry_after=max(1, math.ceil(wait_seconds)),
        )


class ForgettingMemoryStorage(MemoryStorage):
    """``memory://`` that forgets an address once its window has passed.

    limits' in-memory storage (5.x) empties a moving window's list of hits when they
    expire, but keeps the key: one per client address ever seen, for the life of the
    process. Its own expiry pass (a timer after each hit) drops them here too.
    """

    STORAGE_SCHEME = ["matcher-memory"]

    def _MemoryStorage__expire_events(self) -> None:  # the base class's expiry pass
        super()._MemoryStorage__expire_events()
        for key in [key for key, hits in list(self.events.items()) if not hits]:
            with self.locks[key]:
                if not self.events.get(key):
                    self.events.pop(key, None)
                    self.locks.pop(key, None)


def _limit_of(endpoint: str) -> Callable[[], str]:
    def value() -> str:
        requests, seconds = current_app.config["RATE_LIMITS"][endpoint]
        return f"{requests} per {seconds} second"

    return value


def _breached(limit: RequestLimit) -> Response | None:
    # reset_at is rounded up to the next whole second; never say more than the window
    wait = min(limit.reset_at - time.time(), limit.limit.get_expiry())
    raise RateLimited(max(wait, 1))


def init_app(app: Flask) -> None:
    """One limiter per app, on the storage the config names; wraps the limited views."""
    app.config.setdefault("RATE_LIMITS", DEFAULT_LIMITS)
    app.config.setdefault("RATELIMIT_STORAGE_URI", os.environ.get(STORAGE_ENV) or "memory://")
    in_memory = app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri="matcher-memory://" if in_memory else None,
        strategy="moving-window",
        headers_enabled=False,  # Retry-After comes with our own 429
        key_prefix="matcher",
    )
    app.extensions[EXTENSION] = limiter
    for endpoint in app.config["RATE_LIMITS"]:
        view = app.view_functions.get(endpoint)
        if view is None:
            raise RuntimeError(f"RATE_LIMITS names {endpoint!r}, which is no endpoint")
        app.view_functions[endpoint] = limiter.limit(
            _limit_of(endpoint),
            methods=["POST"],
            deduct_when=COUNTED.get(endpoint),
            on_breach=_breached,
        )(view)
