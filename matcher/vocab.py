"""Column names and vocabularies of the data contract, defined once.

Everything that reads or writes the three CSV files (therapists, intakes,
outcomes) takes its names from here; ``docs/data-format.md`` documents them.
"""

from __future__ import annotations

#: The four style axes, after the Cooper–Norcross Inventory of Preferences.
#: Each is rated -3..+3; what the poles mean, in every wording people read, is
#: data: ``matcher/data/style_axes.toml`` (read with :func:`matcher.text.style_axes`).
STYLE_AXES: tuple[str, ...] = ("directive", "intensity", "past_focus", "challenge")

STYLE_MIN, STYLE_MAX = -3.0, 3.0

#: Concern tags with a fixed meaning. Other tags are accepted and matched semantically.
CONCERN_TAGS: tuple[str, ...] = (
    "anxiety",
    "depression",
    "trauma",
    "grief",
    "relationships",
    "family",
    "work_stress",
    "self_esteem",
    "identity",
    "substance_use",
    "eating",
    "ocd",
    "adhd",
    "anger",
    "sleep",
    "life_transition",
    "chronic_illness",
    "bipolar",
)

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PARTS_OF_DAY: tuple[str, ...] = ("am", "pm", "eve")
#: Availability slots, ``mon_am`` … ``sun_eve`` (7 days × morning/afternoon/evening).
SLOTS: tuple[str, ...] = tuple(f"{day}_{part}" for day in DAYS for part in PARTS_OF_DAY)

MODALITIES: tuple[str, ...] = ("telehealth", "in_person", "either")

#: Age groups a therapist sees and a client belongs to (children under 13,
#: adolescents 13-17, adults 18-64, older adults 65 and over).
AGE_GROUPS: tuple[str, ...] = ("children", "adolescents", "adults", "older_adults")
#: Lower age bound of each group, in ``AGE_GROUPS`` order.
AGE_GROUP_FROM: tuple[int, ...] = (0, 13, 18, 65)
#: What a roster without an ``age_groups`` column (or a blank cell) is taken to mean.
DEFAULT_AGE_GROUPS: tuple[str, ...] = ("adults", "older_adults")

#: Kinds of therapy a client may prefer (a soft preference, matched against a
#: therapist's ``modalities``). Free tags are accepted too; these are offered on the form.
THERAPY_TYPES: tuple[str, ...] = (
    "cbt",
    "dbt",
    "act",
    "emdr",
    "psychodynamic",
    "person_centred",
    "schema",
    "mindfulness",
    "family_systems",
    "solution_focused",
)

#: How a client would like to be contacted.
CONTACT_METHODS: tuple[str, ...] = ("email", "phone", "text")

LIST_SEPARATOR = ";"
TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})

THERAPIST_COLUMNS: tuple[str, ...] = (
    "therapist_id",
    "name",
    "gender",
    "languages",
    "specialties",
    "modalities",
    "approach",
    *STYLE_AXES,
    "telehealth",
    "in_person",
    "city",
    "availability",
    "insurance",
    "fee",
    "sliding_scale",
    "capacity",
    "lgbtq_affirming",
    "faith",
    "licensed_regions",
    "age_groups",
)

#: Optional therapist columns: a file without them imports with the stated default
#: (``licensed_regions`` blank = not recorded, so not checked), and the import says so.
OPTIONAL_THERAPIST_COLUMNS: tuple[str, ...] = ("licensed_regions", "age_groups")

INTAKE_COLUMNS: tuple[str, ...] = (
    "client_id",
    "concerns",
    "story",
    "hopes",
    *STYLE_AXES,
    "language",
    "modality",
    "city",
    "availability",
    "insurance",
    "max_fee",
    "therapist_gender",
    "gender_required",
    "lgbtq_affirming_required",
    "faith",
    "region",
    "age_group",
    "therapy_type",
)

OUTCOME_COLUMNS: tuple[str, ...] = (
    "client_id",
    "therapist_id",
    "sessions",
    "dropped_out",
    "alliance",
    "improvement",
    "click",
)

#: Session alliance and wellbeing scales run 0..40.
ALLIANCE_MAX = 40.0
#: Alliance scales scored 0..40 conventionally use 36 as the "good alliance" cut-off.
ALLIANCE_CUTOFF = 36
#: On 0..40 wellbeing scales, a change of 5 points or more is a reliable change.
RELIABLE_CHANGE = 5
