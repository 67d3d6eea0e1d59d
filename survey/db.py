"""The one place that opens the database.

``get_db()`` returns a :class:`sqlite_utils.Database` cached on ``flask.g`` for
the request; ``close_db`` hands it back at teardown, and the same server thread
takes it again for its next request (see :class:`ThreadConnections`). ``connect(path)`` is the same
connection set-up for code that runs outside a request (CLI, simulator,
benchmarks): WAL mode, a busy timeout and foreign keys on. ``connect`` and
``write_transaction`` live in ``survey/sqlite.py`` (no Flask, no schema), so
that the migrations and the modules they use can import them without a circle.
"""
from __future__ import annotations

import os
import sqlite3
import threading

import sqlite_utils
from flask import Flask, current_app, g

from .migrations import migrate
from .sqlite import connect, write_transaction  # noqa: F401  (the app's names for them)


class ThreadConnections:
    """One connection per server thread, kept from one request to the next.

    Opening a connection made SQLite read and parse the whole schema (every table,
    index and trigger) again, and closing the last one checkpointed and deleted the
    WAL: together about a third of the CPU time of a citizen's three requests
    (bench/README.md, issue 10). A thread now keeps its connection; it is handed back
    with no transaction open (an unfinished one is rolled back), renewed after
    ``RENEW_AFTER`` requests, and never carried across a fork. Set
    ``SQLITE_REUSE_CONNECTIONS = False`` to open one per request again.
    """

    RENEW_AFTER = 5000

    def __init__(self) -> None:
        self._local = threading.local()
        self._forked: list = []          # connections inherited over a fork: never used, never closed

    def take(self, path: str, busy_timeout_ms: int) -> sqlite_utils.Database:
        kept = getattr(self._local, "kept", None)
        if kept is not None:
            self._local.kept = None
            db, key = kept
            if key == (os.getpid(), path, busy_timeout_ms):
                db._uses += 1
                return db
            if key[0] != os.getpid():
                self._forked.append(db)  # closing it here could drop locks the parent holds
            else:
                db.close()
        db = connect(path, busy_timeout_ms)
        db._uses = 1
        return db

    def give_back(self, db: sqlite_utils.Database, path: str, busy_timeout_ms: int) -> None:
        try:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
        except sqlite3.Error:
            db.close()
            return
        if db._uses >= self.RENEW_AFTER:
            db.close()
            return
        self._local.kept = (db, (os.getpid(), path, busy_timeout_ms))


def _connections(app: Flask) -> ThreadConnections | None:
    if not app.config.get("SQLITE_REUSE_CONNECTIONS", True):
        return None
    return app.extensions.setdefault("survey.connections", ThreadConnections())


def get_db() -> sqlite_utils.Database:
    if "db" not in g:
        config = current_app.config
        pool = _connections(current_app)
        if pool is None:
            g.db = connect(config["DATABASE"], config["SQLITE_BUSY_TIMEOUT_MS"])
        else:
            g.db = pool.take(str(config["DATABASE"]), config["SQLITE_BUSY_TIMEOUT_MS"])
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is None:
        return
    pool = _connections(current_app) if getattr(db, "_uses", None) else None
    if pool is None:
        db.close()
    else:
        config = current_app.config
        pool.give_back(db, str(config["DATABASE"]), config["SQLITE_BUSY_TIMEOUT_MS"])


def init_db(app: Flask) -> list[str]:
    """Create or migrate the database of ``app``; return the migrations applied."""
    db = connect(app.config["DATABASE"], app.config["SQLITE_BUSY_TIMEOUT_MS"])
    try:
        return migrate(db)
    finally:
        db.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    from .security import _serving

    if _serving() and not app.testing:
        # A serving process holds the database's shared lock while it lives, so that `restore`
        # refuses to replace the file under it (survey/dblock.py).
        from .dblock import hold_shared

        hold_shared(app.config["DATABASE"])
