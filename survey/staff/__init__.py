"""Staff monitoring: sign-in, the live dashboard, data quality review, exports and admin pages.

Everything lives in one blueprint, ``staff`` (URLs under ``/staff/``), with its
own layout, static files (``static/staff/``) and CLI commands. ``init_app``
also installs the app-wide rule that every endpoint outside the citizen flow
needs a signed-in user with the right role (see ``auth``).
"""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("staff", __name__, url_prefix="/staff")


def init_app(app: Flask) -> None:
    from . import admin, auth, cli, dashboard, exports, held, language, reports, samples  # noqa: F401  (they add their routes to bp)

    app.register_blueprint(bp)
    auth.init_app(app)
    cli.init_app(app)
