"""The outbox for admins: every notification with its delivery state, newest first.

Admins may read the messages in full: a practice without SMTP sends them by hand
from here. Messages carry no intake text or concerns by design (see
:mod:`matcher.clinic`'s outbox).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from matcher.clinic import outbox_counts, outbox_messages

from .auth import login_required
from .extensions import current_store
from .mail import delivery_state

bp = Blueprint("admin_outbox", __name__, url_prefix="/admin")

PAGE_SIZE = 50
#: Pages beyond this are refused: 500,000 messages is more than a practice sends.
MAX_PAGE = 10_000
STATUSES = ("pending", "sent", "failed")


def _page() -> int:
    raw = request.args.get("page", "1").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 5:
        abort(400)
    page = int(raw)
    if not 1 <= page <= MAX_PAGE:
        abort(400)
    return page


@bp.get("/outbox")
@login_required("admin")
def outbox():
    status = request.args.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        abort(400)
    page = _page()
    store = current_store()
    messages = outbox_messages(
        store,
        status=status,
        limit=PAGE_SIZE + 1,  # one more tells whether there is a next page
        offset=(page - 1) * PAGE_SIZE,
    )
    return render_template(
        "admin/outbox.html",
        messages=messages[:PAGE_SIZE],
        has_next=len(messages) > PAGE_SIZE,
        page=page,
        status=status or "",
        statuses=STATUSES,
        counts=outbox_counts(store),
        delivery=delivery_state(current_app),
    )
