"""Opening SQLite and write transactions, with no dependency on Flask or the schema.

This module sits at the bottom of the import graph: ``survey.db`` (the Flask
side: the per-request connection and ``init_db``), ``survey.migrations`` and
every module that writes (``staff/summary.py``, ``throttle.py``, ...) import it,
and it imports nothing from the app. (It used to live in ``survey/db.py``, which
imports the migrations, which import the summary triggers, which imported
``survey/db.py`` again: an import circle that only worked by luck of order.)
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
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
    if path != ":memory:" and not path.startswith("file:"):
        db._writer_turn = _turn_for(path)
        db._busy_timeout_s = busy_timeout_ms / 1000
    # WAL is a property of the file: once seen, this process's next connections skip the check
    # (one query less per request).
    if not known:
        if db.journal_mode != "wal":
            db.enable_wal()
        if path != ":memory:":
            _WAL_SEEN.add(path)
    return db


_WAL_SEEN: set[str] = set()


class WriterTurn:
    """Writers of one database file take turns here before SQLite's write lock.

    SQLite makes a writer that finds the lock taken sleep and retry (1, 2, 5, 10 ... 100 ms
    apart) until its busy timeout. Under a burst of submissions the lock is free most of
    those milliseconds while every waiter sleeps: throughput fell to a fraction of what the
    disk allows and the slowest citizens waited seconds. Here the threads of a process queue
    on a lock that wakes the next one at once, and the one at the head of the queue takes an
    ``flock`` on ``<database>.writer`` shared by every process, retrying every 0.5-2 ms. A
    writer that did not take its turn here (an ``sqlite3`` shell, an older release) still meets
    SQLite's own lock and busy timeout, so this is about speed, never about correctness.
    """

    def __init__(self, database: str):
        self.path = database + ".writer"
        self._pid = -1
        self._fd = -1
        self._queue = threading.Lock()

    def _ready(self) -> None:
        # After a fork the child needs its own file description (a shared one would share the
        # lock with the parent) and a fresh queue (another thread may have held it at the fork).
        if self._pid != os.getpid():
            with _TURNS_GUARD:
                if self._pid != os.getpid():
                    files.create_private_file(self.path)
                    self._fd = os.open(self.path, os.O_RDWR)
                    self._queue = threading.Lock()
                    self._pid = os.getpid()

    def acquire(self, timeout: float) -> bool:
        self._ready()
        deadline = time.monotonic() + timeout
        if not self._queue.acquire(timeout=max(timeout, 0)):
            return False
        delay = 0.0005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                self._queue.release()
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.002)

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._queue.release()


_TURNS: dict[str, WriterTurn] = {}
_TURNS_GUARD = threading.Lock()


def _turn_for(path: str) -> WriterTurn:
    key = os.path.abspath(path)
    turn = _TURNS.get(key)
    if turn is None:
        with _TURNS_GUARD:
            turn = _TURNS.setdefault(key, WriterTurn(key))
    return turn


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
    turn = getattr(db, "_writer_turn", None)
    if turn is not None and not turn.acquire(db._busy_timeout_s):
        raise sqlite3.OperationalError("database is locked")   # as SQLite says after its busy timeout
    try:
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
    finally:
        if turn is not None:
            turn.release()
