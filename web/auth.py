"""Staff login: the session, the ``login_required`` decorator, and user commands.

Clients never log in (their private link is their key); coordinators,
admins and therapists do. A session cookie carries its account's session
version: logout (or deactivation) bumps it, so a copied cookie stops working.
A JSON request without the right to a route gets 401/403 as JSON; a browser
gets a redirect to the login page (or a 403 page for the wrong role).
"""

from __future__ import annotations

import functools
import getpass
import secrets
import time
import unicodedata
from urllib.parse import urlsplit

import click
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.cli import with_appcontext

from matcher import ValidationError
from matcher.clinic import (
    ROLES,
    STAFF_ROLES,
    AccountThrottled,
    audit,
    authenticate,
    change_password,
    create_user,
    demo_therapist,
    end_sessions,
    get_user,
    has_users,
    list_users,
)

from .errors import api_error
from .extensions import current_store

bp = Blueprint("auth", __name__)
_SESSION_USER = "user_id"
_SESSION_VERSION = "session_version"
_LOGGED_IN_AT = "logged_in_at"
_SEEN_AT = "seen_at"
#: A staff session ends after this long without a request, and this long after login
#: whatever happens (config ``SESSION_IDLE_MINUTES`` and ``SESSION_MAX_HOURS``).
DEFAULT_IDLE_MINUTES = 30
DEFAULT_MAX_HOURS = 12
#: The audit log's actor for a failed login with a name that is no account.
UNKNOWN_ACTOR = "unknown"


def load_user() -> None:
    """Put the logged-in staff member (or None) on ``g.user`` for this request.

    The account is read afresh on every request, so a deactivated account (or a
    changed role) takes effect at once; a session whose account is no longer
    active is emptied.
    """
    user_id = session.get(_SESSION_USER)
    g.user = None
    if user_id is None:
        return
    expired = _expired()
    if expired:
        session.clear()
        flash(expired)
        return
    g.user = get_user(current_store(), user_id)
    if g.user is not None and session.get(_SESSION_VERSION) != g.user.session_version:
        g.user = None  # logged out elsewhere, or a cookie copied before a logout
    if g.user is None:
        session.clear()
        return
    session[_SEEN_AT] = int(time.time())


def _expired() -> str | None:
    """Why this session has ended by time, or None while it is current."""
    now = time.time()
    idle = current_app.config.get("SESSION_IDLE_MINUTES", DEFAULT_IDLE_MINUTES) * 60
    longest = current_app.config.get("SESSION_MAX_HOURS", DEFAULT_MAX_HOURS) * 3600
    if now - session.get(_SEEN_AT, 0) > idle:
        return f"You were logged out after {idle // 60:.0f} minutes without activity."
    if now - session.get(_LOGGED_IN_AT, 0) > longest:
        return f"You were logged out: a session lasts at most {longest // 3600:.0f} hours."
    return None


def _wants_json() -> bool:
    """True for API calls and clients that prefer JSON to HTML (or send JSON)."""
    if request.path.startswith("/api/") or request.is_json:
        return True
    preferred = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return preferred == "application/json"


def _refuse(status: int):
    """401 (not logged in) or 403 (wrong role): the API envelope for JSON, a page otherwise."""
    if status == 401:
        message = "log in as a staff member to use this"
    else:
        message = "your account does not have access to this"
    if _wants_json():
        return api_error(status, {"_": message})
    if status == 401:
        # After login, come back here; only a page can be come back to, not a form post.
        target = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else None
        return redirect(url_for("auth.login", next=target))
    if g.user.is_therapist:
        message = "This page is for the practice's staff. Your own area is at /therapist/."
    else:
        message = (
            "Your account does not have access to this page. Ask an administrator if you need it."
        )
    page = render_template(
        "error.html",
        status=403,
        title="Not allowed",
        message=message,
    )
    return page, 403


def login_required(role: str = "coordinator"):
    """Allow the view only to a logged-in user with ``role`` (admins have every staff
    role); ``"any"`` lets every logged-in account in (their own account pages)."""
    if role not in (*ROLES, "any"):
        raise ValueError(f"role must be one of {ROLES} or 'any', got {role!r}")

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = g.get("user")
            if user is None:
                return _refuse(401)
            if role != "any" and not user.can(role):
                return _refuse(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # lets tests sweep every protected route
        return wrapped

    return decorate


def home_for(user) -> str:
    """Where an account lands after login: its own area."""
    return url_for("therapist.home") if user.is_therapist else url_for("coordinator.queue")


def _safe_next(target: str | None, user) -> str:
    """Only redirect within this site after login (no open redirects).

    A path on this site starts with one "/" and is not followed by another
    "/" or a "\\" (browsers read ``/\\evil.example`` as ``//evil.example``);
    control characters and spaces, which browsers strip before parsing, are refused.
    """
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(c.isspace() or unicodedata.category(c)[0] == "C" for c in target)
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return home_for(user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            user = authenticate(current_store(), username, request.form.get("password", ""))
        except AccountThrottled as throttled:
            _audit_failed_login(username, action="login_throttled")
            page = render_template("login.html", error=f"{str(throttled).capitalize()}.")
            return page, 429, {"Retry-After": str(throttled.wait_seconds)}
        if user is None:
            _audit_failed_login(username)
            error, status = "That username and password do not match an account.", 401
        else:
            _start_session(user)
            audit(current_store(), user.username, "login")
            return redirect(_safe_next(request.args.get("next"), user))
    return render_template("login.html", error=error), status


def _start_session(user) -> None:
    session.clear()  # a fresh session on login: no fixation
    now = int(time.time())
    session.update(
        {
            _SESSION_USER: user.id,
            _SESSION_VERSION: user.session_version,
            _LOGGED_IN_AT: now,
            _SEEN_AT: now,
        }
    )


@bp.route("/account/password", methods=["GET", "POST"])
@login_required("any")
def password():
    """Change one's own password; every other session of the account ends."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        if form.get("new_password", "") != form.get("repeat_password", ""):
            errors["repeat_password"] = "The two new passwords are not the same."
        else:
            try:
                user = change_password(
                    current_store(),
                    g.user.id,
                    form.get("current_password", ""),
                    form.get("new_password", ""),
                )
            except ValidationError as error:
                errors = {
                    field: f"{message[:1].upper()}{message[1:]}."
                    for field, message in error.by_field().items()
                }
            else:
                audit(current_store(), user.username, "change_password")
                session[_SESSION_VERSION] = user.session_version  # this session stays
                flash("Your password is changed. Every other session of your account has ended.")
                return redirect(home_for(user), 303)
    return render_template("password.html", errors=errors), 400 if errors else 200


def _audit_failed_login(username: str, action: str = "login_failed") -> None:
    """Record a failed login under the account's name, or "unknown" for a name that is none.

    What was typed as a username is not stored unless it is one: people type
    their password into the wrong field, and it must not end up in the log.
    """
    typed = username.strip().lower()
    known = any(user.username == typed for user in list_users(current_store()))
    actor = typed if known else UNKNOWN_ACTOR
    audit(current_store(), actor, action, detail={"known_account": known})


@bp.post("/logout")
def logout():
    user = g.get("user")
    if user is not None:
        audit(current_store(), user.username, "logout")
        end_sessions(current_store(), user.id)  # a copied cookie dies with this one
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", type=click.Choice(STAFF_ROLES), default="coordinator", show_default=True)
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
@with_appcontext
@click.option(
    "--url",
    default="http://127.0.0.1:5000",
    show_default=True,
    help="where the app will listen (printed with the logins)",
)
def ensure_demo_user_command(url: str) -> None:
    """On a database without accounts, create demo logins (coordinator, admin, and the
    therapist of the demo's placements) and print them once."""
    store = current_store()
    if has_users(store):
        click.echo("accounts exist; no demo user created")
        return
    logins = [("coordinator", "coordinator", None), ("admin", "admin", None)]
    therapist_id = demo_therapist(store)
    if therapist_id is not None:
        logins.append(("therapist", "therapist", therapist_id))
    lines = ["", "  Demo logins (shown once; keep them somewhere safe):"]
    for username, role, therapist in logins:
        password = secrets.token_urlsafe(12)
        create_user(store, username, password, role, therapist_id=therapist)
        lines.append(f"    {role:<12} username: {username:<12} password: {password}")
    lines += [f"    log in at {url.rstrip('/')}/login", ""]
    click.echo("\n".join(lines))


def init_app(app) -> None:
    app.before_request(load_user)
    app.register_blueprint(bp)
    app.cli.add_command(create_user_command)
    app.cli.add_command(ensure_demo_user_command)

    @app.context_processor
    def staff():
        return {"current_user": g.get("user")}
