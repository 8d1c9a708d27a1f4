"""Query parameters read strictly: a bad page number or a non-finite number is a 400
that names the parameter, never a 500 or a silent default."""

from __future__ import annotations

import math

from flask import abort, request

#: Pages beyond this are refused: at 50 rows a page, more than any practice holds.
MAX_PAGE = 10_000


def page_number(name: str = "page") -> int:
    """The 1-based page asked for (default 1); digits only, 1..``MAX_PAGE``."""
    raw = request.args.get(name, "1").strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5 and 1 <= int(raw) <= MAX_PAGE):
        abort(400, f"{name} must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def bounded_number(name: str, low: float, high: float, default: float) -> float:
    """A finite number from ``low`` to ``high`` (the default when absent or blank)."""
    raw = request.values.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        abort(400, f"{name} must be a number from {low:g} to {high:g}")
    return value
