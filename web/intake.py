"""The intake questionnaire: show it, validate it, store it, rank, redirect."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from matcher import ValidationError
from matcher.clinic import submit_intake

from . import wording
from .extensions import current_matcher, current_store
from .forms import (
    DEFAULTS,
    FIELD_ANCHORS,
    FORM_ORDER,
    MAX_SUPPORT_NOTE_CHARS,
    WELLBEING_QUESTIONS,
    error_sentence,
    parse_intake_form,
)
from .security import CSRFError

bp = Blueprint("intake", __name__)


@bp.get("/")
def index():
    return redirect(url_for("intake.form"))


@bp.get("/intake")
def form():
    return _render_form(DEFAULTS, {})


@bp.post("/intake")
def submit():
    try:
        submission = parse_intake_form(request.form)
    except ValidationError as error:
        return _render_form(request.form, error.by_field()), 400
    stored = submit_intake(
        current_store(),
        current_matcher(),
        submission.record,
        k=current_app.config["MATCHES_K"],
        urgent=submission.urgent,
        support_note=submission.support_note,
        wellbeing=submission.wellbeing,
    )
    return redirect(url_for("results.matches", token=stored.token), code=303)


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    """Show the form again with everything the client typed, rather than lose it."""
    return _render_form(request.form, {}, notice=error.description), 400


def _render_form(values: MultiDict, errors: dict[str, str], notice: str | None = None):
    ordered = sorted(errors.items(), key=lambda item: FORM_ORDER.get(item[0], len(FORM_ORDER)))
    sentences = {field: error_sentence(field, message) for field, message in ordered}
    return render_template(
        "intake.html",
        values=values,
        errors=sentences,
        error_list=[
            (FIELD_ANCHORS.get(field, "intake-form"), sentence)
            for field, sentence in sentences.items()
        ],
        notice=notice,
        words=wording,
        max_support_note=MAX_SUPPORT_NOTE_CHARS,
        wellbeing_questions=WELLBEING_QUESTIONS,
    )
