"""Hostile CSV: random rows, huge fields, wrong encodings, formula injection."""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.clinic.export import spreadsheet_safe, write_csv
from matcher.errors import ValidationError
from matcher.schema import read_csv_bytes, validate_frame
from matcher.vocab import THERAPIST_COLUMNS

FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@import", '=HYPERLINK("x")']
cells = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["yes", "no", "english", "mon_am", "3", "-3", "120", "", "T1", *FORMULAS]),
    st.text(min_size=5001, max_size=5100),
)
rows = st.lists(st.fixed_dictionaries({c: cells for c in THERAPIST_COLUMNS}), max_size=6)


def _csv(records: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=rows,
    drop=st.sets(st.sampled_from(THERAPIST_COLUMNS), max_size=2),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]),
)
def test_any_roster_file_is_imported_cleanly_or_rejected_clearly(records, drop, encoding):
    columns = [c for c in THERAPIST_COLUMNS if c not in drop]
    text = _csv([{c: r[c] for c in columns} for r in records], columns)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return
    try:
        frame = validate_frame(read_csv_bytes(data, "therapists.csv"), "therapists")
    except ValidationError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.source == "therapists.csv" and problem.message
            assert problem.row is None or 2 <= problem.row <= len(records) + 1
    else:
        assert len(frame) == len(records)


@given(st.binary(max_size=500))
def test_any_bytes_are_rejected_or_read(data):
    try:
        read_csv_bytes(data, "x.csv")
    except ValidationError as error:
        assert "x.csv" in str(error)


def test_formula_cells_are_neutralised_on_export(tmp_path):
    frame = pd.DataFrame({"name": FORMULAS + ["Dr. Ana"], "score": [-3, 1, 2, 3, 4, 5]})
    write_csv(frame, tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert all(not v.startswith(("=", "+", "-", "@")) for v in back["name"])
    assert back["name"].iloc[-1] == "Dr. Ana"
    assert back["score"].iloc[0] == "-3"  # numbers stay numbers
    assert spreadsheet_safe("-2+3") == "'-2+3"
