"""Hard constraints as boolean masks over the roster.

A therapist who fails any constraint is never suggested; the masks also say
which constraint removed the most candidates, and what a near-miss lacks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .features import Roster
from .vocab import SLOTS

#: Constraint names in the order they are reported.
CONSTRAINTS: tuple[str, ...] = (
    "language",
    "modality",
    "availability",
    "cost",
    "capacity",
    "gender",
    "lgbtq_affirming",
)

_SLOT_POSITION = {slot: i for i, slot in enumerate(SLOTS)}


def constraint_masks(record: dict[str, Any], roster: Roster) -> dict[str, np.ndarray]:
    """For each constraint, which therapists satisfy it.

    Returns
    -------
    dict mapping each name in ``CONSTRAINTS`` to a (n,) bool array.
    """
    n = len(roster)
    everyone = np.ones(n, dtype=bool)

    language = roster.languages_index.code(record["language"])
    speaks = roster.languages[:, language] if language >= 0 else np.zeros(n, dtype=bool)

    city = roster.cities.code(record["city"])
    in_person_here = roster.in_person & (roster.city == city) if city >= 0 else ~everyone
    modality = {
        "telehealth": roster.telehealth,
        "in_person": in_person_here,
        "either": roster.telehealth | in_person_here,
    }[record["modality"]]

    if record["availability"]:
        wanted = [_SLOT_POSITION[slot] for slot in record["availability"]]
        availability = roster.slots[:, wanted].any(axis=1)
    else:
        availability = everyone

    cost = everyone
    if record["max_fee"] is not None:
        insurer = roster.insurers.code(record["insurance"])
        insured = roster.insurance[:, insurer] if insurer >= 0 else ~everyone
        cost = insured | (roster.fee <= record["max_fee"]) | roster.sliding_scale

    gender = everyone
    if record["gender_required"]:
        wanted = roster.genders.code(record["therapist_gender"])
        gender = roster.gender == wanted if wanted >= 0 else ~everyone

    lgbtq = roster.lgbtq_affirming if record["lgbtq_affirming_required"] else everyone

    return {
        "language": speaks,
        "modality": modality,
        "availability": availability,
        "cost": cost,
        "capacity": roster.capacity > 0,
        "gender": gender,
        "lgbtq_affirming": lgbtq,
    }


def eligible(masks: dict[str, np.ndarray]) -> np.ndarray:
    """(n,) bool: therapists who satisfy every constraint."""
    return np.logical_and.reduce([masks[name] for name in CONSTRAINTS])


def miss_description(name: str, record: dict[str, Any], therapist: dict[str, Any]) -> str:
    """What a therapist lacks on one constraint, in the client's words."""
    if name == "language":
        return f"does not work in {record['language']}"
    if name == "modality":
        if record["modality"] == "telehealth":
            return "does not offer telehealth"
        if therapist["in_person"] and therapist["city"]:
            return f"sees clients in person in {therapist['city']}, not {record['city']}"
        return "does not see clients in person in your city"
    if name == "availability":
        return "has none of the times you gave free"
    if name == "cost":
        return f"fee {therapist['fee']:.0f} is above your limit of {record['max_fee']:.0f}" + (
            f" and does not take {record['insurance']}" if record["insurance"] else ""
        )
    if name == "capacity":
        return "has no open places right now"
    if name == "gender":
        return f"is not a {record['therapist_gender']} therapist, which you required"
    if name == "lgbtq_affirming":
        return "is not listed as LGBTQ+ affirming, which you required"
    raise ValueError(f"unknown constraint {name!r}; expected one of {CONSTRAINTS}")


EXCLUSION_SUMMARY = {
    "language": "speak your language",
    "modality": "offer the way you want to meet (telehealth or in person in your city)",
    "availability": "have any of your times free",
    "cost": "fit your budget or insurance",
    "capacity": "have an open place",
    "gender": "match the therapist gender you required",
    "lgbtq_affirming": "are listed as LGBTQ+ affirming",
}
