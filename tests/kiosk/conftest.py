import pytest

from survey import create_app
from survey.db import connect


@pytest.fixture
def app(tmp_path):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "kiosk.sqlite3"), "SECRET_KEY": "k" * 32,
                      "PUBLIC_BASE_URL": "https://khaosat.example.gov.vn"},
                     instance_path=str(tmp_path / "instance"))
    result = app.test_cli_runner().invoke(args=["init-db", "--demo"])
    assert result.exit_code == 0, result.output
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
