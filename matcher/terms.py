"""Controlled vocabularies: what people type, turned into the one term we match on.

Languages, insurers, regions, cities and therapy types arrive from the intake
form, the JSON API and CSV files, typed by different people ("Español",
"spanish", "Spanish "). Every path normalises them here, so a constraint
compares like with like. The synonyms (endonyms, abbreviations, common
misspellings) are data: ``matcher/data/terms.toml``.

Canonical terms are lower-case tags (``"spanish"``, ``"blue_cross"``,
``"california"``) except cities, which keep a readable form (``"New York"``)
and are compared case-folded.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from .text import load_toml
from .vocab import AGE_GROUP_FROM, AGE_GROUPS

#: The kinds of term with a vocabulary (the sections of ``terms.toml``).
TERM_KINDS: tuple[str, ...] = ("language", "insurer", "region", "city", "therapy_type")

_SEPARATORS = re.compile(r"[\s\-]+")
_SPACES = re.compile(r"\s+")
# What ``fold`` treats as a gap between words: spacing, dashes, underscores, dots, commas.
_FOLD_GAPS = re.compile(r"[\s\-\u2010-\u2015_.,]+")
# A one-letter word followed by another: the letters of an initialism ("n y c" from "N.Y.C.").
_INITIAL = re.compile(r"\b([^\W\d_]) (?=[^\W\d_]\b)")


def fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive key: ``"  Español "`` -> ``"espanol"``.

    Dots and commas separate words, and initials are joined, so ``"N.Y."``, ``"N. Y."`` and
    ``"NY"`` fold alike, as do ``"St.Louis"`` and ``"St. Louis"``. Invisible format
    characters (zero-width spaces pasted from a web page) are dropped.
    """
    # Compatibility forms first ("ᴬ", "ℌ" decompose to capitals), then case, then accents.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    plain = "".join(
        c for c in decomposed if not unicodedata.combining(c) and unicodedata.category(c) != "Cf"
    )
    words = _FOLD_GAPS.sub(" ", plain).strip()
    return _INITIAL.sub(r"\1", words)


def tag(text: str) -> str:
    """A lower-case tag with underscores: ``"Blue Cross"`` -> ``"blue_cross"``."""
    return _SEPARATORS.sub("_", text.strip().lower())


@cache
def _synonyms(kind: str) -> dict[str, str]:
    """Folded synonym -> canonical term, for one kind (the canonical term maps to itself)."""
    if kind not in TERM_KINDS:
        raise ValueError(f"kind must be one of {TERM_KINDS}, got {kind!r}")
    section = load_toml("terms").get(kind, {})
    table: dict[str, str] = {}
    for canonical, spellings in section.items():
        for spelling in (canonical, *spellings):
            table[fold(spelling)] = canonical
    return table


def canonical(kind: str, text: str) -> str:
    """The vocabulary's term for what was typed; unknown terms are kept, tidied.

    Parameters
    ----------
    kind : one of ``TERM_KINDS``
    text : as typed; blank gives ``""``

    Examples
    --------
    >>> canonical("language", "Español")
    'spanish'
    >>> canonical("region", "CA")
    'california'
    >>> canonical("city", "  new   york ")
    'New York'
    """
    if not text or not text.strip():
        return ""
    known = _synonyms(kind).get(fold(text))
    if kind == "city":
        return known or _SPACES.sub(" ", text.strip())
    return tag(known or text)


def label(kind: str, term: str) -> str:
    """How a canonical term reads on a page: ``"blue_cross"`` -> ``"Blue Cross"``."""
    if kind == "city" or not term:
        return term
    labels = load_toml("terms").get("labels", {}).get(kind, {})
    return labels.get(term) or term.replace("_", " ").capitalize()


_AGE_SYNONYMS = {
    "child": "children",
    "kids": "children",
    "adolescent": "adolescents",
    "teen": "adolescents",
    "teens": "adolescents",
    "teenagers": "adolescents",
    "adult": "adults",
    "older adult": "older_adults",
    "older adults": "older_adults",
    "seniors": "older_adults",
}


def age_group_of(age: int) -> str:
    """The age group a person of ``age`` years belongs to."""
    starts = zip(AGE_GROUPS[::-1], AGE_GROUP_FROM[::-1], strict=True)
    return next(group for group, start in starts if age >= start)


def age_group(text: str) -> str:
    """An age group by name (``"adults"``, ``"teen"``), or an age in years, as its group.

    Raises
    ------
    ValueError
        Saying what was expected.
    """
    word = fold(text)
    word = _AGE_SYNONYMS.get(word, tag(word))
    if word in AGE_GROUPS:
        return word
    try:
        age = float(text)
    except ValueError:
        age = -1.0
    if not 0 <= age <= 120:  # also False for NaN
        raise ValueError(
            f"expected an age in years or one of {', '.join(AGE_GROUPS)}, got {text[:40]!r}"
        )
    return age_group_of(int(age))


def age_groups(items: list[str]) -> list[str]:
    """Several age groups by name, in ``AGE_GROUPS`` order (no ages in years here)."""
    groups = set()
    for item in filter(str.strip, items):
        word = fold(item)
        group = _AGE_SYNONYMS.get(word, tag(word))
        if group not in AGE_GROUPS:
            raise ValueError(
                f"unknown age group {item.strip()[:40]!r}; expected {', '.join(AGE_GROUPS)}"
            )
        groups.add(group)
    return [group for group in AGE_GROUPS if group in groups]
