"""Field parsers: one cell of raw input (a CSV cell, a form field, a JSON value) in, a
normalised value out, or :class:`BadValue` saying what was expected.

:mod:`matcher.schema` assembles them into the fields of each contract table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .terms import age_group, age_groups, canonical
from .vocab import FALSE_WORDS, LIST_SEPARATOR, MODALITIES, SLOTS, STYLE_MAX, STYLE_MIN, TRUE_WORDS

MAX_TEXT_CHARS = 5000
MAX_SHORT_CHARS = 200
MAX_LIST_ITEMS = 50
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_SLOT_SET = frozenset(SLOTS)


class BadValue(Exception):
    """Raised by a field parser; the message says what was expected."""


_SCALARS = (str, int, float)  # bool is an int


def as_text(value: Any) -> str:
    """Turn what a caller gave (str, number, a list of those, None, NaN) into trimmed text.

    Raises ``BadValue`` for an object, a nested list, or text that is not text (a NUL
    character, a lone surrogate), so wrong shapes are refused rather than coerced.
    """
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set | frozenset):
        if not all(item is None or isinstance(item, _SCALARS) for item in value):
            raise BadValue("expected a list of words or numbers, not a nested list or an object")
        return LIST_SEPARATOR.join(as_text(item) for item in value)
    if not isinstance(value, _SCALARS):
        raise BadValue(f"expected text or a number, not {type(value).__name__}")
    text = str(value)
    if "\x00" in text:
        raise BadValue("contains a NUL character, which is not text")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadValue("contains a lone surrogate character, which is not valid text") from None
    return text.strip()


def parse_id(text: str) -> str:
    if not _ID_PATTERN.match(text):
        raise BadValue(
            f"expected an id of letters, digits, '_', '.' or '-' (at most 64), got {text[:80]!r}"
        )
    return text


def parse_short(text: str) -> str:
    if len(text) > MAX_SHORT_CHARS:
        raise BadValue(f"expected at most {MAX_SHORT_CHARS} characters, got {len(text)}")
    return text


def parse_long(text: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        raise BadValue(f"expected at most {MAX_TEXT_CHARS} characters, got {len(text)}")
    return text


def normalise_tag(item: str) -> str:
    return re.sub(r"[\s\-]+", "_", item.strip().lower())


def parse_tags(text: str) -> list[str]:
    items = [normalise_tag(item) for item in text.split(LIST_SEPARATOR)]
    items = list(dict.fromkeys(item for item in items if item))
    if len(items) > MAX_LIST_ITEMS:
        raise BadValue(f"expected at most {MAX_LIST_ITEMS} items, got {len(items)}")
    too_long = [item for item in items if len(item) > 60]
    if too_long:
        raise BadValue(f"item {too_long[0][:60]!r}… is longer than 60 characters")
    return items


def parse_slots(text: str) -> list[str]:
    slots = parse_tags(text)
    unknown = [slot for slot in slots if slot not in _SLOT_SET]
    if unknown:
        raise BadValue(f"unknown slot {unknown[0]!r}; slots look like mon_am, tue_pm … sun_eve")
    return slots


def parse_bool(text: str) -> bool:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadValue(f"expected yes/no (or true/false, 1/0), got {text[:40]!r}")


def parse_number(text: str, low: float | None = None, high: float | None = None) -> float:
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise BadValue(f"expected a number, got {text[:40]!r}") from None
    if not math.isfinite(number):
        raise BadValue(f"expected a finite number, got {text[:40]!r}")
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        raise BadValue(f"expected a number {bounds}, got {text[:40]!r}")
    return number


def parse_count(text: str) -> int:
    try:
        number = parse_number(text, low=0)
    except BadValue:
        number = math.nan
    if not number.is_integer():
        raise BadValue(f"expected a whole number of at least 0, got {text[:40]!r}")
    return int(number)


def parse_style(text: str) -> float:
    try:
        return parse_number(text, STYLE_MIN, STYLE_MAX)
    except BadValue:
        raise BadValue(
            f"expected a number from -3 to +3 (blank = none), got {text[:40]!r}"
        ) from None


def parse_modality(text: str) -> str:
    word = normalise_tag(text)
    if word not in MODALITIES:
        raise BadValue(f"expected one of {', '.join(MODALITIES)}, got {text[:40]!r}")
    return word


def parse_click(text: str) -> int:
    return int(parse_bool(text))


def term(kind: str) -> Callable[[str], str]:
    """A parser for one controlled term (see :mod:`matcher.terms`)."""

    def parse(text: str) -> str:
        return canonical(kind, parse_short(text))

    return parse


def terms(kind: str) -> Callable[[str], list[str]]:
    """A parser for a ``;``-separated list of controlled terms, duplicates removed."""

    def parse(text: str) -> list[str]:
        parse_tags(text)  # the same limits on count and length as any list
        terms = (canonical(kind, item) for item in text.split(LIST_SEPARATOR))
        return list(dict.fromkeys(term for term in terms if term))

    return parse


def parse_age_group(text: str) -> str:
    try:
        return age_group(text)
    except ValueError as error:
        raise BadValue(str(error)) from None


def parse_age_groups(text: str) -> list[str]:
    try:
        return age_groups(text.split(LIST_SEPARATOR))
    except ValueError as error:
        raise BadValue(str(error)) from None


@dataclass(frozen=True)
class Field:
    """How one column is parsed: ``parse`` turns non-blank text into a value."""

    name: str
    parse: Callable[[str], Any]
    required: bool = False
    blank: Any = None

    def value_of(self, raw: Any) -> Any:
        if isinstance(raw, list | tuple | set | frozenset) and not isinstance(self.blank, list):
            raise BadValue("expected a single value, not a list")
        text = as_text(raw)
        if not text:
            if self.required:
                raise BadValue("is required but blank")
            return list(self.blank) if isinstance(self.blank, list) else self.blank
        return self.parse(text)
