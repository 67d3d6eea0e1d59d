"""Citizen pages of one-time invitations: ``/i`` (type a short code) and ``/i/<code>`` (a link or QR code).

Both open the questionnaire of the invitation's unit with its field of
procedure chosen; the form carries a signed ticket of the invitation (never the
code), and ``POST /i/answer`` stores the response and marks the invitation used
in one transaction. An unknown code gets 404, an expired or closed one 410, a
used one the thank-you (200) and nothing is stored. Codes are never written to
logs (survey.invitations.RedactInvitationCodes) and pages are sent with
``Referrer-Policy: no-referrer`` so a link's code cannot leak to another site.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, Conflict, NotFound
from wtforms import HiddenField

from . import catalog, invitations, responses, throttle
from .citizen import _current_questionnaire, render_form, write_failed
from .citizen.form import (form_class, new_submission, repeated_field, started_at, unknown_field,
                           valid_submission_id)
from .db import get_db, write_transaction
from .i18n import language, t
from .units import by_id as unit_by_id
from .web import refuse

bp = Blueprint("invite", __name__)


@bp.after_request
def private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _ticket() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="survey.invitation")


def _today():
    return invitations.local_today(current_app.config["TIMEZONE"])


# Wrong codes per client address (a keyed digest, never stored) before /i and /i/<code> refuse for a while.
THROTTLE_SCOPE = "invite-code"
THROTTLE_WINDOW_S = 900


def _throttle_key() -> str:
    return throttle.digest(str(current_app.secret_key), request.remote_addr)


def _too_many():
    """None, or the 429 page when this address has typed too many unknown codes lately."""
    verdict = throttle.hit(get_db(), THROTTLE_SCOPE, _throttle_key(), window_s=THROTTLE_WINDOW_S,
                           limit=int(current_app.config["INVITE_MAX_UNKNOWN_CODES"]), cost=0)
    if verdict.allowed:
        return None
    minutes = max(1, round(verdict.retry_after / 60))
    page = render_template("invite/message.html", title=t("invite.too_many_title"),
                           message=t("invite.too_many", minutes=minutes), enter=False)
    return page, 429, {"Retry-After": str(verdict.retry_after)}


def _count_unknown() -> None:
    throttle.hit(get_db(), THROTTLE_SCOPE, _throttle_key(), window_s=THROTTLE_WINDOW_S,
                 limit=int(current_app.config["INVITE_MAX_UNKNOWN_CODES"]))


@bp.get("/i")
def enter():
    return render_template("invite/enter.html", error=None, typed="")


@bp.post("/i")
def enter_post():
    typed = request.form.get("code", "")[:40]
    refused = _too_many()
    if refused:
        return refused
    if invitations.normalise_short(typed) is None:
        return render_template("invite/enter.html", error=t("invite.bad_format"), typed=typed), 422
    found = invitations.lookup(get_db(), short_code=typed, today=_today())
    return _open(found, channel="invitation", typed=typed)


@bp.get("/i/<code>")
def by_link(code: str):
    refused = _too_many()
    if refused:
        return refused
    found = invitations.lookup(get_db(), link_code=code[:40], today=_today())
    return _open(found, channel="invitation")


def _open(found, *, channel: str, typed: str | None = None, count: bool = True):
    if found is None:
        if count:
            _count_unknown()
        if typed is not None:
            return render_template("invite/enter.html", error=t("invite.unknown"), typed=typed), 404
        return render_template("invite/message.html", title=t("invite.unknown_title"), message=t("invite.unknown"),
                               enter=True), 404
    if found.state == "used":
        return render_template("invite/message.html", title=t("invite.used_title"), message=t("invite.used"),
                               thanks=True), 200
    if found.state in ("expired", "closed"):
        return render_template("invite/message.html", title=t(f"invite.{found.state}_title"),
                               message=t(f"invite.{found.state}"), enter=False), 410
    q = _current_questionnaire()
    Form = _form_class(q)
    submission_id, ticket = new_submission()
    data = {"questionnaire_id": q.id, "version": str(q.version), "submission_id": submission_id, "started": ticket,
            "invitation": _ticket().dumps([found.invitation_id, channel])}
    if "field" in {r.code for r in q.respondent}:
        data["field"] = found.field
    form = Form(formdata=None, data=data)
    return _render(form, q, found)


def _form_class(q):
    return type(f"InvitationForm[{q.id} v{q.version}]", (form_class(q),), {"invitation": HiddenField()})


def _render(form, q, found, status: int = 200, notice: str | None = None):
    unit = unit_by_id(get_db(), found.unit_id)
    return render_form(form, q, unit, action=url_for("invite.answer"), status=status, notice=notice)


@bp.post("/i/answer")
def answer():
    repeated = repeated_field(request.form)
    if repeated:
        raise refuse(BadRequest, t("bad.repeated_field", name=repeated))
    try:
        invitation_id, channel = _ticket().loads(request.form.get("invitation", ""))
        invitation_id = int(invitation_id)
        assert channel in ("invitation", "phone", "web")   # (phone, web: tickets issued before issue 11)
    except (BadSignature, ValueError, TypeError, AssertionError):
        raise refuse(BadRequest, t("bad.damaged", name="invitation"))
    submission_id = request.form.get("submission_id")
    if not valid_submission_id(submission_id):
        raise refuse(BadRequest, t("bad.damaged", name="submission_id"))
    started = started_at(request.form.get("started"), submission_id)
    if started is None:
        raise refuse(BadRequest, t("bad.damaged", name="started"))
    db = get_db()
    if responses.exists(db, submission_id):  # double tap, retry: the same thank-you, nothing new
        return redirect(url_for("invite.thanks"), code=303)
    found = invitations.by_id(db, invitation_id, _today())
    if found is None or found.state != "open":     # reissued or purged meanwhile; used, expired
        return _open(found, channel=channel, count=False)
    q = _current_questionnaire()
    posted_id, posted_version = request.form.get("questionnaire_id", ""), request.form.get("version", "")
    if not posted_version.isdigit() or catalog.version(db, posted_id, int(posted_version)) is None:
        raise refuse(BadRequest, t("bad.unknown_questionnaire", name=f"{posted_id[:40]} v{posted_version[:10]}"))
    if (posted_id, int(posted_version)) != (q.id, q.version):
        raise refuse(Conflict, t("page.409_body"))
    rest = MultiDict([(k, v) for k, v in request.form.items(multi=True) if k != "invitation"])
    unknown = unknown_field(rest, q)
    if unknown:
        raise refuse(BadRequest, t("bad.unknown_field", name=unknown))
    form = _form_class(q)()
    if not form.validate():
        if "csrf_token" in form.errors:   # a lost or stale session cookie: keep the answers, send again
            form.csrf_token.errors = []
            notice = t("form.renewed", button=t("form.submit"))
            return _render(form, q, found, status=422 if form.errors else 200, notice=notice)
        return _render(form, q, found, status=422)
    now = datetime.now(timezone.utc)
    respondent = form.respondent_values()
    if "field" in respondent:
        respondent["field"] = found.field       # the stratum, as the register knows it
    response = responses.Response(
        uuid=submission_id, questionnaire_id=q.id, questionnaire_version=q.version, unit_id=found.unit_id,
        channel="invitation", lang=language(), started_at=responses.utc_timestamp(started),
        submitted_at=responses.utc_timestamp(now),
        answers=responses.encode_answers(q.criterion_codes, form.answer_values()),
        respondent=respondent, comment=form.comment_value(), frame_id=found.frame_id)
    try:
        with write_transaction(db):
            if not invitations.mark_used(db, found, _today()):
                used = True
            else:
                used = False
                responses.save(db, response)
    except sqlite3.OperationalError:    # rolled back whole: the invitation stays unused
        return write_failed(lambda notice: _render(form, q, found, status=503, notice=notice))
    if used:  # answered meanwhile (another tab, another of its codes): thank-you, nothing stored
        return _open(invitations.Found(found.invitation_id, found.dossier_id, found.frame_id, found.unit_id,
                                       found.field, "used"), channel=channel)
    return redirect(url_for("invite.thanks"), code=303)


@bp.get("/i/thanks")
def thanks():
    return render_template("invite/message.html", title=t("thanks.heading"), message=t("invite.thanks"),
                           thanks=True)
