"""The words clients read: labels for tags, the style questions, the time grid.

Presentation only; the vocabularies themselves live in :mod:`matcher.vocab`.
"""

from __future__ import annotations

from dataclasses import dataclass

from matcher.ranking import slot_label
from matcher.vocab import CONCERN_TAGS, DAYS, PARTS_OF_DAY, STYLE_AXES

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


@dataclass(frozen=True)
class StyleItem:
    """One style axis as a question: the full pole wording and short words for charts."""

    axis: str
    title: str
    question: str
    negative: str  # the -3 end, in the client's voice
    positive: str  # the +3 end
    short_negative: str
    short_positive: str


STYLE_ITEMS: tuple[StyleItem, ...] = (
    StyleItem(
        "directive",
        "Who leads",
        "Who would you like to lead the sessions?",
        "I'd like to lead and set the pace",
        "I'd like the therapist to lead and give structure",
        "I lead",
        "Therapist leads",
    ),
    StyleItem(
        "intensity",
        "Emotional intensity",
        "How much should sessions go into strong feelings?",
        "Keep things calm and steady",
        "Go deep into strong feelings",
        "Calm and steady",
        "Strong feelings",
    ),
    StyleItem(
        "past_focus",
        "Past or present",
        "Where should the work focus?",
        "On the here and now and what comes next",
        "On my past and where things come from",
        "Here and now",
        "The past",
    ),
    StyleItem(
        "challenge",
        "Support or challenge",
        "What kind of help would suit you best?",
        "Warm support and someone who listens",
        "Practical tools and honest challenge",
        "Warm support",
        "Tools, challenge",
    ),
)
assert tuple(item.axis for item in STYLE_ITEMS) == STYLE_AXES

_STRENGTH = {3: "Strongly", 2: "Mostly", 1: "Slightly"}


def style_choices(item: StyleItem) -> tuple[tuple[int, str], ...]:
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
