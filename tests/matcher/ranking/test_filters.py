"""Hard constraints on the hand-made roster: each one by itself, and what a miss says."""

from __future__ import annotations

import numpy as np
import pytest

from matcher import parse_intake
from matcher.ranking.filters import CONSTRAINTS, constraint_masks, eligible, miss_description

BASE = {"concerns": "anxiety", "language": "english", "modality": "telehealth"}


def _ids(masks, roster, name):
    return set(roster.ids[masks[name]])


@pytest.fixture
def roster(matcher):
    return matcher.roster


def test_every_constraint_has_a_mask_and_eligibility_is_their_conjunction(roster):
    masks = constraint_masks(parse_intake(BASE), roster)
    assert tuple(masks) == CONSTRAINTS
    assert np.array_equal(eligible(masks), np.logical_and.reduce(list(masks.values())))


@pytest.mark.parametrize(
    ("change", "constraint", "excluded"),
    [
        ({"language": "french"}, "language", {"T1", "T2", "T3"}),
        ({"modality": "in_person", "city": "Springfield"}, "modality", {"T2", "T3", "T4"}),
        ({"availability": "sat_am"}, "availability", {"T1", "T2", "T3"}),
        ({"max_fee": "100", "insurance": "aetna"}, "cost", {"T3"}),
        ({"therapist_gender": "man", "gender_required": "yes"}, "gender", {"T1", "T3", "T4"}),
    ],
)
def test_each_constraint_excludes_exactly_who_fails_it(roster, change, constraint, excluded):
    masks = constraint_masks(parse_intake({**BASE, **change}), roster)
    assert excluded <= set(roster.ids) - _ids(masks, roster, constraint)


def test_a_miss_is_described_in_words(roster):
    record = parse_intake({**BASE, "language": "french"})
    therapist = roster.therapists.iloc[list(roster.ids).index("T2")].to_dict()
    assert miss_description("language", record, therapist) == "does not work in French"
