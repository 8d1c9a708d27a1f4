"""Administration of the roster and the models (the admin role only)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from matcher import MatcherError, ValidationError
from matcher.clinic import audit
from matcher.learning import registry
from matcher.schema import read_csv_bytes, validate_therapists

from .auth import login_required
from .extensions import current_store

bp = Blueprint("admin_data", __name__, url_prefix="/admin")

#: A national roster is far larger than the app's usual 1 MB request limit.
MAX_ROSTER_BYTES = 64 * 2**20


@bp.get("/roster")
@login_required("admin")
def roster():
    return _roster_page()


def _roster_page(problems=None, status: int = 200):
    store = current_store()
    return (
        render_template(
            "admin/roster.html",
            counts=store.counts(),
            capacity=sum(store.capacities().values()),
            problems=problems or [],
        ),
        status,
    )


@bp.post("/roster")
@login_required("admin")
def import_roster():
    request.max_content_length = MAX_ROSTER_BYTES
    upload = request.files.get("therapists")
    if upload is None or not upload.filename:
        return _roster_page(["Choose a therapists.csv file to import."], 400)
    try:
        frame = validate_therapists(read_csv_bytes(upload.read(), upload.filename), upload.filename)
        summary = current_store().import_tables(therapists=frame)
    except ValidationError as error:
        return _roster_page([str(p) for p in error.problems], 400)
    audit(
        current_store(), g.user.username, "import_roster", detail={"therapists": summary.therapists}
    )
    flash(f"Imported {summary.therapists} therapists; the roster is updated for new rankings.")
    for note in summary.notes:
        flash(f"Note: {note}.")
    return redirect(url_for("admin_data.roster"), 303)


def _model_dir():
    return current_app.config["MODEL_DIR"]


@bp.get("/models")
@login_required("admin")
def models():
    state = registry.read_registry(_model_dir())
    versions = []
    for version in sorted(state["versions"], reverse=True):
        try:
            card = registry.read_card(_model_dir(), version)
        except MatcherError:
            card = {}
        versions.append({"version": version, "card": card})
    return render_template("admin/models.html", current=state.get("current"), versions=versions)


@bp.post("/models/promote")
@login_required("admin")
def promote():
    version = request.form.get("version", "")
    try:
        registry.promote(_model_dir(), version)
    except MatcherError as error:
        flash(f"Nothing changed: {error}")
    else:
        audit(current_store(), g.user.username, "promote_model", detail={"version": version})
        flash(f"Model {version} is now current; new rankings use it.")
    return redirect(url_for("admin_data.models"), 303)


@bp.post("/models/rollback")
@login_required("admin")
def rollback():
    try:
        version = registry.rollback(_model_dir())
    except MatcherError as error:
        flash(f"Nothing changed: {error}")
    else:
        audit(
            current_store(),
            g.user.username,
            "promote_model",
            detail={"version": version, "rollback": True},
        )
        flash(f"Rolled back: model {version} is current again.")
    return redirect(url_for("admin_data.models"), 303)
