"""The therapist's own area: referrals to accept or decline, their clients, their profile.

Every view but the invitation page needs the ``therapist`` role, and each one
acts only on the logged-in therapist's own record and placements: another
therapist's client answers exactly like an unknown one (404). The invitation
page (``/therapist/join/<token>``) needs no login: the one-time link is the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from matcher import NotFoundError, Problem, ValidationError
from matcher.clinic import (
    EDITABLE_FIELDS,
    FeedbackError,
    InvitationError,
    PlacementError,
    accept_invitation,
    accept_referral,
    audit,
    client_of,
    clients_of,
    decline_referral,
    open_invitation,
    record_feedback,
    referrals_for,
    therapist_profile,
    update_profile,
)
from matcher.vocab import AGE_GROUPS, LIST_SEPARATOR, STYLE_AXES

from . import wording
from .auth import login_required
from .extensions import current_store
from .feedback import form_answers, render_feedback

bp = Blueprint("therapist", __name__, url_prefix="/therapist")

PROFILE_SAVED = "Your profile is updated; new suggestions use it from now on."
DECLINE_REASON_NEEDED = (
    "Say why you cannot take this client, so the coordinator can find the right person."
)

AGE_LABELS: dict[str, str] = {
    "children": "Children (under 13)",
    "adolescents": "Adolescents (13 to 17)",
    "adults": "Adults (18 to 64)",
    "older_adults": "Older adults (65 and over)",
}
#: Yes/no fields, shown as checkboxes.
PROFILE_FLAGS: tuple[str, ...] = ("telehealth", "in_person", "sliding_scale")
#: Fields shown as ticks in a grid or list (several values each).
PROFILE_MULTI: tuple[str, ...] = ("availability", "age_groups")
#: ``;``-separated lists typed as text.
PROFILE_LISTS: tuple[str, ...] = (
    "languages",
    "insurance",
    "licensed_regions",
    "modalities",
    "specialties",
)

#: How each profile field is named in the error summary, in the order of the form.
PROFILE_LABELS: dict[str, str] = {
    "approach": "How you work",
    **{item.name: item.title for item in wording.STYLE_ITEMS},
    "capacity": "Open places",
    "availability": "Times you can see clients",
    "telehealth": "By video",
    "in_person": "In person",
    "city": "City or town",
    "fee": "Fee per session",
    "sliding_scale": "Sliding scale",
    "insurance": "Insurance",
    "languages": "Languages",
    "licensed_regions": "Where you are licensed",
    "age_groups": "Age groups",
    "modalities": "Kinds of therapy",
    "specialties": "Specialties",
}
assert set(PROFILE_LABELS) == set(EDITABLE_FIELDS), "the form must offer every editable field"

PROFILE_ANCHORS: dict[str, str] = {
    **{name: f"f-{name}" for name in PROFILE_LABELS},
    **{axis: f"f-{axis}-none" for axis in STYLE_AXES},
    "availability": "f-availability-mon_am",
    "age_groups": f"f-age_groups-{AGE_GROUPS[0]}",
}


def _therapist_id() -> str:
    therapist_id = g.user.therapist_id
    if not therapist_id:  # an account without its therapist cannot have an area
        abort(403)
    return therapist_id


# --- referrals and clients -------------------------------------------------------------------


def _home(status: int = 200, decline_errors: Mapping[int, str] | None = None):
    store, therapist_id = current_store(), _therapist_id()
    return (
        render_template(
            "therapist/home.html",
            referrals=referrals_for(store, therapist_id),
            clients=clients_of(store, therapist_id),
            decline_errors=decline_errors or {},
            reasons=request.form if request.method == "POST" else {},
            words=wording,
        ),
        status,
    )


@bp.get("/")
@login_required("therapist")
def home():
    return _home()


@bp.post("/referrals/<int:placement_id>/accept")
@login_required("therapist")
def accept(placement_id: int):
    try:
        placement = accept_referral(
            current_store(), placement_id, therapist_id=_therapist_id(), by=g.user.username
        )
    except NotFoundError:
        abort(404)
    except PlacementError as error:
        flash(f"Nothing changed: {error}.")
        return redirect(url_for("therapist.home"), 303)
    flash(f"You accepted client {placement.client_id}. Their contact details are on their page.")
    return redirect(url_for("therapist.client", client_id=placement.client_id), 303)


@bp.post("/referrals/<int:placement_id>/decline")
@login_required("therapist")
def decline(placement_id: int):
    store, therapist_id = current_store(), _therapist_id()
    reason = request.form.get("reason", "").strip()
    if not reason:
        if not any(r.placement_id == placement_id for r in referrals_for(store, therapist_id)):
            abort(404)  # not theirs, or answered already: the same as none
        return _home(400, {placement_id: DECLINE_REASON_NEEDED})
    try:
        placement = decline_referral(
            store, placement_id, therapist_id=therapist_id, by=g.user.username, reason=reason
        )
    except NotFoundError:
        abort(404)
    except PlacementError as error:
        flash(f"Nothing changed: {error}.")
        return redirect(url_for("therapist.home"), 303)
    flash(
        f"You declined client {placement.client_id}. They are back at the top of the queue, "
        "with your reason for the coordinator."
    )
    return redirect(url_for("therapist.home"), 303)


def _client_or_404(client_id: str):
    try:
        return client_of(current_store(), _therapist_id(), client_id)
    except NotFoundError:
        abort(404)


def _client_page(client, status: int = 200, error: ValidationError | None = None):
    return render_feedback(
        "therapist/client.html",
        status,
        error,
        client=client,
        words=wording,
    )


@bp.get("/clients/<client_id>")
@login_required("therapist")
def client(client_id: str):
    found = _client_or_404(client_id)
    audit(
        current_store(),
        g.user.username,
        "view_client",
        client_id=found.client_id,
        therapist_id=_therapist_id(),
    )
    return _client_page(found)


@bp.post("/clients/<client_id>/feedback")
@login_required("therapist")
def feedback(client_id: str):
    found = _client_or_404(client_id)
    back = redirect(url_for("therapist.client", client_id=found.client_id), 303)
    if found.pending:
        flash("Accept the referral first; then you can record how sessions go.")
        return back
    try:
        saved = record_feedback(
            current_store(),
            found.client_id,
            *form_answers(request.form),
            entered_by=g.user.username,
        )
    except ValidationError as error:
        return _client_page(found, 400, error)
    except FeedbackError as error:
        flash(f"Not saved: {error}")
        return back
    flash(f"Feedback for session {saved.session_number} saved.")
    return back


# --- the profile -----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def profile_values(record: Mapping[str, Any]) -> MultiDict:
    """A stored record as the profile form's fields."""
    values: MultiDict = MultiDict()
    for name in EDITABLE_FIELDS:
        value = record.get(name)
        if name in PROFILE_MULTI:
            values.setlist(name, list(value or []))
        elif name in PROFILE_FLAGS:
            if value:
                values[name] = "yes"
        elif name in PROFILE_LISTS:
            values[name] = f"{LIST_SEPARATOR} ".join(value or [])
        else:
            values[name] = _cell(value)
    return values


def profile_changes(form: MultiDict) -> dict[str, Any]:
    """The profile form as changes for :func:`matcher.clinic.update_profile`."""
    changes: dict[str, Any] = {}
    for name in EDITABLE_FIELDS:
        if name in PROFILE_MULTI:
            changes[name] = form.getlist(name)
        elif name in PROFILE_FLAGS:
            changes[name] = "yes" if form.get(name) else "no"
        else:
            changes[name] = form.get(name, "").strip()
    return changes


def _profile_errors(error: ValidationError) -> tuple[dict[str, str], list[tuple[str, str]]]:
    order = {name: position for position, name in enumerate(PROFILE_LABELS)}
    errors = {}
    for field, message in error.by_field().items():
        label = PROFILE_LABELS.get(field, field.replace("_", " ").capitalize())
        message = message.rstrip(".")
        sentence = f"{label} {message}." if message.startswith("is ") else f"{label}: {message}."
        errors[field if field in order else "approach"] = sentence
    listed = sorted(errors, key=lambda name: order.get(name, -1))
    return errors, [(PROFILE_ANCHORS.get(name, "f-approach"), errors[name]) for name in listed]


def _profile_page(values: MultiDict, status: int = 200, error: ValidationError | None = None):
    errors, error_list = _profile_errors(error) if error else ({}, [])
    return (
        render_template(
            "therapist/profile.html",
            profile=therapist_profile(current_store(), _therapist_id()),
            values=values,
            errors=errors,
            error_list=error_list,
            words=wording,
            age_groups=[(group, AGE_LABELS.get(group, group)) for group in AGE_GROUPS],
            style_values=[str(value) for value in range(-3, 4)],
        ),
        status,
    )


@bp.route("/profile", methods=["GET", "POST"])
@login_required("therapist")
def profile():
    store, therapist_id = current_store(), _therapist_id()
    if request.method == "GET":
        return _profile_page(profile_values(therapist_profile(store, therapist_id)))
    changes = profile_changes(request.form)
    before = therapist_profile(store, therapist_id)
    try:
        after = update_profile(store, therapist_id, changes, by=g.user.username)
    except ValidationError as error:
        return _profile_page(request.form, 400, error)
    flash(PROFILE_SAVED if after != before else "Nothing changed: your profile is as it was.")
    return redirect(url_for("therapist.profile"), 303)


# --- setting up an account from an invitation ------------------------------------------------


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token: str):
    store = current_store()
    try:
        invitation = open_invitation(store, token)
    except InvitationError as error:
        page = render_template("therapist/join.html", invitation=None, problem=str(error))
        return page, 404
    values = {
        "username": request.form.get("username", ""),
        "email": request.form.get("email", ""),
    }
    if request.method == "GET":
        return _join_page(invitation, values)
    password = request.form.get("password", "")
    if password != request.form.get("password_again", ""):
        error = ValidationError([Problem("password_again", "does not match the password")])
        return _join_page(invitation, values, 400, error)
    try:
        accept_invitation(store, token, values["username"], password, email=values["email"])
    except ValidationError as error:
        return _join_page(invitation, values, 400, error)
    except InvitationError as error:
        page = render_template("therapist/join.html", invitation=None, problem=str(error))
        return page, 409
    flash("Your account is ready. Log in with the username and password you chose.")
    return redirect(url_for("auth.login"), 303)


JOIN_LABELS = {
    "username": "Username",
    "email": "Email",
    "password": "Password",
    "password_again": "Password again",
}


def _join_page(invitation, values, status: int = 200, error: ValidationError | None = None):
    errors = {}
    if error is not None:
        for field, message in error.by_field().items():
            name = field if field in JOIN_LABELS else "username"
            errors.setdefault(name, f"{JOIN_LABELS[name]}: {message.rstrip('.')}.")
    page = render_template(
        "therapist/join.html",
        invitation=invitation,
        problem=None,
        values=values,
        errors=errors,
        error_list=[(f"f-{name}", errors[name]) for name in JOIN_LABELS if name in errors],
    )
    return page, status
