"""The staff pages' language switch: one click, remembered with the staff member's account.

Before signing in the choice is kept in the session (and survives signing in);
afterwards it is stored in ``users.lang`` so it follows the person to any device.
"""
from __future__ import annotations

from flask import redirect, request, session, url_for

from ..db import get_db
from ..i18n import LANGUAGES
from . import bp, users
from .auth import csrf_failure, current_user, is_local_path, public


@bp.route("/language", methods=["POST"])
@public
def set_language():
    refusal = csrf_failure()
    if refusal is not None:
        return refusal
    lang = request.form.get("lang", "")
    back = request.form.get("back", "")
    if not is_local_path(back):
        back = url_for("staff.dashboard")
    if lang in LANGUAGES:
        session["staff_lang"] = lang
        user = current_user()
        if user is not None:
            users.set_language(get_db(), user.id, lang)
    return redirect(back)
