"""Monitoring pages: the live dashboard, comments, flagged responses and exclusion."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import integrity
from .. import responses as response_store
from ..db import get_db
from ..labels import N_
from ..numbers import whole_number
from . import bp, monitor, periods, queries, targets
from .auth import automatic, current_user, error_page, is_local_path, login_required


@dataclass(frozen=True)
class _Request:
    """What a filtered staff page works from: the database, the period and unit filters, the monitoring
    rules and their warnings, and for a listing its page number and choices."""
    db: Any
    filters: monitor.Filters
    rules: Any
    warnings: list
    page: int = 1
    choice: dict = field(default_factory=dict)


def _filtered(*, listing: bool = False, **choices: tuple[tuple[str, ...], str]):
    """Decorate a view filtered by period and unit (``from``, ``to``, ``unit``); a listing also reads
    ``page`` and each choice ``name=(allowed values, field label msgid)``. The view gets a
    :class:`_Request` first; filters that cannot be used get the 400 page naming each problem."""
    def wrap(view):
        @functools.wraps(view)
        def run(*args, **kwargs):
            db = get_db()
            rules, warnings = monitor.effective_rules(db, current_app.config)
            today = periods.local_now(rules.utc_offset_minutes).date()
            try:
                filters = monitor.parse_filters(db, request.args, targets.fieldwork_period(db, today))
                page = monitor.parse_page(request.args) if listing else 1
                picked = {name: monitor.parse_choice(request.args, name, allowed, _(label))
                          for name, (allowed, label) in choices.items()}
            except monitor.FilterError as exc:
                return error_page(400, _("Check the filters"), exc.problems, back=request.path)
            return view(_Request(db, filters, rules, warnings, page, picked), *args, **kwargs)
        return run
    return wrap


# Beyond this many units (the whole country's 3,321 communes) the filter menu lists the provinces and
# the unit selected; a commune is found with the dashboard's unit search, whose rows link to it.
MENU_UNITS = 400


def _units_menu(db, filters=None):
    unit = filters.unit if filters is not None else None
    return queries.unit_choices(db, most=MENU_UNITS, keep=unit["slug"] if unit else None)


@bp.route("/")
@login_required("staff")
@_filtered()
def dashboard(ctx: _Request):
    db, filters, rules, warnings = ctx.db, ctx.filters, ctx.rules, ctx.warnings
    board = monitor.build(db, filters, current_app.config, rules, warnings, **_unit_table_args())
    return render_template("staff/dashboard.html", board=board, filters=filters, units_menu=_units_menu(db, filters),
                           fieldwork=targets.fieldwork(db),
                           refresh_seconds=int(current_app.config["STAFF_REFRESH_SECONDS"]))


@bp.route("/dashboard/live")
@automatic
@login_required("staff")
@_filtered()
def dashboard_live(ctx: _Request):
    """The dashboard's figures as an HTML fragment, fetched by dashboard.js to refresh the page."""
    db, filters, rules, warnings = ctx.db, ctx.filters, ctx.rules, ctx.warnings
    board = monitor.build(db, filters, current_app.config, rules, warnings, **_unit_table_args())
    return render_template("staff/_dashboard.html", board=board, filters=filters)


def _unit_table_args() -> dict:
    """The unit table's page (``units_page``) and search (``unit_q``), the kiosk table's page
    (``kiosks_page``); a bad page number means page 1."""
    def page(name: str) -> int:
        return whole_number(request.args.get(name, "1").strip(), digits=6) or 1

    return {"units_page": page("units_page"), "kiosks_page": page("kiosks_page"),
            "unit_q": request.args.get("unit_q", "").strip()[:80]}


@bp.route("/former")
@login_required("staff")
@_filtered()
def former(ctx: _Request):
    """New units grouped by the former unit they took their area from, with this period's responses."""
    db, filters, rules = ctx.db, ctx.filters, ctx.rules
    groups = queries.former_groups(db, filters.period, rules.utc_offset_minutes)
    return render_template("staff/former.html", groups=groups, filters=filters, units_menu=_units_menu(db, filters))


@bp.route("/comments")
@login_required("staff")
@_filtered(listing=True, state=(queries.COMMENT_STATES, N_("Show")))
def comments(ctx: _Request):
    db, filters, rules, page, state = ctx.db, ctx.filters, ctx.rules, ctx.page, ctx.choice["state"]
    search = request.args.get("q", "").strip()[:200]
    try:
        if search:
            queries.search_expression(search)
    except ValueError as exc:
        return error_page(400, _("Check the filters"), [str(exc)], back=request.path)
    total, rows = queries.comments(db, period=filters.period, offset_minutes=rules.utc_offset_minutes,
                                   scope=filters.scope, search=search or None, state=state,
                                   limit=monitor.PAGE_SIZE, offset=(page - 1) * monitor.PAGE_SIZE)
    for row in rows:
        row["local"] = periods.utc_to_local(row["submitted_at"], rules.utc_offset_minutes)
    return render_template("staff/comments.html", filters=filters, rows=rows, total=total, page=page,
                           pages=_pages(total), state=state, search=search, units_menu=_units_menu(db, filters))


@bp.route("/comments/<int:response_id>/handled", methods=["POST"])
@login_required("staff")
def comment_handled(response_id: int):
    handled = request.form.get("handled") == "1"
    if not queries.set_comment_handled(get_db(), response_id, handled, by=current_user().username):
        return error_page(404, _("No such comment"), [_("Response %(id)s does not exist or has no comment.", id=response_id)],
                          back=url_for("staff.comments"))
    flash(_("Comment %(id)s marked handled.", id=response_id) if handled
          else _("Comment %(id)s marked not handled.", id=response_id))
    return redirect(_back(url_for("staff.comments")))


@bp.route("/quality")
@login_required("staff")
@_filtered(listing=True, kind=(queries.FLAG_KINDS, N_("Flag")), state=(queries.EXCLUSION_STATES, N_("Show")))
def quality(ctx: _Request):
    db, filters, rules, warnings, page = ctx.db, ctx.filters, ctx.rules, ctx.warnings, ctx.page
    kind, state = ctx.choice["kind"], ctx.choice["state"]
    limits = queries.speeder_limits(db, float(current_app.config["QUALITY_SPEEDER_RATIO"]))
    total, rows = queries.flagged_responses(db, kind=kind, state=state, period=filters.period,
                                            offset_minutes=rules.utc_offset_minutes, scope=filters.scope,
                                            limits=limits, limit=monitor.PAGE_SIZE,
                                            offset=(page - 1) * monitor.PAGE_SIZE)
    for row in rows:
        row["local"] = periods.utc_to_local(row["submitted_at"], rules.utc_offset_minutes)
    return render_template("staff/quality.html", filters=filters, rows=rows, total=total, page=page,
                           pages=_pages(total), kind=kind, state=state, limits=limits, rules=rules,
                           warnings=warnings, units_menu=_units_menu(db, filters),
                           ratio=float(current_app.config["QUALITY_SPEEDER_RATIO"]))


@bp.route("/responses/<int:response_id>")
@login_required("staff")
def response_detail(response_id: int):
    db = get_db()
    rules, _warnings = monitor.effective_rules(db, current_app.config)
    limits = queries.speeder_limits(db, float(current_app.config["QUALITY_SPEEDER_RATIO"]))
    row = queries.response(db, response_id, limits)
    if row is None:
        return error_page(404, _("No such response"), [_("There is no response with id %(id)s.", id=response_id)],
                          back=url_for("staff.quality"))
    definition = queries.questionnaire_definition(db, row["questionnaire_id"], row["questionnaire_version"])
    criteria = [c.get("code") for c in (definition or {}).get("criteria", [])]
    answers = list(zip(criteria, row["answers"])) if len(criteria) == len(row["answers"]) else []
    offset = rules.utc_offset_minutes
    history = queries.exclusion_history(db, response_id)
    for h in history:
        h["local"] = periods.utc_to_local(h["acted_at"], offset)
    origin = integrity.origin_of(db, response_id)
    if origin:
        origin["received_local"] = periods.utc_to_local(origin["received_at"], offset)
        origin["served_local"] = periods.utc_to_local(origin["served_at"], offset)
    review = integrity.review_log(db, response_id)
    for h in review:
        h["local"] = periods.utc_to_local(h["acted_at"], offset)
    return render_template("staff/response.html", r=row, answers=answers, history=history,
                           origin=origin, review=review, labels=integrity.REASON_LABELS,
                           submitted_local=periods.utc_to_local(row["submitted_at"], offset),
                           excluded_local=periods.utc_to_local(row["excluded_at"], offset),
                           limits={(lim.questionnaire_id, lim.questionnaire_version, lim.channel): lim
                                   for lim in limits})


@bp.route("/responses/<int:response_id>/exclusion", methods=["POST"])
@login_required("staff")
def response_exclusion(response_id: int):
    db = get_db()
    action = request.form.get("action", "")
    reason = " ".join(request.form.get("reason", "").split())[:300]
    back = _back(url_for("staff.response_detail", response_id=response_id))
    if action not in ("exclude", "restore"):
        return error_page(400, _("Unknown action"), [_("Action “%(action)s” is not exclude or restore.", action=action)],
                          back=back)
    if db.execute("SELECT 1 FROM responses WHERE id = ?", [response_id]).fetchone() is None:
        return error_page(404, _("No such response"), [_("There is no response with id %(id)s.", id=response_id)], back=back)
    user = current_user().username
    if action == "exclude":
        if not reason:
            return error_page(400, _("Give a reason"), [_("Reason: say why the response is excluded "
                                                          "(e.g. “straight-lining”, “test submission”).")], back=back)
        changed = response_store.exclude(db, response_id, by=user, reason=reason)
        flash(_("Response %(id)s excluded from analysis.", id=response_id) if changed
              else _("Response %(id)s was already excluded.", id=response_id))
    else:
        changed = response_store.restore(db, response_id, by=user, reason=reason or None)
        flash(_("Response %(id)s counts again.", id=response_id) if changed
              else _("Response %(id)s was not excluded.", id=response_id))
    return redirect(back)


def _pages(total: int) -> int:
    return max(1, -(-total // monitor.PAGE_SIZE))


def _back(default: str) -> str:
    """Where a form came from (a local path given in the form's 'back' field), else ``default``."""
    target = request.form.get("back", "")
    return target if is_local_path(target) else default
