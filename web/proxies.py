"""Behind a TLS proxy: trust its ``X-Forwarded-*`` headers for a stated number of hops.

``MATCHER_TRUSTED_PROXIES`` (config ``TRUSTED_PROXIES``) is how many proxies
stand in front of the app (0, the default, trusts none). With one nginx in
front, set 1: Werkzeug's ``ProxyFix`` then takes the client's address from the
last ``X-Forwarded-For`` entry, the one the proxy itself added. Trusting more
hops than there are proxies lets anyone choose their own address (and rate
limit bucket) by sending the header.
"""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

TRUSTED_PROXIES_ENV = "MATCHER_TRUSTED_PROXIES"


def trusted_hops(app: Flask) -> int:
    raw = app.config.get("TRUSTED_PROXIES", os.environ.get(TRUSTED_PROXIES_ENV, "0"))
    try:
        hops = int(raw)
    except (TypeError, ValueError):
        hops = -1
    if not 0 <= hops <= 5:
        raise RuntimeError(
            f"{TRUSTED_PROXIES_ENV} must be the number of proxies in front of the app "
            f"(0 to 5), got {raw!r}"
        )
    return hops


def init_app(app: Flask) -> None:
    hops = trusted_hops(app)
    if hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=0
        )
