"""The intake questionnaire: show it, validate it, store it, rank, redirect."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.datastructures import MultiDict

from matcher import MatcherError, ValidationError
from matcher.clinic import Links, roster_terms, submit_intake
from matcher.terms import label
from matcher.vocab import AGE_GROUPS, CONTACT_METHODS, THERAPY_TYPES

from . import wording
from .extensions import current_matcher, current_store
from .forms import (
    DEFAULTS,
    FIELD_ANCHORS,
    FORM_ORDER,
    MAX_SUPPORT_NOTE_CHARS,
    OTHER,
    WELLBEING_QUESTIONS,
    IntakeSubmission,
    error_sentence,
    parse_intake_form,
)
from .limits import RateLimited
from .results import render_results
from .security import CSRFError

bp = Blueprint("intake", __name__)
log = logging.getLogger(__name__)


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
    if not submission.consent:
        return _suggestions_without_storing(submission)
    stored = submit_intake(
        current_store(),
        current_matcher(),
        submission.record,
        k=current_app.config["MATCHES_K"],
        urgent=submission.urgent,
        support_note=submission.support_note,
        wellbeing=submission.wellbeing,
        contact=submission.contact,
        links=Links(
            results=lambda token: url_for("results.matches", token=token, _external=True),
            queue=url_for("coordinator.queue", _external=True),
        ),
    )
    return redirect(url_for("results.matches", token=stored.token), code=303)


def _suggestions_without_storing(submission: IntakeSubmission):
    """No consent: the client still sees their suggestions (nobody is turned away), and
    is told plainly that nothing was kept and nobody will contact them."""
    try:
        ranking = current_matcher().rank(
            submission.record, k=current_app.config["MATCHES_K"], remember=False
        )
    except MatcherError:
        ranking = None
    return render_results(
        ranking, urgent=submission.urgent, availability=submission.record["availability"]
    )


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    """Show the form again with everything the client typed, rather than lose it."""
    return _render_form(request.form, {}, notice=error.description), 400


@bp.errorhandler(RateLimited)
def rate_limited(error: RateLimited):
    """Too many intakes from this address: the form again, everything typed still there."""
    response = make_response(_render_form(request.form, {}, notice=error.description), 429)
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@bp.errorhandler(OperationalError)
@bp.errorhandler(InterfaceError)
def database_unavailable(error: Exception):
    """The database is down: nothing was half-written (the intake is one transaction), and
    the form comes back with everything typed so the client can send it again shortly."""
    log.warning("intake not stored: the database is unavailable (%s)", type(error).__name__)
    response = make_response(_render_form(request.form, {}, notice=DATABASE_DOWN), 503)
    response.headers["Retry-After"] = "30"
    return response


DATABASE_DOWN = (
    "We could not save your answers just now because our system is briefly unavailable. "
    "Nothing was stored, and everything you wrote is still below: please send the form "
    "again in a minute."
)


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
        lists=_term_lists(),
        other=OTHER,
        age_groups=[(group, AGE_LABELS[group]) for group in AGE_GROUPS],
        therapy_types=[(kind, label("therapy_type", kind)) for kind in THERAPY_TYPES],
        contact_methods=[(method, CONTACT_LABELS[method]) for method in CONTACT_METHODS],
    )


AGE_LABELS = {
    "children": "Under 13",
    "adolescents": "13 to 17",
    "adults": "18 to 64",
    "older_adults": "65 or older",
}
CONTACT_LABELS = {"email": "By email", "phone": "By phone call", "text": "By text message"}
#: The vocabulary kind of each listed form field.
_LIST_KINDS = {"language": "language", "region": "region", "city": "city", "insurance": "insurer"}


_TERMS = "matcher.roster_terms"


def _term_lists() -> dict[str, list[tuple[str, str]]]:
    """(term, label) options for the listed fields, from the roster in the database (kept
    per roster version: the form needs no model, and costs one counter read)."""
    store = current_store()
    cached = current_app.extensions.get(_TERMS)
    try:
        version = store.roster_version()
        if cached is None or cached[0] != version:
            cached = (version, roster_terms(store))
            current_app.extensions[_TERMS] = cached
    except (OperationalError, InterfaceError):
        pass  # the database is down: the last lists known, or only "other"
    vocabulary = cached[1] if cached is not None else {}
    return {
        field: [(term, label(kind, term)) for term in vocabulary.get(kind, [])]
        for field, kind in _LIST_KINDS.items()
    }
