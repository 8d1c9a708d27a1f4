"""The intake coordinator's workspace: the queue, one intake, placing, batch placement."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from matcher import MatcherError, NotFoundError, Opening
from matcher.clinic import (
    PlacementError,
    audit,
    confirm_batch,
    contact_of,
    end_placement,
    place_client,
    placements_of,
    propose_batch,
    ranking_for,
    request_rematch,
    sync_outcomes,
    waiting_queue,
)
from matcher.ranking import slot_label
from matcher.vocab import CONCERN_TAGS, MODALITIES, STYLE_AXES

from . import wording
from .auth import login_required
from .charts import style_chart
from .extensions import current_matcher, current_store, intake_or_404
from .params import bounded_number

bp = Blueprint("coordinator", __name__, url_prefix="/coordinator")

MAX_SPREAD = 0.2


@bp.get("/")
@login_required("coordinator")
def queue():
    concern = request.args.get("concern") or None
    modality = request.args.get("modality") or None
    items = waiting_queue(current_store(), concern=concern, modality=modality)
    return render_template(
        "coordinator/queue.html",
        items=items,
        concern=concern,
        modality=modality,
        concerns=CONCERN_TAGS,
        modalities=MODALITIES,
        words=wording,
    )


@bp.get("/clients/<client_id>")
@login_required("coordinator")
def client(client_id: str):
    store = current_store()
    intake = intake_or_404(client_id)
    audit(store, g.user.username, "view_intake", client_id=client_id)
    matcher = current_matcher()
    ranking = ranking_for(store, matcher, intake)
    cards = []
    if ranking is not None:
        openings = matcher.openings(
            [s.therapist_id for s in ranking], intake.record["availability"]
        )
        for suggestion in ranking:
            opening = openings.get(suggestion.therapist_id)
            cards.append(
                {
                    "suggestion": suggestion,
                    "chart": style_chart(
                        ranking.client_style,
                        ranking.client_style_source,
                        suggestion.style,
                        suggestion.name,
                    ),
                    "capacity": opening.open_places if opening else 0,
                    "slots": _slot_labels(opening),
                }
            )
    return render_template(
        "coordinator/client.html",
        intake=intake,
        record=intake.record,
        ranking=ranking,
        cards=cards,
        axes=STYLE_AXES,
        placements=placements_of(store, client_id),
        others=matcher.eligible_therapists(intake.record),
        contact=contact_of(store, client_id),
        chosen=next(
            (s for s in ranking or () if s.therapist_id == intake.chosen_therapist_id), None
        ),
        words=wording,
    )


def _slot_labels(opening: Opening | None) -> list[tuple[str, bool]]:
    """The therapist's free times, the client's own first (marked True)."""
    if opening is None:
        return []
    return [(slot_label(s), True) for s in opening.shared_slots] + [
        (slot_label(s), False) for s in opening.other_slots
    ]


def _back(client_id: str):
    return redirect(url_for("coordinator.client", client_id=client_id), 303)


@bp.post("/clients/<client_id>/assign")
@login_required("coordinator")
def place(client_id: str):
    """Place a client. Only the therapist (and a reason, for someone not suggested) comes
    from the form; what the placement records is decided by the library."""
    intake = intake_or_404(client_id)
    therapist_id = request.form.get("therapist_id", "")
    try:
        placement = place_client(
            current_store(),
            current_matcher(),
            client_id,
            therapist_id,
            by=g.user.username,
            reason=request.form.get("reason", ""),
            client_chose=therapist_id == intake.chosen_therapist_id,
            referral_link=url_for("therapist.home", _external=True),
        )
    except (PlacementError, NotFoundError) as error:
        flash(f"Not placed: {error}")
        return _back(client_id)
    flash(f"Placed with {placement.therapist_name}. The referral now waits for them to accept.")
    return _back(client_id)


@bp.post("/clients/<client_id>/rematch")
@login_required("coordinator")
def rematch(client_id: str):
    try:
        request_rematch(current_store(), client_id, by=g.user.username)
    except PlacementError as error:
        flash(f"Nothing changed: {error}")
    else:
        flash("The placement has ended and the client is back in the queue for a new match.")
    return _back(client_id)


@bp.post("/clients/<client_id>/end")
@login_required("coordinator")
def end(client_id: str):
    status = request.form.get("status", "ended")
    if status not in ("ended", "dropped_out"):
        abort(400)
    try:
        end_placement(current_store(), client_id, by=g.user.username, status=status)
    except PlacementError as error:
        flash(f"Nothing changed: {error}")
    else:
        sync_outcomes(current_store(), client_id=client_id)  # a drop-out is an outcome
        flash("Dropped out (recorded for learning)." if status == "dropped_out" else "Ended.")
    return _back(client_id)


def _spread() -> float:
    """The batch's spread, from 0 to ``MAX_SPREAD``; anything else (text, nan, inf) is a 400."""
    return bounded_number("spread", 0.0, MAX_SPREAD, default=0.0)


@bp.get("/batch")
@login_required("coordinator")
def batch():
    spread = _spread()
    try:
        proposal = propose_batch(current_store(), current_matcher(), spread=spread)
    except MatcherError as error:
        flash(f"No proposal: {error}")
        return redirect(url_for("coordinator.queue"))
    return render_template("coordinator/batch.html", proposal=proposal, spread=spread)


@bp.post("/batch")
@login_required("coordinator")
def batch_confirm():
    chosen = []
    for value in request.form.getlist("placement"):
        client_id, _, therapist_id = value.partition("|")
        if not client_id or not therapist_id:
            abort(400)
        chosen.append((client_id, therapist_id))
    outcome = confirm_batch(
        current_store(),
        current_matcher(),
        chosen,
        by=g.user.username,
        referral_link=url_for("therapist.home", _external=True),
    )
    flash(f"Placed {len(outcome.placed)} clients.")
    for client_id, why in outcome.failed:
        flash(f"{client_id} not placed: {why}")
    return redirect(url_for("coordinator.queue"), 303)
