"""Controlled vocabularies: what people type becomes one term, on every path into the library."""

from __future__ import annotations

import csv
import io
import unicodedata

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import ValidationError
from matcher.schema import parse_intake, read_csv_bytes, validate_intakes, validate_therapists
from matcher.terms import TERM_KINDS, age_group, age_groups, canonical, fold, label, tag
from matcher.text import load_toml
from matcher.vocab import AGE_GROUPS

TERMS = load_toml("terms")

#: Every (kind, canonical term, spelling) in terms.toml, the canonical term itself included.
ENTRIES: list[tuple[str, str, str]] = [
    (kind, term, spelling)
    for kind in TERM_KINDS
    for term, spellings in TERMS[kind].items()
    for spelling in (term, *spellings)
]


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


# --- known answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("language", "Español", "spanish"),
        ("language", "es", "spanish"),
        ("language", "  ENGLISH ", "english"),
        ("language", "Farsi", "persian"),
        ("language", "Persian", "persian"),
        ("language", "فارسی", "persian"),
        ("language", "Kreyòl", "haitian_creole"),
        ("language", "Haitian Creole", "haitian_creole"),
        ("language", "Filipino", "tagalog"),
        ("language", "ASL", "asl"),
        ("language", "Chinese", "mandarin"),
        ("language", "中文", "mandarin"),
        ("language", "廣東話", "cantonese"),
        ("language", "Tiếng Việt", "vietnamese"),
        ("language", "한국어", "korean"),
        ("language", "русский", "russian"),
        ("language", "العربية", "arabic"),
        ("language", "हिन्दी", "hindi"),
        ("language", "日本語", "japanese"),
        ("language", "Português", "portuguese"),
        ("language", "Türkçe", "turkish"),
        ("language", "עברית", "hebrew"),
        ("language", "Klingon", "klingon"),  # unknown: kept, tidied
        ("insurer", "BCBS", "bluecross"),
        ("insurer", "Anthem", "bluecross"),
        ("insurer", "Elevance Health", "bluecross"),
        ("insurer", "Evernorth", "cigna"),
        ("insurer", "UHC", "united"),
        ("insurer", "Optum", "united"),
        ("insurer", "Kaiser Permanente", "kaiser"),
        ("insurer", "Medi-Cal", "medicaid"),
        ("insurer", "Beacon Health Options", "carelon"),
        ("insurer", "TRICARE", "tricare"),
        ("region", "CA", "california"),
        ("region", "Calif.", "california"),
        ("region", "Mass.", "massachusetts"),
        ("region", "Penn.", "pennsylvania"),
        ("region", "Pa.", "pennsylvania"),
        ("region", "N.Y.", "new_york"),
        ("region", "N. Y.", "new_york"),
        ("region", "New York", "new_york"),
        ("region", "D.C.", "district_of_columbia"),
        ("region", "Washington, D.C.", "district_of_columbia"),
        ("region", "Washington", "washington"),
        ("region", "W.Va.", "west_virginia"),
        ("region", "PR", "puerto_rico"),
        ("region", "OR", "oregon"),
        ("region", "IN", "indiana"),
        ("region", "ME", "maine"),
        ("city", "NYC", "New York"),
        ("city", "N.Y.C.", "New York"),
        ("city", "  new   york ", "New York"),
        ("city", "L.A.", "Los Angeles"),
        ("city", "SF", "San Francisco"),
        ("city", "DC", "Washington"),
        ("city", "Philly", "Philadelphia"),
        ("city", "St.Louis", "St. Louis"),
        ("city", "  Springfield  ", "Springfield"),  # unknown: kept, spacing tidied
        ("therapy_type", "Cognitive-Behavioral Therapy", "cbt"),
        ("therapy_type", "Person-centered", "person_centred"),
        ("therapy_type", "Internal Family Systems", "ifs"),
        ("therapy_type", "SFBT", "solution_focused"),
        ("therapy_type", "Gestalt therapy", "gestalt_therapy"),
    ],
)
def test_known_spellings_map_to_the_canonical_term(kind, text, expected):
    assert canonical(kind, text) == expected


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
@pytest.mark.parametrize("kind", TERM_KINDS)
def test_blank_is_blank(kind, text):
    assert canonical(kind, text) == ""


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        canonical("planet", "Mars")


@pytest.mark.parametrize(
    ("kind", "term", "expected"),
    [
        ("language", "asl", "American Sign Language"),
        ("language", "spanish", "Spanish"),
        ("language", "haitian_creole", "Haitian Creole"),
        ("insurer", "bluecross", "Blue Cross"),
        ("insurer", "united", "UnitedHealthcare"),
        ("insurer", "tricare", "TRICARE"),
        ("insurer", "aetna", "Aetna"),
        ("region", "new_york", "New York"),
        ("region", "north_carolina", "North Carolina"),
        ("region", "district_of_columbia", "District of Columbia"),
        ("region", "california", "California"),
        ("city", "St. Louis", "St. Louis"),
        ("therapy_type", "cbt", "CBT"),
        ("therapy_type", "person_centred", "Person-centred"),
        ("therapy_type", "psychodynamic", "Psychodynamic"),
        ("therapy_type", "gestalt_therapy", "Gestalt therapy"),
        ("region", "", ""),
    ],
)
def test_labels_read_correctly(kind, term, expected):
    assert label(kind, term) == expected


def test_every_multi_word_region_has_a_label():
    for term in TERMS["region"]:
        words = term.split("_")
        expected = " ".join(w if w == "of" else w.capitalize() for w in words)
        assert label("region", term) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Español ", "espanol"),
        ("N.Y.C.", "nyc"),
        ("N. Y. C.", "nyc"),
        ("St.Louis", "st louis"),
        ("St. Louis", "st louis"),
        ("Washington, D.C.", "washington dc"),
        ("person–centred", "person centred"),  # an en dash
        ("\u200bSpanish\ufeff", "spanish"),  # zero-width space and BOM pasted from a page
        ("ᴬSL", "asl"),  # a compatibility capital folds to lower case
    ],
)
def test_fold(text, expected):
    assert fold(text) == expected


def test_tag():
    assert tag("  Blue Cross ") == "blue_cross"
    assert tag("person-centred") == "person_centred"


# --- the data file ------------------------------------------------------------------------


def test_every_kind_has_a_section_in_alphabetical_order():
    for kind in TERM_KINDS:
        terms = list(TERMS[kind])
        assert terms, kind
        assert terms == sorted(terms, key=str.casefold), kind


@pytest.mark.parametrize("kind", TERM_KINDS)
def test_no_spelling_is_listed_twice_in_a_kind(kind):
    """Under two canonical terms it would be ambiguous; under one, redundant (matching folds)."""
    owner: dict[str, str] = {}
    for _, term, spelling in (entry for entry in ENTRIES if entry[0] == kind):
        key = fold(spelling)
        assert key, (term, spelling)
        assert key not in owner, f"{spelling!r} under {term!r} folds like one under {owner[key]!r}"
        owner[key] = term


@pytest.mark.parametrize(("kind", "term", "spelling"), ENTRIES)
def test_every_spelling_maps_to_its_own_term(kind, term, spelling):
    assert canonical(kind, spelling) == term


@pytest.mark.parametrize("kind", [k for k in TERM_KINDS if k != "city"])
def test_canonical_terms_are_tags(kind):
    for term in TERMS[kind]:
        assert term == tag(term) and term.isascii(), term


def test_labels_name_known_terms():
    for kind, labels in TERMS["labels"].items():
        assert kind in TERM_KINDS
        assert set(labels) <= set(TERMS[kind]), kind


def test_stored_canonical_terms_are_kept():
    assert {"aetna", "bluecross", "cigna", "medicaid", "medicare", "united", "kaiser"} <= set(
        TERMS["insurer"]
    )
    assert {"cbt", "dbt", "act", "emdr", "psychodynamic", "person_centred", "schema"} <= set(
        TERMS["therapy_type"]
    )


def test_regions_are_the_states_dc_and_puerto_rico_with_postal_codes():
    regions = TERMS["region"]
    assert len(regions) == 52
    codes = [s for spellings in regions.values() for s in spellings if len(s) == 2]
    assert len(codes) == len(set(codes)) == 52
    assert {"district_of_columbia", "puerto_rico", "new_york", "wyoming"} <= set(regions)


def test_languages_cover_a_us_practice():
    languages = TERMS["language"]
    with_code = [
        term for term, spellings in languages.items() if any(len(s) == 2 for s in spellings)
    ]
    assert len(with_code) >= 30
    # "Chinese" means Mandarin, and nothing else says just "chinese".
    chinese = [term for _, term, s in ENTRIES if s == "chinese"]
    assert chinese == ["mandarin"]


# --- properties ---------------------------------------------------------------------------

_any_text = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Pd", "Po"]), max_size=20),
    st.sampled_from([spelling for _, _, spelling in ENTRIES]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TERM_KINDS), _any_text)
def test_canonical_never_raises_and_is_idempotent(kind, text):
    term = canonical(kind, text)
    assert isinstance(term, str)
    assert canonical(kind, term) == term
    if term:
        assert isinstance(label(kind, term), str)


@settings(max_examples=300, deadline=None)
@given(_any_text)
def test_fold_is_idempotent_and_case_insensitive(text):
    assert fold(fold(text)) == fold(text)
    # Not text.upper(): Unicode case folding keeps a Turkish dotless "ı" apart from "I".
    assert fold(text.lower()) == fold(text.casefold()) == fold(text)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ENTRIES),
    st.lists(st.booleans(), min_size=1),
    st.text(" \t\n\u00a0\u3000", max_size=4),
    st.text(" \t\n\u00a0", max_size=4),
)
def test_any_casing_and_padding_of_a_spelling_maps_to_its_term(entry, upper, before, after):
    kind, term, spelling = entry
    cased = "".join(
        c.upper() if upper[i % len(upper)] else c.lower() for i, c in enumerate(spelling)
    )
    assert canonical(kind, before + cased + after) == term


@pytest.mark.parametrize(("kind", "term", "spelling"), ENTRIES)
def test_case_whitespace_and_accents_do_not_matter(kind, term, spelling):
    accented = unicodedata.normalize("NFC", spelling[0] + "\u0301" + spelling[1:])
    variants = [
        spelling.upper(),
        spelling.lower(),
        spelling.title(),
        f"  {spelling}\t",
        f"\n{spelling.upper()}  ",
        _strip_accents(spelling),
        accented,
    ]
    for variant in variants:
        assert canonical(kind, variant) == term, variant


# --- the same answer on every path --------------------------------------------------------

_TERM_FIELDS = ("language", "insurance", "region", "city", "therapy_type")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (
            ("Español", "BCBS", "Calif.", "L.A.", "Cognitive-Behavioral Therapy"),
            ("spanish", "bluecross", "california", "Los Angeles", "cbt"),
        ),
        (
            ("Farsi", "Anthem", "Washington, D.C.", "DC", "IFS"),
            ("persian", "bluecross", "district_of_columbia", "Washington", "ifs"),
        ),
        (
            ("  kreyòl ", "UnitedHealthcare", "N.Y.", "nyc", "Person-centered"),
            ("haitian_creole", "united", "new_york", "New York", "person_centred"),
        ),
        (
            ("中文", "Evernorth", "PR", "San Juan", "EMDR"),
            ("mandarin", "cigna", "puerto_rico", "San Juan", "emdr"),
        ),
    ],
)
def test_dict_and_csv_intakes_agree(typed, expected):
    raw = {
        "client_id": "C1",
        "concerns": "anxiety",
        "modality": "either",
        **dict(zip(_TERM_FIELDS, typed, strict=True)),
    }
    from_dict = parse_intake(raw)
    from_frame = validate_intakes(pd.DataFrame([raw], dtype=str)).iloc[0]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(raw))
    writer.writeheader()
    writer.writerow(raw)
    from_csv = validate_intakes(read_csv_bytes(buffer.getvalue().encode(), "intakes.csv")).iloc[0]
    for field, want in zip(_TERM_FIELDS, expected, strict=True):
        assert from_dict[field] == from_frame[field] == from_csv[field] == want, field


def _roster_row(**cells: str) -> dict[str, str]:
    row = {
        "therapist_id": "T1",
        "name": "Dr. Ana Ruiz",
        "languages": "english",
        "approach": "Structured and practical.",
        "telehealth": "yes",
        "in_person": "no",
        "fee": "120",
        "capacity": "3",
    }
    return {**row, **cells}


def test_roster_lists_are_canonical_and_deduplicated():
    frame = pd.DataFrame(
        [
            _roster_row(
                languages="Español;English",
                insurance="BCBS",
                licensed_regions="CA;Calif.;N.Y.",
                modalities="CBT;cognitive behavioral therapy;IFS",
            )
        ],
        dtype=str,
    )
    first = validate_therapists(frame).iloc[0]
    assert first["languages"] == ["spanish", "english"]
    assert first["insurance"] == ["bluecross"]
    assert first["licensed_regions"] == ["california", "new_york"]
    assert first["modalities"] == ["cbt", "ifs"]


def test_an_overlong_term_is_still_refused():
    with pytest.raises(ValidationError) as caught:
        parse_intake({"concerns": "anxiety", "modality": "either", "language": "x" * 300})
    assert "language" in caught.value.by_field()


# --- age groups ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("34", "adults"),
        (" 34 ", "adults"),
        ("0", "children"),
        ("12", "children"),
        ("12.9", "children"),
        ("13", "adolescents"),
        ("17", "adolescents"),
        ("18", "adults"),
        ("64", "adults"),
        ("65", "older_adults"),
        ("120", "older_adults"),
        ("adults", "adults"),
        ("Adult", "adults"),
        ("child", "children"),
        ("Kids", "children"),
        ("teen", "adolescents"),
        ("Teenagers", "adolescents"),
        ("adolescent", "adolescents"),
        ("older adults", "older_adults"),
        ("Older-Adults", "older_adults"),
        ("older_adults", "older_adults"),
        ("seniors", "older_adults"),
    ],
)
def test_age_group(text, expected):
    assert age_group(text) == expected


@pytest.mark.parametrize("text", ["x", "-1", "200", "121", "nan", "NaN", "inf", "", "   "])
def test_age_group_errors_say_what_was_expected(text):
    with pytest.raises(ValueError, match="expected an age in years or one of children"):
        age_group(text)


def test_age_groups_are_ordered_and_deduplicated():
    assert age_groups(["Older adults", "teen", " ", "adults", "teens"]) == [
        "adolescents",
        "adults",
        "older_adults",
    ]
    assert age_groups([]) == []
    with pytest.raises(ValueError, match="unknown age group '34'"):
        age_groups(["34"])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 120))
def test_every_age_has_its_group(age):
    group = age_group(str(age))
    assert group in AGE_GROUPS
    assert group == (
        "children"
        if age < 13
        else "adolescents"
        if age < 18
        else "adults"
        if age < 65
        else "older_adults"
    )
