"""Error pages: the JSON envelope under ``/api/``, a calm HTML page elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, make_response, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import BadRequest, HTTPException

from .security import API_PREFIX

log = logging.getLogger(__name__)

#: What to tell people, per status, instead of Werkzeug's developer-facing text.
HTML_MESSAGES = {
    404: "We could not find that page. If you followed a link to your matches, check that "
    "the whole link was copied.",
    405: "That page cannot be used this way.",
    413: "What you sent is too large. Please shorten your answers and try again.",
    500: "Something went wrong on our side. Please try again in a few minutes.",
}


def api_error(status: int, errors: dict[str, str]):
    """The one error shape of the JSON API."""
    return jsonify({"ok": False, "errors": errors}), status


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    if request.path.startswith(API_PREFIX):
        response, status = api_error(status, {"_": _api_message(error)})
    else:
        # A 400 carries a specific description (e.g. the CSRF message); others get plain words.
        specific = status in (400, 429, 503)
        message = error.description if specific else HTML_MESSAGES.get(status, error.name)
        upload_limit = current_app.config.get("BODY_LIMITS", {}).get(request.endpoint)
        if status == 413 and upload_limit:
            message = (
                f"The file is larger than the {upload_limit / 2**20:.0f} MB an upload here may "
                "be. Nothing was imported. Split the file, or import it on the server with "
                "`matcher import` (see docs/data-format.md)."
            )
        response = make_response(
            render_template(
                "404.html" if status == 404 else "error.html",
                status=status,
                title=error.name,
                message=message,
            )
        )
    allowed = getattr(error, "valid_methods", None)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response, status


def _api_message(error: HTTPException) -> str:
    status = error.code or 500
    if status == 404:
        return "no such API endpoint; see POST /api/v1/matches"
    if status == 405:
        allowed = ", ".join(getattr(error, "valid_methods", None) or [])
        return f"method {request.method} is not allowed here" + (
            f"; use {allowed}" if allowed else ""
        )
    if status == 413:
        return "the request body is too large"
    if status == 503:
        return "the service is briefly unavailable; nothing was stored; try again shortly"
    if status >= 500:
        return "an internal error occurred; nothing was stored"
    return error.description or error.name


class ServiceUnavailable(HTTPException):
    code = 503
    description = (
        "Our system is briefly unavailable. Nothing was half-saved: please try again in a minute."
    )


def handle_database_down(error: Exception):
    """The database is unreachable: a 503 that says so, logged in one line (no traceback:
    the service recovers by itself when the database is back)."""
    log.warning("database unavailable: %s", type(error).__name__)
    response, status = handle_http_exception(ServiceUnavailable())
    response.headers["Retry-After"] = "30"
    return response, status


def handle_undecodable(error: Exception):
    """Input too deep or not valid text, wherever it is found: the client's fault, a 400."""
    log.info("request refused: %s", type(error).__name__)
    return handle_http_exception(
        BadRequest("The request could not be read: it is nested too deeply or is not valid text.")
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(InterfaceError, handle_database_down)
    app.register_error_handler(RecursionError, handle_undecodable)
    app.register_error_handler(UnicodeError, handle_undecodable)
