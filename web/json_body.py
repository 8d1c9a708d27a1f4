"""One strict decoding step for JSON bodies: what is not a small, plain JSON object of
text, numbers and short lists is a 400 that names the field, before any library code.

Refused: a body that is not UTF-8, nesting deeper than ``MAX_DEPTH`` (checked by
scanning the text before parsing, so a 5,000-deep body never reaches the parser's
recursion), ``NaN``/``Infinity``, and strings with a NUL or a lone surrogate
(``"\\ud800"`` is valid JSON but not text). Field shapes are then the schema's to
check (:func:`matcher.schema.parse_intake` refuses objects and nested lists).
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from matcher import Problem, ValidationError

#: {"concerns": ["anxiety"]} is 2 deep; nothing an intake needs is deeper.
MAX_DEPTH = 3


def nesting_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest in JSON text, ignoring brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _bad_strings(value: Any, path: str) -> list[Problem]:
    """A problem for each string (key or value) with a NUL or a lone surrogate."""
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            where = path or key  # a top-level field names itself; deeper, its field
            found += _bad_strings(key, path or "_") + _bad_strings(item, where)
        return found
    if isinstance(value, list):
        return [problem for item in value for problem in _bad_strings(item, path)]
    if isinstance(value, str):
        if "\x00" in value:
            return [Problem(path or "_", "contains a NUL character, which is not text")]
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return [Problem(path or "_", "contains a lone surrogate, which is not valid text")]
    return []


def json_object() -> dict[str, Any]:
    """The request's body as a JSON object, decoded strictly.

    Raises
    ------
    ValidationError
        Naming the field at fault (``"_"`` for the body as a whole).
    """
    if not request.is_json:
        message = "expected a JSON object of intake fields (Content-Type: application/json)"
        raise ValidationError([Problem("_", message)])
    try:
        text = request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as error:
        problem = Problem("_", f"the body is not UTF-8 text (byte {error.start})")
        raise ValidationError([problem]) from None
    if nesting_depth(text) > MAX_DEPTH:
        raise ValidationError([Problem("_", f"the body is nested more than {MAX_DEPTH} deep")])
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        message = getattr(error, "msg", str(error))
        raise ValidationError([Problem("_", f"the body is not valid JSON: {message}")]) from None
    if not isinstance(body, dict):
        raise ValidationError([Problem("_", "expected a JSON object of intake fields")])
    problems = _bad_strings(body, "")
    if problems:
        raise ValidationError(problems)
    return body
