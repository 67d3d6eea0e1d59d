"""Signing in and out, and who may see what.

Every endpoint outside the citizen flow needs a signed-in user: an app-wide
``before_request`` check (installed by ``init_app``) sends anonymous visitors
to the sign-in page and refuses a user whose role is too low with 403. A view
states its role with ``@login_required(role=...)``; a view that states none is
admin-only (fail closed); ``@public`` opens one explicitly. Every POST under
that check must carry the CSRF token (``{{ csrf_token() }}`` in a hidden field
named ``csrf_token``).
"""
from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import (Flask, current_app, flash, g, redirect, render_template, request, session, url_for)
from flask_babel import gettext as _

from ..i18n import plural as ngettext
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from wtforms.validators import ValidationError

from .. import throttle
from ..db import get_db
from . import bp, monitor, sessions, users

# Blueprints that citizens (and their kiosks) use without signing in.
OPEN_BLUEPRINTS = frozenset({"citizen", "kiosk", "invite"})
# Endpoints anyone may reach: static files and the sign-in page itself.
PUBLIC_ENDPOINTS = frozenset({"static", "staff.static", "staff.login"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})



def address_key() -> str:
    """The client's address as a keyed digest (the address itself is never stored)."""
    return throttle.digest(str(current_app.secret_key), request.remote_addr)


def automatic(view):
    """Mark a view that pages call by themselves (the dashboard's live figures, a report page's
    self-refresh): such requests need a live session but do not count as the person's activity,
    so an open dashboard does not keep an unattended session alive (``STAFF_IDLE_SECONDS``)."""
    view.automatic = True
    return view


def _person_made_request() -> bool:
    if request.args.get("auto") == "1":      # a page's self-refresh (meta refresh URLs carry auto=1)
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return not getattr(view, "automatic", False)


def current_user() -> users.User | None:
    """The signed-in staff member, or None: also when the session was signed out (from any copy of its
    cookie), is past its absolute or idle limit, or the account was disabled or its password changed."""
    if "staff_user" not in g:
        user = None
        token = session.get("staff_sid")
        if isinstance(token, str):
            db = get_db()
            verdict = sessions.check(db, token, idle_seconds=float(current_app.config["STAFF_IDLE_SECONDS"] or 0),
                                     activity=_person_made_request())
            if verdict.user_id is not None:
                user = users.get(db, verdict.user_id)
                if user is None or user.disabled_at is not None or session.get("staff_check") != user.session_check:
                    user = None
            if user is None:
                session.pop("staff_sid", None)
                session.pop("staff_check", None)
                if verdict.reason in ("expired", "idle"):
                    g.session_ended = verdict.reason
        g.staff_user = user
    return g.staff_user


def sign_in(user: users.User) -> None:
    session.clear()
    session.permanent = True
    session["staff_sid"] = sessions.start(get_db(), user.id, current_app.permanent_session_lifetime.total_seconds())
    session["staff_check"] = user.session_check
    g.staff_user = user


def sign_out() -> None:
    token = session.get("staff_sid")
    if isinstance(token, str):
        sessions.end(get_db(), token)
    session.clear()
    g.staff_user = None


def error_page(status: int, title: str, messages: list[str], *, back: str | None = None):
    return render_template("staff/error.html", status=status, title=title, messages=messages,
                           back=back or url_for("staff.dashboard")), status


def csrf_failure():
    """None when the request's CSRF token is valid, else the 400 page."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except ValidationError:
        return csrf_refused()
    return None


def csrf_refused():
    return error_page(400, _("Form expired or not sent from this site"),
                      [_("The form could not be accepted: its security token is missing, wrong or expired. "
                         "Go back, reload the page and try again.")])


def _guard(role: str):
    """None if the request may go on; otherwise the response to send instead."""
    user = current_user()
    if user is None:
        if request.method in SAFE_METHODS:
            target = request.full_path if request.query_string else request.path
        else:
            ref = urlsplit(request.referrer or "")
            target = ref.path + (f"?{ref.query}" if ref.query else "") if ref.netloc == request.host else None
            target = target if is_local_path(target) else None
        ended = g.pop("session_ended", None)
        if ended == "expired":
            flash(_("Your session has ended (a sign-in lasts a fixed time): sign in again."))
        elif ended == "idle":
            flash(_("You were signed out after a time without activity: sign in again."))
        return redirect(url_for("staff.login", next=target))
    if not user.has_role(role):
        from ..labels import label

        return error_page(403, _("Not allowed"),
                          [_("This page needs the %(role)s role or above; you are signed in as %(user)s "
                             "with the %(own)s role.", role=label("role", role), user=user.username,
                             own=label("role", user.role))])
    if request.method not in SAFE_METHODS:
        return csrf_failure()
    return None


def login_required(role: str = "staff"):
    """The view needs a signed-in user with at least ``role`` (staff < analyst < admin)."""
    users.check_role(role)

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            refusal = _guard(role)
            if refusal is not None:
                return refusal
            return view(*args, **kwargs)

        guarded.required_role = role
        return guarded

    return decorate


def public(view):
    """Open a view outside the citizen flow to anyone (e.g. a health check). Use sparingly:
    tests/staff/test_auth.py lists every open endpoint."""
    view.required_role = None
    return view


def required_role_for_rule(app: Flask, endpoint: str) -> str | None:
    """The role ``endpoint`` of ``app`` needs (None: open to anyone; undecorated views: admin)."""
    if endpoint in PUBLIC_ENDPOINTS or endpoint.split(".", 1)[0] in OPEN_BLUEPRINTS:
        return None
    return getattr(app.view_functions.get(endpoint), "required_role", "admin")


def required_role(endpoint: str) -> str | None:
    """The role an endpoint of the current app needs (None: open to anyone)."""
    return required_role_for_rule(current_app, endpoint)


def _require_login() -> object:
    if request.endpoint is None:  # no route matched: let the 404/405 through
        return None
    role = required_role(request.endpoint)
    return _guard(role) if role else None


def is_local_path(target: str | None) -> bool:
    """A redirect target on this site: a path, no scheme, no host, no backslash tricks."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//")


@bp.errorhandler(monitor.SummariesMissing)
def _summaries_missing(exc: monitor.SummariesMissing):
    return error_page(503, _("Monitoring not ready"), [str(exc)])


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError):
    """The app-wide CSRF check failed on a staff page: say so in the staff layout."""
    return csrf_refused()


@bp.after_request
def _no_store(response):
    """Staff pages hold survey data: browsers and proxies must not keep copies."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    # First of all request checks: an anonymous visitor is sent to the sign-in
    # page before anything else (such as the app-wide CSRF check) looks at the request.
    app.before_request_funcs.setdefault(None, []).insert(0, _require_login)

    @app.context_processor
    def staff_template_globals():
        return {"csrf_token": generate_csrf, "current_user": current_user}


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.values.get("next", "")
    if not is_local_path(next_url):
        next_url = url_for("staff.dashboard")
    if request.method != "POST":      # GET and HEAD
        if current_user() is not None:
            return redirect(next_url)
        return render_template("staff/login.html", next_url=next_url, username="")
    refusal = csrf_failure()
    if refusal is not None:
        return refusal
    config = current_app.config
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    result = users.authenticate(get_db(), username, password, address_key=address_key(),
                                policy=users.LoginPolicy.from_config(config))
    if result.user is None:
        if result.locked_seconds:
            return _login_refused(429, _lock_message(result), next_url, username, result.locked_seconds)
        return _login_refused(401, _("Wrong user name or password."), next_url, username)
    chosen = session.get("staff_lang")  # a language picked on the sign-in page outlives the new session
    sign_in(result.user)
    if chosen:
        session["staff_lang"] = chosen
    return redirect(next_url)


def _minutes(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%(num)s second", "%(num)s seconds", seconds)
    minutes = (seconds + 59) // 60
    return ngettext("%(num)s minute", "%(num)s minutes", minutes)


def _lock_message(result: users.SignIn) -> str:
    wait = _minutes(result.locked_seconds)
    if result.locked_by == "address":
        return _("Too many failed sign-ins from this device. Try again in %(wait)s.", wait=wait)
    if result.locked_by == "user":
        return _("Too many failed sign-ins for this user name from several devices: it is locked everywhere. "
                 "Try again in %(wait)s, or ask an admin to unlock it.", wait=wait)
    return _("Too many failed sign-ins for this user name. Try again in %(wait)s, or ask an admin to unlock it.",
             wait=wait)


def _login_refused(status: int, message: str, next_url: str, username: str, retry_after: int = 0):
    response = current_app.make_response(
        (render_template("staff/login.html", error=message, next_url=next_url, username=username), status))
    if status == 429:
        response.headers["Retry-After"] = str(max(1, retry_after))
    return response


@bp.route("/logout", methods=["POST"])
@login_required("staff")
def logout():
    sign_out()
    flash(_("You are signed out."))
    return redirect(url_for("staff.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required("staff")
def change_password():
    user = current_user()
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        # The current password is checked like a sign-in: same limits, same records.
        checked = users.check_attempt(get_db(), user.username, current, address_key=address_key(),
                                      policy=users.LoginPolicy.from_config(current_app.config))
        if checked.user is None or checked.user.id != user.id:
            current_app.logger.warning("wrong current password on the password-change page for %s",
                                       user.username)
            if checked.locked_seconds:
                return render_template("staff/password.html", error=_lock_message(checked)), 429, {
                    "Retry-After": str(checked.locked_seconds)}
            error = _("The current password is wrong.")
        elif new != request.form.get("confirm_password", ""):
            error = _("The new password and its confirmation differ.")
        else:
            try:
                users.set_password(get_db(), user.username, new)
            except users.UserError as exc:
                error = str(exc)
            else:
                sessions.end_all(get_db(), user.id, "password changed")
                sign_in(users.get(get_db(), user.id))
                flash(_("Your password is changed; other sessions of yours are signed out."))
                return redirect(url_for("staff.dashboard"))
        return render_template("staff/password.html", error=error), 400
    return render_template("staff/password.html", error=None)
