"""Security headers, the session cookie's Secure flag, and the secret-key guard."""
from __future__ import annotations

import click
from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

PLACEHOLDER_SECRETS = {"dev-only-change-me", "dev", "changeme", "change-me", "secret", ""}

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class PlaceholderSecretKey(RuntimeError):
    pass


def _serving() -> bool:
    """True under a WSGI server (no click context) or ``flask run``; False for other CLI commands."""
    ctx = click.get_current_context(silent=True)
    return ctx is None or ctx.command.name == "run"


def check_secret_key(app: Flask) -> None:
    if app.debug or app.testing or not _serving():
        return
    key = app.config.get("SECRET_KEY")
    if not isinstance(key, (str, bytes)):  # e.g. SURVEY_SECRET_KEY=1234... parsed as a number
        raise PlaceholderSecretKey(
            f"refusing to serve: SECRET_KEY must be text, not {type(key).__name__} (an all-digit "
            f"SURVEY_SECRET_KEY is read as a number: quote it, e.g. SURVEY_SECRET_KEY='\"...\"', or use "
            f"letters too)")
    if not key or str(key) in PLACEHOLDER_SECRETS or len(str(key)) < 16:
        raise PlaceholderSecretKey(
            "refusing to serve with a missing or placeholder SECRET_KEY outside debug mode: run "
            "`flask --app survey init-db` (writes a random key to instance/config.py) or set "
            "SURVEY_SECRET_KEY to a long random value")


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (or config forces it)."""

    def get_cookie_secure(self, app: Flask) -> bool:  # type: ignore[override]
        if app.config["SESSION_COOKIE_SECURE"]:
            return True
        try:
            return request.is_secure
        except RuntimeError:  # outside a request
            return False


# Paths of pages and files for staff: never stored by a browser or a proxy (a shared computer's
# back button, a proxy cache), never validated with an ETag/304 (issue 12 item 12).
PRIVATE_PREFIXES = ("/staff", "/posters")


def _headers(response):
    headers = response.headers
    if request.path.startswith(PRIVATE_PREFIXES):
        headers["Cache-Control"] = "no-store"
        headers.pop("ETag", None)
        headers.pop("Last-Modified", None)
        headers.pop("Expires", None)
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_app(app: Flask) -> None:
    check_secret_key(app)
    app.session_interface = SessionInterface()
    app.after_request(_headers)
    proxies = int(app.config.get("TRUSTED_PROXIES", 0) or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
