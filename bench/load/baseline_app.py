"""The minimal baseline for the load benchmark: a flask-wtf page with 26 radio
groups and a CSRF token, and a one-row insert into SQLite (WAL, synchronous=FULL as the
platform), served with
the same gunicorn settings as the platform. Our throughput is reported as a
ratio of this one's.

    gunicorn -c gunicorn.conf.py 'bench.load.baseline_app:create_app("/tmp/baseline.sqlite3")'
"""
from __future__ import annotations

import os
import sqlite3

from flask import Flask, g, redirect
from flask_wtf import FlaskForm
from wtforms import RadioField

CODES = [f"q{i:02d}" for i in range(1, 27)]
PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Baseline</title></head><body>
<form method="post" action="/">{{ form.csrf_token }}
{% for field in form if field.type == 'RadioField' %}<fieldset><legend>{{ field.label.text }}</legend>
{% for choice in field %}<label>{{ choice() }} {{ choice.label.text }}</label>{% endfor %}</fieldset>
{% endfor %}<button type="submit">Gửi</button></form></body></html>"""


class Form(FlaskForm):
    pass


for _code in CODES:
    setattr(Form, _code, RadioField(_code, choices=[(str(v), str(v)) for v in range(1, 6)]))


def create_app(database: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=os.environ.get("BASELINE_SECRET", "baseline-" + "x" * 32),
                      WTF_CSRF_TIME_LIMIT=None)
    database = database or os.environ.get("BASELINE_DB", "/tmp/baseline.sqlite3")
    setup = sqlite3.connect(database)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS responses (id INTEGER PRIMARY KEY, answers TEXT NOT NULL)")
    setup.close()

    def db() -> sqlite3.Connection:
        if "db" not in g:
            g.db = sqlite3.connect(database, timeout=5, isolation_level=None)
            # the platform's durability: an acknowledged response survives a power cut (survey/db.py)
            g.db.execute("PRAGMA synchronous = FULL")
        return g.db

    @app.teardown_appcontext
    def close(exc):
        conn = g.pop("db", None)
        if conn is not None:
            conn.close()

    page = app.jinja_env.from_string(PAGE)  # compiled once, as a template file would be

    @app.route("/", methods=["GET", "POST"])
    def survey():
        form = Form()
        if form.validate_on_submit():
            db().execute("INSERT INTO responses (answers) VALUES (?)",
                         ["".join(getattr(form, c).data for c in CODES)])
            return redirect("/thanks", 303)
        return page.render(form=form), 400 if form.is_submitted() else 200

    @app.get("/thanks")
    def thanks():
        return "<!doctype html><p>Cảm ơn</p>"

    return app
