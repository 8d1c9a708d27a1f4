"""Staff login: the session, the ``login_required`` decorator, and user commands.

Clients never log in (their private link is their key); coordinators and
admins do. A JSON request without the right to a route gets 401/403 as JSON;
a browser gets a redirect to the login page (or a 403 page for the wrong role).
"""

from __future__ import annotations

import functools
import getpass
import secrets
from urllib.parse import urlsplit

import click
from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from matcher import ValidationError
from matcher.accounts import ROLES, audit, authenticate, create_user, get_user, has_users

from .extensions import current_store

bp = Blueprint("auth", __name__)
_SESSION_USER = "user_id"


def load_user() -> None:
    """Put the logged-in staff member (or None) on ``g.user`` for this request."""
    user_id = session.get(_SESSION_USER)
    g.user = get_user(current_store(), user_id) if user_id is not None else None


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def login_required(role: str = "coordinator"):
    """Allow the view only to a logged-in user with ``role`` (admins have every role)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = g.get("user")
            if user is None:
                if _wants_json():
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not user.can(role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # lets tests sweep every protected route
        return wrapped

    return decorate


def _safe_next(target: str | None) -> str:
    """Only redirect within this site after login (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("coordinator.queue")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        user = authenticate(current_store(), username, request.form.get("password", ""))
        if user is None:
            audit(current_store(), username[:64] or "?", "login_failed")
            error = "That username and password do not match an account."
        else:
            session.clear()  # a fresh session on login: no fixation
            session[_SESSION_USER] = user.id
            audit(current_store(), user.username, "login")
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout():
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="coordinator", show_default=True)
@click.option("--password", envvar="MATCHER_NEW_PASSWORD", help="default: asked for")
def create_user_command(username: str, role: str, password: str | None) -> None:
    """Create a coordinator or admin account."""
    if not password:
        password = getpass.getpass("Password (10 characters or more): ")
    try:
        user = create_user(current_store(), username, password, role)
    except ValidationError as error:
        raise click.ClickException(str(error)) from None
    audit(current_store(), "cli", "create_user", detail={"username": user.username})
    click.echo(f"created {user.role} {user.username!r}")


@click.command("ensure-demo-user")
def ensure_demo_user_command() -> None:
    """On a database without accounts, create a demo coordinator and print it once."""
    store = current_store()
    if has_users(store):
        click.echo("accounts exist; no demo user created")
        return
    lines = ["", "  Demo staff logins (shown once; keep them somewhere safe):"]
    for username, role in (("coordinator", "coordinator"), ("admin", "admin")):
        password = secrets.token_urlsafe(12)
        create_user(store, username, password, role)
        lines.append(f"    {role:<12} username: {username:<12} password: {password}")
    lines += ["    log in at http://127.0.0.1:5000/login", ""]
    click.echo("\n".join(lines))


def init_app(app) -> None:
    app.before_request(load_user)
    app.register_blueprint(bp)
    app.cli.add_command(create_user_command)
    app.cli.add_command(ensure_demo_user_command)

    @app.context_processor
    def staff():
        return {"current_user": g.get("user")}
