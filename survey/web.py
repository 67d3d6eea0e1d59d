"""What every page of the app shares: CSRF protection and error pages (headers: survey.security).

Error pages are rendered in the respondent's language (with the switch to the
other one), never as a bare Werkzeug page, and say what went wrong and what to
do next. Nothing a client sends may produce a 500: a 500 page means a bug.
"""
from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, InternalServerError

from .db import get_db
from .i18n import MESSAGES, language, t
from .units import leaf_units

csrf = CSRFProtect()

# Status codes with their own title and explanation in survey.i18n (page.<code>, page.<code>_body).
PAGES = (400, 404, 405, 409, 413, 422, 500, 503)


def refuse(kind: type[HTTPException], message: str, *, again: str | None = None) -> HTTPException:
    """An HTTP error whose page shows ``message`` (already in the respondent's language).

    ``again`` is the address of a fresh form, offered as the way on.
    """
    exc = kind(description=message)
    exc.survey_message = message
    exc.again = again
    return exc


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def public_base_url() -> str | None:
    """The address citizens and kiosks reach the server at, for QR posters and kiosk links.

    ``PUBLIC_BASE_URL`` when set. Without it, the request's own address only when that is this
    machine (localhost, 127.x, ::1: trying the app out); any other ``Host`` header could be
    anyone's (``Host: evil.example``) and would be printed into a poster's QR code: None, and the
    page is refused with :func:`no_public_address` (409).
    """
    configured = current_app.config.get("PUBLIC_BASE_URL")
    if configured:
        return configured
    host = request.host.lower()
    name = host[1:].split("]", 1)[0] if host.startswith("[") else host.rsplit(":", 1)[0]
    if name in LOOPBACK_HOSTS or name.startswith("127."):
        return request.url_root
    return None


def no_public_address() -> str:
    """Why a poster or kiosk link was refused (see :func:`public_base_url`), in the staff page's language."""
    from flask_babel import gettext

    return gettext("This server does not know its public address, so it will not print the address this request "
                   "named (%(host)s, which any client can choose) into a QR code or a kiosk link. Set "
                   "PUBLIC_BASE_URL (e.g. SURVEY_PUBLIC_BASE_URL=https://khaosat.example.gov.vn, or in "
                   "instance/config.py) and restart the server.", host=repr(request.host[:60]))


def _page(exc: HTTPException, *, title: str | None = None, body: str | None = None):
    code = exc.code or 500
    known = code if code in PAGES else 500 if code >= 500 else 400
    message = getattr(exc, "survey_message", None)  # the specific reason, when we know it
    units = None
    if getattr(exc, "unit_slug", None) is not None:  # an unknown unit: help find the right one
        from .citizen import PAGE_SIZE
        from .citizen.picker import picker_rows
        units = picker_rows(leaf_units(get_db()), language())[:PAGE_SIZE]   # the rest: the picker's search
        title, message, body = message, None, t("page.404_unit_body")
        if len(units) > 40:       # too many to list here: the picker groups them (its link is shown)
            units = None
    title = title or t(f"page.{known}")
    if body is None and message is None and f"page.{known}_body" in MESSAGES:
        body = t(f"page.{known}_body")
    html = render_template("error.html", code=code, title=title, message=message, body=body,
                           again=getattr(exc, "again", None), units=units,
                           nothing_saved=request.method == "POST")
    return html, code


def _csrf_failed(exc: CSRFError):
    query = request.query_string.decode("utf-8", "replace")
    again = request.path + (f"?{query}" if query else "") if request.path.startswith("/u/") else None
    exc.again = again
    return _page(exc, title=t("page.csrf"), body=t("page.csrf_body"))


def _http_error(exc: HTTPException):
    return _page(exc)


def _server_error(exc: InternalServerError):
    return _page(exc if isinstance(exc, HTTPException) else InternalServerError())


def _no_store_errors(response):
    if response.status_code >= 400:  # an error page may quote what was sent
        response.headers["Cache-Control"] = "no-store"
    return response


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with a body nested too deeply for the parser (``[`` x 30,000) refused as bad
    JSON (a ValueError: ``get_json`` answers 400) instead of a RecursionError and a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)
    app.jinja_env.trim_blocks = True  # compact pages: the questionnaire must stay under 60 KB
    app.jinja_env.lstrip_blocks = True
    csrf.init_app(app)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
    app.after_request(_no_store_errors)


def freeze_startup_objects() -> int:
    """Set the objects a worker holds once started (modules, the app, its routes and catalogs) aside
    from Python's garbage collector; returns how many. Call it once the app is loaded (gunicorn's
    ``post_worker_init`` in gunicorn.conf.py does).

    A page that builds thousands of rows (the dashboard at 3,321 units) allocates enough to trigger a
    full collection every three or four requests, and a full collection walks every object of the
    process: 33 ms of the dashboard's ~230 ms on the benchmark machine, the tail of its p95. Frozen
    objects are never collected (they live as long as the worker anyway) and no longer walked: the
    full collections then took 0.5 ms."""
    import gc

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
