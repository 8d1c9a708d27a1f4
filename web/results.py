"""A client's matches, behind the private link they were sent to after the intake."""

from __future__ import annotations

from flask import Blueprint, render_template

from matcher.clinic import active_placement

from .charts import style_chart
from .extensions import current_store, intake_by_token_or_404

bp = Blueprint("results", __name__)


@bp.get("/matches/<token>")
def matches(token: str):
    store = current_store()
    intake = intake_by_token_or_404(token)
    ranking = store.latest_ranking(intake.client_id)
    cards = []
    if ranking is not None:
        you, source = ranking.client_style, ranking.client_style_source
        cards = [
            (suggestion, style_chart(you, source, suggestion.style, suggestion.name))
            for suggestion in ranking
        ]
    placement = active_placement(store, intake.client_id)
    return render_template(
        "results.html", intake=intake, ranking=ranking, cards=cards, placement=placement
    )
