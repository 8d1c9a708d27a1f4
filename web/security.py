"""A minimal CSRF check and the security headers every response carries.

The CSRF token is random per session and travels in a hidden form field
(``{{ csrf_token() }}`` in templates). Every unsafe request outside the JSON
API must send it back. The API is exempt: it takes only
``application/json`` bodies (which a cross-site form cannot send) and is
stateless.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, request, session
from werkzeug.exceptions import BadRequest

CSRF_FIELD = "csrf_token"
_SESSION_KEY = "_csrf_token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/"

HSTS = "max-age=31536000; includeSubDomains"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'"
)


class CSRFError(BadRequest):
    """The form's security token was missing or did not match the session's."""

    description = (
        "This form could not be accepted because its security token was missing or out "
        "of date (for example after a long pause or a restart). Nothing was saved. "
        "Please check your answers and send the form again."
    )


def csrf_token() -> str:
    """This session's token, created on first use."""
    token = session.get(_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = token
    return token


def apply_body_limit() -> None:
    """Raise the request size limit for the endpoints that take big uploads, before
    anything (the CSRF check included) reads the form under the app-wide limit."""
    limit = current_app.config.get("BODY_LIMITS", {}).get(request.endpoint)
    if limit:
        request.max_content_length = limit


def refuse_nul_in_forms() -> None:
    """Text with a NUL character is not text (PostgreSQL refuses to store it). The intake
    reports it beside the field, keeping what was typed; other forms are refused whole."""
    if request.method not in _UNSAFE_METHODS or request.path.startswith(API_PREFIX):
        return
    if request.endpoint in NUL_CHECKED_BY_FORM:
        return
    if any("\x00" in value for values in request.form.listvalues() for value in values):
        raise BadRequest(
            "What you sent contains a NUL character, which is not text. Nothing was changed."
        )


#: Forms that check every field for NUL characters themselves (with field-level errors).
NUL_CHECKED_BY_FORM = frozenset({"intake.submit"})


def check_csrf() -> None:
    """Raise :class:`CSRFError` unless an unsafe non-API request carries the session's token."""
    if request.method not in _UNSAFE_METHODS or request.path.startswith(API_PREFIX):
        return
    expected = session.get(_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise CSRFError()


def add_security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    if current_app.config.get("PRODUCTION"):
        # Browsers remember to use HTTPS only (production serves behind TLS; see operations.md).
        response.headers["Strict-Transport-Security"] = HSTS
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Results links carry a private token; never leak it to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith("/static/"):
        # Pages and API answers hold what clients told us; keep them out of shared caches.
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field"] = CSRF_FIELD
    app.before_request(apply_body_limit)
    app.before_request(check_csrf)
    app.before_request(refuse_nul_in_forms)
    app.after_request(add_security_headers)
