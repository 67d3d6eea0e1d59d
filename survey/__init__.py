"""The SIPAS survey web application.

``create_app`` follows Flask's tutorial (flaskr): configuration is read in one
fixed order -- defaults, then ``instance/config.py`` (optional), then
``SURVEY_*`` environment variables, then the test configuration.
"""
from __future__ import annotations

import os

from flask import Flask

from . import settings


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    from .numbers import BoundedIntegerConverter

    app.url_map.converters["int"] = BoundedIntegerConverter   # ids beyond SQLite's range: 404, not 500
    app.config.from_mapping(settings.defaults())
    app.config["DATABASE"] = os.path.join(app.instance_path, "survey.sqlite3")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("SURVEY")
    if test_config is not None:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    from . import db, security

    security.init_app(app)
    db.init_app(app)

    from . import cli, i18n, web

    cli.init_app(app)
    i18n.init_app(app)
    web.init_app(app)

    from .citizen import bp as citizen_bp
    from .citizen import questionnaire

    # The questionnaire checks its CSRF token itself (FlaskForm) so that a lost or stale session
    # cookie gives the form back with its answers instead of an error page.
    web.csrf.exempt(questionnaire)
    app.register_blueprint(citizen_bp)

    from . import invitations
    from .invite import bp as invite_bp

    app.register_blueprint(invite_bp)
    invitations.install_log_filter()

    from . import kiosk

    kiosk.init_app(app)

    from . import staff

    staff.init_app(app)
    return app
