"""The words clients read: labels for tags, the style questions, the time grid.

Presentation only; the vocabularies themselves live in :mod:`matcher.vocab`.
"""

from __future__ import annotations

from matcher.ranking import slot_label
from matcher.text import StyleAxisText, style_axes
from matcher.vocab import CONCERN_TAGS, DAYS, PARTS_OF_DAY

CONCERN_LABELS: dict[str, str] = {
    "anxiety": "Anxiety or worry",
    "depression": "Low mood or depression",
    "trauma": "Trauma",
    "grief": "Grief or loss",
    "relationships": "Relationships",
    "family": "Family",
    "work_stress": "Stress at work",
    "self_esteem": "Self-esteem",
    "identity": "Identity",
    "substance_use": "Alcohol or drug use",
    "eating": "Eating",
    "ocd": "Obsessions or compulsions (OCD)",
    "adhd": "Attention and focus (ADHD)",
    "anger": "Anger",
    "sleep": "Sleep",
    "life_transition": "A big life change",
    "chronic_illness": "Living with a long-term illness",
    "bipolar": "Bipolar disorder",
}


def concern_label(tag: str) -> str:
    """A human label for a concern tag; tags added to the vocabulary later still read well."""
    return CONCERN_LABELS.get(tag, tag.replace("_", " ").capitalize())


#: (tag, label) in the vocabulary's order, for the checkboxes.
CONCERN_CHOICES: tuple[tuple[str, str], ...] = tuple(
    (tag, concern_label(tag)) for tag in CONCERN_TAGS
)


#: The style questions, in ``STYLE_AXES`` order (wording from ``matcher/data/style_axes.toml``).
STYLE_ITEMS: tuple[StyleAxisText, ...] = tuple(style_axes().values())

_STRENGTH = {3: "Strongly", 2: "Mostly", 1: "Slightly"}


def style_choices(item: StyleAxisText) -> tuple[tuple[int, str], ...]:
    """The seven ratings -3..+3 of one axis, each with a spoken label for screen readers."""
    choices = []
    for value in range(-3, 4):
        if value == 0:
            label = "In between"
        else:
            pole = item.negative if value < 0 else item.positive
            label = f"{_STRENGTH[abs(value)]}: {pole}"
        choices.append((value, label))
    return tuple(choices)


MODALITY_CHOICES: tuple[tuple[str, str], ...] = (
    ("either", "Either is fine"),
    ("telehealth", "By video (telehealth)"),
    ("in_person", "In person"),
)

GENDER_CHOICES: tuple[tuple[str, str], ...] = (
    ("", "No preference"),
    ("woman", "A woman"),
    ("man", "A man"),
    ("nonbinary", "A nonbinary therapist"),
)

PART_LABELS = {"am": "Morning", "pm": "Afternoon", "eve": "Evening"}
DAY_LABELS = {day: slot_label(f"{day}_am").split()[0] for day in DAYS}

#: Rows of the availability grid: (day label, [(slot, accessible label), ...]).
SLOT_GRID: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = tuple(
    (
        DAY_LABELS[day],
        tuple((f"{day}_{part}", slot_label(f"{day}_{part}")) for part in PARTS_OF_DAY),
    )
    for day in DAYS
)
PART_HEADINGS: tuple[str, ...] = tuple(PART_LABELS[part] for part in PARTS_OF_DAY)
