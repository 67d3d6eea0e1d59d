import pytest

from survey import create_app
from survey.db import connect
from survey.units import load_demo


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "kiosk.sqlite3"), "SECRET_KEY": "k" * 32,
                      "PUBLIC_BASE_URL": "https://khaosat.example.gov.vn"},
                     instance_path=str(tmp_path / "instance"))
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    database = connect(app.config["DATABASE"])
    load_demo(database)            # the 22 districts, open-ended (the reform has tests of its own)
    database.close()
    return app


@pytest.fixture
def db(app):
    database = connect(app.config["DATABASE"])
    yield database
    database.close()


@pytest.fixture
def cli(app):
    def run(*args):
        return app.test_cli_runner().invoke(args=list(args))
    return run
