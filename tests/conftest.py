"""Shared fixtures (flaskr style): an app on a temporary database holding the
migrations, the shipped questionnaires and the demo units; its test client and
CLI runner. CSRF is off here; tests that check it build their app with
``make_app(WTF_CSRF_ENABLED=True)``.
"""
from __future__ import annotations

import pytest

from survey import catalog, create_app
from survey import db as database
from survey import units


def prepare_database(app) -> None:
    """Migrate ``app``'s database and load the shipped questionnaires and demo units."""
    database.init_db(app)
    db = database.connect(app.config["DATABASE"])
    try:
        catalog.register_shipped(db)
        units.load_demo(db)
    finally:
        db.close()


@pytest.fixture(scope="session")
def database_preparer():
    """:func:`prepare_database` for session-scoped fixtures (e.g. the browser tests' live server)."""
    return prepare_database


@pytest.fixture
def make_app(tmp_path):
    """Build an app on a fresh database in ``tmp_path``; keyword arguments override the test config."""
    def make(**config):
        app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "survey.sqlite3"),
                          "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
                          "STAFF_DEFAULT_LANGUAGE": "en", **config},
                         instance_path=str(tmp_path))
        prepare_database(app)
        return app
    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
