"""Form parsing and the style chart's geometry, without the app."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from matcher import ValidationError
from web.charts import ROW_HEIGHT, WIDTH, style_chart
from web.forms import error_sentence, intake_mapping, parse_intake_form


def test_intake_mapping_uses_the_csv_keys_lists_and_none():
    form = MultiDict(
        [
            ("concerns", "anxiety"),
            ("concerns", "grief"),
            ("concerns_other", " loneliness ,  ; caring for a parent "),
            ("story", "  "),
            ("directive", "-2"),
            ("intensity", ""),
            ("language", "English"),
            ("modality", "telehealth"),
            ("availability", "mon_am"),
            ("availability", "sun_eve"),
            ("gender_required", "yes"),
            ("support_note", "my brother"),
            ("csrf_token", "x"),
        ]
    )
    raw = intake_mapping(form)
    assert raw["concerns"] == ["anxiety", "grief", "loneliness", "caring for a parent"]
    assert raw["availability"] == ["mon_am", "sun_eve"]
    assert raw["story"] is None and raw["intensity"] is None and raw["max_fee"] is None
    assert raw["directive"] == "-2"
    assert raw["gender_required"] == "yes" and raw["lgbtq_affirming_required"] == "no"
    assert "support_note" not in raw and "csrf_token" not in raw and "safety" not in raw


def test_parse_intake_form_returns_record_and_extras():
    form = MultiDict(
        {
            "safety": "yes",
            "concerns": "grief",
            "language": "english",
            "modality": "either",
            "support_note": "  a friend  ",
            "region": "_other",
            "region_other": "Calif.",
            "age_group": "adults",
        }
    )
    submission = parse_intake_form(form)
    assert submission.urgent is True
    assert submission.support_note == "a friend"
    assert submission.record["concerns"] == ["grief"]
    assert submission.record["directive"] is None
    assert submission.record["region"] == "california"  # typed after "other", normalised
    assert (submission.consent, submission.contact) == (False, None)


def test_parse_intake_form_collects_form_only_problems_too():
    form = MultiDict(
        {
            "safety": "maybe",
            "language": "",
            "modality": "either",
            "concerns": "grief",
            "support_note": "x" * 2001,
        }
    )
    with pytest.raises(ValidationError) as caught:
        parse_intake_form(form)
    assert set(caught.value.by_field()) == {
        "safety",
        "language",
        "support_note",
        "region",
        "age_group",
    }


@pytest.mark.parametrize(
    ("field", "message", "expected"),
    [
        ("language", "is required but blank", "Language is required but blank."),
        (
            "max_fee",
            "expected a number, got 'x'",
            "Most you can pay per session: Expected a number, got 'x'.",
        ),
        ("mystery_field", "is odd", "Mystery field is odd."),
    ],
)
def test_error_sentence(field, message, expected):
    assert error_sentence(field, message) == expected


def test_style_chart_positions_and_text_alternative():
    chart = style_chart(
        [3, -3, 0, 0.0], ["stated", "inferred", "stated", "none"], [-3, 0, 1.2, 2], "Sam"
    )
    directive, intensity, past, challenge = chart.rows
    left, right = directive.ticks[0], directive.ticks[-1]
    assert directive.you_x == right and directive.therapist_x == left
    assert intensity.you_x == left and intensity.you_inferred
    assert past.you_x == past.middle == directive.ticks[3]
    assert challenge.you_x is None  # no preference: no marker
    assert 0 < left < right < WIDTH
    assert chart.height == 4 * ROW_HEIGHT
    assert "Who leads: you would like strongly towards “Therapist leads”" in chart.description
    assert "Sam works strongly towards “I lead”" in chart.description
    assert "(estimated from what you wrote)" in chart.description
    assert "Support or challenge: you have no preference" in chart.description
    assert (
        "Past or present: you would like in the middle; Sam works slightly towards "
        "“The past”" in chart.description
    )


def test_a_nul_in_any_intake_field_is_an_error_beside_it_with_everything_kept(
    submit, intake_form, db_snapshot, client
):
    client.get("/intake")
    before = db_snapshot()
    nul = {"story": "I worry\x00", "support_note": "my sister\x00", "email": "a\x00@b.org"}
    response = submit({**intake_form, **nul})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert page.lower().count("contains a nul character") >= 3
    assert "I worry" in page  # what was typed is kept (without the NUL)
    assert {k: v for k, v in db_snapshot().items() if k != "embeddings"} == {
        k: v for k, v in before.items() if k != "embeddings"
    }


def test_a_nul_in_another_form_is_refused_whole(client, login, store):
    user = login("coordinator")
    page = client.get("/account/password").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/account/password",
        data={"csrf_token": token, "current_password": "x\x00", "new_password": "y" * 12},
    )
    assert response.status_code == 400 and "NUL character" in response.get_data(as_text=True)
    assert user.session_version == 0
