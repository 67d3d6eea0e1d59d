"""An installation set up the way a city does it today: ``init-db --demo`` through the real CLI,
on a real SQLite file (HCMC's 168 wards from 2025-07-01, its 22 districts until 2025-06-30)."""
from __future__ import annotations

import re

import pytest

from survey import create_app
from survey.db import connect


@pytest.fixture
def reform_app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "survey.sqlite3"), "SECRET_KEY": "r" * 40,
                      "WTF_CSRF_ENABLED": False}, instance_path=str(tmp_path / "instance"))
    result = app.test_cli_runner().invoke(args=["init-db", "--demo"])
    assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def cli(reform_app):
    def run(*args):
        return reform_app.test_cli_runner().invoke(args=[str(a) for a in args])
    return run


@pytest.fixture
def db(reform_app):
    database = connect(reform_app.config["DATABASE"])
    yield database
    database.close()


def text(response) -> str:
    """What a person reads on the page: tags removed, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).strip()


def as_real(path) -> None:
    """Simulated responses standing in for real ones: ``simulate`` marks its rows and the dashboard, exports
    and reports leave them out (issue 11); these tests need them counted."""
    from survey.staff import summary

    database = connect(path)
    try:
        with database.conn:
            database.execute("UPDATE responses SET simulated = 0")
        summary.rebuild_in_place(database)
    finally:
        database.close()
