"""Optional session feedback: by the client through their private link, or by a coordinator.

Feedback is never required. The client's page has a "Not today" button next
to "Send" that stores nothing, and no page ever prompts twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from matcher import ValidationError
from matcher.clinic import (
    ITEM_MAX,
    ITEM_MIN,
    SECTIONS,
    FeedbackError,
    active_placement,
    alert_reasons,
    courses,
    field_name,
    record_feedback,
)

from .auth import login_required
from .extensions import current_store, intake_by_token_or_404, intake_or_404

bp = Blueprint("feedback", __name__)


@dataclass(frozen=True)
class Question:
    name: str  # the form field, e.g. "session_heard"
    text: str


@dataclass(frozen=True)
class FeedbackSection:
    name: str  # "session" or "wellbeing"
    title: str
    hint: str
    low: str  # what 0 means
    high: str  # what 10 means
    questions: tuple[Question, ...]


def _questions(section: str, texts: Mapping[str, str]) -> tuple[Question, ...]:
    assert tuple(texts) == tuple(SECTIONS[section]), "the form must ask every item, in order"
    return tuple(Question(field_name(section, item), text) for item, text in texts.items())


FORM_SECTIONS: tuple[FeedbackSection, ...] = (
    FeedbackSection(
        "session",
        "Your last session",
        "0 means not at all, 10 means completely.",
        "not at all",
        "completely",
        _questions(
            "session",
            {
                "heard": "I felt heard and understood",
                "goals": "We worked on what I wanted to work on",
                "approach": "The way my therapist works suits me",
                "overall": "Overall, the session was right for me",
            },
        ),
    ),
    FeedbackSection(
        "wellbeing",
        "How you have been doing this past week",
        "0 means very badly, 10 means very well.",
        "very badly",
        "very well",
        _questions(
            "wellbeing",
            {
                "personal": "Personally, in myself",
                "relationships": "In my close relationships (family, partner, friends)",
                "social": "At work, school or socially",
                "overall": "Overall, my general sense of wellbeing",
            },
        ),
    ),
)
_QUESTION_TEXT = {q.name: q.text for section in FORM_SECTIONS for q in section.questions}
SKIP_MESSAGE = (
    "No problem: nothing was saved. You can tell us how things are going another time, "
    "or not at all; your care does not depend on it."
)
THANKS_MESSAGE = (
    "Thank you. Your answers were saved: they help your coordinator check that therapy is "
    "going well for you."
)


def form_answers(form: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The form's two sections as ``{item: value}`` for :func:`matcher.clinic.record_feedback`."""

    def section(name: str) -> dict[str, str]:
        return {item: form.get(field_name(name, item), "") for item in SECTIONS[name]}

    return section("session"), section("wellbeing")


def _sentences(error: ValidationError) -> list[tuple[str, str]]:
    """(anchor, sentence) per problem, in the order the questions appear."""
    order = {name: i for i, name in enumerate(_QUESTION_TEXT)}
    found = []
    for field, message in error.by_field().items():
        if field in _QUESTION_TEXT:
            label = f"“{_QUESTION_TEXT[field]}”"
            message = message.rstrip(".")
            sentence = (
                f"{label} {message}." if message.startswith("is ") else f"{label}: {message}."
            )
            found.append((order[field], f"f-{field}-{ITEM_MIN}", field, sentence))
        else:
            sentence = "Please answer all four questions of at least one of the two parts."
            found.append((-1, f"f-{FORM_SECTIONS[0].questions[0].name}-{ITEM_MIN}", "_", sentence))
    return [(anchor, field, sentence) for _, anchor, field, sentence in sorted(found)]


def render_feedback(
    template: str, status: int = 200, error: ValidationError | None = None, **context
):
    listed = _sentences(error) if error else []
    return (
        render_template(
            template,
            sections=FORM_SECTIONS,
            scale=range(ITEM_MIN, ITEM_MAX + 1),
            values=request.form if request.method == "POST" else {},
            errors={field: sentence for _, field, sentence in listed},
            error_list=[(anchor, sentence) for anchor, _, sentence in listed],
            **context,
        ),
        status,
    )


# --- the client, through their private link --------------------------------------------------


@bp.route("/matches/<token>/feedback", methods=["GET", "POST"])
def client_form(token: str):
    store = current_store()
    intake = intake_by_token_or_404(token)
    back = redirect(url_for("results.matches", token=token), 303)
    if request.method == "POST" and request.form.get("action") == "skip":
        flash(SKIP_MESSAGE)
        return back
    if active_placement(store, intake.client_id) is None:
        if request.method == "POST":
            flash("Your answers were not saved: you do not have a current therapist with us.")
        return back
    if request.method == "GET":
        return render_feedback("feedback.html", token=token)
    try:
        record_feedback(store, intake.client_id, *form_answers(request.form))
    except ValidationError as error:
        return render_feedback("feedback.html", 400, error, token=token)
    except FeedbackError:
        flash("Your answers were not saved: you do not have a current therapist with us.")
        return back
    flash(THANKS_MESSAGE)
    return back


# --- a coordinator, on the client's behalf ---------------------------------------------------


@bp.route("/coordinator/clients/<client_id>/feedback", methods=["GET", "POST"])
@login_required("coordinator")
def coordinator_form(client_id: str):
    store = current_store()
    intake = intake_or_404(client_id)
    back = redirect(url_for("coordinator.client", client_id=client_id), 303)
    placement = active_placement(store, client_id)
    if placement is None:
        flash("This client has no active placement, so there is no session to record.")
        return back
    if request.method == "POST":
        try:
            saved = record_feedback(
                store, client_id, *form_answers(request.form), entered_by=g.user.username
            )
        except ValidationError as error:
            return _coordinator_page(intake, placement, 400, error)
        except FeedbackError as error:
            flash(f"Not saved: {error}")
            return back
        flash(f"Feedback for session {saved.session_number} saved.")
        return back
    return _coordinator_page(intake, placement)


def _coordinator_page(intake, placement, status: int = 200, error=None):
    """The form, with this placement's feedback so far and whether it is on track."""
    (course,) = [
        c
        for c in courses(current_store(), client_id=intake.client_id)
        if c.placement_id == placement.id
    ]
    return render_feedback(
        "coordinator/feedback.html",
        status,
        error,
        intake=intake,
        placement=placement,
        history=course.feedback,
        reasons=alert_reasons(course.feedback, course.baseline),
    )
