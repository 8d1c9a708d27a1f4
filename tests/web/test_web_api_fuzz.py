"""Any JSON at the API: never a 5xx, and every 4xx names the problem."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.clinic.store import Store
from matcher.schema import read_csv
from matcher.vocab import INTAKE_COLUMNS
from tests.conftest import FIXTURES, FakeEmbedder
from web import create_app


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """One app for all examples (building one per example would dominate the run)."""
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'fuzz.db'}"
    Store(url).import_tables(therapists=read_csv(FIXTURES / "therapists.csv", "therapists"))
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "MODEL_DIR": str(folder / "models"),
            "EMBEDDER": FakeEmbedder(),
            "SECRET_KEY": "fuzz",
            "RATE_LIMITS": {},
        }
    )
    return app.test_client()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "english",
            "telehealth",
            "either",
            "in_person",
            "=cmd|' /C calc'!A0",
            "mon_am",
            "anxiety;grief",
            "x" * 6000,
            "-3",
            "+3",
        ]
    ),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=6)
intakes = st.dictionaries(st.sampled_from([*INTAKE_COLUMNS, "k", "extra"]), values, max_size=12)


def _check(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    payload = response.get_json()
    if response.status_code >= 400:
        assert payload["ok"] is False and payload["errors"]
        assert all(isinstance(m, str) and m for m in payload["errors"].values())
    else:
        assert payload["ok"] is True and "suggestions" in payload["data"]


@settings(max_examples=200, deadline=None)
@given(body=st.one_of(intakes, values))
def test_api_never_fails_on_any_json(api, body):
    _check(api.post("/api/v1/matches", data=json.dumps(body), content_type="application/json"))


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(max_size=400))
def test_api_never_fails_on_any_bytes(api, raw):
    response = api.post("/api/v1/matches", data=raw, content_type="application/json")
    assert response.status_code == 400 or response.status_code == 200
    _check(response)


# --- the crafted bodies a hostile probe sent, and their kind -------------------------------

CRAFTED = {
    "a lone surrogate in story": (
        '{"story": "\\ud800", "language": "english", "modality": "either"}',
        "story",
    ),
    "concerns nested 350 deep": (
        '{"language": "english", "modality": "either", "concerns": '
        + "[" * 350
        + '"x"'
        + "]" * 350
        + "}",
        "_",
    ),
    "a body nested 5,000 deep": ("[" * 5000 + "]" * 5000, "_"),
    "an object as story": (
        '{"story": {"a": 1}, "language": "english", "modality": "either", "concerns": "x"}',
        "story",
    ),
    "an array as language": (
        '{"language": ["english"], "modality": "either", "concerns": "anxiety"}',
        "language",
    ),
    "a NUL in hopes": (
        '{"hopes": "a\\u0000b", "language": "english", "modality": "either", "concerns": "x"}',
        "hopes",
    ),
    "NaN as max_fee": (
        '{"max_fee": NaN, "language": "english", "modality": "either", "concerns": "x"}',
        "_",
    ),
    "a nested list in concerns": (
        '{"concerns": [["anxiety"]], "language": "english", "modality": "either"}',
        "concerns",
    ),
    "not UTF-8": (b'{"story": "\xff\xfe"}', "_"),
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_bodies_are_a_400_naming_the_field(api, name, caplog):
    body, field = CRAFTED[name]
    response = api.post("/api/v1/matches", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    errors = response.get_json()["errors"]
    assert field in errors and errors[field]
    assert "Traceback" not in caplog.text


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet=st.one_of(st.characters(), st.sampled_from("\x00\ud800\udfff")), max_size=30)
)
def test_any_string_in_any_field_is_never_a_5xx(api, text):
    body = {"language": "english", "modality": "either", "concerns": "anxiety", "story": text}
    raw = json.dumps(body)  # json escapes lone surrogates as \\udXXX, as a hostile client would
    response = api.post("/api/v1/matches", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "story" in response.get_json()["errors"]
