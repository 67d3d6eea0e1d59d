"""The connection a server thread keeps between requests, and the writers' turn (issue 10 item 12).

Both exist for speed (bench/README.md, "Citizen flow under load"); these tests hold them to what
must not change: no transaction crosses from one request to the next, each request sees what
others committed, writers in several processes all get through and none is lost, and a writer
that cannot get its turn fails after the busy timeout as SQLite would, not never.
"""
import multiprocessing
import sqlite3
import time

import pytest

from survey import create_app
from survey.db import connect, get_db, write_transaction
from survey.migrations import migrate


@pytest.fixture
def app(tmp_path):
    app = create_app({"DATABASE": str(tmp_path / "kept.sqlite3"), "SECRET_KEY": "k" * 40, "TESTING": True},
                     instance_path=str(tmp_path))
    db = connect(app.config["DATABASE"])
    migrate(db)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    db.close()
    return app


def test_a_thread_keeps_its_connection_but_no_transaction_crosses_requests(app):
    with app.app_context():
        first = get_db()
        first.conn.execute("BEGIN IMMEDIATE")               # a request that failed half-way ...
        first.execute("INSERT INTO notes (text) VALUES ('never committed')")
    with app.app_context():                                  # ... the next request on this thread
        second = get_db()
        assert second is first                               # kept: no new connection, no schema read
        assert not second.conn.in_transaction                # the unfinished transaction was rolled back
        assert second.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
        with write_transaction(second):                      # and it can write at once (no lock left)
            second.execute("INSERT INTO notes (text) VALUES ('kept')")
    other = connect(app.config["DATABASE"])                  # another process's view: committed, once
    assert [r[0] for r in other.execute("SELECT text FROM notes")] == ["kept"]
    other.execute("INSERT INTO notes (text) VALUES ('from elsewhere')")
    other.close()
    with app.app_context():                                  # a kept connection sees others' commits
        assert get_db().execute("SELECT count(*) FROM notes").fetchone()[0] == 2


def test_connections_can_be_opened_per_request_again(app):
    app.config["SQLITE_REUSE_CONNECTIONS"] = False
    with app.app_context():
        first = get_db()
    with app.app_context():
        assert get_db() is not first


def _writer(path, worker, count, queue):
    db = connect(path, busy_timeout_ms=20000)
    try:
        for i in range(count):
            with write_transaction(db):
                n = db.execute("SELECT count(*) FROM notes").fetchone()[0]
                db.execute("INSERT INTO notes (text) VALUES (?)", [f"{worker}:{i}:{n}"])
        queue.put(None)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        queue.put(repr(exc))
    finally:
        db.close()


def test_writers_in_several_processes_all_get_through(app):
    path = app.config["DATABASE"]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_writer, args=(path, w, 40, queue)) for w in range(4)]
    for w in workers:
        w.start()
    results = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(10)
    assert results == [None] * 4
    db = connect(path)
    texts = [r[0] for r in db.execute("SELECT text FROM notes ORDER BY id")]
    assert len(texts) == 160 and len(set(texts)) == 160
    # each writer saw every row committed before its own: the count read inside the turn is exact
    assert [int(t.rsplit(":", 1)[1]) for t in texts] == list(range(160))


def _hold_the_turn(path, seconds, ready):
    db = connect(path)
    with write_transaction(db):
        ready.set()
        time.sleep(seconds)
    db.close()


def test_a_writer_that_cannot_get_its_turn_fails_after_the_busy_timeout(app):
    path = app.config["DATABASE"]
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_the_turn, args=(path, 3, ready))
    holder.start()
    try:
        assert ready.wait(20)
        db = connect(path, busy_timeout_ms=500)
        t0 = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            with write_transaction(db):
                db.execute("INSERT INTO notes (text) VALUES ('too late')")
        waited = time.monotonic() - t0
        assert 0.4 < waited < 2.5
        assert not db.conn.in_transaction
        db.close()
    finally:
        holder.join(20)
    db = connect(path)
    assert db.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    with write_transaction(db):                              # once the holder is done, the turn is free
        db.execute("INSERT INTO notes (text) VALUES ('now')")
    assert db.execute("SELECT count(*) FROM notes").fetchone()[0] == 1
