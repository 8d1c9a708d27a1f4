"""Hard constraints as boolean masks over the roster.

A therapist who fails any constraint is never suggested; the masks also say
which constraint removed the most candidates, and what a near-miss lacks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..terms import label
from ..vocab import AGE_GROUPS, SLOTS
from .roster import Roster

#: Constraint names in the order they are reported.
CONSTRAINTS: tuple[str, ...] = (
    "language",
    "licensure",
    "age",
    "modality",
    "availability",
    "cost",
    "capacity",
    "gender",
    "lgbtq_affirming",
)

_SLOT_POSITION = {slot: i for i, slot in enumerate(SLOTS)}
_AGE_POSITION = {group: i for i, group in enumerate(AGE_GROUPS)}


def _licensure(region: str, roster: Roster) -> np.ndarray:
    """Who may see a client living in ``region``: licensed there, or licensure not
    recorded (an old roster; the import said so). A blank region is not checked."""
    if not region:
        return np.ones(len(roster), dtype=bool)
    code = roster.regions.code(region)
    licensed_here = roster.licensed[:, code] if code >= 0 else np.zeros(len(roster), dtype=bool)
    return licensed_here | ~roster.licensure_recorded


def _ages(age_group: str, roster: Roster) -> np.ndarray:
    """Who sees clients of this age group; a blank age group is not checked."""
    if not age_group:
        return np.ones(len(roster), dtype=bool)
    return roster.age_groups[:, _AGE_POSITION[age_group]]


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
        "licensure": _licensure(record.get("region", ""), roster),
        "age": _ages(record.get("age_group", ""), roster),
        "modality": modality,
        "availability": availability,
        "cost": cost,
        "capacity": roster.capacity > 0,
        "gender": gender,
        "lgbtq_affirming": lgbtq,
    }


def constraint_masks_many(records: list[dict[str, Any]], roster: Roster) -> dict[str, np.ndarray]:
    """:func:`constraint_masks` for many clients at once.

    Returns
    -------
    dict mapping each name in ``CONSTRAINTS`` to a (len(records), n) bool array whose
    row i equals ``constraint_masks(records[i], roster)[name]``.
    """
    m, n = len(records), len(roster)
    everyone = np.ones((m, n), dtype=bool)

    def pick(matrix: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Columns ``codes`` of a (n, c) bool matrix as rows; code -1 gives all False."""
        padded = np.column_stack([matrix, np.zeros(n, dtype=bool)])
        return padded[:, np.where(codes >= 0, codes, matrix.shape[1])].T

    speaks = pick(roster.languages, roster.languages_index.codes([r["language"] for r in records]))

    city = roster.cities.codes([r["city"] for r in records])[:, None]
    here = roster.in_person[None, :] & (roster.city[None, :] == city) & (city >= 0)
    modality_of = np.array([r["modality"] for r in records], dtype=object)[:, None]
    telehealth = np.broadcast_to(roster.telehealth, (m, n))
    modality = np.where(
        modality_of == "telehealth",
        telehealth,
        np.where(modality_of == "in_person", here, telehealth | here),
    )

    wanted = np.zeros((m, len(SLOTS)), dtype=np.float32)
    for i, record in enumerate(records):
        wanted[i, [_SLOT_POSITION[slot] for slot in record["availability"]]] = 1.0
    free = (wanted @ roster.slots.T.astype(np.float32)) > 0
    availability = np.where(wanted.any(axis=1)[:, None], free, everyone)

    max_fee = np.array(
        [np.nan if r["max_fee"] is None else r["max_fee"] for r in records], dtype=float
    )[:, None]
    insured = pick(roster.insurance, roster.insurers.codes([r["insurance"] for r in records]))
    affordable = insured | (roster.fee[None, :] <= max_fee) | roster.sliding_scale[None, :]
    cost = np.where(np.isnan(max_fee), everyone, affordable)

    required = np.array([bool(r["gender_required"]) for r in records])[:, None]
    wanted_gender = roster.genders.codes([r["therapist_gender"] for r in records])[:, None]
    same_gender = (roster.gender[None, :] == wanted_gender) & (wanted_gender >= 0)
    gender = np.where(required, same_gender, everyone)

    affirming = np.array([bool(r["lgbtq_affirming_required"]) for r in records])[:, None]
    lgbtq = np.where(affirming, roster.lgbtq_affirming[None, :], everyone)

    # Few distinct regions and age groups: one mask per distinct value, then rows.
    licensure = np.empty((m, n), dtype=bool)
    ages = np.empty((m, n), dtype=bool)
    for key, build, out in (
        ("region", _licensure, licensure),
        ("age_group", _ages, ages),
    ):
        values = [r.get(key, "") for r in records]
        for value in set(values):
            out[[v == value for v in values]] = build(value, roster)

    return {
        "language": speaks,
        "licensure": licensure,
        "age": ages,
        "modality": modality,
        "availability": availability,
        "cost": cost,
        "capacity": np.broadcast_to(roster.capacity > 0, (m, n)),
        "gender": gender,
        "lgbtq_affirming": lgbtq,
    }


def eligible(masks: dict[str, np.ndarray]) -> np.ndarray:
    """(n,) bool (or (m, n) for :func:`constraint_masks_many`): therapists who satisfy
    every constraint."""
    return np.logical_and.reduce([masks[name] for name in CONSTRAINTS])


def unmet_constraints(
    record: dict[str, Any], roster: Roster, row: int, *, skip: tuple[str, ...] = ()
) -> list[str]:
    """What therapist ``row`` lacks for this client, in the client's words (empty: a fit).

    ``skip`` names constraints checked elsewhere (placement checks ``capacity`` in
    the same database transaction that takes the place).
    """
    masks = constraint_masks(record, roster)
    therapist = roster.record(row)
    return [
        miss_description(name, record, therapist)
        for name in CONSTRAINTS
        if name not in skip and not masks[name][row]
    ]


def miss_description(name: str, record: dict[str, Any], therapist: dict[str, Any]) -> str:
    """What a therapist lacks on one constraint, in the client's words."""
    if name == "language":
        return f"does not work in {label('language', record['language'])}"
    if name == "licensure":
        return f"is not licensed in {label('region', record['region'])}, where you live"
    if name == "age":
        return f"does not work with {label('age_group', record['age_group']).lower()}"
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
    "licensure": "are licensed where you live",
    "age": "work with people of your age",
    "modality": "offer the way you want to meet (telehealth or in person in your city)",
    "availability": "have any of your times free",
    "cost": "fit your budget or insurance",
    "capacity": "have an open place",
    "gender": "match the therapist gender you required",
    "lgbtq_affirming": "are listed as LGBTQ+ affirming",
}
