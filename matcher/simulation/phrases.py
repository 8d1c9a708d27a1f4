"""The simulator's phrase banks and name lists, read from ``data/*.toml``.

Text is data: the sentences live in ``phrases.toml`` (the default bank), ``phrases_alt.toml``
(a separately written bank of the same shape, for the ``alt_phrasing`` regime) and
``names.toml``. This module turns them into typed, immutable structures and checks their
shape once, so a malformed file fails loudly at load time rather than as an
``IndexError`` in the middle of a simulation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from string import Formatter
from types import MappingProxyType
from typing import Any

from ..text import load_toml
from ..vocab import CONCERN_TAGS, STYLE_AXES
from .vocabulary import FREE_CONCERNS, THERAPY_MODALITIES

__all__ = ["LEVELS", "SETTINGS", "NameBank", "PhraseBank", "load_names", "load_phrases"]

_PACKAGE = "matcher.simulation"

#: Phrase levels of a style axis, in order 0..4 (the index :func:`.sampling.levels` returns).
LEVELS: tuple[str, ...] = (
    "strong_negative",
    "mild_negative",
    "neutral",
    "mild_positive",
    "strong_positive",
)
#: Keys of the setting sentences, in the order the roster codes settings (0, 1, 2).
SETTINGS: tuple[str, ...] = ("both", "telehealth", "in_person")
#: Fewest paraphrases a level of a style axis may have.
MIN_PARAPHRASES = 4

#: ``[axis][level][paraphrase]``, axes in ``vocab.STYLE_AXES`` order, levels in ``LEVELS``.
Ladder = tuple[tuple[tuple[str, ...], ...], ...]

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


@dataclass(frozen=True, eq=False)
class PhraseBank:
    """Every sentence the simulator writes, by voice and purpose.

    Attributes
    ----------
    name : str
        The data file it came from (``phrases``, ``phrases_alt``).
    therapist, client : Ladder
        Style sentences in the therapist's and the client's voice.
    specialty, training, experience : tuple of str
        Therapist filler templates with ``{concerns}``, ``{modalities}`` and
        ``{years}``/``{job}`` placeholders.
    setting : Mapping[str, tuple of str]
        Templates (placeholder ``{city}``) keyed by :data:`SETTINGS`.
    jobs : tuple of str
        Earlier jobs a therapist may mention.
    generic_hopes : tuple of str
        Client wishes that say nothing about style.
    story_context : tuple of str
        Sentences around a story's concern sentences (placeholder ``{months}``).
    stories : Mapping[str, tuple of str]
        Concern sentences for every fixed and free concern tag.
    concern_words, modality_words : Mapping[str, str]
        How a therapist names concern tags and modalities in prose.
    """

    name: str
    therapist: Ladder
    client: Ladder
    specialty: tuple[str, ...]
    training: tuple[str, ...]
    experience: tuple[str, ...]
    setting: Mapping[str, tuple[str, ...]]
    jobs: tuple[str, ...]
    generic_hopes: tuple[str, ...]
    story_context: tuple[str, ...]
    stories: Mapping[str, tuple[str, ...]]
    concern_words: Mapping[str, str]
    modality_words: Mapping[str, str]


@dataclass(frozen=True)
class NameBank:
    """Name parts of simulated therapists (``names.toml``)."""

    women: tuple[str, ...]
    men: tuple[str, ...]
    neutral: tuple[str, ...]
    last: tuple[str, ...]
    credentials: tuple[str, ...]
    initials: str


class _Reader:
    """Typed access to a parsed TOML table, with errors that name the file and the key."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data, self.where = data, where

    def table(self, key: str) -> _Reader:
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise ValueError(f"{self.where}: [{key}] must be a table")
        return _Reader(value, f"{self.where}[{key}]")

    def strings(self, key: str, minimum: int = 1) -> tuple[str, ...]:
        value = self.data.get(key)
        if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
            raise ValueError(f"{self.where}: {key} must be an array of non-empty strings")
        if len(value) < minimum:
            raise ValueError(f"{self.where}: {key} needs at least {minimum}, has {len(value)}")
        return tuple(value)

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{self.where}: {key} must be a non-empty string")
        return value

    def sentences(
        self, key: str, placeholders: frozenset[str] = frozenset(), minimum: int = 1
    ) -> tuple[str, ...]:
        """Strings that are each one sentence, using only the given placeholders."""
        found = self.strings(key, minimum)
        for text in found:
            names = {field for _, field, _, _ in Formatter().parse(text) if field is not None}
            if not names <= placeholders:
                raise ValueError(f"{self.where}: {key}: unknown placeholder in {text!r}")
            # Sentence counts of the generated texts are part of the contract the tests check.
            if len(_SENTENCE_END.findall(text)) != 1 or text[-1] not in ".!?":
                raise ValueError(f"{self.where}: {key}: not exactly one sentence: {text!r}")
        return found

    def ladder(self, key: str) -> Ladder:
        voice = self.table(key)
        return tuple(
            tuple(voice.table(axis).sentences(level, minimum=MIN_PARAPHRASES) for level in LEVELS)
            for axis in STYLE_AXES
        )

    def words(self, key: str, names: tuple[str, ...]) -> Mapping[str, str]:
        table = self.table(key)
        return MappingProxyType({name: table.string(name) for name in names})


@cache
def load_phrases(name: str = "phrases") -> PhraseBank:
    """The phrase bank ``data/<name>.toml``, checked (cached per process).

    Raises
    ------
    FileNotFoundError
        If there is no such data file.
    ValueError
        If a section is missing or has the wrong shape: an axis without all five levels
        or with fewer than four paraphrases a level, a concern tag without story
        sentences, an entry that is not exactly one sentence, an unknown placeholder.
    """
    root = _Reader(load_toml(name, package=_PACKAGE), f"{name}.toml")
    therapist = root.table("therapist_fillers")
    client = root.table("client_fillers")
    setting = therapist.table("setting")
    stories = root.table("stories")
    city = frozenset({"city"})
    return PhraseBank(
        name=name,
        therapist=root.ladder("therapist"),
        client=root.ladder("client"),
        specialty=therapist.sentences("specialty", frozenset({"concerns"})),
        training=therapist.sentences("training", frozenset({"modalities"})),
        experience=therapist.sentences("experience", frozenset({"years", "job"})),
        setting=MappingProxyType({key: setting.sentences(key, city) for key in SETTINGS}),
        jobs=therapist.strings("jobs"),
        generic_hopes=client.sentences("generic_hopes"),
        # Stories draw three context sentences without replacement.
        story_context=client.sentences("story_context", frozenset({"months"}), minimum=3),
        stories=MappingProxyType(
            {tag: stories.sentences(tag) for tag in (*CONCERN_TAGS, *FREE_CONCERNS)}
        ),
        concern_words=root.words("concern_words", CONCERN_TAGS),
        modality_words=root.words("modality_words", THERAPY_MODALITIES),
    )


@cache
def load_names() -> NameBank:
    """The name lists of ``data/names.toml`` (cached per process)."""
    root = _Reader(load_toml("names", package=_PACKAGE), "names.toml")
    return NameBank(
        women=root.strings("women"),
        men=root.strings("men"),
        neutral=root.strings("neutral"),
        last=root.strings("last"),
        credentials=root.strings("credentials"),
        initials=root.string("initials"),
    )
