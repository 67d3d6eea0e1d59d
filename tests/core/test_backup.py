import sqlite3
import threading

import pytest

from survey import responses as store
from survey.backup import BackupError, backup, restore
from survey.db import connect

from .test_responses import questionnaire_row, response


def test_a_backup_taken_under_write_load_has_every_response_committed_before_it(tmp_path):
    path = tmp_path / "live.sqlite3"
    db = connect(path)
    from survey.migrations import migrate

    migrate(db)
    questionnaire_row(db)
    committed: list[str] = []
    stop = threading.Event()

    def writer():
        w = connect(path)
        i = 0
        while not stop.is_set() and i < 20000:
            uuid = f"00000000-0000-4000-8000-{i:012d}"
            store.save(w, response(uuid=uuid))
            committed.append(uuid)
            i += 1
        w.close()

    thread = threading.Thread(target=writer)
    thread.start()
    while len(committed) < 300:
        pass
    before = set(committed)  # every uuid here was committed before the backup started
    target = backup(path, tmp_path / "copy.sqlite3")
    stop.set()
    thread.join()

    restored_path = tmp_path / "restored.sqlite3"
    restore(target, restored_path)
    restored = sqlite3.connect(restored_path)
    uuids = {row[0] for row in restored.execute("SELECT uuid FROM responses")}
    assert before <= uuids
    assert restored.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(uuids) == restored.execute("SELECT count(*) FROM responses").fetchone()[0]


def test_backup_into_a_folder_names_the_file_by_time(tmp_path, db):
    folder = tmp_path / "backups"
    folder.mkdir()
    target = backup(tmp_path / "core.sqlite3", folder)
    assert target.parent == folder and target.name.startswith("survey-") and target.suffix == ".sqlite3"


def test_restore_refuses_a_file_that_is_not_a_survey_database(tmp_path):
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE x (y)")
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    live = tmp_path / "live.sqlite3"
    live.write_bytes(b"keep me")
    for bad in (other, junk):
        with pytest.raises(BackupError):
            restore(bad, live)
    assert live.read_bytes() == b"keep me"


def test_backup_of_a_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(BackupError, match="no database"):
        backup(tmp_path / "nope.sqlite3", tmp_path / "copy.sqlite3")
