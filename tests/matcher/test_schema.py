"""The data contract: every bad row is named by file, row and column; nothing half-written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import ValidationError
from matcher.clinic import Store
from matcher.schema import (
    frame_records,
    parse_intake,
    read_csv,
    read_directory,
    validate_therapists,
)
from matcher.vocab import INTAKE_COLUMNS, THERAPIST_COLUMNS


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _roster_with(fixtures_dir, tmp_path, old, new):
    text = (fixtures_dir / "therapists.csv").read_text()
    assert old in text
    return _write(tmp_path / "therapists.csv", text.replace(old, new, 1))


def test_fixture_roster_is_valid_and_normalised(therapists_frame):
    assert list(therapists_frame.columns[: len(THERAPIST_COLUMNS)]) == list(THERAPIST_COLUMNS)
    first = therapists_frame.iloc[0]
    assert first["languages"] == ["english", "spanish"]
    assert isinstance(first["telehealth"], bool | np.bool_) and bool(first["telehealth"])
    assert first["capacity"] == 3
    # extra columns are kept (and ignored by matching)
    assert first["extra"] == {"notes": "prefers mornings"}


def test_missing_column_is_named(fixtures_dir, tmp_path):
    text = (fixtures_dir / "therapists.csv").read_text().replace("capacity,", "capacty,", 1)
    path = _write(tmp_path / "therapists.csv", text)
    with pytest.raises(
        ValidationError, match=r"therapists.csv, column 'capacity': required column is missing"
    ):
        read_csv(path, "therapists")


@pytest.mark.parametrize(
    ("old", "new", "row", "column", "expected"),
    [
        ("200,no,0,no", "200,no,lots,no", 6, "capacity", "whole number"),
        (",120,no,3,", ",cheap,no,3,", 2, "fee", "expected a number"),
        (
            "yes,yes,Springfield,mon_am;mon_eve",
            "maybe,yes,Springfield,mon_am;mon_eve",
            2,
            "telehealth",
            "yes/no",
        ),
        ("mon_am;mon_eve;wed_eve", "monday;mon_eve", 2, "availability", "unknown slot"),
        ("3,-1,-2,3", "7,-1,-2,3", 2, "directive", "from -3 to +3"),
        ("T2,Sam", "T1,Sam", 3, "therapist_id", "duplicate therapist_id 'T1' (first on row 2)"),
    ],
)
def test_bad_cells_are_named_by_row_and_column(
    fixtures_dir, tmp_path, old, new, row, column, expected
):
    path = _roster_with(fixtures_dir, tmp_path, old, new)
    with pytest.raises(ValidationError) as caught:
        read_csv(path, "therapists")
    messages = [str(p) for p in caught.value.problems]
    assert any(
        f"therapists.csv, row {row}, column '{column}'" in m and expected in m for m in messages
    ), messages


def test_every_problem_is_reported_at_once(fixtures_dir, tmp_path):
    text = (fixtures_dir / "therapists.csv").read_text()
    text = text.replace("120,no,3", "x,no,3").replace("200,no,0", "200,no,-1")
    with pytest.raises(ValidationError) as caught:
        read_csv(_write(tmp_path / "therapists.csv", text), "therapists")
    assert {p.field for p in caught.value.problems} == {"fee", "capacity"}


def test_bad_modality_in_intake_is_named(fixtures_dir, tmp_path):
    text = (fixtures_dir / "intakes.csv").read_text().replace(",either,", ",zoom,", 1)
    with pytest.raises(ValidationError, match=r"row 2, column 'modality': expected one of"):
        read_csv(_write(tmp_path / "intakes.csv", text), "intakes")


def test_not_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "therapists.csv"
    path.write_bytes("therapist_id,name\nT1,Zoë\n".encode("latin-1"))
    with pytest.raises(ValidationError, match="is not UTF-8"):
        read_csv(path, "therapists")


def test_directory_reports_all_files_problems_together(fixtures_dir, tmp_path):
    for name in ("therapists.csv", "intakes.csv", "outcomes.csv"):
        _write(tmp_path / name, (fixtures_dir / name).read_text())
    _write(tmp_path / "intakes.csv", "client_id,concerns\nC1,anxiety\n")
    _write(
        tmp_path / "outcomes.csv", "client_id,therapist_id,sessions,dropped_out\nC1,T1,2,perhaps\n"
    )
    with pytest.raises(ValidationError) as caught:
        read_directory(tmp_path)
    sources = {p.source for p in caught.value.problems}
    assert sources == {"intakes.csv", "outcomes.csv"}


def test_intake_accepts_lists_strings_and_blanks():
    record = parse_intake(
        {
            "concerns": ["Anxiety", "work stress"],
            "availability": "mon_eve; tue_eve",
            "language": "English",
            "modality": "either",
            "directive": "",
            "challenge": 2,
            "max_fee": None,
        }
    )
    assert record["concerns"] == ["anxiety", "work_stress"]
    assert record["availability"] == ["mon_eve", "tue_eve"]
    assert record["language"] == "english"
    assert record["directive"] is None and record["challenge"] == 2.0
    assert record["max_fee"] is None
    assert record["gender_required"] is False


@pytest.mark.parametrize(
    ("intake", "field"),
    [
        ({"concerns": "anxiety", "modality": "either"}, "language"),
        ({"concerns": "anxiety", "language": "english"}, "modality"),
        ({"concerns": "anxiety", "language": "english", "modality": "in_person"}, "city"),
        ({"language": "english", "modality": "either"}, "concerns"),
        (
            {"concerns": "anxiety", "language": "english", "modality": "either", "intensity": 4},
            "intensity",
        ),
        (
            {
                "concerns": "anxiety",
                "language": "english",
                "modality": "either",
                "story": "x" * 6000,
            },
            "story",
        ),
    ],
)
def test_bad_intakes_name_the_field(intake, field):
    with pytest.raises(ValidationError) as caught:
        parse_intake(intake)
    assert field in caught.value.by_field()


_cell = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.text(max_size=8), max_size=4),
    st.sampled_from(["=cmd|' /C calc'!A0", "yes", "no", "either", "mon_am", "-3", "+2"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(INTAKE_COLUMNS), _cell))
def test_any_intake_is_accepted_or_rejected_clearly(raw):
    try:
        record = parse_intake(raw)
    except ValidationError as error:
        assert error.problems and all(p.message for p in error.problems)
        assert set(error.by_field()) <= set(INTAKE_COLUMNS)
    else:
        assert set(record) == set(INTAKE_COLUMNS)
        assert record["modality"] in {"telehealth", "in_person", "either"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(THERAPIST_COLUMNS), _cell), max_size=5))
def test_any_roster_frame_is_accepted_or_rejected_with_rows(rows):
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(THERAPIST_COLUMNS))
    try:
        validate_therapists(frame)
    except ValidationError as error:
        assert all(p.row is None or 2 <= p.row <= len(rows) + 1 for p in error.problems)


def test_cross_field_rules_run_even_when_another_field_failed():
    with pytest.raises(ValidationError) as caught:
        parse_intake({"language": "english", "modality": "in_person", "max_fee": "cheap"})
    assert set(caught.value.by_field()) == {"max_fee", "concerns", "city"}


def test_an_old_roster_without_licensure_or_ages_imports_and_says_so(fixtures_dir, tmp_path):
    frame = read_csv(fixtures_dir / "therapists.csv", "therapists")
    assert set(frame["licensed_regions"].map(tuple)) == {()}  # not recorded: not checked
    assert set(frame["age_groups"].map(tuple)) == {("adults", "older_adults")}
    summary = Store(f"sqlite:///{tmp_path / 'db.sqlite'}").import_tables(therapists=frame)
    text = str(summary)
    assert "therapists.csv has no licensed_regions column" in text
    assert "taken to see adults and older adults" in text


def test_licensure_and_ages_are_read_and_normalised():
    row = {
        "therapist_id": "T9",
        "name": "Kim",
        "languages": "Español; English",
        "approach": "I listen.",
        "telehealth": "yes",
        "in_person": "no",
        "fee": "80",
        "capacity": "1",
        "insurance": "BCBS",
        "licensed_regions": "CA; Oregon",
        "age_groups": "teens;adults",
    }
    (record,) = frame_records(validate_therapists(pd.DataFrame([row])))
    assert record["languages"] == ["spanish", "english"]
    assert record["insurance"] == ["bluecross"]
    assert record["licensed_regions"] == ["california", "oregon"]
    assert record["age_groups"] == ["adolescents", "adults"]
    with pytest.raises(ValidationError, match="unknown age group 'toddlers'"):
        validate_therapists(pd.DataFrame([{**row, "age_groups": "toddlers"}]))
