"""Administration of the roster and the models (the admin role only)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from matcher import MatcherError, ValidationError
from matcher.clinic import Store, audit, training_set_from_store
from matcher.learning import registry, train_and_register
from matcher.schema import read_csv_bytes, validate_therapists

from .auth import login_required
from .extensions import current_matcher, current_store

log = logging.getLogger(__name__)

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


@dataclass
class Retraining:
    """The admin's "retrain now": at most one at a time in this process, in a background
    thread; the gate decides, as for ``matcher train``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    state: str = "idle"  # idle, running, done, failed
    step: str = ""
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    thread: threading.Thread | None = None

    def finish(self, state: str, message: str) -> None:
        self.state, self.step, self.message = state, "", message
        self.finished_at = datetime.now(UTC)


RETRAINING = "matcher.retraining"


def retraining() -> Retraining:
    """This app's retraining job (one per process)."""
    return current_app.extensions.setdefault(RETRAINING, Retraining())


def _retrain(job: Retraining, store: Store, embedder, model_dir, by: str) -> None:
    try:
        job.step = "Reading the outcomes and building the training set"
        ts = training_set_from_store(store, embedder)
        job.step = (
            f"Fitting a candidate on {ts.n_outcomes} outcomes and judging it on held-out "
            "clients against the model in use"
        )
        result = train_and_register(ts, model_dir, embedding_model=embedder.name)
        if result.promoted:
            detail = {"version": result.version, "retrained": True}
            audit(store, by, "promote_model", detail=detail)
        status = "promoted to current" if result.promoted else "saved, not promoted"
        job.finish("done", f"Model {result.version}: {status} ({result.reason}).")
    except MatcherError as error:
        job.finish("failed", f"Nothing changed: {error}")
    except Exception:  # a thread's error would otherwise vanish
        log.exception("retraining failed")
        job.finish("failed", "Retraining failed unexpectedly (see the server log).")
    finally:
        job.lock.release()


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
    return render_template(
        "admin/models.html", current=state.get("current"), versions=versions, job=retraining()
    )


@bp.post("/models/retrain")
@login_required("admin")
def retrain():
    job = retraining()
    if not job.lock.acquire(blocking=False):
        flash("A retraining is already running; its progress is shown below.")
        return redirect(url_for("admin_data.models"), 303)
    matcher = current_matcher()
    embedder = getattr(matcher.embedder, "embedder", matcher.embedder)  # unwrap the cache
    job.state, job.message, job.finished_at = "running", "", None
    job.started_at = datetime.now(UTC)
    job.step = "Starting"
    job.thread = threading.Thread(
        target=_retrain,
        args=(job, current_store(), embedder, _model_dir(), g.user.username),
        name="retrain",
        daemon=True,
    )
    try:
        job.thread.start()
    except RuntimeError:  # no thread could be started: free the slot
        job.lock.release()
        raise
    flash("Retraining started; the gate decides whether the new model ranks.")
    return redirect(url_for("admin_data.models"), 303)


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
