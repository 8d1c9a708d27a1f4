"""Session feedback, the outcomes it becomes, not-on-track alerts and the dashboard's data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matcher import NotFoundError, ValidationError
from matcher.clinic.accounts import audit_entries
from matcher.clinic.followup import (
    LOW_SESSION_TOTAL,
    RELIABLE_CHANGE,
    Feedback,
    FeedbackError,
    feedback_of,
    not_on_track,
    outcome_for,
    record_feedback,
    sync_outcomes,
    validate_feedback,
)
from matcher.clinic.oversight import (
    NO_MODEL_MESSAGE,
    caseloads,
    click_rate_by_month,
    current_calibration,
    waiting_days,
)
from matcher.clinic.placement import assign, end_placement, request_rematch
from matcher.clinic.tables import FeedbackRow
from matcher.learning.datasets import click_labels
from matcher.schema import parse_intake
from matcher.vocab import ALLIANCE_CUTOFF

INTAKE = {
    "concerns": "anxiety",
    "story": "I worry a lot.",
    "language": "english",
    "modality": "telehealth",
}


def session(heard, goals, approach, overall):
    return {"heard": heard, "goals": goals, "approach": approach, "overall": overall}


def wellbeing(personal, relationships, social, overall):
    return {
        "personal": personal,
        "relationships": relationships,
        "social": social,
        "overall": overall,
    }


@pytest.fixture
def placed(store):
    """A client placed with T2 (no wellbeing at intake); returns the client id."""

    def place(therapist="T2", baseline=None):
        client = store.add_intake(parse_intake(INTAKE), wellbeing=baseline).client_id
        assign(store, client, therapist, by="maria")
        return client

    return place


def _feedback_count(store) -> int:
    with Session(store.engine) as db:
        return db.scalar(select(func.count()).select_from(FeedbackRow))


def _outcome(store, client):
    frame = store.outcomes()
    rows = frame[frame["client_id"] == client]
    assert len(rows) == 1
    return rows.iloc[0]


# --- validation ------------------------------------------------------------------------------


def test_thresholds_match_the_training_label():
    assert LOW_SESSION_TOTAL == ALLIANCE_CUTOFF == 36
    assert RELIABLE_CHANGE == 5


def test_valid_feedback_accepts_form_strings_and_numbers():
    got = validate_feedback(session("7", 8, 9.0, " 10 "), None)
    assert got == (session(7, 8, 9, 10), None)
    assert validate_feedback({}, wellbeing(0, 0, 0, 0)) == (None, wellbeing(0, 0, 0, 0))
    # a skipped section may arrive as blanks, as a web form sends it
    assert validate_feedback(session("", "", None, ""), wellbeing(1, 2, 3, 4))[0] is None


@pytest.mark.parametrize(
    ("value", "shown"), [(11, "11"), (-1, "-1"), ("abc", "'abc'"), (3.5, "3.5"), (True, "True")]
)
def test_an_item_outside_0_to_10_is_named(value, shown):
    with pytest.raises(ValidationError) as caught:
        validate_feedback(session(value, 5, 5, 5), None)
    assert caught.value.by_field() == {
        "session_heard": f"expected a whole number from 0 to 10, got {shown}"
    }


def test_a_partial_section_names_every_missing_item_and_every_bad_one():
    with pytest.raises(ValidationError) as caught:
        validate_feedback({"heard": 5}, wellbeing(5, 12, 5, 5))
    errors = caught.value.by_field()
    assert set(errors) == {
        "session_goals",
        "session_approach",
        "session_overall",
        "wellbeing_relationships",
    }
    assert errors["session_goals"].startswith("is missing")
    assert "'session_goals'" in str(caught.value)


def test_at_least_one_section_is_needed():
    with pytest.raises(ValidationError, match="at least one complete set"):
        validate_feedback(None, {"personal": ""})


# --- recording --------------------------------------------------------------------------------


def test_feedback_needs_an_active_placement_and_a_known_client(store, placed):
    waiting = store.add_intake(parse_intake(INTAKE)).client_id
    with pytest.raises(FeedbackError, match="no active placement"):
        record_feedback(store, waiting, session(9, 9, 9, 9), None)
    with pytest.raises(NotFoundError):
        record_feedback(store, "nobody", session(9, 9, 9, 9), None)
    client = placed()
    with pytest.raises(ValidationError):
        record_feedback(store, client, session(9, 9, 9, 99), None)
    assert _feedback_count(store) == 0
    assert store.counts()["outcomes"] == 0


def test_sessions_are_numbered_per_placement(store, placed):
    client = placed()
    first = record_feedback(store, client, session(9, 9, 9, 9), None)
    second = record_feedback(store, client, None, wellbeing(5, 5, 5, 5))
    assert (first.session_number, second.session_number) == (1, 2)
    assert second.session_total is None and second.wellbeing_total == 20
    request_rematch(store, client, by="maria")
    assign(store, client, "T4", by="maria")
    third = record_feedback(store, client, session(8, 8, 8, 8), None)
    assert third.session_number == 1  # a new placement starts again
    assert [f.session_number for f in feedback_of(store, client)] == [1, 2, 1]


def test_a_staff_entry_is_audited_without_the_answers(store, placed):
    client = placed()
    record_feedback(store, client, session(9, 9, 9, 9), None)  # the client: not audited
    record_feedback(store, client, session(1, 2, 3, 4), None, entered_by="maria")
    entries = [e for e in audit_entries(store, client_id=client) if e.action == "enter_feedback"]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.therapist_id, entry.detail) == ("maria", "T2", {"session_number": 2})


# --- outcomes ---------------------------------------------------------------------------------


def test_outcome_known_answer_with_an_intake_baseline(store, placed):
    client = placed(baseline=wellbeing(5, 5, 5, 5))  # 20
    record_feedback(store, client, session(8, 8, 9, 9), wellbeing(6, 6, 6, 6))  # 34, 24
    record_feedback(store, client, session(9, 9, 9, 9), None)  # 36
    record_feedback(store, client, session(10, 10, 10, 10), wellbeing(7, 7, 8, 8))  # 40, 30
    record_feedback(store, client, session(0, 0, 0, 0), None)  # 4th: not early alliance
    row = _outcome(store, client)
    assert row["therapist_id"] == "T2"
    assert row["alliance"] == pytest.approx((34 + 36 + 40) / 3)
    assert row["improvement"] == pytest.approx(30 - 20)
    assert row["sessions"] == 4
    assert bool(row["dropped_out"]) is False
    assert row["click"] is None
    assert row["extra"]["source"] == "feedback"
    assert click_labels(store.outcomes()).tolist() == [1]  # 36.7 >= 36, stayed


def test_without_an_intake_baseline_the_first_wellbeing_is_the_baseline(store, placed):
    client = placed()
    record_feedback(store, client, session(5, 5, 5, 5), wellbeing(5, 5, 5, 5))  # 20, 20
    assert _outcome(store, client)["improvement"] is None  # one measurement: no change yet
    record_feedback(store, client, session(7, 7, 7, 7), wellbeing(4, 4, 4, 5))  # 28, 17
    row = _outcome(store, client)
    assert row["alliance"] == pytest.approx(24.0)
    assert row["improvement"] == pytest.approx(-3.0)
    assert row["sessions"] == 2
    assert store.counts()["outcomes"] == 1  # upserted, not duplicated


def test_a_drop_out_becomes_an_outcome_with_label_0(store, placed):
    client = placed()
    record_feedback(store, client, session(10, 10, 10, 10), None)
    end_placement(store, client, by="maria", status="dropped_out")
    assert bool(_outcome(store, client)["dropped_out"]) is False  # not synced yet
    assert sync_outcomes(store) == 1
    row = _outcome(store, client)
    assert bool(row["dropped_out"]) is True and row["alliance"] == pytest.approx(40.0)
    assert click_labels(store.outcomes()).tolist() == [0]
    assert sync_outcomes(store) == 1 and store.counts()["outcomes"] == 1  # idempotent


def test_a_drop_out_without_feedback_is_an_outcome_other_endings_are_not(store, placed):
    dropped, ended, rematched = placed(), placed("T4"), placed("T1")
    end_placement(store, dropped, by="maria", status="dropped_out")
    end_placement(store, ended, by="maria")
    request_rematch(store, rematched, by="maria")
    assert sync_outcomes(store) == 1
    row = _outcome(store, dropped)
    assert (row["sessions"], bool(row["dropped_out"]), row["alliance"]) == (0, True, None)


def test_outcome_for_is_pure():
    feedback = [
        Feedback(session=session(9, 9, 9, 9), session_number=2),
        Feedback(session=session(5, 5, 5, 5), wellbeing=wellbeing(2, 2, 2, 2), session_number=1),
    ]
    got = outcome_for("C", "T", "active", feedback, baseline=wellbeing(3, 3, 3, 3))
    assert got == {
        "client_id": "C",
        "therapist_id": "T",
        "sessions": 2,
        "dropped_out": False,
        "alliance": pytest.approx(28.0),
        "improvement": pytest.approx(-4.0),
        "click": None,
    }
    assert outcome_for("C", "T", "active", []) is None
    assert outcome_for("C", "T", "ended", []) is None


# --- not on track ----------------------------------------------------------------------------


def test_low_session_ratings_twice_raise_an_alert(store, placed):
    client = placed()
    record_feedback(store, client, session(8, 8, 8, 8), None)  # 32: low
    assert not_on_track(store) == []  # once is not a pattern
    record_feedback(store, client, session(9, 9, 9, 8), None)  # 35: low
    (alert,) = not_on_track(store)
    assert (alert.client_id, alert.therapist_id, alert.sessions) == (client, "T2", 2)
    assert alert.reasons == (
        "Session rating low (under 36 of 40) in 2 of the last 2 sessions rated (32, 35).",
    )


def test_worse_wellbeing_than_at_intake_raises_an_alert(store, placed):
    client = placed(baseline=wellbeing(6, 6, 6, 6))  # 24
    record_feedback(store, client, session(10, 10, 10, 10), wellbeing(5, 5, 5, 5))  # 20: -4
    assert not_on_track(store) == []  # 4 points is within measurement noise
    record_feedback(store, client, session(10, 10, 10, 10), wellbeing(5, 5, 5, 4))  # 19: -5
    (alert,) = not_on_track(store)
    assert alert.reasons == (
        "Wellbeing 5 points worse than at intake (19 of 40, from 24); "
        "5 points is a reliable change.",
    )


def test_worse_wellbeing_than_the_first_feedback_without_a_baseline(store, placed):
    client = placed()
    record_feedback(store, client, None, wellbeing(8, 8, 8, 8))  # 32
    record_feedback(store, client, None, wellbeing(6, 6, 6, 6))  # 24
    (alert,) = not_on_track(store)
    assert "8 points worse than in the first feedback" in alert.reasons[0]


def test_a_good_course_and_a_closed_one_raise_nothing(store, placed):
    good = placed(baseline=wellbeing(4, 4, 4, 4))
    for total_each in (9, 10, 10):
        record_feedback(store, good, session(*[total_each] * 4), wellbeing(6, 6, 6, 6))
    poor = placed("T4")
    record_feedback(store, poor, session(1, 1, 1, 1), None)
    record_feedback(store, poor, session(1, 1, 1, 1), None)
    assert [a.client_id for a in not_on_track(store)] == [poor]
    request_rematch(store, poor, by="maria")  # acted on: the alert goes away
    assert not_on_track(store) == []


def test_a_recovered_relationship_stops_alerting(store, placed):
    client = placed()
    for total_each in (5, 5, 10, 10, 10):  # two poor starts, then three good sessions
        record_feedback(store, client, session(*[total_each] * 4), None)
    assert not_on_track(store) == []


# --- the dashboard's data ----------------------------------------------------------------------


def test_caseloads_and_waiting(store, placed):
    before = {c.therapist_id: c for c in caseloads(store)}
    placed("T2")
    store.add_intake(parse_intake(INTAKE))
    after = {c.therapist_id: c for c in caseloads(store)}
    assert after["T2"].active == before["T2"].active + 1
    assert after["T2"].open == before["T2"].open - 1
    assert after["T2"].capacity == before["T2"].capacity
    assert len(waiting_days(store)) == 1 and 0 <= waiting_days(store)[0] < 1


def test_click_rate_by_month(store, placed):
    good, poor, dropped, unknown = placed(), placed("T4"), placed("T1"), placed("T3")
    record_feedback(store, good, session(9, 9, 9, 9), None)
    record_feedback(store, poor, session(5, 5, 5, 5), None)
    end_placement(store, dropped, by="maria", status="dropped_out")
    record_feedback(store, unknown, None, wellbeing(5, 5, 5, 5))  # no early alliance: not counted
    (month,) = click_rate_by_month(store)
    assert (month.placements, month.clicked, month.rate) == (3, 1, pytest.approx(1 / 3))


def test_calibration_of_the_current_model(tmp_path):
    assert current_calibration(tmp_path).message == NO_MODEL_MESSAGE
    curve = [{"predicted": 0.2, "observed": 0.25, "count": 10}]
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "card.json").write_text(
        json.dumps({"calibration_curve": curve, "metrics": {"model": {"ece": 0.03}}})
    )
    (tmp_path / "registry.json").write_text(
        json.dumps({"current": "v1", "versions": {"v1": {"sha256": "x"}}})
    )
    got = current_calibration(tmp_path)
    assert (got.version, got.curve, got.ece, got.message) == ("v1", curve, 0.03, None)
