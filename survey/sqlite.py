"""Opening SQLite and write transactions, with no dependency on Flask or the schema.

This module sits at the bottom of the import graph: ``survey.db`` (the Flask
side: the per-request connection and ``init_db``), ``survey.migrations`` and
every module that writes (``staff/summary.py``, ``throttle.py``, ...) import it,
and it imports nothing from the app. (It used to live in ``survey/db.py``, which
imports the migrations, which import the summary triggers, which imported
``survey/db.py`` again: an import circle that only worked by luck of order.)
"""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from . import files


def connect(path: str | Path, busy_timeout_ms: int = 5000) -> sqlite_utils.Database:
    """A connection with WAL, a busy timeout, foreign keys and synchronous=FULL.

    A new database file is created readable by its owner only (0600): SQLite
    gives the -wal and -shm files the same mode as the database.
    """
    path = str(path)
    known = path in _WAL_SEEN and os.path.exists(path)
    if not known and path != ":memory:" and not path.startswith("file:"):
        files.create_private_file(path)
    conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL: a response acknowledged to a citizen survives a power cut, not only a crash.
    conn.execute("PRAGMA synchronous = FULL")
    db = sqlite_utils.Database(conn)
    # WAL is a property of the file: once seen, this process's next connections skip the check
    # (one query less per request).
    if not known:
        if db.journal_mode != "wal":
            db.enable_wal()
        if path != ":memory:":
            _WAL_SEEN.add(path)
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
