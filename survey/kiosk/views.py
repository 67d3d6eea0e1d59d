"""The kiosk blueprint (``/k/``): the counter tablet's page, its service worker and its API.

``/k/<token>``      the kiosk page: the citizen questionnaire (same form class,
                    same template) for the kiosk's unit, Vietnamese unless
                    ``?lang=en``, with the kiosk's thank-you screen, idle
                    dialog and offline queue (``static/kiosk/kiosk.js``).
                    Without JavaScript it is a plain form that posts back here.
``/k/``             the kiosk page of the token kept on the device (the
                    service worker answers it; without one, a page that looks
                    the token up and goes on).
``/k/sw.js``        the service worker (scope ``/k/``).
``/k/api/responses`` JSON submissions, ``Authorization: Kiosk <token>``.

CSRF: a token check protects requests that a browser authenticates by
itself (a cookie). The API is authenticated only by a header that the
kiosk's own script adds; another site cannot make a browser send it, so the
API is exempt from CSRF. The no-JavaScript form is a normal cookie-and-form
POST and keeps its CSRF token; when that token is stale (a restart with a new
secret key, a session cookie lost overnight) the form comes back with the
answers kept and a fresh token instead of an error.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources

from flask import (Blueprint, Response, current_app, g, jsonify, redirect, render_template, request,
                   url_for)
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from .. import catalog, integrity, responses
from ..citizen import render_form, too_many, write_failed
from ..citizen.form import (form_class, new_submission, repeated_field, started_at,
                            unknown_field, valid_submission_id)
from ..db import get_db
from .. import units as unit_store
from ..i18n import LANGUAGES, plain_date, t, unit_name
from ..units import by_id
from . import kiosks
from .kiosks import Kiosk, KioskRefused

bp = Blueprint("kiosk", __name__, url_prefix="/k")

TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}\Z")
# Clocks: the server's receive time is what counts; a device's clock gives only the visit's length
# (up to LONGEST_VISIT) and a bounded hint of when it was submitted (client_times).
LONGEST_VISIT = timedelta(hours=3)
ENVELOPE = {"submission_id", "questionnaire_id", "version", "unit", "lang", "started_at", "submitted_at",
            "answers", "respondent", "comment"}
# Files the kiosk page needs offline (precached by the service worker).
ASSETS = ("site.css", "form.js", "kiosk/kiosk.css", "kiosk/idb.js", "kiosk/kiosk.js")


@bp.before_request
def kiosk_language():
    # A kiosk starts every respondent in Vietnamese: the language is chosen per
    # page (?lang=en), never kept in the session for the next person.
    asked = request.args.get("lang")
    default = current_app.config.get("DEFAULT_LANGUAGE", "vi")
    g.lang = asked if asked in LANGUAGES else default if default in LANGUAGES else "vi"


@bp.after_request
def no_store(response):
    if request.endpoint != "kiosk.service_worker":
        response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------ pages

def _kiosk_or_refused(token: str) -> Kiosk | tuple[str, int]:
    try:
        kiosk = kiosks.authenticate(get_db(), token if TOKEN.match(token) else "-")
    except KioskRefused as refused:
        return render_template("kiosk/refused.html", reason=_reason(refused.reason)), refused.status
    kiosks.seen(get_db(), kiosk)
    gone = _unit_gone(kiosk, unit_store.local_today(get_db()))
    if gone:       # its unit ended (a reform): no form to fill in for a unit that no longer exists
        return render_template("kiosk/refused.html", reason=gone), 410
    return kiosk


def _unit_gone(kiosk: Kiosk, day) -> str | None:
    """The reason to give when the kiosk's unit is not valid on ``day`` (None when it is)."""
    unit = by_id(get_db(), kiosk.unit_id)
    if unit_store.valid_on(unit, day):
        return None
    return _reason("unit_gone", unit=unit_name(unit), date=plain_date(_since(unit)))


def _since(unit: dict):
    """The first day a unit is no longer valid (or, for one not yet started, the day it starts)."""
    if unit["valid_to"]:
        return date.fromisoformat(unit["valid_to"]) + timedelta(days=1)
    return date.fromisoformat(unit["valid_from"])


def _questionnaire():
    q = catalog.latest(get_db(), current_app.config["DEFAULT_QUESTIONNAIRE"])
    if q is None:
        raise ServiceUnavailable()   # the operator has not run init-db
    return q


def _page(kiosk: Kiosk, token: str, q, form=None, *, status: int = 200, notice: str | None = None):
    kiosks.served(get_db(), kiosk, q.id, q.version)
    if form is None:
        submission_id, ticket = new_submission()
        data = {"questionnaire_id": q.id, "version": str(q.version), "submission_id": submission_id,
                "started": ticket}
        if kiosk.field:
            data["field"] = kiosk.field      # the counter's own field, not anyone's answer
        form = form_class(q)(formdata=None, data=data)
    config = current_app.config
    other = "en" if g.lang == "vi" else "vi"
    html, code = render_form(
        form, q, by_id(get_db(), kiosk.unit_id), action=url_for("kiosk.page", token=token, lang=g.lang),
        status=status, template="kiosk/page.html",
        kiosk=kiosk, token=token, notice=notice, paged=False,   # a kiosk's tall screen shows the whole form
        switch_url=url_for("kiosk.page", token=token, lang=other),
        criteria=" ".join(q.criterion_codes), respondent=" ".join(r.code for r in q.respondent),
        idle=config["KIOSK_IDLE_SECONDS"], still_there=config["KIOSK_STILL_THERE_SECONDS"],
        thanks=config["KIOSK_THANKS_SECONDS"])
    response = current_app.make_response((html, code))
    response.headers["X-Kiosk-Page"] = "1"   # the service worker keeps only real kiosk pages
    return response


@bp.get("/")
def home():
    return render_template("kiosk/boot.html")


@bp.get("/<token>")
def page(token: str):
    kiosk = _kiosk_or_refused(token)
    if not isinstance(kiosk, Kiosk):
        return kiosk
    return _page(kiosk, token, _questionnaire())


@bp.post("/<token>")
def submit(token: str):
    """The form without JavaScript: a normal POST, CSRF-checked by the form itself."""
    kiosk = _kiosk_or_refused(token)
    if not isinstance(kiosk, Kiosk):
        return kiosk
    db = get_db()
    current = _questionnaire()
    submission_id = request.form.get("submission_id", "")
    if responses.exists(db, submission_id):        # a double tap or a resubmission
        return redirect(url_for("kiosk.thanks", token=token, lang=g.lang), code=303)
    posted_id, posted_version = request.form.get("questionnaire_id", ""), request.form.get("version", "")
    q = accepted_version(db, kiosk, current, posted_id, posted_version)
    if (q is None or not valid_submission_id(submission_id) or repeated_field(request.form)
            or unknown_field(request.form, q)):
        # Not the form this page serves (damaged, or from an unknown version): a fresh one.
        return _page(kiosk, token, current, status=400, notice=t("page.400_body"))
    form = form_class(q)()
    if not form.validate():
        stale = "csrf_token" in form.errors and len(form.errors) == 1
        if stale:
            form.csrf_token.errors = []
        return _page(kiosk, token, q, form, status=200 if stale else 422,
                     notice=t("kiosk.refreshed", button=t("form.submit")) if stale else None)
    now = integrity.now()
    served = started_at(request.form.get("started"), submission_id)
    started = served or now   # a ticket signed with an old key
    answers = form.answer_values()
    respondent = form.respondent_values()
    if kiosk.field and not respondent.get("field"):
        respondent["field"] = kiosk.field
    response = responses.Response(
        uuid=submission_id, questionnaire_id=q.id, questionnaire_version=q.version, unit_id=kiosk.unit_id,
        channel="kiosk", kiosk_id=kiosk.id, lang=g.lang, started_at=responses.utc_timestamp(started),
        submitted_at=responses.utc_timestamp(now), answers=responses.encode_answers(q.criterion_codes, answers),
        respondent=respondent, comment=form.comment_value())
    try:
        _save(db, kiosk, response, received=now, served=served)
    except integrity.OverLimit as refused:
        return too_many(refused.wait, lambda notice: _page(kiosk, token, q, form, status=429, notice=notice))
    except sqlite3.OperationalError:             # disk full, I/O error: the answers stay on the screen
        return write_failed(lambda notice: _page(kiosk, token, q, form, status=503, notice=notice))
    return redirect(url_for("kiosk.thanks", token=token, lang=g.lang), code=303)


def _save(db, kiosk: Kiosk, response: responses.Response, *, received: datetime, served: datetime | None) -> bool:
    """Store a kiosk response with its origin (server receive time, kiosk) and the integrity checks."""
    return integrity.save(db, response, lambda db, r: kiosks.save(db, kiosk, r), received=received, served=served,
                          keys=integrity.request_keys(db, received),
                          rules=integrity.rules_from_config(current_app.config),
                          limits=integrity.limits_from_config(current_app.config))


@bp.get("/<token>/thanks")
def thanks(token: str):
    kiosk = _kiosk_or_refused(token)
    if not isinstance(kiosk, Kiosk):
        return kiosk
    seconds = current_app.config["KIOSK_THANKS_SECONDS"]
    html = render_template("kiosk/thanks.html", unit=by_id(get_db(), kiosk.unit_id), seconds=seconds,
                           again=url_for("kiosk.page", token=token))
    response = current_app.make_response(html)
    # Back to an empty form after a few seconds, with or without JavaScript.
    response.headers["Refresh"] = f"{seconds}; url={url_for('kiosk.page', token=token)}"
    return response


# ------------------------------------------------------------------ service worker

@lru_cache(maxsize=4)
def _worker_source(stamp: tuple) -> str:
    static = current_app.static_folder
    digest = hashlib.sha256()
    for name in ASSETS:
        with open(f"{static}/{name}", "rb") as handle:
            digest.update(handle.read())
    config = {"version": digest.hexdigest()[:16],
              "assets": [url_for("static", filename=name) for name in ASSETS],
              "idb": url_for("static", filename="kiosk/idb.js")}
    source = resources.files("survey").joinpath("static/kiosk/sw.js").read_text(encoding="utf-8")
    return re.sub(r"/\*CONFIG\*/.*?/\*END\*/", lambda _: json.dumps(config), source, count=1)


@bp.get("/sw.js")
def service_worker():
    static = current_app.static_folder
    stamp = tuple(os.stat(f"{static}/{name}").st_mtime_ns for name in (*ASSETS, "kiosk/sw.js"))
    response = Response(_worker_source(stamp), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/k/"
    return response


# ------------------------------------------------------------------ API

def _reason(reason: str, **details) -> str:
    return t(f"kiosk.reason.{reason}", **{"unit": "", "detail": "", "name": "", **details})


def _refusal(status: int, reason: str, **details):
    errors = details.pop("errors", None)
    body = {"status": "refused", "reason": reason, "message": _reason(reason, **details)}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = "Kiosk"
    return response


def _header_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "kiosk" and value.strip() else None


def _moment(value, name: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError(f"{name} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} {value[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} has no time zone")
    if not 1900 <= moment.year <= 9000:  # also keeps the conversion to UTC from overflowing
        raise ValueError(f"{name} {value[:40]!r} is not a plausible time")
    return moment.astimezone(timezone.utc)


def client_times(started: datetime, submitted: datetime, *, received: datetime,
                 shown: datetime) -> tuple[datetime, datetime, datetime]:
    """(started_at, submitted_at, client_submitted_at) of a kiosk API response.

    ``submitted_at`` is always the server's receive time: day counts, bursts and
    periods never depend on a device's clock. The device's times only give the
    visit's length (kept, up to LONGEST_VISIT) and a hint of when it was really
    submitted (kept in ``client_submitted_at``), bounded by when the kiosk could
    have shown the form (``shown``: its first serving of this questionnaire
    version, or its registration) and by the receive time.
    """
    visit = min(max(submitted - started, timedelta(0)), LONGEST_VISIT)
    claimed = min(max(submitted, min(shown, received)), received)
    return received - visit, received, claimed


def accepted_version(db, kiosk: Kiosk, current, questionnaire_id, version):
    """The questionnaire a kiosk response may use: the one its page serves now, or one the kiosk was
    served before (queued offline); None for anything else."""
    if isinstance(version, str):
        version = int(version) if version.isascii() and version.isdigit() and len(version) <= 9 else None
    if not isinstance(questionnaire_id, str) or not isinstance(version, int) or not 0 < version < 10 ** 9:
        return None
    if (questionnaire_id, version) == (current.id, current.version):
        return current
    if kiosks.first_served(db, kiosk, questionnaire_id, version) is None:
        return None
    return catalog.version(db, questionnaire_id, version)


def _answers_formdata(q, body: dict) -> MultiDict:
    """The JSON answers as the web form's fields (the same form class validates both)."""
    answers, respondent, comment = body.get("answers"), body.get("respondent") or {}, body.get("comment")
    if not isinstance(answers, dict):
        raise ValueError("answers must be an object of criterion code to rating")
    if not isinstance(respondent, dict):
        raise ValueError("respondent must be an object of question code to option code")
    if comment is not None and not isinstance(comment, str):
        raise ValueError("comment must be text or null")
    criteria, questions = set(q.criterion_codes), {r.code for r in q.respondent}
    data = MultiDict()
    for kind, given, known in (("criterion", answers, criteria), ("respondent question", respondent, questions)):
        for code, value in given.items():
            if code not in known:
                raise ValueError(f"unknown {kind} {str(code)[:30]!r}")
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise ValueError(f"{code}: {str(value)[:20]!r} is not an answer")
            data[code] = str(value)
    if comment:
        data["comment"] = comment
    return data


@bp.get("/api/ping")
def ping():
    return "", 204


@bp.get("/api/status")
def status():
    db = get_db()
    try:
        kiosk = kiosks.authenticate(db, _header_token())
    except KioskRefused as refused:
        return _refusal(refused.status, refused.reason)
    kiosks.seen(db, kiosk)
    return jsonify({"kiosk": {"id": kiosk.id, "name": kiosk.name, "unit": kiosk.unit_slug, "field": kiosk.field}})


@bp.post("/api/responses")
def api_responses():
    """Store one response sent by a kiosk's script (see the module docstring and docs/kiosk.md)."""
    db = get_db()
    received = integrity.now()
    try:
        body, too_large = request.get_json(silent=True), False
    except HTTPException:                            # 413: larger than MAX_CONTENT_LENGTH
        body, too_large = None, True
    if isinstance(body, dict) and body.get("lang") in LANGUAGES:
        g.lang = body["lang"]                        # the device shows refusals in its language
    try:
        kiosk = kiosks.authenticate(db, _header_token())
    except KioskRefused as refused:
        return _refusal(refused.status, refused.reason)
    if too_large:
        return _refusal(413, "too_large")
    if not isinstance(body, dict):
        return _refusal(400, "bad_request", detail="JSON object expected")
    unknown = sorted(str(k)[:30] for k in body if k not in ENVELOPE)
    if unknown:
        return _refusal(400, "bad_request", detail=f"unknown field {unknown[0]!r}")
    submission_id = body.get("submission_id")
    if not isinstance(submission_id, str) or not valid_submission_id(submission_id):
        return _refusal(400, "bad_request", detail="submission_id must be a UUID version 4")
    unit = body.get("unit")
    if unit is not None and unit != kiosk.unit_slug:
        return _refusal(403, "foreign_unit", unit=str(unit)[:60])
    if responses.exists(db, submission_id):          # sent before; the answer got lost on the way back
        return jsonify({"status": "duplicate", "submission_id": submission_id}), 200
    qid, version = body.get("questionnaire_id"), body.get("version")
    if not isinstance(qid, str) or not isinstance(version, int) or isinstance(version, bool):
        return _refusal(400, "bad_request", detail="questionnaire_id (text) and version (number) are required")
    # Only the version this kiosk's unit serves now, or one this kiosk was served before (a response
    # queued offline on a form that was current then): one stray version would split a period.
    q = accepted_version(db, kiosk, _questionnaire(), qid, version)
    if q is None:
        return _refusal(422, "unknown_questionnaire", name=f"{qid[:40]} v{str(version)[:12]}")
    lang = body.get("lang")
    if lang not in LANGUAGES:
        return _refusal(400, "bad_request", detail="lang must be vi or en")
    try:
        shown = kiosks.first_served(db, kiosk, q.id, q.version) or kiosks.parse_timestamp(kiosk.created_at)
        started, submitted, claimed = client_times(_moment(body.get("started_at"), "started_at"),
                                                   _moment(body.get("submitted_at"), "submitted_at"),
                                                   received=received, shown=shown)
        formdata = _answers_formdata(q, body)
    except ValueError as exc:
        return _refusal(422, "invalid", detail=str(exc))
    if kiosk.field and "field" not in formdata and "field" in {r.code for r in q.respondent}:
        formdata["field"] = kiosk.field           # the counter's field, when the respondent left it
    form = form_class(q)(formdata=formdata, meta={"csrf": False})
    if not form.validate():
        errors = {name: messages[0] for name, messages in form.errors.items()}
        first = next(iter(errors.values()))
        return _refusal(422, "invalid", detail=first, errors=errors)
    respondent = form.respondent_values()
    day = (submitted + timedelta(minutes=unit_store.utc_offset_minutes(db))).date()
    if _unit_gone(kiosk, day):      # filled in after its unit ended: kept on the device, named, downloadable
        unit = by_id(db, kiosk.unit_id)
        return _refusal(409, "unit_gone", unit=unit_name(unit), date=plain_date(_since(unit)))
    response = responses.Response(
        uuid=submission_id, questionnaire_id=q.id, questionnaire_version=q.version, unit_id=kiosk.unit_id,
        channel="kiosk", kiosk_id=kiosk.id, lang=lang, started_at=responses.utc_timestamp(started),
        submitted_at=responses.utc_timestamp(submitted),
        answers=responses.encode_answers(q.criterion_codes, form.answer_values()),
        respondent=respondent, comment=form.comment_value(), client_submitted_at=responses.utc_timestamp(claimed))
    try:
        stored = _save(db, kiosk, response, received=received, served=None)
    except integrity.OverLimit as refused:       # the device's queue keeps it and sends it again later
        refusal = _refusal(429, "too_many")
        refusal.headers["Retry-After"] = str(int(refused.wait))
        return refusal
    except sqlite3.OperationalError:             # disk full, I/O error: the device keeps it and retries
        current_app.logger.exception("could not store a kiosk response")
        refusal = _refusal(503, "unavailable")
        refusal.headers["Retry-After"] = "30"
        return refusal
    if not stored:                               # the same id won a race just now
        return jsonify({"status": "duplicate", "submission_id": submission_id}), 200
    return jsonify({"status": "stored", "submission_id": submission_id}), 201
