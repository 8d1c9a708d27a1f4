"""The coordinator's dashboard: caseloads, waiting, early relationships, calibration, alerts,
and what exploring costs and covers.

The plots are PNG images drawn on the server (:mod:`matcher.clinic.plots`) and sent
as ``data:`` URIs, which the Content-Security-Policy allows; each has a short
text alternative and a table of its numbers.
"""

from __future__ import annotations

import base64
import math
import statistics
from dataclasses import dataclass

from flask import Blueprint, current_app, render_template

from matcher import ModelArtifactError
from matcher.clinic import (
    LOW_SESSION_TOTAL,
    Calibration,
    Caseload,
    MonthRate,
    caseloads,
    click_rate_by_month,
    courses,
    current_calibration,
    not_on_track,
    waiting_days,
)
from matcher.learning import ExplorationSummary, exploration_summary

from .auth import login_required
from .extensions import current_store

bp = Blueprint("dashboard", __name__, url_prefix="/coordinator")


@dataclass(frozen=True)
class Plot:
    id: str
    title: str
    src: str  # a data: URI
    alt: str  # the text alternative: what the plot shows, in a sentence or two


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def caseload_summary(loads: list[Caseload]) -> str:
    if not loads:
        return "No therapists on the roster."
    active = sum(c.active for c in loads)
    open_places = sum(c.open for c in loads)
    full = sum(1 for c in loads if c.open == 0)
    return (
        f"{_count(len(loads), 'therapist')}: {_count(active, 'client')} in active placements and "
        f"{_count(open_places, 'open place')}; {_count(full, 'therapist')} with no open place."
    )


def waiting_summary(days: list[float]) -> str:
    if not days:
        return "Nobody is waiting."
    return (
        f"{_count(len(days), 'client')} waiting: median "
        f"{statistics.median(days):.1f} days, longest {max(days):.1f} days."
    )


def click_summary(months: list[MonthRate]) -> str:
    if not months:
        return "No placements with early feedback yet."
    parts = "; ".join(f"{m.month}: {m.rate:.0%} of {m.placements}" for m in months)
    return (
        f"Share of placements with early alliance of at least {LOW_SESSION_TOTAL} of 40 and no "
        f"drop-out, by placement month: {parts}."
    )


def calibration_summary(calibration: Calibration) -> str:
    if not calibration.curve:
        return calibration.message or "No calibration curve."
    lo = min(b["predicted"] for b in calibration.curve)
    hi = max(b["predicted"] for b in calibration.curve)
    ece = "" if calibration.ece is None else f", expected calibration error {calibration.ece:.3f}"
    return (
        f"Model {calibration.version}: predicted against observed rates in "
        f"{len(calibration.curve)} bins from {lo:.2f} to {hi:.2f}{ece}."
    )


def exploration_text(summary: ExplorationSummary) -> str:
    """Exploration's cost in a sentence or two."""
    clients = _count(summary.rankings, "client")
    if not summary.rankings:
        return "No rankings shown yet."
    if not summary.exploring:
        return f"The latest rankings of {clients} used the deterministic order: no cost."
    bound = "" if math.isnan(summary.loss_bound) else f" (bound {summary.loss_bound:.1%})"
    return (
        f"The latest rankings of {clients}: {summary.exploring} by the exploring policy, "
        f"{summary.drawn} with an order drawn among near-ties. Expected score given up "
        f"against the deterministic order: {summary.mean_loss:.2%} of the top score on "
        f"average, {summary.max_loss:.2%} at most{bound}."
    )


def coverage_text(summary: ExplorationSummary) -> str:
    """Who has been placed, and how many wait for a first placement."""
    return (
        f"{summary.placed} of {_count(summary.therapists, 'therapist')} have been placed at "
        f"least once; {_count(len(summary.waiting), 'therapist')} "
        f"{'is' if len(summary.waiting) == 1 else 'are'} waiting for a first placement."
    )


def _exploration(store, loads: list[Caseload]) -> ExplorationSummary:
    placed = {c.therapist_id for c in courses(store)} | set(store.outcomes()["therapist_id"])
    return exploration_summary(store.shown_rankings(), [c.therapist_id for c in loads], placed)


@bp.get("/dashboard")
@login_required("coordinator")
def index():
    # matplotlib loads on the first dashboard view, not when the app starts.
    from matcher.clinic import plots

    store = current_store()
    loads = caseloads(store)
    days = waiting_days(store)
    months = click_rate_by_month(store)
    exploration = _exploration(store, loads)
    names = {c.therapist_id: c for c in loads}
    try:
        calibration = current_calibration(current_app.config["MODEL_DIR"])
    except ModelArtifactError as error:
        calibration = Calibration(None, message=f"The current model's card is unreadable: {error}")
    figures = [
        Plot(
            "caseload",
            "Caseload against capacity",
            data_uri(
                plots.caseload_png(
                    [c.name for c in loads], [c.active for c in loads], [c.open for c in loads]
                )
            ),
            caseload_summary(loads),
        ),
        Plot(
            "waiting",
            "Waiting time",
            data_uri(plots.waiting_png(days)),
            waiting_summary(days),
        ),
        Plot(
            "clicks",
            "Good early relationship, by month",
            data_uri(
                plots.click_rate_png(
                    [m.month for m in months],
                    [m.rate for m in months],
                    [m.placements for m in months],
                )
            ),
            click_summary(months),
        ),
    ]
    if calibration.curve:
        figures.append(
            Plot(
                "calibration",
                "Current model's calibration",
                data_uri(plots.calibration_png(calibration.curve, f"model {calibration.version}")),
                calibration_summary(calibration),
            )
        )
    return render_template(
        "coordinator/dashboard.html",
        alerts=not_on_track(store),
        figures={plot.id: plot for plot in figures},
        loads=loads,
        days=sorted(days, reverse=True),
        months=months,
        calibration=calibration,
        calibration_text=calibration_summary(calibration),
        exploration=exploration,
        exploration_text=exploration_text(exploration),
        coverage_text=coverage_text(exploration),
        waiting_therapists=[names[t] for t in exploration.waiting],
    )
