"""The one place that opens the database.

``get_db()`` returns a :class:`sqlite_utils.Database` cached on ``flask.g`` for
the request; ``close_db`` closes it at teardown. ``connect(path)`` is the same
connection set-up for code that runs outside a request (CLI, simulator,
benchmarks): WAL mode, a busy timeout and foreign keys on. ``connect`` and
``write_transaction`` live in ``survey/sqlite.py`` (no Flask, no schema), so
that the migrations and the modules they use can import them without a circle.
"""
from __future__ import annotations

import sqlite_utils
from flask import Flask, current_app, g

from .migrations import migrate
from .sqlite import connect, write_transaction  # noqa: F401  (the app's names for them)


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
    from .security import _serving

    if _serving() and not app.testing:
        # A serving process holds the database's shared lock while it lives, so that `restore`
        # refuses to replace the file under it (survey/dblock.py).
        from .dblock import hold_shared

        hold_shared(app.config["DATABASE"])
