"""Item 7 of issue 12: `restore` can no longer destroy data -- with the real CLI (and a real
gunicorn for the "while the server runs" case).

The review's attack: a second `restore` overwrote `survey.sqlite3.before-restore` before checking
its input, so `restore /etc/passwd --yes` (refused) wiped the only copy of the responses; and
restoring while the server ran lost acknowledged responses.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.timeout(300)


def _count(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM responses").fetchone()[0]
    finally:
        conn.close()


def _copies(server) -> list:
    return sorted(server.instance.glob("survey.sqlite3.before-restore*"), key=lambda p: p.stat().st_mtime_ns)


def _simulate(server, n: int, seed: int) -> None:
    server.flask("simulate", "--responses", str(n), "--seed", str(seed))


@pytest.fixture
def server_with_backup(make_server, tmp_path):
    """A server's instance (not running) with 40 responses, and a backup of them."""
    server = make_server(workers=2).init()
    _simulate(server, 40, 1)
    backup = tmp_path / "backup-40.sqlite3"
    server.flask("backup", str(backup))
    return server, backup


def test_bad_input_is_refused_before_anything_is_touched(server_with_backup, tmp_path):
    server, backup = server_with_backup
    _simulate(server, 10, 2)
    first = server.flask("restore", str(backup), "--yes")            # keeps a safety copy of the 50
    assert "40 responses" in first.stdout
    [copy] = _copies(server)
    assert _count(copy) == 50
    kept = copy.read_bytes()
    _simulate(server, 7, 3)                                          # 47 now
    listing = sorted(p.name for p in server.instance.iterdir())

    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE x (y)")
    for bad in ("/etc/passwd", text, other):
        result = server.flask("restore", str(bad), "--yes", check=False)
        assert result.returncode == 1, result.stdout
        assert "Error:" in result.stderr and ("not a readable SQLite database" in result.stderr
                                                or "not a survey database" in result.stderr), result.stderr
    assert _count(server.database) == 47                             # nothing replaced
    assert sorted(p.name for p in server.instance.iterdir()) == listing   # no new or removed file
    assert copy.read_bytes() == kept and _count(copy) == 50           # the earlier safety copy intact


def test_every_restore_keeps_its_own_safety_copy(server_with_backup):
    server, backup = server_with_backup
    _simulate(server, 10, 2)                                         # 50
    server.flask("restore", str(backup), "--yes")
    _simulate(server, 5, 3)                                          # 45
    second = server.flask("restore", str(backup), "--yes")           # in the same second, often
    copies = _copies(server)
    assert [_count(c) for c in copies] == [50, 45]
    assert str(copies[-1]) in second.stdout
    assert _count(server.database) == 40


def test_restore_is_refused_while_the_server_runs(server_with_backup):
    server, backup = server_with_backup
    server.start()
    _simulate(server, 8, 2)                                          # responses after the backup: 48
    assert server.browser().get("/").status == 200
    refused = server.flask("restore", str(backup), "--yes", check=False)
    assert refused.returncode == 1
    assert "refusing to restore" in refused.stderr and "Stop the server" in refused.stderr, refused.stderr
    assert _count(server.database) == 48 and _copies(server) == []
    assert server.browser().get("/").status == 200                   # the server never noticed

    server.stop()
    done = server.flask("restore", str(backup), "--yes")
    assert "40 responses" in done.stdout
    assert [_count(c) for c in _copies(server)] == [48]


def test_restore_is_refused_while_any_process_has_the_database_open(server_with_backup):
    """A program that does not take the server's lock (an sqlite3 shell): SQLite's own locking."""
    server, backup = server_with_backup
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('SELECT count(*) FROM responses').fetchone(); print('open', flush=True); time.sleep(60)",
         str(server.database)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        refused = server.flask("restore", str(backup), "--yes", check=False)
        assert refused.returncode == 1 and "open in another process" in refused.stderr, refused.stderr
        assert _copies(server) == []
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.2)
    assert "40 responses" in server.flask("restore", str(backup), "--yes").stdout
