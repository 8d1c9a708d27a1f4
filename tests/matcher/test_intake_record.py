"""One representation along the path: an intake is validated once, a ranking round-trips."""

from __future__ import annotations

import pytest

from matcher import Intake, Ranking, ValidationError, parse_intake, schema

INTAKE = {"concerns": "anxiety", "language": "English", "modality": "telehealth"}


def test_parse_intake_gives_a_typed_record_and_accepts_it_again_unchanged():
    intake = parse_intake(INTAKE)
    assert isinstance(intake, Intake)
    assert intake["concerns"] == ["anxiety"] and intake["client_id"] == "anonymous"
    assert parse_intake(intake) is intake  # validated already: not parsed twice


def test_with_client_id_checks_the_id():
    intake = parse_intake(INTAKE)
    assert intake.with_client_id("web-1")["client_id"] == "web-1"
    with pytest.raises(ValidationError, match="client_id"):
        intake.with_client_id("not an id!")


def _counting(monkeypatch) -> list[int]:
    calls = []
    original = schema._validate_record

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(schema, "_validate_record", counted)
    return calls


def test_ranking_validates_a_raw_intake_once_and_a_parsed_one_never(matcher, monkeypatch):
    calls = _counting(monkeypatch)
    matcher.rank(INTAKE)
    assert len(calls) == 1
    intake = parse_intake(INTAKE)
    calls.clear()
    matcher.rank(intake)
    assert calls == []


def test_a_ranking_survives_storage_as_the_same_object(matcher):
    ranking = matcher.rank(INTAKE, k=3)
    again = Ranking.from_dict(ranking.as_dict())
    assert [s.therapist_id for s in again] == [s.therapist_id for s in ranking]
    assert [s.reasons for s in again] == [s.reasons for s in ranking]
    assert [s.score for s in again] == pytest.approx([s.score for s in ranking], abs=1e-4)
    assert again.client_style_source == ranking.client_style_source
    assert again.excluded == ranking.excluded and again.eligible == ranking.eligible
    assert again.shortfall_message == ranking.shortfall_message
    assert again.as_dict() == ranking.as_dict()
