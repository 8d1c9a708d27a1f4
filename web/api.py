"""The JSON API: stateless ranking of one intake.

Every answer has one envelope: ``{"ok": true, "data": ...}`` or
``{"ok": false, "errors": {field: message}}`` (``"_"`` for the body as a whole).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from matcher import MatcherError, Problem, ValidationError
from matcher.schema import parse_intake

from .errors import api_error
from .extensions import current_matcher

MAX_K = 20

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.post("/matches")
def matches():
    """Rank therapists for the intake in the body; stores nothing.

    The body is an object keyed by the ``intakes.csv`` column names, plus an
    optional ``"k"`` (1..20, default the app's ``MATCHES_K``).
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(
            400, {"_": "expected a JSON object of intake fields (Content-Type: application/json)"}
        )
    problems: list[Problem] = []
    k = body.get("k", current_app.config["MATCHES_K"])
    if not _is_k(k):
        problems.append(Problem("k", f"expected a whole number from 1 to {MAX_K}, got {k!r:.40}"))
    try:
        record = parse_intake(body)
    except ValidationError as error:
        problems.extend(error.problems)
    if problems:
        return api_error(400, ValidationError(problems).by_field())
    try:
        ranking = current_matcher().rank(record, k=k, remember=False)  # stores nothing
    except MatcherError as error:
        return api_error(503, {"_": f"cannot rank right now: {error}"})
    return jsonify({"ok": True, "data": ranking.as_dict()})


def _is_k(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_K
