"""Versioned schema migrations, applied once each, in order, in a transaction.

Never drop or rewrite a table that holds responses: add a new migration that
adds columns or tables. A migration's name is its identity; do not rename one
that has shipped.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import sqlite_utils

MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = []


def migration(name: str):
    def register(fn):
        MIGRATIONS.append((name, fn))
        return fn
    return register


@migration("0001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    _script(db, """
    CREATE TABLE units (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        slug TEXT NOT NULL UNIQUE CHECK (slug <> '' AND slug NOT GLOB '*[^a-z0-9-]*'),
        name_vi TEXT NOT NULL CHECK (name_vi <> ''),
        name_en TEXT NOT NULL CHECK (name_en <> ''),
        kind TEXT NOT NULL,
        parent_id INTEGER REFERENCES units(id),
        period TEXT NOT NULL DEFAULT '',
        population INTEGER CHECK (population IS NULL OR population > 0),
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        UNIQUE (code, period)
    );
    -- Population counts per unit and category, the margins used for weighting
    -- (dimension 'age_band' or 'gender'; categories are the questionnaire's codes).
    CREATE TABLE unit_population (
        unit_id INTEGER NOT NULL REFERENCES units(id),
        dimension TEXT NOT NULL,
        category TEXT NOT NULL,
        population REAL NOT NULL CHECK (population > 0),
        PRIMARY KEY (unit_id, dimension, category)
    );
    -- Each (id, version) of a questionnaire ever served, frozen as canonical JSON:
    -- past responses are always read with the version they were given under.
    CREATE TABLE questionnaires (
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        checksum TEXT NOT NULL,
        loaded_at TEXT NOT NULL,
        PRIMARY KEY (id, version)
    );
    CREATE TABLE kiosks (
        id INTEGER PRIMARY KEY,
        unit_id INTEGER NOT NULL REFERENCES units(id),
        name TEXT NOT NULL,
        field TEXT,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT,
        last_seen_at TEXT
    );
    CREATE TABLE responses (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        questionnaire_id TEXT NOT NULL,
        questionnaire_version INTEGER NOT NULL,
        unit_id INTEGER NOT NULL REFERENCES units(id),
        channel TEXT NOT NULL CHECK (channel IN ('kiosk', 'phone', 'web', 'paper')),
        kiosk_id INTEGER REFERENCES kiosks(id),
        lang TEXT NOT NULL CHECK (lang IN ('vi', 'en')),
        started_at TEXT NOT NULL,
        submitted_at TEXT NOT NULL,
        duration_s REAL,
        answers TEXT NOT NULL CHECK (answers NOT GLOB '*[^1-5n-]*'),
        respondent_type TEXT,
        gender TEXT,
        age_band TEXT,
        education TEXT,
        occupation TEXT,
        ethnicity TEXT,
        field TEXT,
        comment TEXT CHECK (comment IS NULL OR length(comment) <= 1200),
        excluded_at TEXT,
        excluded_by TEXT,
        excluded_reason TEXT,
        FOREIGN KEY (questionnaire_id, questionnaire_version) REFERENCES questionnaires(id, version)
    );
    CREATE INDEX responses_submitted_at ON responses(submitted_at);
    CREATE INDEX responses_unit_submitted_at ON responses(unit_id, submitted_at);
    CREATE INDEX responses_kiosk_submitted_at ON responses(kiosk_id, submitted_at);
    """)


def _script(db: sqlite_utils.Database, sql: str) -> None:
    """Run several statements inside the caller's transaction.

    (``executescript`` would COMMIT first, breaking the migration's atomicity.)
    """
    import sqlite3

    statement = ""
    for line in sql.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement!r}")


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet applied; return their names."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row["name"] for row in db.query("SELECT name FROM schema_migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with db.atomic():
            fn(db)
            db.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                       [name, datetime.now(timezone.utc).isoformat(timespec="seconds")])
        applied.append(name)
    return applied
