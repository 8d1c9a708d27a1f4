"""The JSON API: stateless ranking of one intake.

Every answer has one envelope: ``{"ok": true, "data": ...}`` or
``{"ok": false, "errors": {field: message}}`` (``"_"`` for the body as a whole).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify

from matcher import MatcherError, Problem, ValidationError
from matcher.ranking import POLICIES
from matcher.schema import parse_intake

from .errors import api_error
from .extensions import current_matcher
from .json_body import json_object

MAX_K = 20

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.post("/matches")
def matches():
    """Rank therapists for the intake in the body; stores nothing.

    The body is an object keyed by the ``intakes.csv`` column names, plus an
    optional ``"k"`` (1..20, default the app's ``MATCHES_K``) and an optional
    ``"policy"`` ("deterministic" or "explore", default the configured policy).
    """
    try:
        body = json_object()
    except ValidationError as error:
        return api_error(400, error.by_field())
    problems: list[Problem] = []
    k = body.get("k", current_app.config["MATCHES_K"])
    if not _is_k(k):
        problems.append(Problem("k", f"expected a whole number from 1 to {MAX_K}, got {k!r:.40}"))
    policy = body.get("policy")
    if policy is not None and policy not in POLICIES:
        choices = " or ".join(f'"{p}"' for p in POLICIES)
        problems.append(Problem("policy", f"expected {choices}, got {policy!r:.40}"))
    try:
        record = parse_intake(body)
    except ValidationError as error:
        problems.extend(error.problems)
    if problems:
        return api_error(400, ValidationError(problems).by_field())
    try:
        # stores nothing
        ranking = current_matcher().rank(record, k=k, remember=False, policy=policy)
    except MatcherError as error:
        return api_error(503, {"_": f"cannot rank right now: {error}"})
    return jsonify({"ok": True, "data": ranking.as_dict(log=False)})


def _is_k(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_K
