"""The one place that opens the database.

``get_db()`` returns a :class:`sqlite_utils.Database` cached on ``flask.g`` for
the request; ``close_db`` closes it at teardown. ``connect(path)`` is the same
connection set-up for code that runs outside a request (CLI, simulator,
benchmarks): WAL mode, a busy timeout and foreign keys on.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
from flask import Flask, current_app, g

from .migrations import migrate


def connect(path: str | Path, busy_timeout_ms: int = 5000) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL: a response acknowledged to a citizen survives a power cut, not only a crash.
    conn.execute("PRAGMA synchronous = FULL")
    db = sqlite_utils.Database(conn)
    # WAL is a property of the file: once seen, each new connection of this process skips the check.
    if str(path) not in _WAL_SEEN:
        if db.journal_mode != "wal":
            db.enable_wal()
        _WAL_SEEN.add(str(path))
    return db


_WAL_SEEN: set[str] = set()


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A transaction that takes the write lock at its start (BEGIN IMMEDIATE).

    A deferred transaction that starts reading and then writes can fail at once
    with "database is locked" when another process committed in between (its
    snapshot is stale, and waiting cannot help); taking the lock first makes it
    wait its turn under the busy timeout instead. Nested calls use a savepoint.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.conn.execute("COMMIT")   # a COMMIT that fails (disk full) rolls back too: nothing partial stays
    except BaseException:
        if db.conn.in_transaction:
            try:
                db.conn.execute("ROLLBACK")
            except sqlite3.Error:   # SQLite may have rolled back by itself after an I/O error
                pass
        raise


def get_db() -> sqlite_utils.Database:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"], current_app.config["SQLITE_BUSY_TIMEOUT_MS"])
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db(app: Flask) -> list[str]:
    """Create or migrate the database of ``app``; return the migrations applied."""
    db = connect(app.config["DATABASE"], app.config["SQLITE_BUSY_TIMEOUT_MS"])
    try:
        return migrate(db)
    finally:
        db.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
