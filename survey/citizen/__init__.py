"""Citizen pages: pick a unit, answer its questionnaire, see the thank-you.

``/u/<slug>`` is the stable link a counter's QR code encodes (channel
``phone``); the unit picker at ``/`` links to ``/u/<slug>?ch=web``. Kiosks get
their channel and kiosk id from :func:`channel_of` in a later issue.

A submission is refused before anything is written when it is not exactly the
form we served: CSRF (``CSRFProtect``), unknown or repeated fields and a
damaged submission id or start ticket (400), a questionnaire version that is
no longer current (409). Answers that do not fit the questionnaire return the
form with each error next to its item (422). A submission id seen before shows
the same thank-you and writes nothing (the database's UNIQUE uuid decides).
"""
from __future__ import annotations

import sqlite3

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.exceptions import BadRequest, Conflict, Gone, NotFound, ServiceUnavailable

from questionnaires.loader import Questionnaire

from .. import catalog, integrity, responses
from ..db import get_db
from ..i18n import language, t, tr
from ..numbers import whole_number
from .. import units as unit_store
from ..units import by_id, leaf_by_slug, leaf_units
from ..web import refuse
from .picker import picker_rows
from .form import (HIDDEN_FIELDS, NOT_APPLICABLE, comment_max_length, field_names, form_class, new_submission,
                   repeated_field, started_at, unknown_field, valid_submission_id)

bp = Blueprint("citizen", __name__)
GROUPED_MAX = 400      # up to this many units, the picker shows them all, grouped (no pages)

# Channels a citizen may reach through a public link; kiosks and paper are entered otherwise.
PUBLIC_CHANNELS = ("qr", "web")
PAGE_SIZE = 100       # units per page of the picker (a city after the 2025 reform has 168 wards)


@bp.after_request
def no_store(response):
    # A back navigation must never show the previous person's answers.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def index():
    """The unit picker: natural Vietnamese order, an accent-insensitive filter (``?q=``), pages of PAGE_SIZE."""
    query = " ".join(request.args.get("q", "")[:100].split())
    db = get_db()
    rows = picker_rows(leaf_units(db), language(), query)
    # Without a search and with a crosswalk, every unit at once, grouped by former district
    # (168 wards under 38 headings); otherwise the plain list in pages.
    groups = picker_groups(db, rows) if not query else []
    if len(groups) > 1 and len(rows) <= GROUPED_MAX:
        return render_template("citizen/index.html", units=rows, groups=groups, query=query, total=len(rows),
                               page=1, pages=1, page_url=lambda n: url_for("citizen.index"),
                               total_text=number(len(rows)))
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = request.args.get("page", "1")
    page = min(max(whole_number(page, digits=5) or 1, 1), pages)

    def page_url(n: int) -> str:
        return url_for("citizen.index", q=query or None, page=n if n > 1 else None)

    return render_template("citizen/index.html", units=rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE],
                           query=query, total=len(rows), page=page, pages=pages, page_url=page_url,
                           total_text=number(len(rows)), groups=[])


def number(n: int) -> str:
    """A count as the page's language writes it (3.000 in Vietnamese, 3,000 in English)."""
    text = f"{n:,}"
    return text.replace(",", ".") if language() == "vi" else text


def picker_groups(db, units: list[dict]) -> list[dict]:
    """Today's units grouped for the picker: by the former district they took their area from
    (the crosswalk), else by parent (province, city). One group: no headings needed."""
    former = {r["new_unit_id"]: r for r in db.query(
        "SELECT new_unit_id, old_slug, old_name_vi, old_name_en FROM unit_crosswalk WHERE main = 1")}
    groups: dict[str, dict] = {}
    for u in units:
        link = former.get(u["id"])
        if link is not None:
            key, name = "former:" + link["old_slug"], {"vi": link["old_name_vi"], "en": link["old_name_en"]}
            label = t("index.former_area", name=tr(name))
        elif u["parent_slug"]:
            key, label = "parent:" + u["parent_slug"], u["parent_name_en"] if language() == "en" else u["parent_name_vi"]
        else:
            key, label = "other", t("index.other_units")
        group = groups.setdefault(key, {"id": "g-" + unit_store.slugify(key), "label": label, "units": []})
        group["units"].append(u)
    return list(groups.values())


def channel_of(req) -> tuple[str, int | None]:
    """``(channel, kiosk id)`` of a request: ``?ch=web`` from the unit picker, else ``qr``: the plain
    ``/u/<slug>`` link is what the counter's QR code holds (see survey/labels.py for the names)."""
    ch = req.args.get("ch", "qr")
    if ch not in PUBLIC_CHANNELS:
        raise refuse(BadRequest, t("bad.channel", name=ch[:20]))
    return ch, None


def form_url(slug: str, channel: str) -> str:
    return url_for("citizen.questionnaire", slug=slug, ch=None if channel == "qr" else channel)


def _unit(slug: str) -> dict:
    db = get_db()
    unit = leaf_by_slug(db, slug)
    if unit is not None:
        return unit
    known = unit_store.by_slug(db, slug)
    if known is not None and known["valid_to"] and known["valid_to"] < unit_store.local_today(db).isoformat():
        raise UnitGone(known, unit_store.successors(db, slug))
    exc = refuse(NotFound, t("page.404_unit", slug=slug[:60]))
    exc.unit_slug = slug
    raise exc


class UnitGone(Gone):
    """An old link (a poster's QR code) to a unit that no longer exists: say so and link its successors."""

    def __init__(self, unit: dict, successors: list[dict]):
        super().__init__()
        self.unit, self.successors = unit, successors


@bp.errorhandler(UnitGone)
def unit_gone(exc: UnitGone):
    from datetime import date, timedelta

    ended = date.fromisoformat(exc.unit["valid_to"]) + timedelta(days=1)
    return render_template("citizen/gone.html", unit=exc.unit, since=ended,
                           main=[u for u in exc.successors if u["main"]],
                           partly=[u for u in exc.successors if not u["main"]],
                           nothing_saved=request.method == "POST"), 410


def _current_questionnaire() -> Questionnaire:
    q = catalog.latest(get_db(), current_app.config["DEFAULT_QUESTIONNAIRE"])
    if q is None:  # the operator has not run init-db: not the client's fault
        raise ServiceUnavailable()
    return q


@bp.route("/u/<slug>", methods=["GET", "POST"])
def questionnaire(slug: str):
    unit = _unit(slug)
    channel, kiosk_id = channel_of(request)
    again = form_url(slug, channel)
    q = _current_questionnaire()
    Form = form_class(q)

    if request.method in ("GET", "HEAD"):
        integrity.ensure_cookie()      # the first-party value the client key hashes
        submission_id, ticket = new_submission()
        hidden = {"questionnaire_id": q.id, "version": str(q.version), "submission_id": submission_id,
                  "started": ticket}
        if _steps_key(q, paged=True) in _steps_cache():
            form = FreshForm(hidden)
        else:                           # the first page in this language: the questions are rendered from it
            form = Form(formdata=None, data=hidden)
        return _render_form(form, q, unit, channel, status=200)

    repeated = repeated_field(request.form)
    if repeated:
        raise refuse(BadRequest, t("bad.repeated_field", name=repeated), again=again)
    submission_id = request.form.get("submission_id")
    if not valid_submission_id(submission_id):
        raise refuse(BadRequest, t("bad.damaged", name="submission_id"), again=again)
    started = started_at(request.form.get("started"), submission_id)
    if started is None:
        raise refuse(BadRequest, t("bad.damaged", name="started"), again=again)
    db = get_db()
    if responses.exists(db, submission_id):  # double tap, browser retry, back and resubmit
        return redirect(url_for("citizen.thanks", submission_id=submission_id), code=303)
    posted_id, posted_version = request.form.get("questionnaire_id", ""), request.form.get("version", "")
    version_number = whole_number(posted_version)
    if version_number is None or catalog.version(db, posted_id, version_number) is None:
        raise refuse(BadRequest, t("bad.unknown_questionnaire", name=f"{posted_id[:40]} v{posted_version[:10]}"),
                     again=again)
    if (posted_id, version_number) != (q.id, q.version):
        raise refuse(Conflict, t("page.409_body"), again=again)
    unknown = unknown_field(request.form, q)
    if unknown:
        raise refuse(BadRequest, t("bad.unknown_field", name=unknown), again=again)

    form = Form()
    if not form.validate():
        if "csrf_token" in form.errors:
            # A lost or stale session cookie (a restart with a new key, a phone that dropped the
            # cookie): keep the answers, give a fresh token, and ask to send again.
            form.csrf_token.errors = []
            notice = t("form.renewed", button=t("form.submit"))
            if not form.errors:
                return _render_form(form, q, unit, channel, status=200, notice=notice)
            return _render_form(form, q, unit, channel, status=422, notice=notice)
        return _render_form(form, q, unit, channel, status=422)
    now = integrity.now()
    keys = integrity.request_keys(db, now)
    response = responses.Response(
        uuid=submission_id, questionnaire_id=q.id, questionnaire_version=q.version, unit_id=unit["id"],
        channel=channel, kiosk_id=kiosk_id, lang=language(), started_at=responses.utc_timestamp(started),
        submitted_at=responses.utc_timestamp(now), answers=responses.encode_answers(q.criterion_codes, form.answer_values()),
        respondent=form.respondent_values(), comment=form.comment_value())
    try:
        # False: the same id won a race just now; same thank-you either way
        integrity.save(db, response, responses.save, received=now, served=started, keys=keys,
                       rules=integrity.rules_from_config(current_app.config),
                       limits=integrity.limits_from_config(current_app.config))
    except integrity.OverLimit as refused:      # nothing stored: the form comes back with its answers
        return too_many(refused.wait, lambda notice: _render_form(form, q, unit, channel, status=429, notice=notice))
    except sqlite3.OperationalError:
        return write_failed(lambda notice: _render_form(form, q, unit, channel, status=503, notice=notice))
    return redirect(url_for("citizen.thanks", submission_id=submission_id), code=303)


def too_many(wait_seconds: int, render):
    """The form again with its answers, a 429 and a polite message in the citizen's language, when this
    connection sent more than its limit (survey/integrity.py): nothing was stored; sending again later works."""
    minutes = max(1, -(-int(wait_seconds) // 60))
    response = current_app.make_response(render(t("limit.too_many", minutes=minutes)))
    response.headers["Retry-After"] = str(int(wait_seconds))
    return response


def write_failed(render):
    """The form again with its answers, a 503 and a plain message, when the database could not store
    a response (disk full, I/O error, locked too long); its transaction was rolled back whole."""
    current_app.logger.exception("could not store a response")
    response = current_app.make_response(render(t("form.not_stored")))
    response.headers["Retry-After"] = "30"
    return response


def _render_form(form, q: Questionnaire, unit: dict, channel: str, status: int, notice: str | None = None):
    return render_form(form, q, unit, action=form_url(unit["slug"], channel), status=status, notice=notice)


def render_form(form, q: Questionnaire, unit: dict, *, action: str, status: int,
                template: str = "citizen/form.html", **context):
    """The questionnaire page for ``form``; the kiosk passes its own ``template`` (extending ours) and context."""
    errors = [(name, message) for name, messages in form.errors.items() for message in messages
              if name not in ("csrf_token",)]
    numbers, short_names = _names(q)
    context.setdefault("paged", True)
    context.setdefault("notice", None)
    values = dict(form=form, q=q, unit=unit, action=action, short_names=short_names,
                  errors=errors, numbers=numbers, NOT_APPLICABLE=NOT_APPLICABLE,
                  comment_max=comment_max_length(q), comment_text=_comment_text(q),
                  required_about=sum(1 for r in q.respondent if r.required),
                  scale=[(v, tr(_label(q, v))) for v in range(q.scale.min, q.scale.max + 1)], **context)
    return render_template(template, steps_html=_pristine_steps(form, q, values), **values), status


def _names(q: Questionnaire) -> tuple[dict[str, int], dict[str, str]]:
    """Each criterion's number, and each field's short name for error lines, in the page's language:
    the same for every citizen, so worked out once per questionnaire version and language."""
    cache = current_app.extensions.setdefault("survey.short_names", {})
    key = (q.id, q.version, language())
    names = cache.get(key)
    if names is None:
        numbers = {c.code: n for n, c in enumerate(q.criteria, start=1)}
        short_names = {c.code: t("form.question", n=n) for c, n in zip(q.criteria, numbers.values())}
        short_names.update({r.code: tr(r.text) for r in q.respondent})
        short_names["comment"] = t("form.comment_short")
        names = cache[key] = (numbers, short_names)
    return names


class FreshForm:
    """A fresh form once its questions are cached: all the page still needs of it is its hidden fields
    (rendered exactly as wtforms renders them, CSRF token last) and no errors. Building the
    39-field wtforms form only to print five hidden inputs was a fifth of a GET's CPU time."""

    errors: dict = {}

    def __init__(self, hidden: dict[str, str]):
        from flask_wtf.csrf import generate_csrf

        self.hidden = dict(hidden)
        if current_app.config.get("WTF_CSRF_ENABLED", True):      # as flask-wtf's form decides
            self.hidden["csrf_token"] = generate_csrf()

    def hidden_tag(self) -> Markup:
        return Markup("\n".join(f'<input id="{name}" name="{name}" type="hidden" value="{escape(value)}">'
                                 for name, value in self.hidden.items()))


def _steps_cache() -> dict:
    return current_app.extensions.setdefault("survey.pristine_steps", {})


def _steps_key(q: Questionnaire, paged: bool) -> tuple:
    return (q.id, q.version, language(), bool(paged))


def _pristine_steps(form, q: Questionnaire, values: dict) -> Markup | None:
    """The questions of an unanswered, error-free form: the same HTML for everyone in a language, so
    rendered once per questionnaire version, language and layout (the profile's largest cost of a GET)."""
    cache, key = _steps_cache(), _steps_key(q, values.get("paged"))
    if isinstance(form, FreshForm):
        return cache[key]
    if form.errors or any(form[name].data for name in field_names(q) - set(HIDDEN_FIELDS)):
        return None
    html = cache.get(key)
    if html is None:
        html = cache[key] = Markup(render_template("citizen/_steps.html", **values))
    return html


def _label(q: Questionnaire, value: int):
    labels = q.scale.labels
    return labels.get(value) or labels.get(str(value))


def _comment_text(q: Questionnaire) -> str:
    """The comment's question without an "(optional)" of its own: the page adds that marker once."""
    comment = q.comment
    text = tr(comment.get("text") if hasattr(comment, "get") else comment.text).rstrip()
    marker = f"({t('form.optional')})"
    if text.casefold().endswith(marker.casefold()):
        text = text[:-len(marker)].rstrip()
    return text


@bp.get("/thanks/<submission_id>")
def thanks(submission_id: str):
    stored = responses.find(get_db(), submission_id) if valid_submission_id(submission_id) else None
    if stored is None:  # only a committed response ever gets a thank-you
        raise NotFound()
    unit = by_id(get_db(), stored["unit_id"])
    channel = stored["channel"] if stored["channel"] in PUBLIC_CHANNELS else "qr"
    return render_template("citizen/thanks.html", unit=unit, again=form_url(unit["slug"], channel))
