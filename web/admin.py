"""Administration: staff accounts, the audit log, and a client's data on request.

Every view needs the ``admin`` role. Each one parses the request, calls one
function of :mod:`matcher.clinic.accounts` or :mod:`matcher.clinic.privacy`, and renders or
redirects; every change is written to the audit log.
"""

from __future__ import annotations

import json
import re

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from matcher import NotFoundError, ValidationError
from matcher.clinic import (
    AUDIT_ACTIONS,
    ROLES,
    InvitationError,
    audit,
    audit_entries,
    create_user,
    export_client,
    export_client_csv,
    held_about,
    invite_therapist,
    list_users,
    set_active,
)

from .auth import login_required
from .extensions import current_matcher, current_store
from .params import page_number

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE_SIZE = 50
MAX_CLIENT_ID = 64


@bp.get("/")
@login_required("admin")
def index():
    return render_template("admin/index.html", lookup_error=None, client_id="")


# --- staff accounts -------------------------------------------------------------------------


def _roster_choices() -> list[tuple[str, str]]:
    """(therapist id, name) for every therapist on the roster, for the account forms."""
    roster = current_store().therapists()
    return list(zip(roster["therapist_id"], roster["name"], strict=True))


def _users_page(
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    *,
    invite_errors: dict[str, str] | None = None,
    invite_form: dict[str, str] | None = None,
    invitation: dict[str, str] | None = None,
):
    return render_template(
        "admin/users.html",
        users=list_users(current_store()),
        roles=ROLES,
        therapists=_roster_choices(),
        errors=errors or {},
        form=form or {"username": "", "role": "coordinator", "therapist_id": ""},
        invite_errors=invite_errors or {},
        invite_form=invite_form or {"therapist_id": "", "email": ""},
        invitation=invitation,
    )


@bp.get("/users")
@login_required("admin")
def users():
    return _users_page()


@bp.post("/users")
@login_required("admin")
def add_user():
    form = {
        "username": request.form.get("username", ""),
        "role": request.form.get("role", ""),
        "therapist_id": request.form.get("therapist_id", ""),
    }
    therapist_id = form["therapist_id"] if form["role"] == "therapist" else None
    try:
        user = create_user(
            current_store(),
            form["username"],
            request.form.get("password", ""),
            form["role"],
            therapist_id=therapist_id,
        )
    except ValidationError as error:
        return _users_page(error.by_field(), form), 400
    detail = {"username": user.username, "role": user.role}
    if user.therapist_id:
        detail["therapist_id"] = user.therapist_id
    audit(current_store(), g.user.username, "create_user", detail=detail)
    flash(f"Created the {user.role} account {user.username!r}.")
    return redirect(url_for("admin.users"), 303)


@bp.post("/invitations")
@login_required("admin")
def invite():
    """A one-time link for a therapist to set up their own account, shown once (never
    flashed: the session cookie is signed, not secret)."""
    form = {
        "therapist_id": request.form.get("therapist_id", ""),
        "email": request.form.get("email", "").strip(),
    }
    names = dict(_roster_choices())
    if form["therapist_id"] not in names:
        errors = {"therapist_id": "choose a therapist from the roster"}
        return _users_page(invite_errors=errors, invite_form=form), 400
    try:
        token = invite_therapist(
            current_store(),
            form["therapist_id"],
            by=g.user.username,
            email=form["email"] or None,
            link_for=_join_link,
        )
    except ValidationError as error:
        return _users_page(invite_errors=error.by_field(), invite_form=form), 400
    except InvitationError as error:
        errors = {"therapist_id": str(error)}
        return _users_page(invite_errors=errors, invite_form=form), 400
    invitation = {
        "name": names[form["therapist_id"]],
        "link": _join_link(token),
        "email": form["email"],
    }
    return _users_page(invitation=invitation)


def _join_link(token: str) -> str:
    return url_for("therapist.join", token=token, _external=True)


@bp.post("/users/<username>/active")
@login_required("admin")
def set_user_active(username: str):
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        abort(400)
    active = wanted == "1"
    if username == g.user.username and not active:
        flash("You cannot deactivate your own account; ask another administrator.")
        return redirect(url_for("admin.users"), 303)
    try:
        set_active(current_store(), username, active)
    except NotFoundError:
        abort(404)
    action = "activate_user" if active else "deactivate_user"
    audit(current_store(), g.user.username, action, detail={"username": username})
    flash(f"{username!r} can {'now' if active else 'no longer'} log in.")
    return redirect(url_for("admin.users"), 303)


# --- the audit log ---------------------------------------------------------------------------


@bp.get("/audit")
@login_required("admin")
def audit_log():
    client_id = request.args.get("client_id", "").strip()[:MAX_CLIENT_ID] or None
    action = request.args.get("action", "").strip() or None
    page = page_number()
    if action is not None and action not in AUDIT_ACTIONS:
        abort(400, f"unknown action {action[:40]!r}")
    entries = audit_entries(
        current_store(),
        client_id=client_id,
        action=action,
        limit=AUDIT_PAGE_SIZE + 1,  # one more tells whether there is a next page
        offset=(page - 1) * AUDIT_PAGE_SIZE,
    )
    return render_template(
        "admin/audit.html",
        entries=entries[:AUDIT_PAGE_SIZE],
        has_next=len(entries) > AUDIT_PAGE_SIZE,
        page=page,
        client_id=client_id or "",
        action=action or "",
        actions=sorted(AUDIT_ACTIONS),
        as_json=_compact_json,
    )


def _compact_json(value: dict) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": ")) if value else ""


# --- a client's data -------------------------------------------------------------------------


@bp.get("/clients")
@login_required("admin")
def find_client():
    client_id = request.args.get("client_id", "").strip()[:MAX_CLIENT_ID]
    if not client_id:
        return redirect(url_for("admin.index"))
    try:
        current_store().intake(client_id)
    except NotFoundError:
        page = render_template(
            "admin/index.html",
            lookup_error=f"No client has the id {client_id!r}.",
            client_id=client_id,
        )
        return page, 404
    return redirect(url_for("admin.client", client_id=client_id))


def _client_page(client_id: str, confirm_error: str | None = None):
    try:
        held = held_about(current_store(), client_id)
    except NotFoundError:
        abort(404)
    return render_template(
        "admin/client.html", client_id=client_id, held=held, confirm_error=confirm_error
    )


@bp.get("/clients/<client_id>")
@login_required("admin")
def client(client_id: str):
    return _client_page(client_id)


def _download_name(client_id: str, suffix: str) -> str:
    return f"client-{re.sub(r'[^A-Za-z0-9_.-]', '_', client_id)}.{suffix}"


def _export(client_id: str, kind: str) -> dict:
    store = current_store()
    try:
        data = export_client(store, client_id)
    except NotFoundError:
        abort(404)
    audit(store, g.user.username, "export_client", client_id=client_id, detail={"format": kind})
    return data


def _download(body: str, mimetype: str, client_id: str, suffix: str) -> Response:
    disposition = f'attachment; filename="{_download_name(client_id, suffix)}"'
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


@bp.get("/clients/<client_id>/export.json")
@login_required("admin")
def export_json(client_id: str):
    data = _export(client_id, "json")
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
    return _download(body, "application/json", client_id, "json")


@bp.get("/clients/<client_id>/export.csv")
@login_required("admin")
def export_csv(client_id: str):
    return _download(export_client_csv(_export(client_id, "csv")), "text/csv", client_id, "csv")


@bp.post("/clients/<client_id>/delete")
@login_required("admin")
def delete(client_id: str):
    if request.form.get("confirm", "").strip() != client_id:
        return _client_page(
            client_id, "Type the client id exactly as shown to confirm the deletion."
        ), 400
    try:
        deletion = current_matcher().delete_client(client_id, by=g.user.username)
    except NotFoundError:
        abort(404)
    flash(
        f"Deleted everything held about client {client_id}: the intake, "
        f"{deletion.rows['placements']} placement(s), {deletion.rows['feedback']} feedback "
        f"form(s), {deletion.rows['outcomes']} outcome(s) and "
        f"{deletion.rows['rankings']} list(s) of suggestions"
        + (", and gave their open place back" if deletion.freed_places else "")
        + ". An audit entry records the deletion."
    )
    return redirect(url_for("admin.index"), 303)
