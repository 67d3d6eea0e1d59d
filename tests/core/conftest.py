import pytest

from survey.db import connect
from survey.migrations import migrate


@pytest.fixture
def db(tmp_path):
    database = connect(tmp_path / "core.sqlite3")
    migrate(database)
    yield database
    database.close()
