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
from .params import page_number

bp = Blueprint("admin_outbox", __name__, url_prefix="/admin")

PAGE_SIZE = 50
STATUSES = ("pending", "sent", "failed")


@bp.get("/outbox")
@login_required("admin")
def outbox():
    status = request.args.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        abort(400)
    page = page_number()
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
