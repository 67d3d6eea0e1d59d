"""The review of held responses (``/staff/held``): responses the integrity checks flagged.

Held responses are kept and left out of the published index until a staff
member accepts them (they count again) or excludes them (as on the quality
page); either can be undone, and every decision is logged
(``integrity_review_log``). See survey/integrity.py and docs/integrity.md.
"""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..i18n import plural as ngettext

from .. import integrity
from ..db import get_db
from ..labels import N_
from . import bp, monitor, periods
from .auth import current_user, error_page, login_required
from .dashboard import _back, _filtered, _pages, _Request, _units_menu

REASON_CHOICES = ("any", *integrity.REASONS)


@bp.route("/held", endpoint="integrity")
@login_required("staff")
@_filtered(listing=True, reason=(REASON_CHOICES, N_("Reason")), state=(integrity.STATES, N_("Show")))
def integrity_page(ctx: _Request):
    db, filters, rules, warnings, page = ctx.db, ctx.filters, ctx.rules, ctx.warnings, ctx.page
    reason, state = ctx.choice["reason"], ctx.choice["state"]
    first, last = filters.period.start.isoformat(), filters.period.end.isoformat()
    counts = integrity.counts(db, first, last, filters.scope)
    total, rows = integrity.held_page(db, state=state, reason=reason, first=first, last=last, scope=filters.scope,
                                      limit=monitor.PAGE_SIZE, offset=(page - 1) * monitor.PAGE_SIZE, count=counts)
    for row in rows:
        row["local"] = periods.utc_to_local(row["received_at"], rules.utc_offset_minutes)
        row["served_local"] = periods.utc_to_local(row["served_at"], rules.utc_offset_minutes)
    return render_template("staff/held.html", filters=filters, rows=rows, total=total, page=page,
                           pages=_pages(total), reason=reason, state=state, counts=counts,
                           labels=integrity.REASON_LABELS, reasons=integrity.REASONS,
                           rules=integrity.rules_from_config(current_app.config),
                           warnings=warnings, units_menu=_units_menu(db, filters))


@bp.route("/held/review", methods=["POST"])
@login_required("staff")
def integrity_review():
    back = _back(url_for("staff.integrity"))
    action = request.form.get("action", "")
    note = " ".join(request.form.get("note", "").split())[:300] or None
    if action not in integrity.ACTIONS:
        return error_page(400, _("Unknown action"), [_("“%(action)s” is not one of accept, exclude or hold.",
                                                         action=action[:20])], back=back)
    ids = []
    for value in request.form.getlist("ids"):
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            return error_page(400, _("Not a response"), [_("“%(value)s” is not a response number.", value=value[:20])],
                              back=back)
        ids.append(int(value))
    if not ids:
        return error_page(400, _("Choose responses"), [_("Tick at least one response to accept, exclude or hold.")],
                          back=back)
    if action == "exclude" and not note:
        note = None   # the flag reasons are recorded as the exclusion reason
    changed = integrity.review(get_db(), ids, action, by=current_user().username, note=note)
    if not changed:
        flash(_("Nothing changed: the responses were already in that state."))
    elif action == "accept":
        flash(ngettext("%(num)s response accepted: it counts in the index.",
                       "%(num)s responses accepted: they count in the index.", changed))
    elif action == "exclude":
        flash(ngettext("%(num)s response excluded from analysis.", "%(num)s responses excluded from analysis.",
                       changed))
    else:
        flash(ngettext("%(num)s response held again.", "%(num)s responses held again.", changed))
    return redirect(back, code=303)
