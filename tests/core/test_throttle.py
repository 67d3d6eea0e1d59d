"""survey/throttle.py: counters shared by processes, atomic, refusals not counted."""
from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from survey import throttle
from survey.migrations import migrate
from survey.sqlite import connect, write_transaction

ROOT = Path(__file__).resolve().parents[2]


def _hammer(path: str, n: int, queue) -> None:
    db = connect(path)
    allowed = sum(throttle.hit(db, "test", "k", window_s=3600, limit=100, now=1_000_000).allowed for _ in range(n))
    db.close()
    queue.put(allowed)


def test_processes_hitting_one_counter_at_once_get_exactly_the_limit(tmp_path):
    path = str(tmp_path / "t.sqlite3")
    db = connect(path)
    migrate(db)
    db.close()
    queue = multiprocessing.get_context("spawn").Queue()
    procs = [multiprocessing.get_context("spawn").Process(target=_hammer, args=(path, 60, queue)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert sum(queue.get(timeout=5) for _ in procs) == 100       # 360 tries, exactly 100 through
    db = connect(path)
    assert throttle.count(db, "test", "k", window_s=3600, now=1_000_000) == 100  # refusals not counted


def test_windows_release_clear_and_prune(db):
    for _ in range(3):
        assert throttle.hit(db, "s", "a", window_s=60, limit=3, now=120).allowed
    refused = throttle.hit(db, "s", "a", window_s=60, limit=3, now=150)
    assert not refused.allowed and refused.count == 3 and refused.retry_after == 30
    assert throttle.hit(db, "s", "b", window_s=60, limit=3, now=150).allowed    # other keys unaffected
    throttle.release(db, "s", "a", window_s=60, now=150)
    assert throttle.hit(db, "s", "a", window_s=60, limit=3, cost=0, now=150).allowed
    assert throttle.hit(db, "s", "a", window_s=60, limit=3, now=180).allowed     # next window: fresh
    with write_transaction(db):  # inside the caller's transaction the hit rolls back with it
        throttle.hit(db, "s", "c", window_s=60, limit=3, now=150)
        db.conn.execute("SAVEPOINT x")
        db.conn.execute("ROLLBACK TO x")
    assert throttle.count(db, "s", "c", window_s=60, now=150) == 1
    assert throttle.prune(db, now=200) == 3                                       # windows 120-180 ended
    assert throttle.clear(db, "s") == 1
    with pytest.raises(ValueError):
        throttle.hit(db, "s", "a", window_s=0, limit=3)


def test_digest_hides_the_address_and_depends_on_the_secret():
    a = throttle.digest("secret-1", "203.0.113.5")
    assert "203.0.113.5" not in a and len(a) == 32
    assert a == throttle.digest("secret-1", "203.0.113.5") != throttle.digest("secret-2", "203.0.113.5")


@pytest.mark.parametrize("module", ["survey.staff.summary", "survey.migrations", "survey.db", "survey.throttle",
                                    "survey.staff.users"])
def test_every_module_imports_first_without_an_import_circle(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
