"""A straightforward per-pair ranker: the correctness reference for the vectorised path.

This is how most open matching engines rank: one therapist at a time, check the
hard constraints on the therapist's record, build that pair's features, ask the
model for that pair's score, and sort at the end. It uses the same features
(:func:`matcher.features.pair_features`) and the same scorer as
:func:`matcher.rank.rank_client`, so the two must agree on the top k;
``tests/matcher/test_reference_ranking.py`` checks that they do and
``python -m bench`` measures how much faster the vectorised path is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from matcher.ranking.features import ClientProfile, pair_features
from matcher.ranking.roster import Roster
from matcher.ranking.scoring import Scorer


def _fold(value: Any) -> str:
    return (value or "").casefold()


def allowed(client: dict[str, Any], therapist: dict[str, Any]) -> bool:
    """Whether one therapist passes every hard constraint for one client (validated
    records), written out pair by pair; the same rules as :mod:`matcher.filters`."""
    if _fold(client["language"]) not in {_fold(lang) for lang in therapist["languages"]}:
        return False
    licensed = {_fold(region) for region in therapist["licensed_regions"]}
    if client["region"] and licensed and _fold(client["region"]) not in licensed:
        return False  # licensure not recorded (an empty list) is not checked
    if client["age_group"] and client["age_group"] not in therapist["age_groups"]:
        return False
    here = (
        bool(therapist["in_person"])
        and bool(client["city"])
        and _fold(therapist["city"]) == _fold(client["city"])
    )
    modality = client["modality"]
    if modality == "telehealth" and not therapist["telehealth"]:
        return False
    if modality == "in_person" and not here:
        return False
    if modality == "either" and not (therapist["telehealth"] or here):
        return False
    free = {_fold(slot) for slot in therapist["availability"]}
    if client["availability"] and not free & set(client["availability"]):
        return False
    if client["max_fee"] is not None:
        insured = bool(client["insurance"]) and _fold(client["insurance"]) in {
            _fold(insurer) for insurer in therapist["insurance"]
        }
        if not (insured or therapist["fee"] <= client["max_fee"] or therapist["sliding_scale"]):
            return False
    if therapist["capacity"] <= 0:
        return False
    if client["gender_required"] and not (
        client["therapist_gender"]
        and _fold(therapist["gender"]) == _fold(client["therapist_gender"])
    ):
        return False
    return not (client["lgbtq_affirming_required"] and not therapist["lgbtq_affirming"])


def reference_rank(
    client: ClientProfile,
    roster: Roster,
    scorer: Scorer,
    k: int = 5,
    therapists: Sequence[dict[str, Any]] | None = None,
) -> list[tuple[str, float]]:
    """The top ``k`` as ``(therapist_id, score)``, best first, scoring one pair at a time.

    Parameters
    ----------
    therapists : the roster's records in row order (``roster.therapists`` as
        records); pass them to keep their conversion out of a timing.

    Ties keep roster order, as in :func:`matcher.rank.rank_client`.
    """
    records = therapists if therapists is not None else roster.therapists.to_dict("records")
    track_record = getattr(scorer, "track_record", None)
    scored: list[tuple[float, int]] = []
    for row, therapist in enumerate(records):
        if not allowed(client.record, therapist):
            continue
        features = pair_features(client, roster, np.array([row]), track_record)
        score = float(np.clip(scorer.score(features)[0], 0.0, 1.0))
        scored.append((-score, row))
    scored.sort()
    return [(str(roster.ids[row]), -negative) for negative, row in scored[:k]]
