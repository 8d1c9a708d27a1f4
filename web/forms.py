"""The intake form: from the browser's fields to the mapping the library validates.

Field names in the HTML are the ``intakes.csv`` column names, so errors from
:meth:`matcher.ValidationError.by_field` land beside the right inputs. Some
fields exist only on the form: the safety question, free-text "other"
concerns, the optional note on the client's support, and the consent box with
the contact details it allows us to keep (never part of the intake record).
Language, insurer, city and region are chosen from lists built from the
roster; "other" takes free text, normalised like everything else by
:mod:`matcher.terms` when the record is validated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from matcher import Problem, ValidationError
from matcher.clinic import WELLBEING_ITEMS, Contact, field_name, validate_contact, validate_section
from matcher.schema import parse_intake
from matcher.vocab import CONCERN_TAGS, STYLE_AXES

from .wording import STYLE_ITEMS

SAFETY = "safety"
OTHER_CONCERNS = "concerns_other"
SUPPORT_NOTE = "support_note"
CONSENT = "consent"
MAX_SUPPORT_NOTE_CHARS = 2000
#: The value of a list's "other" option; the typed term is in ``<field>_other``.
OTHER = "_other"
#: Fields chosen from a list of the roster's terms, with "other" as free text.
LISTED_FIELDS: tuple[str, ...] = ("language", "region", "city", "insurance")
#: Contact fields on the form -> the names :func:`matcher.clinic.validate_contact` uses.
CONTACT_FIELDS: dict[str, str] = {
    "preferred_name": "preferred_name",
    "email": "email",
    "phone": "phone",
    "contact_method": "method",
    "contact_times": "times",
}

#: The optional wellbeing baseline: (form field, question), in the library's item order.
WELLBEING_QUESTIONS: tuple[tuple[str, str], ...] = tuple(
    zip(
        (field_name("wellbeing", item) for item in WELLBEING_ITEMS),
        (
            "Personally, in yourself",
            "In your close relationships (family, partner, friends)",
            "At work, school or socially",
            "Overall, your general sense of wellbeing",
        ),
        strict=True,
    )
)

_TEXT_FIELDS = (
    "story",
    "hopes",
    "modality",
    "max_fee",
    "therapist_gender",
    "faith",
    "age_group",
    "therapy_type",
)
_CHECKBOX_FLAGS = ("gender_required", "lgbtq_affirming_required")
_OTHER_SEPARATORS = re.compile(r"[,;]")

#: What a new form starts with.
DEFAULTS: MultiDict = MultiDict(
    {"language": "english", "modality": "either", **dict.fromkeys(STYLE_AXES, "")}
)

#: How each field is named in the error summary.
FIELD_LABELS: dict[str, str] = {
    SAFETY: "Safety question",
    "concerns": "What brings you",
    "story": "In your own words",
    **{item.name: item.title for item in STYLE_ITEMS},
    "hopes": "What a helpful therapist would be like",
    "language": "Language",
    "modality": "How you'd like to meet",
    "city": "City or town",
    "availability": "Times that suit you",
    "insurance": "Insurance",
    "max_fee": "Most you can pay per session",
    "therapist_gender": "Therapist's gender",
    "gender_required": "Gender is a must",
    "lgbtq_affirming_required": "LGBTQ+ affirming is a must",
    "faith": "Faith",
    "region": "State or region where you live",
    "age_group": "Your age",
    "therapy_type": "A kind of therapy",
    SUPPORT_NOTE: "The people around you",
    **{name: f"How you have been ({question.lower()})" for name, question in WELLBEING_QUESTIONS},
    "preferred_name": "What we should call you",
    "email": "Email",
    "phone": "Phone",
    "contact_method": "How to reach you",
    "contact_times": "When to reach you",
    CONSENT: "Agreement to store your answers",
}

#: Errors are listed in the order the fields appear on the form.
FORM_ORDER: dict[str, int] = {name: position for position, name in enumerate(FIELD_LABELS)}

#: The element each error summary link points at: the field, or a group's first option.
FIELD_ANCHORS: dict[str, str] = {
    **{name: f"f-{name}" for name in FIELD_LABELS},
    SAFETY: "f-safety-no",
    "concerns": f"f-concerns-{CONCERN_TAGS[0]}",
    **{axis: f"f-{axis}-none" for axis in STYLE_AXES},
    "modality": "f-modality-either",
    "availability": "f-availability-mon_am",
    "therapist_gender": "f-therapist_gender-any",
    "contact_method": "f-contact_method-email",
    **{name: f"f-{name}-none" for name, _ in WELLBEING_QUESTIONS},
}


@dataclass(frozen=True)
class IntakeSubmission:
    """A validated intake and what the form adds around it."""

    record: dict[str, Any]  # as returned by matcher.schema.parse_intake
    urgent: bool
    support_note: str
    #: Optional baseline {"personal", "relationships", "social", "overall"} 0..10, or None.
    wellbeing: dict[str, int] | None = None
    #: The client agreed to their answers being stored (and so to being contacted).
    consent: bool = False
    #: How to reach them; None without consent (nothing is kept).
    contact: Contact | None = None


def listed_value(form: MultiDict, name: str) -> str | None:
    """A list field's value: the option chosen, or what was typed after "other"."""
    chosen = _text(form.get(name))
    if chosen == OTHER:
        return _text(form.get(f"{name}{OTHER}"))
    return chosen


def intake_mapping(form: Mapping[str, Any] | MultiDict) -> dict[str, Any]:
    """The form as the mapping :func:`matcher.schema.parse_intake` accepts.

    Keys are the ``intakes.csv`` column names; lists are lists; blanks are None.
    """
    form = form if isinstance(form, MultiDict) else MultiDict(form)
    raw: dict[str, Any] = {name: _text(form.get(name)) for name in _TEXT_FIELDS}
    raw.update({name: listed_value(form, name) for name in LISTED_FIELDS})
    other = [part.strip() for part in _OTHER_SEPARATORS.split(form.get(OTHER_CONCERNS, ""))]
    raw["concerns"] = [*form.getlist("concerns"), *(part for part in other if part)]
    raw["availability"] = form.getlist("availability")
    for axis in STYLE_AXES:
        raw[axis] = _text(form.get(axis))
    for flag in _CHECKBOX_FLAGS:
        raw[flag] = "yes" if form.get(flag) else "no"
    return raw


def parse_intake_form(form: MultiDict) -> IntakeSubmission:
    """Validate the whole form.

    Raises
    ------
    ValidationError
        With every problem found, keyed by form field name.
    """
    problems: list[Problem] = []
    record: dict[str, Any] = {}
    try:
        record = parse_intake(intake_mapping(form))
    except ValidationError as error:
        problems.extend(error.problems)
    for name in ("region", "age_group"):  # asked of everyone on the form; optional in the API
        if not (listed_value(form, name) if name in LISTED_FIELDS else _text(form.get(name))):
            problems.append(Problem(name, "is required, so we only suggest who can see you"))
    consent = bool(form.get(CONSENT))
    contact, more = _contact(form, consent)
    problems.extend(more)
    safety = form.get(SAFETY, "")
    if safety not in ("", "yes", "no"):
        problems.append(Problem(SAFETY, "choose yes or no"))
    note = form.get(SUPPORT_NOTE, "").strip()
    if "\x00" in note:
        problems.append(Problem(SUPPORT_NOTE, "contains a NUL character, which is not text"))
    elif len(note) > MAX_SUPPORT_NOTE_CHARS:
        problems.append(
            Problem(
                SUPPORT_NOTE,
                f"expected at most {MAX_SUPPORT_NOTE_CHARS} characters, got {len(note)}",
            )
        )
    wellbeing = None
    if safety != "yes":  # people in crisis are not asked: the part is hidden and ignored
        values = {item: form.get(field_name("wellbeing", item)) for item in WELLBEING_ITEMS}
        wellbeing, more = validate_section("wellbeing", values)
        problems.extend(more)
    if problems:
        raise ValidationError(problems)
    return IntakeSubmission(
        record=record,
        urgent=safety == "yes",
        support_note=note,
        wellbeing=wellbeing,
        consent=consent,
        contact=contact,
    )


def _contact(form: MultiDict, consent: bool) -> tuple[Contact | None, list[Problem]]:
    """The contact details, validated when the client consented; without consent they
    must be blank (we would not keep them, and the client should know that)."""
    raw = {key: form.get(name, "") for name, key in CONTACT_FIELDS.items()}
    if not consent:
        typed = any(raw[key].strip() for key in ("preferred_name", "email", "phone"))
        if typed:
            message = "tick the box to let us keep your details, or clear them to go on without"
            return None, [Problem(CONSENT, message)]
        return None, []
    try:
        return validate_contact(raw), []
    except ValidationError as error:
        field_of = {key: name for name, key in CONTACT_FIELDS.items()}
        return None, [Problem(field_of.get(p.field, p.field), p.message) for p in error.problems]


def error_sentence(field: str, message: str) -> str:
    """``("city", "is required ...")`` -> ``"City or town is required ..."``, for people."""
    label = FIELD_LABELS.get(field, field.replace("_", " ").capitalize())
    message = message.rstrip(".")
    if message.startswith("is "):
        return f"{label} {message}."
    return f"{label}: {message[:1].upper()}{message[1:]}."


def _text(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None
