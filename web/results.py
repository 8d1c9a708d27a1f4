"""A client's matches, behind the private link they were sent to after the intake.

The page is where the client decides: each suggestion shows the therapist's
profile and the free times that match theirs, and the client can say which
therapist they would like to start with, that any of them is fine, or that
none feels right. A client who did not consent sees the same suggestions,
rendered once and kept nowhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint, flash, redirect, render_template, request, url_for

from matcher import NotFoundError
from matcher.clinic import (
    ChoiceError,
    StoredIntake,
    active_placement,
    contact_of,
    record_choice,
)
from matcher.ranking import Ranking, slot_label
from matcher.terms import label

from .charts import style_chart
from .extensions import current_matcher, current_store, intake_by_token_or_404

bp = Blueprint("results", __name__)

#: How soon a coordinator gets in touch, said on the page and in the confirmation email.
CONTACT_WITHIN = "within two working days"


@bp.get("/matches/<token>")
def matches(token: str):
    store = current_store()
    intake = intake_by_token_or_404(token)
    return render_results(
        store.latest_ranking(intake.client_id),
        urgent=intake.urgent,
        availability=intake.record["availability"],
        intake=intake,
    )


@bp.post("/matches/<token>/choice")
def choose(token: str):
    intake = intake_by_token_or_404(token)
    choice = request.form.get("choice", "")
    therapist_id = request.form.get("therapist_id") or None
    try:
        record_choice(current_store(), intake.client_id, choice, therapist_id)
    except (ChoiceError, NotFoundError) as error:
        flash(f"We could not record that: {error}.")
    else:
        flash(_CHOICE_THANKS[choice])
    return redirect(url_for("results.matches", token=token, _anchor="next-steps"), 303)


_CHOICE_THANKS = {
    "therapist": "Thank you: we have noted who you would like to start with.",
    "any": "Thank you: we have noted that any of these therapists is fine for you.",
    "none": "Thank you for telling us. A coordinator will talk other options through with you.",
}


def render_results(
    ranking: Ranking | None,
    *,
    urgent: bool,
    availability: Sequence[str],
    intake: StoredIntake | None = None,
):
    """The results page; ``intake=None`` for a client who did not consent (nothing kept)."""
    cards = []
    if ranking is not None and len(ranking):
        openings = current_matcher().openings([s.therapist_id for s in ranking], availability)
        you, source = ranking.client_style, ranking.client_style_source
        for suggestion in ranking:
            opening = openings.get(suggestion.therapist_id)
            cards.append(
                {
                    "suggestion": suggestion,
                    "chart": style_chart(you, source, suggestion.style, suggestion.name),
                    "profile": _profile(opening.profile) if opening else None,
                    "matching_times": [slot_label(s) for s in opening.shared_slots]
                    if opening
                    else [],
                }
            )
    store = current_store()
    placement = active_placement(store, intake.client_id) if intake else None
    contact = contact_of(store, intake.client_id) if intake else None
    return render_template(
        "results.html",
        intake=intake,
        urgent=urgent,
        ranking=ranking,
        cards=cards,
        placement=placement,
        contact=contact,
        contact_within=CONTACT_WITHIN,
    )


def _profile(record) -> dict:
    """A therapist's profile in the words a client reads."""
    where = []
    if record["telehealth"]:
        where.append("by video")
    if record["in_person"]:
        where.append(f"in person in {record['city']}" if record["city"] else "in person")
    return {
        "approach": record["approach"],
        "modalities": [label("therapy_type", m) for m in record["modalities"]],
        "languages": [label("language", lang) for lang in record["languages"]],
        "fee": record["fee"],
        "sliding_scale": record["sliding_scale"],
        "insurance": [label("insurer", i) for i in record["insurance"]],
        "where": " and ".join(where),
    }
