"""Admin pages: users, the fieldwork period, sample targets per unit, kiosks."""
from __future__ import annotations

import math

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import units as unit_store
from ..db import get_db
from ..numbers import whole_number
from ..web import no_public_address, public_base_url
from ..kiosk import kiosks as kiosk_store
from ..kiosk.kiosks import KioskError
from .. import labels
from ..i18n import local_date, period_label, unit_name, plural as ngettext
from . import bp, monitor, periods, queries, targets, users
from .auth import current_user, error_page, login_required
from ..db import write_transaction

CALCULATOR_DEFAULTS = {"half_width": "5", "confidence": "95", "share": "80", "deff": "1.5", "fpc": "1"}


# --- Users -----------------------------------------------------------------------------------

@bp.route("/admin/users", methods=["GET", "POST"])
@login_required("admin")
def admin_users():
    db = get_db()
    error = None
    form = {"username": "", "role": "staff"}
    if request.method == "POST":
        form = {"username": request.form.get("username", "").strip(), "role": request.form.get("role", "")}
        password = request.form.get("password", "")
        if password != request.form.get("confirm_password", ""):
            error = _("The password and its confirmation differ.")
        else:
            try:
                users.create(db, form["username"], password, form["role"], by=current_user().username)
            except users.UserError as exc:
                error = str(exc)
            else:
                flash(_("User %(user)s created with the role %(role)s.", user=form["username"],
                        role=labels.label("role", form["role"])))
                return redirect(url_for("staff.admin_users"))
    rows = users.all_users(db)
    for row in rows:
        row["locked_seconds"] = users.lock_remaining(db, row["username"]) if row["locked_until"] else 0
    return render_template("staff/admin_users.html", users=rows, roles=users.ROLES, role_help=lambda r: _(users.ROLE_HELP[r]),
                           error=error, form=form), (400 if error else 200)


@bp.route("/admin/users/<int:user_id>", methods=["POST"])
@login_required("admin")
def admin_user_change(user_id: int):
    db = get_db()
    target = users.get(db, user_id)
    if target is None:
        return error_page(404, _("No such user"), [_("There is no user with id %(id)s.", id=user_id)],
                          back=url_for("staff.admin_users"))
    action = request.form.get("action", "")
    acting = current_user()
    try:
        if action == "role":
            users.set_role(db, user_id, request.form.get("role", ""), acting=acting)
            message = _("%(user)s now has the role %(role)s.", user=target.username,
                        role=labels.label("role", request.form.get("role")))
        elif action in ("disable", "enable"):
            users.set_disabled(db, user_id, action == "disable", acting=acting)
            message = (_("%(user)s is disabled.", user=target.username) if action == "disable"
                       else _("%(user)s is enabled.", user=target.username))
        elif action == "unlock":
            users.unlock(db, target.username)
            message = _("%(user)s can sign in again.", user=target.username)
        elif action == "password":
            users.set_password(db, target.username, request.form.get("password", ""))
            message = _("%(user)s has a new password; their sessions are signed out.", user=target.username)
        else:
            raise users.UserError(_("Action “%(action)s” is not one of role, disable, enable, unlock, password.",
                                    action=action))
    except users.UserError as exc:
        return error_page(400, _("Cannot change the user"), [str(exc)], back=url_for("staff.admin_users"))
    flash(message)
    return redirect(url_for("staff.admin_users"))


# --- Fieldwork period and targets ------------------------------------------------------------

def _number(form, name: str, label: str, problems: list[str]) -> float | None:
    text = form.get(name, "").strip().replace(",", ".")
    try:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError
        return value
    except ValueError:
        problems.append(_("%(field)s: “%(text)s” is not a number.", field=label, text=text))
        return None


def _calculator(form) -> tuple[dict, list[str], dict | None]:
    """(inputs, problems, {'size': SampleSize without population, 'fpc': bool}) from a calculator form."""
    inputs = {k: form.get(k, v) for k, v in CALCULATOR_DEFAULTS.items()}
    if "calculate" in form:
        inputs["fpc"] = form.get("fpc", "")
    problems: list[str] = []
    values = {name: _number(inputs, name, label, problems) for name, label in
              (("half_width", _("± points")), ("confidence", _("Confidence %")), ("share", _("Assumed share %")),
               ("deff", _("Design effect")))}
    if problems:
        return inputs, problems, None
    try:
        size = targets.sample_size(half_width_points=values["half_width"], confidence_percent=values["confidence"],
                                   share_percent=values["share"], design_effect=values["deff"])
    except ValueError as exc:
        return inputs, [str(exc)], None
    return inputs, [], {"size": size, "fpc": inputs["fpc"] == "1", "values": values}


def _unit_sizes(units: list[dict], calc: dict) -> dict[int, targets.SampleSize]:
    v = calc["values"]
    return {u["id"]: targets.sample_size(half_width_points=v["half_width"], confidence_percent=v["confidence"],
                                         share_percent=v["share"], design_effect=v["deff"],
                                         population=(u["population"] or None) if calc["fpc"] else None) for u in units}


@bp.route("/admin/targets")
@login_required("admin")
def admin_targets():
    db = get_db()
    rules, _warnings = monitor.effective_rules(db, current_app.config)
    today = periods.local_now(rules.utc_offset_minutes).date()
    period = targets.fieldwork_period(db, today)
    every = queries.reporting_units(db, None, period)        # the units valid in the fieldwork period
    listing = unit_store.page_of(every, request.args.get("unit_q", ""), unit_store.page_number(request.args.get("units_page")))
    units = listing.units
    inputs, problems, calc = _calculator(request.args)
    sizes = _unit_sizes(units, calc) if calc else {}
    current = targets.all_targets(db)
    for row in current.values():
        row["method_text"] = targets.describe_method(row["method"])
        row["set_local"] = periods.utc_to_local(row["set_at"], rules.utc_offset_minutes)
    return render_template("staff/admin_targets.html", units=units, listing=listing, all_units=len(every),
                           current=current, inputs=inputs,
                           problems=problems, calc=calc, sizes=sizes, formula=targets.formula(),
                           fieldwork=targets.fieldwork(db), period=targets.fieldwork_period(db, today),
                           quarter=periods.quarter(today)), (400 if problems else 200)


@bp.route("/admin/targets", methods=["POST"])
@login_required("admin")
def admin_targets_save():
    db = get_db()
    units = {u["id"]: u for u in queries.reporting_units(db, None)}
    current = targets.all_targets(db)
    problems, changes = [], []
    for unit_id, unit in units.items():
        text = request.form.get(f"target-{unit_id}")
        if text is None:
            continue
        text = text.strip().replace(",", "").replace(" ", "")
        old = current.get(unit_id, {}).get("target")
        if text == "":
            if old is not None:
                changes.append((unit_id, None))
            continue
        number = whole_number(text, digits=8)
        if number is None or not 1 <= number <= 10_000_000:
            problems.append(_("Target of %(unit)s: “%(text)s” is not a whole number from 1 to 10,000,000.",
                               unit=unit_name(unit), text=text[:20]))
        elif number != old:
            changes.append((unit_id, number))
    if problems:
        return error_page(400, _("Targets not saved"), problems + [_("Nothing was changed.")],
                          back=url_for("staff.admin_targets"))
    by = current_user().username
    with write_transaction(db):
        for unit_id, value in changes:
            if value is None:
                targets.clear_target(db, unit_id)
            else:
                targets.set_target(db, unit_id, value, method="manual", by=by)
    flash(ngettext("%(num)s target changed.", "%(num)s targets changed.", len(changes)) if changes
          else _("No target changed."))
    return redirect(url_for("staff.admin_targets"))


@bp.route("/admin/targets/calculated", methods=["POST"])
@login_required("admin")
def admin_targets_apply():
    db = get_db()
    inputs, problems, calc = _calculator(request.form)
    rules, _warnings = monitor.effective_rules(db, current_app.config)
    period = targets.fieldwork_period(db, periods.local_now(rules.utc_offset_minutes).date())
    units = queries.reporting_units(db, None, period)
    scope = request.form.get("unit", "").strip()
    if scope:
        units = [u for u in units if u["slug"] == scope]
        if not units:
            problems.append(_("Unit: “%(slug)s” is not a reporting unit.", slug=scope))
    if problems:
        return error_page(400, _("Targets not calculated"), problems, back=url_for("staff.admin_targets"))
    by = current_user().username
    sizes = _unit_sizes(units, calc)
    with write_transaction(db):
        for unit in units:
            size = sizes[unit["id"]]
            targets.set_target(db, unit["id"], size.n, method=targets.ci_method(size), by=by)
    flash(ngettext("The target of %(num)s unit was set from the confidence-interval calculator.",
                   "The targets of %(num)s units were set from the confidence-interval calculator.", len(units)))
    return redirect(url_for("staff.admin_targets"))


@bp.route("/admin/fieldwork", methods=["POST"])
@login_required("admin")
def admin_fieldwork():
    db = get_db()
    back = url_for("staff.admin_targets")
    if request.form.get("action") == "clear":
        targets.clear_fieldwork(db)
        flash(_("The fieldwork period is now the current calendar quarter."))
        return redirect(back)
    problems = []
    dates = {}
    for name in ("from", "to"):
        try:
            dates[name] = periods.parse_date(request.form.get(name, ""), name)
        except ValueError as exc:
            problems.append(str(exc))
    if not problems and dates["to"] < dates["from"]:
        problems.append(_("The end of the period (%(end)s) is before its start (%(start)s).",
                          end=local_date(dates["to"]), start=local_date(dates["from"])))
    if problems:
        return error_page(400, _("Fieldwork period not saved"), problems, back=back)
    period = periods.Period(dates["from"], dates["to"])
    targets.set_fieldwork(db, period, by=current_user().username)
    flash(_("Fieldwork period set to %(period)s.", period=period_label(period)))
    return redirect(back)


# --- Kiosks ----------------------------------------------------------------------------------
# Registration and revocation are the kiosk module's (survey.kiosk.kiosks), as in
# its CLI; these pages only put a form in front of them.

def _kiosk_page(db, *, created: dict | None = None, error: str | None = None, form: dict | None = None):
    rules, _warnings = monitor.effective_rules(db, current_app.config)
    offset = rules.utc_offset_minutes
    today = periods.local_now(offset).date()
    rows = queries.kiosks(db, None, today.isoformat(), include_revoked=True)
    for k in rows:
        k["last_local"] = periods.utc_to_local(k["last_submission"], offset)
        k["created_local"] = periods.utc_to_local(k["created_at"], offset)
        k["revoked_local"] = periods.utc_to_local(k["revoked_at"], offset)
    labels = monitor.field_labels(queries.latest_definition(db, current_app.config["DEFAULT_QUESTIONNAIRE"]))
    page = render_template("staff/admin_kiosks.html", kiosks=rows, field_labels=labels, created=created,
                           error=error, form=form or {}, units=queries.reporting_units(db, None))
    return page, (400 if error else 200)


def _field(db, value: str) -> str | None:
    field = value.strip() or None
    labels = monitor.field_labels(queries.latest_definition(db, current_app.config["DEFAULT_QUESTIONNAIRE"]))
    if field is not None and labels and field not in labels:
        raise KioskError(_("Field “%(field)s” is not a field of procedure of the questionnaire (allowed: %(allowed)s).",
                           field=field, allowed=", ".join(labels)))
    return field


@bp.route("/admin/kiosks", methods=["GET", "POST"])
@login_required("admin")
def admin_kiosks():
    db = get_db()
    if request.method != "POST":      # GET and HEAD
        return _kiosk_page(db)
    form = {k: request.form.get(k, "") for k in ("unit", "name", "field")}
    base = public_base_url()        # checked before registering: a kiosk whose link cannot be shown is no use
    if base is None:
        return error_page(409, _("Set the public address first"), [no_public_address()],
                          back=url_for("staff.admin_kiosks"))
    try:
        kiosk, token = kiosk_store.register(db, form["unit"], form["name"].strip() or None, _field(db, form["field"]))
    except KioskError as exc:
        return _kiosk_page(db, error=str(exc), form=form)
    # The token is shown on this one page and stored nowhere (only its hash is kept).
    host = kiosk_store.unreachable_host(base)
    warning = _("This address points to %(host)s, which a tablet elsewhere cannot reach. Set PUBLIC_BASE_URL "
                "to the address the tablets reach the server at (instance/config.py or SURVEY_PUBLIC_BASE_URL), "
                "revoke this kiosk and add it again.", host=host) if host else None
    return _kiosk_page(db, created={"name": kiosk.name, "unit": kiosk.unit_slug,
                                    "url": kiosk_store.device_url(base, token), "warning": warning})


@bp.route("/admin/kiosks/<int:kiosk_id>", methods=["POST"])
@login_required("admin")
def admin_kiosk_change(kiosk_id: int):
    db = get_db()
    back = url_for("staff.admin_kiosks")
    kiosk = queries.kiosk(db, kiosk_id)
    if kiosk is None:
        return error_page(404, _("No such kiosk"), [_("There is no kiosk with id %(id)s.", id=kiosk_id)], back=back)
    action = request.form.get("action", "")
    try:
        if action == "save":
            name = " ".join(request.form.get("name", "").split())
            if not 1 <= len(name) <= 80:
                raise KioskError(_("Name: give the kiosk a name of 1 to 80 characters."))
            clash = queries.kiosk_named(db, kiosk["unit_id"], name)
            if clash is not None and clash != kiosk_id:
                raise KioskError(_("Name: the unit already has an active kiosk named “%(name)s” (id %(id)s).",
                                   name=name, id=clash))
            queries.update_kiosk(db, kiosk_id, name=name, field=_field(db, request.form.get("field", "")))
            flash(_("Kiosk %(name)s saved.", name=name))
        elif action == "revoke":
            kiosk_store.revoke(db, kiosk_id)
            flash(_("Kiosk %(name)s revoked: its address no longer works and it is never “silent”. "
                    "To put the tablet back in service, add a new kiosk.", name=kiosk["name"]))
        else:
            raise KioskError(_("Action “%(action)s” is not save or revoke.", action=action))
    except KioskError as exc:
        return error_page(400, _("Kiosk not changed"), [str(exc)], back=back)
    return redirect(back)
