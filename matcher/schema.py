"""Validation at the edge: the one place that checks each input shape.

Every record that enters the library (a CSV row, a web form, a JSON body, a
Python dict) passes through the field specs below. Validation collects every
problem before raising, so a coordinator can fix a spreadsheet in one pass,
and it never writes anything: callers store only what validated whole.

Normalised records use plain Python values: lists of lower-case tags, floats
or ``None`` for the optional style ratings, ``bool`` for flags.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import Problem, ValidationError
from .fields import (
    BadValue,
    Field,
    as_text,
    normalise_tag,
    parse_age_group,
    parse_age_groups,
    parse_bool,
    parse_click,
    parse_count,
    parse_id,
    parse_long,
    parse_modality,
    parse_number,
    parse_short,
    parse_slots,
    parse_style,
    parse_tags,
    term,
    terms,
)
from .vocab import (
    ALLIANCE_MAX,
    DEFAULT_AGE_GROUPS,
    INTAKE_COLUMNS,
    OPTIONAL_THERAPIST_COLUMNS,
    OUTCOME_COLUMNS,
    STYLE_AXES,
    THERAPIST_COLUMNS,
)

_STYLE_FIELDS = tuple(Field(axis, parse_style) for axis in STYLE_AXES)

THERAPIST_FIELDS: tuple[Field, ...] = (
    Field("therapist_id", parse_id, required=True),
    Field("name", parse_short, required=True),
    Field("gender", lambda t: normalise_tag(parse_short(t))),
    Field("languages", terms("language"), required=True, blank=[]),
    Field("specialties", parse_tags, blank=[]),
    Field("modalities", terms("therapy_type"), blank=[]),
    Field("approach", parse_long, required=True),
    *_STYLE_FIELDS,
    Field("telehealth", parse_bool, required=True),
    Field("in_person", parse_bool, required=True),
    Field("city", term("city"), blank=""),
    Field("availability", parse_slots, blank=[]),
    Field("insurance", terms("insurer"), blank=[]),
    Field("fee", lambda t: parse_number(t, low=0), required=True),
    Field("sliding_scale", parse_bool, blank=False),
    Field("capacity", parse_count, required=True),
    Field("lgbtq_affirming", parse_bool, blank=False),
    Field("faith", lambda t: normalise_tag(parse_short(t)), blank=""),
    # Blank = licensure not recorded: not checked (an import without the column says so).
    Field("licensed_regions", terms("region"), blank=[]),
    Field("age_groups", parse_age_groups, blank=list(DEFAULT_AGE_GROUPS)),
)

INTAKE_FIELDS: tuple[Field, ...] = (
    Field("client_id", parse_id, required=True),
    Field("concerns", parse_tags, blank=[]),
    Field("story", parse_long, blank=""),
    Field("hopes", parse_long, blank=""),
    *_STYLE_FIELDS,
    Field("language", term("language"), required=True),
    Field("modality", parse_modality, required=True),
    Field("city", term("city"), blank=""),
    Field("availability", parse_slots, blank=[]),
    Field("insurance", term("insurer"), blank=""),
    Field("max_fee", lambda t: parse_number(t, low=0)),
    Field("therapist_gender", lambda t: normalise_tag(parse_short(t)), blank=""),
    Field("gender_required", parse_bool, blank=False),
    Field("lgbtq_affirming_required", parse_bool, blank=False),
    Field("faith", lambda t: normalise_tag(parse_short(t)), blank=""),
    # Where the client lives: a therapist must be licensed there (blank = not checked).
    Field("region", term("region"), blank=""),
    Field("age_group", parse_age_group, blank=""),
    Field("therapy_type", term("therapy_type"), blank=""),
)

OUTCOME_FIELDS: tuple[Field, ...] = (
    Field("client_id", parse_id, required=True),
    Field("therapist_id", parse_id, required=True),
    Field("sessions", parse_count, required=True),
    Field("dropped_out", parse_bool, required=True),
    Field("alliance", lambda t: parse_number(t, 0, ALLIANCE_MAX)),
    Field("improvement", parse_number),
    Field("click", parse_click),
)

assert tuple(f.name for f in THERAPIST_FIELDS) == THERAPIST_COLUMNS
assert tuple(f.name for f in INTAKE_FIELDS) == INTAKE_COLUMNS
assert tuple(f.name for f in OUTCOME_FIELDS) == OUTCOME_COLUMNS


# --- cross-field rules --------------------------------------------------------------------


def _therapist_rules(record: dict[str, Any]) -> Iterable[tuple[str, str]]:
    if record.get("telehealth") is False and record.get("in_person") is False:
        yield "in_person", "a therapist must offer telehealth, in person, or both"
    if record.get("in_person") and not record.get("city"):
        yield "city", "is required when the therapist sees clients in person"


def _intake_rules(record: dict[str, Any]) -> Iterable[tuple[str, str]]:
    if not record.get("concerns") and not record.get("story"):
        yield "concerns", "give at least one concern or a few words about what brings you"
    if record.get("modality") == "in_person" and not record.get("city"):
        yield "city", "is required for in-person therapy"
    if record.get("gender_required") and not record.get("therapist_gender"):
        yield "therapist_gender", "is required when a therapist of a given gender is required"


def _outcome_rules(record: dict[str, Any]) -> Iterable[tuple[str, str]]:
    return ()


# --- validating records and frames --------------------------------------------------------


def _validate_record(
    raw: Mapping[str, Any],
    fields: tuple[Field, ...],
    rules: Callable[[dict[str, Any]], Iterable[tuple[str, str]]],
    source: str | None,
    row: int | None,
) -> tuple[dict[str, Any], list[Problem]]:
    record: dict[str, Any] = {}
    problems: list[Problem] = []
    for field in fields:
        try:
            record[field.name] = field.value_of(raw.get(field.name))
        except BadValue as bad:
            problems.append(Problem(field.name, str(bad), source, row))
    # Cross-field rules run on whatever parsed, so every problem shows at once;
    # a field that already failed is not blamed twice.
    failed = {problem.field for problem in problems}
    problems.extend(
        Problem(name, message, source, row) for name, message in rules(record) if name not in failed
    )
    return record, problems


_KINDS: dict[str, tuple[tuple[Field, ...], Callable, str]] = {
    "therapists": (THERAPIST_FIELDS, _therapist_rules, "therapist_id"),
    "intakes": (INTAKE_FIELDS, _intake_rules, "client_id"),
    "outcomes": (OUTCOME_FIELDS, _outcome_rules, ""),
}


def validate_frame(frame: pd.DataFrame, kind: str, source: str | None = None) -> pd.DataFrame:
    """Validate every row of a contract table and return it normalised.

    Parameters
    ----------
    frame : DataFrame
        Raw cells (typically all ``str``, as read from CSV). Extra columns are
        kept in an ``extra`` column of dicts and otherwise ignored.
    kind : {"therapists", "intakes", "outcomes"}
    source : str, optional
        Name used in messages, such as ``"therapists.csv"``.

    Raises
    ------
    ValidationError
        With every problem found (file, row, column, what was expected).
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    fields, rules, id_column = _KINDS[kind]
    source = source or f"{kind}.csv"
    names = [field.name for field in fields]
    required = [field.name for field in fields if field.required]
    frame = frame.rename(columns=lambda c: str(c).strip())
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise ValidationError(
            [
                Problem(
                    name,
                    "required column is missing; the header must name it exactly",
                    source,
                )
                for name in missing
            ]
        )
    extra_columns = [c for c in frame.columns if c not in names]
    records: list[dict[str, Any]] = []
    problems: list[Problem] = []
    first_row_of: dict[str, int] = {}
    for position, raw in enumerate(frame.to_dict("records")):
        row = position + 2  # the header is row 1 in a spreadsheet
        record, row_problems = _validate_record(raw, fields, rules, source, row)
        problems.extend(row_problems)
        if id_column and not row_problems:
            key = record[id_column]
            if key in first_row_of:
                problems.append(
                    Problem(
                        id_column,
                        f"duplicate {id_column} {key!r} (first on row {first_row_of[key]})",
                        source,
                        row,
                    )
                )
            first_row_of.setdefault(key, row)
        if extra_columns:
            record["extra"] = {c: as_text(raw.get(c)) for c in extra_columns}
        records.append(record)
    if problems:
        raise ValidationError(problems)
    columns = names + (["extra"] if extra_columns else [])
    validated = pd.DataFrame.from_records(records, columns=columns)
    if kind == "therapists":
        validated.attrs["source"] = source
        validated.attrs["defaulted"] = [
            name for name in OPTIONAL_THERAPIST_COLUMNS if name not in frame.columns
        ]
    return validated


#: What an import says when a roster file has no such column.
DEFAULTED_COLUMN_NOTES: dict[str, str] = {
    "licensed_regions": "has no licensed_regions column, so licensure is not checked for these "
    "therapists until you add it",
    "age_groups": "has no age_groups column, so every therapist is taken to see adults and "
    "older adults (not children or adolescents)",
}


def defaulted_column_notes(therapists: pd.DataFrame) -> list[str]:
    """One sentence per optional roster column the file lacked (see ``validate_frame``)."""
    source = therapists.attrs.get("source", "therapists.csv")
    return [
        f"{source} {DEFAULTED_COLUMN_NOTES[name]}" for name in therapists.attrs.get("defaulted", [])
    ]


def validate_therapists(frame: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Validate a roster; see :func:`validate_frame`."""
    return validate_frame(frame, "therapists", source)


def validate_intakes(frame: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Validate intakes; see :func:`validate_frame`."""
    return validate_frame(frame, "intakes", source)


def validate_outcomes(frame: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Validate outcomes; see :func:`validate_frame`."""
    return validate_frame(frame, "outcomes", source)


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A validated frame's rows as records; pandas' NaN for a blank optional number
    becomes None again, as in a freshly validated record."""
    return [
        {
            key: None if isinstance(value, float) and value != value else value
            for key, value in row.items()
        }
        for row in frame.to_dict("records")
    ]


class Intake(dict[str, Any]):
    """One validated intake: the ``intakes.csv`` columns, parsed and normalised.

    The one shape an intake has after the edge (form, JSON API, CSV row):
    ``concerns`` and ``availability`` are lists, style axes floats in [-3, 3]
    or None, ``max_fee`` a float or None, flags bools, texts stripped. Only
    :func:`parse_intake` makes one (and the store, reading back what it
    validated), so holding an ``Intake`` means it was validated:
    :meth:`matcher.Matcher.rank` does not validate it again.
    """

    __slots__ = ()

    def with_client_id(self, client_id: str) -> Intake:
        """The same validated intake under another id (the id is checked here)."""
        try:
            return Intake({**self, "client_id": parse_id(client_id)})
        except BadValue as bad:
            raise ValidationError([Problem("client_id", str(bad))]) from None


def parse_intake(intake: Mapping[str, Any], *, require_id: bool = False) -> Intake:
    """Validate one intake given as a mapping keyed by the ``intakes.csv`` column names.

    Lists may be lists or ``;``-separated strings; blanks may be ``None``,
    ``""`` or missing. Without ``require_id`` a missing ``client_id`` becomes
    ``"anonymous"``. Unknown keys are ignored.

    Raises
    ------
    ValidationError
        Naming each bad field.
    """
    if isinstance(intake, Intake):
        return intake  # validated already, with an id
    if not isinstance(intake, Mapping):
        raise ValidationError([Problem("_", "expected an object of intake fields")])
    raw = dict(intake)
    given = raw.get("client_id")
    if not require_id and (given is None or (isinstance(given, str) and not given.strip())):
        raw["client_id"] = "anonymous"
    record, problems = _validate_record(raw, INTAKE_FIELDS, _intake_rules, None, None)
    if problems:
        raise ValidationError(problems)
    return Intake(record)


# --- reading CSV files --------------------------------------------------------------------


def read_csv(path: Path | str, kind: str) -> pd.DataFrame:
    """Read and validate one contract CSV file (UTF-8, with or without BOM)."""
    path = Path(path)
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValidationError(
            [Problem("", f"cannot read the file: {error.strerror}", name)]
        ) from None
    return validate_frame(read_csv_bytes(data, name), kind, name)


def read_csv_bytes(data: bytes, name: str) -> pd.DataFrame:
    """Parse CSV bytes into a frame of strings, with clear errors for bad encodings."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(
            [
                Problem(
                    "",
                    f"is not UTF-8 text (byte {error.start}); save it from your spreadsheet "
                    "as 'CSV UTF-8'",
                    name,
                )
            ]
        ) from None
    if "\x00" in text:
        raise ValidationError([Problem("", "contains NUL bytes; is it really a CSV file?", name)])
    if not text.strip():
        raise ValidationError([Problem("", "is empty; expected a header row", name)])
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, csv.Error, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else "could not be parsed"
        raise ValidationError([Problem("", f"is not well-formed CSV: {message}", name)]) from None
    return frame


CONTRACT_FILES: dict[str, str] = {
    "therapists": "therapists.csv",
    "intakes": "intakes.csv",
    "outcomes": "outcomes.csv",
}


def read_tables(paths: Mapping[str, Path | str]) -> dict[str, pd.DataFrame]:
    """Read and validate several contract files, reporting every file's problems at once.

    Parameters
    ----------
    paths : mapping of kind ("therapists", "intakes", "outcomes") to a CSV path

    Raises
    ------
    ValidationError
        With the problems of all files together; nothing is returned in part.
    """
    tables: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for kind, path in paths.items():
        try:
            tables[kind] = read_csv(path, kind)
        except ValidationError as error:
            problems.extend(error.problems)
    if problems:
        raise ValidationError(problems)
    return tables


def read_directory(directory: Path | str) -> dict[str, pd.DataFrame]:
    """Read whichever of therapists.csv, intakes.csv, outcomes.csv a folder holds."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValidationError([Problem("", "is not a folder", str(directory))])
    paths = {
        kind: directory / name
        for kind, name in CONTRACT_FILES.items()
        if (directory / name).exists()
    }
    if not paths:
        expected = ", ".join(CONTRACT_FILES.values())
        raise ValidationError([Problem("", f"holds none of {expected}", str(directory))])
    return read_tables(paths)
