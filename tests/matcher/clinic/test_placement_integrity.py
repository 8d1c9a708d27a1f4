"""What a placement records is decided on the server: every hard constraint is checked
again, and kind, rank, score and model version come from the ranking the client was shown."""

from __future__ import annotations

import pandas as pd
import pytest

from matcher import Matcher, NotFoundError
from matcher.clinic import PlacementError, audit_entries, place_client
from matcher.schema import parse_intake, validate_therapists

BASE = {
    "concerns": "anxiety",
    "story": "I worry a lot.",
    "language": "english",
    "modality": "telehealth",
}

#: For each hard constraint, an intake that therapist T2 (telehealth only, English,
#: Tue/Thu afternoons, fee 90 with a sliding scale, a man, affirming) cannot meet.
BROKEN = {
    "language": ({"language": "Español"}, "does not work in Spanish"),
    "licensure": ({"region": "TX"}, "not licensed in Texas"),
    "age": ({"age_group": "15"}, "does not work with adolescents"),
    "modality": ({"modality": "in_person", "city": "Springfield"}, "in person"),
    "availability": ({"availability": "mon_am"}, "none of the times"),
    "gender": ({"therapist_gender": "woman", "gender_required": "yes"}, "not a woman"),
}


@pytest.fixture
def database_url(any_database_url):
    return any_database_url


@pytest.fixture
def matcher(store, fake_embedder):
    # T2 is licensed in California only, and sees adults.
    row = store.therapists().query("therapist_id == 'T2'").iloc[0].to_dict()
    row.update(licensed_regions="california", age_groups="adults")
    store.import_tables(therapists=validate_therapists(_cells(row)))
    return Matcher.load("", embedder=fake_embedder, store=store)


def _cells(record):
    def cell(value):
        if isinstance(value, list):
            return ";".join(value)
        return "" if value is None else str(value)

    return pd.DataFrame([{key: cell(value) for key, value in record.items()}])


def _waiting(store, matcher, k=5, **changes):
    stored = store.add_intake(parse_intake({**BASE, **changes}))
    ranking = matcher.rank(stored.record.with_client_id(stored.client_id), k=k)
    store.save_ranking(stored.client_id, ranking)
    return stored.client_id


@pytest.mark.parametrize("constraint", sorted(BROKEN))
def test_a_therapist_who_breaks_a_hard_constraint_is_refused(store, matcher, constraint):
    changes, words = BROKEN[constraint]
    client = _waiting(store, matcher, **changes)
    before = store.capacities()
    for reason in ("", "the client asked for him"):  # not even as an override
        with pytest.raises(PlacementError, match=words):
            place_client(store, matcher, client, "T2", by="maria", reason=reason)
    assert store.intake(client).status == "waiting"
    assert store.capacities() == before
    assert audit_entries(store, client_id=client) == []


def test_cost_is_a_hard_constraint_too(store, matcher):
    client = _waiting(store, matcher, max_fee="50", insurance="Aetna")
    with pytest.raises(PlacementError, match="fee 150 is above your limit of 50"):
        place_client(store, matcher, client, "T3", by="maria", reason="asked for")


def test_a_shown_suggestion_records_what_was_shown(store, matcher):
    client = _waiting(store, matcher)
    shown = store.latest_ranking(client)[1]
    placement = place_client(store, matcher, client, shown.therapist_id, by="maria")
    assert placement.kind == "suggested"
    assert (placement.rank_shown, placement.score) == (shown.rank, pytest.approx(shown.score))
    assert placement.model_version == store.latest_ranking(client).model_version


def test_someone_not_shown_is_an_override_that_needs_a_reason(store, matcher):
    client = _waiting(store, matcher, k=1)
    (shown,) = store.latest_ranking(client)
    eligible = [t["therapist_id"] for t in matcher.eligible_therapists(BASE)]
    other = next(t for t in eligible if t != shown.therapist_id)
    with pytest.raises(PlacementError, match="say why"):
        place_client(store, matcher, client, other, by="maria")
    placement = place_client(store, matcher, client, other, by="maria", reason="knows the family")
    assert (placement.kind, placement.rank_shown, placement.score) == ("override", None, None)


def test_an_unknown_therapist_is_not_found(store, matcher):
    client = _waiting(store, matcher)
    with pytest.raises(NotFoundError):
        place_client(store, matcher, client, "T99", by="maria", reason="x")


def test_licensure_not_recorded_is_not_checked(store, matcher):
    """An old roster without licensure: the import said so, and placement still works."""
    client = _waiting(store, matcher, region="TX")
    placement = place_client(store, matcher, client, "T4", by="maria", reason="fine")
    assert placement.therapist_id == "T4"
