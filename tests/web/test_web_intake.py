"""The questionnaire and the results page, through the test client."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from matcher.vocab import CONCERN_TAGS, SLOTS, STYLE_AXES
from web.forms import FIELD_ANCHORS


def _text(response) -> str:
    """The page with entities decoded and runs of whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(response.get_data(as_text=True)))


def test_root_redirects_to_the_questionnaire(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/intake"


def test_questionnaire_renders_every_section(client):
    response = client.get("/intake")
    page = _text(response)
    assert response.status_code == 200
    # a. the safety screen comes first, with crisis resources ready to show
    legends = re.findall(r'<legend class="section-title">([^<]+)</legend>', page)
    assert legends == [
        "Are you in danger or thinking about harming yourself right now?",
        "What brings you here",
        "How you would like therapy to feel",
        "Practical things",
        "Your therapist",
        "The people around you",
        "How you have been this past week (optional)",
        "How we can reach you",
    ]
    assert "Call or text 988" in page
    assert "Call 911 or go to the nearest emergency department" in page
    # b. concerns, other, story
    for tag in CONCERN_TAGS:
        assert f'name="concerns" value="{tag}"' in page
    assert 'name="concerns_other"' in page and 'name="story"' in page
    # c. four style axes of -3..+3 plus "No preference" (checked by default), then hopes
    for axis in STYLE_AXES:
        values = re.findall(rf'name="{axis}" value="(-?\d?)"', page)
        assert values == ["-3", "-2", "-1", "0", "1", "2", "3", ""]
        assert re.search(rf'id="f-{axis}-none" name="{axis}" value="" checked', page)
    assert 'name="hopes"' in page
    # d. practicalities: 21 labelled availability slots
    # language, region, city, insurer: the roster's terms as lists, with "other" as free text
    assert re.search(r'<select[^>]*name="language"', page)
    assert '<option value="english" selected>English</option>' in page
    assert '<option value="spanish">Spanish</option>' in page
    assert 'name="language_other"' in page and 'name="region_other"' in page
    for slot in SLOTS:
        assert f'id="f-availability-{slot}" name="availability" value="{slot}"' in page
    assert "Monday morning" in page and "Sunday evening" in page
    for name in ("modality", "city", "insurance", "max_fee"):
        assert f'name="{name}"' in page
    # e. and f.
    for name in ("therapist_gender", "gender_required", "lgbtq_affirming_required", "faith"):
        assert f'name="{name}"' in page
    assert 'name="support_note"' in page


def test_every_input_has_a_label(client):
    page = client.get("/intake").get_data(as_text=True)
    ids = re.findall(r'<(?:input|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', page)
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    assert ids and set(ids) <= labelled
    assert "style=" not in page and "<script" not in page and "<style" not in page


def test_full_intake_redirects_to_ranked_matches(submit, intake_form, token_of, client, store):
    response = submit({**intake_form, "hopes": ""})  # so "intensity" stays without preference
    assert response.status_code == 303
    token = token_of(response)

    page = client.get(f"/matches/{token}")
    text = _text(page)
    assert page.status_code == 200
    assert "Dr. Ana Ruiz" in text
    assert re.search(r"\d+% match", text)
    reasons = re.findall(r'<div class="reasons">.*?<ul>(.*?)</ul>', text, re.S)
    assert reasons and all("<li>" in block for block in reasons)
    assert "Accepts your insurance (Aetna)." in text
    # the style chart: inline SVG with a text alternative and both markers
    assert text.count('<svg viewBox="0 0 340') == len(reasons)
    assert '<title id="chart-1-title">' in text and '<desc id="chart-1-desc">' in text
    assert '<circle class="you' in text and '<path class="them"' in text
    assert "you: no preference" in text
    # not urgent: no crisis banner at the top
    assert 'id="crisis-banner"' not in text

    stored = store.intake_by_token(token)
    assert stored.urgent is False
    assert stored.record["concerns"] == ["anxiety", "work_stress"]
    ranking = store.latest_ranking(stored.client_id)
    assert ranking[0].name in text


def test_near_misses_are_shown_separately(submit, intake_form, token_of, client):
    text = _text(client.get(f"/matches/{token_of(submit(intake_form))}"))
    # only one therapist is free at these times, so the page says so and shows near misses
    assert "We found 1 therapist who can take you right now" in text
    assert "Close matches that miss something" in text
    assert "has none of the times you gave free" in text


def test_safety_yes_shows_crisis_resources_and_flags_urgent(
    submit, intake_form, token_of, client, store
):
    response = submit({**intake_form, "safety": "yes"})
    assert response.status_code == 303  # nobody is turned away
    token = token_of(response)
    assert store.intake_by_token(token).urgent is True

    text = _text(client.get(f"/matches/{token}"))
    banner = text.index('id="crisis-banner"')
    assert banner < text.index("<h1>Your matches</h1>")
    assert "Call or text 988" in text[banner:]
    assert "Call 911 or go to the nearest emergency department" in text[banner:]
    assert "Dr. Ana Ruiz" in text  # the matches are still there


def test_invalid_form_shows_every_error_and_keeps_values(submit, intake_form, store):
    bad = {
        **intake_form,
        "safety": "yes",
        "language": "",
        "modality": "",
        "max_fee": "a lot",
        "challenge": "7",
        "story": "Something I typed & want to keep",
    }
    response = submit(bad)
    text = _text(response)
    assert response.status_code == 400
    summary = re.search(r'<div class="error-summary".*?</div>', text, re.S).group(0)
    links = re.findall(r'<a href="#([^"]+)">', summary)
    assert links == ["f-challenge-none", "f-language", "f-modality-either", "f-max_fee"]
    assert "4 answers need a second look" in summary
    for field in ("challenge", "language", "modality", "max_fee"):
        assert f'id="err-{field}"' in text
    assert re.search(r'aria-describedby="err-language" aria-invalid="true"', text)
    assert re.search(r'<fieldset class="group has-error" aria-describedby="err-modality">', text)
    # everything entered is still there
    assert "Something I typed & want to keep</textarea>" in text
    assert 'name="max_fee" value="a lot"' in text
    assert 'value="anxiety" checked' in text and 'value="work_stress" checked' in text
    assert 'value="mon_am" checked' in text
    assert 'name="directive" value="3" checked' in text
    assert 'name="safety" value="yes" aria-describedby="crisis-now" checked' in text
    assert store.counts()["intakes"] == 0


def test_cross_field_rule_is_reported_on_its_field(submit, intake_form, store):
    response = submit(
        {**intake_form, "concerns": [], "story": "", "modality": "in_person", "city": ""}
    )
    text = _text(response)
    assert response.status_code == 400
    assert 'id="err-concerns"' in text and 'id="err-city"' in text
    assert store.counts()["intakes"] == 0


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_post_without_a_valid_csrf_token_is_refused(client, intake_form, store, token):
    client.get("/intake")  # the session has a token; the post does not carry it
    data = dict(intake_form)
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/intake", data=data)
    text = _text(response)
    assert response.status_code == 400
    assert "security token was missing or out of date" in text
    assert "Nothing was saved" in text
    # what the client typed is shown again, with a fresh token to send it with
    assert intake_form["story"] in text
    assert 'name="csrf_token" value="' in text
    assert store.counts()["intakes"] == 0


def test_unknown_results_token_is_404(client):
    response = client.get("/matches/no-such-token")
    assert response.status_code == 404
    assert "We could not find that page" in _text(response)


def test_support_note_is_stored_but_does_not_change_the_ranking(
    submit, intake_form, token_of, store
):
    plain = store.intake_by_token(token_of(submit(intake_form)))
    note = "My sister lives nearby and I can call her."
    with_note = store.intake_by_token(token_of(submit({**intake_form, "support_note": note})))
    assert with_note.support_note == note
    assert plain.support_note == ""
    assert "support_note" not in with_note.record
    first = store.latest_ranking(plain.client_id)
    second = store.latest_ranking(with_note.client_id)
    assert first.suggestions == second.suggestions
    assert first.near_misses == second.near_misses


def test_other_concerns_are_split_into_tags(submit, intake_form, token_of, store):
    form = {
        **intake_form,
        "concerns": ["grief"],
        "concerns_other": "Caring for a parent; loneliness,",
    }
    stored = store.intake_by_token(token_of(submit(form)))
    assert stored.record["concerns"] == ["grief", "caring_for_a_parent", "loneliness"]


def test_empty_roster_keeps_the_intake_and_says_a_coordinator_will_follow_up(
    make_app, intake_form, store
):
    client = make_app(roster=False).test_client()
    page = client.get("/intake").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/intake", data={**intake_form, "csrf_token": token})
    assert response.status_code == 303
    results = client.get(response.headers["Location"])
    text = _text(results)
    assert results.status_code == 200
    assert "We have your answers" in text
    assert "a coordinator will look at your answers and be in touch" in text
    assert store.counts()["intakes"] == 1


class _Ids(HTMLParser):
    """Collects element ids and the ids that labels and ARIA attributes point at."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.refs: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(attributes["id"])
        for name in ("for", "aria-describedby", "aria-labelledby"):
            self.refs.update((attributes.get(name) or "").split())
        if tag == "a" and (attributes.get("href") or "").startswith("#"):
            self.refs.add(attributes["href"][1:])


def _check_ids(page: str) -> None:
    parser = _Ids()
    parser.feed(page)
    assert len(parser.ids) == len(set(parser.ids)), "duplicate ids"
    assert parser.refs <= set(parser.ids), parser.refs - set(parser.ids)


def test_labels_aria_and_error_links_point_at_real_elements(client, submit, intake_form):
    _check_ids(client.get("/intake").get_data(as_text=True))
    bad = {**intake_form, "language": "", "gender_required": "yes", "max_fee": "x"}
    _check_ids(submit(bad).get_data(as_text=True))
    parser = _Ids()
    parser.feed(client.get("/intake").get_data(as_text=True))
    assert set(FIELD_ANCHORS.values()) <= set(parser.ids)


def test_results_page_ids_are_consistent(client, submit, intake_form):
    response = submit({**intake_form, "safety": "yes"})
    _check_ids(client.get(response.headers["Location"]).get_data(as_text=True))
