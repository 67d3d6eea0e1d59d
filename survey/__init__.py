"""The SIPAS survey web application.

``create_app`` follows Flask's tutorial (flaskr): configuration is read in one
fixed order -- defaults, then ``instance/config.py`` (optional), then
``SURVEY_*`` environment variables, then the test configuration.
"""
from __future__ import annotations

import os
from pathlib import Path

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
    from . import db, files, security

    files.make_private_dir(app.instance_path)
    if not app.testing:
        _secure_files(app)
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


def _secure_files(app: Flask) -> None:
    """Instance folder 0700 and every file in it 0600 (issue 12 item 2): fix what an older release or a
    loose umask left readable, with a warning each; refuse to serve with a secret key others can read."""
    from . import files

    instance = Path(app.instance_path)
    files.secure_instance(instance, skip=("config.py",))   # an exposed key is refused, not quietly fixed
    database = Path(app.config["DATABASE"])
    if database.parent.resolve() != instance.resolve():
        for path in (database, *(Path(f"{database}{s}") for s in ("-wal", "-shm", ".lock", ".writer"))):
            if path.exists() and not path.is_symlink() and files.exposed(path):
                files.make_private(path)
                files.log.warning("%s was readable by other local users; it is now 0600", path)
    reports = app.config.get("REPORTS_FOLDER")
    if reports and Path(reports).is_dir():
        files.secure_instance(reports)
    from .security import _serving

    secret = instance / "config.py"
    if secret.exists() and "SECRET_KEY" in secret.read_text(encoding="utf-8", errors="replace"):
        from flask import Config

        in_file = Config(str(instance))
        try:
            in_file.from_pyfile(str(secret))
        except Exception:               # create_app has read it already; a failure here changes nothing
            pass
        signs = in_file.get("SECRET_KEY") == app.config.get("SECRET_KEY")   # not overridden by SURVEY_SECRET_KEY
        if signs and _serving():
            files.check_secret_file(secret)
        elif files.exposed(secret):
            files.log.warning("%s (it holds a SECRET_KEY) can be read by other local users: %s; run `chmod 600 %s` "
                              "and put a new random SECRET_KEY in it", secret,
                              "the server will refuse to start until then" if signs else
                              "the key in use comes from the environment, but fix the file", secret)
