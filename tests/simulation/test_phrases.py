"""The simulator's text data files have the shape the simulator relies on."""

from __future__ import annotations

import copy
import re
from string import Formatter

import pytest

from matcher.simulation import FREE_CONCERNS, REGIMES, THERAPY_MODALITIES
from matcher.simulation import phrases as phrases_module
from matcher.simulation.phrases import (
    LEVELS,
    MIN_PARAPHRASES,
    SETTINGS,
    PhraseBank,
    load_names,
    load_phrases,
)
from matcher.text import load_toml
from matcher.vocab import CONCERN_TAGS, STYLE_AXES

BANKS = sorted({regime.phrases for regime in REGIMES.values()})
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def _raw(name: str) -> dict:
    return load_toml(name, package="matcher.simulation")


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(text) if field is not None}


def _sentences(bank: PhraseBank) -> list[str]:
    """Every sentence of a bank (templates unformatted)."""
    found = [
        s for ladder in (bank.therapist, bank.client) for axis in ladder for lv in axis for s in lv
    ]
    found += [*bank.specialty, *bank.training, *bank.experience]
    found += [*bank.generic_hopes, *bank.story_context]
    found += [s for options in bank.setting.values() for s in options]
    found += [s for options in bank.stories.values() for s in options]
    return found


def test_both_banks_exist() -> None:
    assert BANKS == ["phrases", "phrases_alt"]


@pytest.mark.parametrize("name", BANKS)
@pytest.mark.parametrize("voice", ["therapist", "client"])
def test_every_axis_has_five_levels_of_paraphrases(name: str, voice: str) -> None:
    raw = _raw(name)[voice]
    assert set(raw) == set(STYLE_AXES)
    for axis in STYLE_AXES:
        assert list(raw[axis]) == list(LEVELS), (voice, axis)  # in order, none extra
        for level in LEVELS:
            paraphrases = raw[axis][level]
            assert len(paraphrases) >= MIN_PARAPHRASES, (voice, axis, level)
            assert len(set(paraphrases)) == len(paraphrases), (voice, axis, level)
    bank = load_phrases(name)
    ladder = getattr(bank, voice)
    assert [len(axis) for axis in ladder] == [len(LEVELS)] * len(STYLE_AXES)


@pytest.mark.parametrize("name", BANKS)
def test_every_concern_tag_has_story_phrases(name: str) -> None:
    stories = _raw(name)["stories"]
    assert set(stories) == set(CONCERN_TAGS) | set(FREE_CONCERNS)
    for tag, phrases in stories.items():
        assert len(phrases) >= 3, tag
        assert len(set(phrases)) == len(phrases), tag


@pytest.mark.parametrize("name", BANKS)
def test_every_tag_and_modality_has_words(name: str) -> None:
    raw = _raw(name)
    assert set(raw["concern_words"]) == set(CONCERN_TAGS)
    assert set(raw["modality_words"]) == set(THERAPY_MODALITIES)
    assert all(isinstance(w, str) and w for w in raw["concern_words"].values())
    assert all(isinstance(w, str) and w for w in raw["modality_words"].values())


@pytest.mark.parametrize("name", BANKS)
def test_templates_use_only_their_placeholders(name: str) -> None:
    bank = load_phrases(name)
    assert set(bank.setting) == set(SETTINGS)
    allowed = {
        "specialty": {"concerns"},
        "training": {"modalities"},
        "experience": {"years", "job"},
        "story_context": {"months"},
    }
    for field, names in allowed.items():
        for template in getattr(bank, field):
            assert _placeholders(template) <= names, template
    # Every specialty and training template must actually name the concerns / modalities.
    assert all(_placeholders(t) == {"concerns"} for t in bank.specialty)
    assert all(_placeholders(t) == {"modalities"} for t in bank.training)
    for key in SETTINGS:
        for template in bank.setting[key]:
            assert _placeholders(template) <= {"city"}, template
    assert len(bank.story_context) >= 3 and len(bank.jobs) >= 1 and bank.generic_hopes
    # Style sentences, wishes and stories are plain text: a brace would break .format.
    plain = [s for ladder in (bank.therapist, bank.client) for a in ladder for lv in a for s in lv]
    plain += [*bank.generic_hopes, *(s for options in bank.stories.values() for s in options)]
    assert not [text for text in plain if "{" in text or "}" in text]


@pytest.mark.parametrize("name", BANKS)
def test_every_entry_is_one_sentence(name: str) -> None:
    # The tests of the generated texts count sentences; an entry with two would break them.
    for text in _sentences(load_phrases(name)):
        assert len(_SENTENCE_END.findall(text)) == 1 and text[-1] in ".!?", text


def test_alt_bank_is_written_separately() -> None:
    default, alt = load_phrases("phrases"), load_phrases("phrases_alt")
    assert not set(_sentences(default)) & set(_sentences(alt))
    assert set(_raw("phrases")) == set(_raw("phrases_alt"))  # same sections


def test_names() -> None:
    names = load_names()
    for group in (names.women, names.men, names.neutral, names.last, names.credentials):
        assert len(group) >= 5 and len(set(group)) == len(group)
    assert names.initials.isalpha() and names.initials.isupper()
    assert len(set(names.initials)) == len(names.initials)


# ---------------------------------------------------------------- the loader rejects bad shapes


def _broken(monkeypatch: pytest.MonkeyPatch, edit) -> None:
    data = copy.deepcopy(_raw("phrases"))
    edit(data)
    monkeypatch.setattr(phrases_module, "load_toml", lambda name, package: data)


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda d: d["therapist"]["intensity"].pop("neutral"), r"\[intensity\]: neutral"),
        (lambda d: d["client"]["challenge"]["strong_positive"].pop(), r"at least 4"),
        (lambda d: d["stories"].pop("grief"), r"\[stories\]: grief"),
        (lambda d: d["concern_words"].pop("ocd"), r"\[concern_words\]: ocd"),
        (
            lambda d: d["client"]["directive"]["neutral"].append("Two. Sentences."),
            r"not exactly one sentence",
        ),
        (
            lambda d: d["therapist_fillers"]["specialty"].append("I help with {topic}."),
            r"unknown placeholder",
        ),
        (lambda d: d.pop("client_fillers"), r"\[client_fillers\] must be a table"),
    ],
)
def test_loader_rejects_malformed_banks(
    monkeypatch: pytest.MonkeyPatch, edit, pattern: str
) -> None:
    _broken(monkeypatch, edit)
    with pytest.raises(ValueError, match=pattern):
        load_phrases.__wrapped__("broken")
