"""Ranking: hard constraints are never violated; scores, reasons and near-misses make sense."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import Matcher
from matcher.ranking.negation import negation_views
from matcher.vocab import SLOTS, STYLE_AXES

BASE_INTAKE = {
    "concerns": "anxiety;work_stress",
    "story": "I worry about work all the time and cannot sleep.",
    "hopes": "I want practical tools, homework and a clear structure.",
    "language": "english",
    "modality": "either",
    "city": "Springfield",
}


def test_rank_returns_scored_explained_suggestions(matcher):
    ranking = matcher.rank(BASE_INTAKE, k=3)
    assert len(ranking) == 3
    assert [s.rank for s in ranking] == [1, 2, 3]
    scores = [s.score for s in ranking]
    assert scores == sorted(scores, reverse=True)
    for suggestion in ranking:
        assert 0.0 <= suggestion.score <= 1.0
        assert 2 <= len(suggestion.reasons) <= 4
        assert suggestion.model_version == "prior"
    assert "T5" not in {s.therapist_id for s in ranking}  # no open places


def test_top_match_follows_stated_style_and_concerns(matcher):
    structured = {**BASE_INTAKE, "directive": 3, "challenge": 3}
    warm = {
        **BASE_INTAKE,
        "concerns": "identity;self_esteem",
        "directive": -3,
        "challenge": -3,
        "modality": "telehealth",
    }
    assert matcher.rank(structured)[0].therapist_id == "T1"
    assert matcher.rank(warm)[0].therapist_id == "T4"


def test_a_preferred_kind_of_therapy_counts_but_rules_no_one_out(matcher):
    plain = {s.therapist_id: s for s in matcher.rank(BASE_INTAKE, k=5)}
    wanting = matcher.rank({**BASE_INTAKE, "therapy_type": "Eye movement desensitisation"}, k=5)
    by_id = {s.therapist_id: s for s in wanting}
    assert set(by_id) == set(plain)  # a soft preference: the same people can take the client
    assert by_id["T3"].score > plain["T3"].score  # T3 offers EMDR
    assert by_id["T1"].score == pytest.approx(plain["T1"].score)  # T1 does not
    assert any("offers EMDR" in reason for reason in by_id["T3"].reasons)


def test_reasons_name_what_drove_the_score(matcher):
    best = matcher.rank({**BASE_INTAKE, "directive": 3, "challenge": 3})[0]
    text = " ".join(best.reasons)
    assert "anxiety" in text
    assert "You asked for" in text


def test_near_misses_when_fewer_than_k_pass(matcher):
    intake = {**BASE_INTAKE, "modality": "in_person", "availability": "thu_eve"}
    ranking = matcher.rank(intake, k=5)
    assert ranking.eligible == 1 and [s.therapist_id for s in ranking] == ["T6"]
    assert ranking.limiting_constraint in {"modality", "availability"}
    assert ranking.shortfall_message.startswith("We found 1 therapist who")
    assert ranking.near_misses
    for miss in ranking.near_misses:
        assert miss.therapist_id != "T6" and miss.therapist_id != "T5"  # T5 has no places
        assert 1 <= len(miss.misses) <= 2


def test_no_near_misses_when_enough_pass(matcher):
    assert matcher.rank(BASE_INTAKE, k=2).near_misses == ()


@pytest.mark.parametrize("k", [0, -1, 2.5])
def test_bad_k_is_refused(matcher, k):
    with pytest.raises(ValueError, match="k must be"):
        matcher.rank(BASE_INTAKE, k=k)


# --- property: no suggestion ever violates a hard constraint ------------------------------

CITIES = ["Springfield", "Riverton", "Lakeside"]
LANGS = ["english", "spanish", "french"]
GENDERS = ["woman", "man", "nonbinary"]
INSURERS = ["aetna", "cigna", "medicaid"]
REGIONS = ["california", "oregon", "texas"]
AGES = ["children", "adolescents", "adults", "older_adults"]


def _therapist(i, draw):
    tele = draw(st.booleans())
    return {
        "therapist_id": f"T{i}",
        "name": f"Therapist {i}",
        "gender": draw(st.sampled_from([*GENDERS, ""])),
        "languages": ";".join(draw(st.lists(st.sampled_from(LANGS), min_size=1, max_size=2))),
        "specialties": "anxiety;grief",
        "modalities": "cbt",
        "approach": "I work in a structured way with practical tools.",
        "telehealth": "yes" if tele else "no",
        "in_person": "yes" if (not tele or draw(st.booleans())) else "no",
        "city": draw(st.sampled_from(CITIES)),
        "availability": ";".join(draw(st.lists(st.sampled_from(SLOTS), max_size=4))),
        "insurance": ";".join(draw(st.lists(st.sampled_from(INSURERS), max_size=2))),
        "fee": str(draw(st.integers(50, 250))),
        "sliding_scale": draw(st.sampled_from(["yes", "no"])),
        "capacity": str(draw(st.integers(0, 3))),
        "lgbtq_affirming": draw(st.sampled_from(["yes", "no"])),
        # blank licensure = not recorded (not checked); blank ages = adults and older adults
        "licensed_regions": ";".join(draw(st.lists(st.sampled_from(REGIONS), max_size=2))),
        "age_groups": ";".join(draw(st.lists(st.sampled_from(AGES), max_size=3))),
    }


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 12))
    roster = pd.DataFrame([_therapist(i, draw) for i in range(n)])
    intake = {
        "concerns": "anxiety",
        "language": draw(st.sampled_from(LANGS)),
        "modality": draw(st.sampled_from(["telehealth", "in_person", "either"])),
        "city": draw(st.sampled_from(CITIES)),
        "availability": draw(st.lists(st.sampled_from(SLOTS), max_size=3)),
        "insurance": draw(st.sampled_from(["", *INSURERS])),
        "max_fee": draw(st.one_of(st.none(), st.integers(40, 260))),
        "therapist_gender": draw(st.sampled_from([*GENDERS, "agender"])),
        "gender_required": draw(st.booleans()),
        "lgbtq_affirming_required": draw(st.booleans()),
        "region": draw(st.sampled_from(["", *REGIONS])),
        "age_group": draw(st.sampled_from(["", *AGES])),
    }
    return roster, intake, draw(st.integers(1, 6))


def _allowed(t: dict, c: dict) -> bool:
    """A plain, pair-at-a-time statement of the hard constraints."""
    yes = {"yes": True, "no": False}
    if c["language"] not in t["languages"].split(";"):
        return False
    licensed = [r for r in t["licensed_regions"].split(";") if r]
    if c["region"] and licensed and c["region"] not in licensed:
        return False
    ages = [a for a in t["age_groups"].split(";") if a] or ["adults", "older_adults"]
    if c["age_group"] and c["age_group"] not in ages:
        return False
    in_person_here = yes[t["in_person"]] and t["city"] == c["city"]
    if c["modality"] == "telehealth" and not yes[t["telehealth"]]:
        return False
    if c["modality"] == "in_person" and not in_person_here:
        return False
    if c["modality"] == "either" and not (yes[t["telehealth"]] or in_person_here):
        return False
    slots = [s for s in t["availability"].split(";") if s]
    if c["availability"] and not set(c["availability"]) & set(slots):
        return False
    if c["max_fee"] is not None:
        insured = c["insurance"] and c["insurance"] in t["insurance"].split(";")
        if not (insured or int(t["fee"]) <= c["max_fee"] or yes[t["sliding_scale"]]):
            return False
    if int(t["capacity"]) <= 0:
        return False
    if c["gender_required"] and t["gender"] != c["therapist_gender"]:
        return False
    return not (c["lgbtq_affirming_required"] and not yes[t["lgbtq_affirming"]])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_no_suggestion_violates_a_hard_constraint(world):
    roster, intake, k = world
    from tests.conftest import FakeEmbedder

    ranking = Matcher.load("", roster, embedder=FakeEmbedder()).rank(intake, k=k)
    by_id = {t["therapist_id"]: t for t in roster.to_dict("records")}
    allowed = [tid for tid, t in by_id.items() if _allowed(t, intake)]
    assert all(_allowed(by_id[s.therapist_id], intake) for s in ranking)
    assert len(ranking) == min(k, len(allowed))
    assert ranking.eligible == len(allowed)
    for miss in ranking.near_misses:
        assert not _allowed(by_id[miss.therapist_id], intake)
    assert np.all([0 <= s.score <= 1 for s in ranking])


def test_ranking_costs_one_encode_of_the_clients_texts(matcher, fake_embedder):
    matcher.rank(BASE_INTAKE)  # builds the roster arrays once
    calls = fake_embedder.calls
    matcher.rank({**BASE_INTAKE, "story": "Something new entirely."})
    assert fake_embedder.calls == calls + 1


def test_database_roster_is_rebuilt_only_when_it_changes(fixtures_dir, database_url, fake_embedder):
    from matcher.clinic.store import Store
    from matcher.schema import read_csv

    store = Store(database_url)
    store.import_tables(therapists=read_csv(fixtures_dir / "therapists.csv", "therapists"))
    matcher = Matcher.load("", embedder=fake_embedder, store=store)
    first = matcher.roster
    assert matcher.roster is first
    changed = read_csv(fixtures_dir / "therapists.csv", "therapists").head(2)
    changed.loc[0, "capacity"] = 0
    store.import_tables(therapists=changed)
    assert matcher.roster is not first
    assert "T1" not in {s.therapist_id for s in matcher.rank(BASE_INTAKE, k=6)}


def test_unstated_preferences_are_inferred_from_hopes_at_lower_strength(matcher):
    ranking = matcher.rank({**BASE_INTAKE, "challenge": 3})
    sources = dict(
        zip(
            ("directive", "intensity", "past_focus", "challenge"),
            ranking.client_style_source,
            strict=True,
        )
    )
    assert sources["challenge"] == "stated"
    assert set(sources.values()) <= {"stated", "inferred", "none"}


def test_empty_roster_is_a_clear_error(fake_embedder, database_url):
    from matcher import MatcherError

    matcher = Matcher.load("", embedder=fake_embedder, database_url=database_url)
    with pytest.raises(MatcherError, match="roster is empty"):
        matcher.rank(BASE_INTAKE)


def test_an_import_of_a_few_therapists_updates_the_roster_incrementally(
    fixtures_dir, database_url, fake_embedder
):
    from matcher.clinic.store import Store
    from matcher.schema import read_csv

    store = Store(database_url)
    store.import_tables(therapists=read_csv(fixtures_dir / "therapists.csv", "therapists"))
    matcher = Matcher.load("", embedder=fake_embedder, store=store)
    matcher.rank(BASE_INTAKE)
    encoded = fake_embedder.texts_encoded
    one = read_csv(fixtures_dir / "therapists.csv", "therapists").head(1)
    one.loc[0, "approach"] = "Brand new words about structure and practical homework."
    store.import_tables(therapists=one)
    roster = matcher.roster
    assert roster.therapists.set_index("therapist_id").loc["T1", "approach"].startswith("Brand")
    assert len(roster) == 6
    # only the changed therapist's texts (approach and its sentences, specialties) were new
    assert fake_embedder.texts_encoded - encoded <= 4
    full = Matcher.load("", embedder=fake_embedder, store=store).roster
    assert np.allclose(full.approach_embedding, roster.approach_embedding)
    assert np.array_equal(full.capacity, roster.capacity)


def test_the_api_path_keeps_no_client_vectors(fixtures_dir, database_url, fake_embedder):
    from matcher.clinic.store import Store
    from matcher.clinic.tables import EmbeddingRow
    from matcher.schema import read_csv

    store = Store(database_url)
    store.import_tables(therapists=read_csv(fixtures_dir / "therapists.csv", "therapists"))
    matcher = Matcher.load("", embedder=fake_embedder, store=store)
    matcher.rank(BASE_INTAKE)
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    def stored():
        with Session(store.engine) as session:
            return session.scalar(select(func.count()).select_from(EmbeddingRow))

    before = stored()
    private = {
        **BASE_INTAKE,
        "story": "A story nobody should keep.",
        # a refusal: its negation views ("my divorce") are the client's words too
        "hopes": "Please don't make me talk about my divorce. Homework? Not for me.",
    }
    ranking = matcher.rank(private, remember=False)
    assert stored() == before
    assert ranking.client_style[STYLE_AXES.index("challenge")] <= 0  # the refusal was read


def test_the_api_path_encodes_each_clients_texts_in_one_call_and_caches_only_the_tags(
    matcher, fake_embedder
):
    matcher.rank(BASE_INTAKE, remember=False)
    calls, texts = fake_embedder.calls, fake_embedder.texts_encoded
    story, hopes = "New words.", "No homework, please."
    matcher.rank({**BASE_INTAKE, "story": story, "hopes": hopes}, remember=False)
    assert fake_embedder.calls == calls + 1  # story, hopes and negation views in one batch
    # the same concern tags: their text came from memory; the client's texts did not
    views = [view for view, _ in negation_views(hopes)]
    assert fake_embedder.texts_encoded - texts == len({story, hopes, *views})
