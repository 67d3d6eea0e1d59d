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


@migration("0002_staff")
def _staff(db: sqlite_utils.Database) -> None:
    """Staff accounts, targets, quality review, and the summary tables of the dashboard.

    The summary tables (daily_counts, daily_field_counts, duration_histogram,
    response_flags, comment_search) are derived from ``responses`` by triggers
    (see survey/staff/summary.py) and backfilled here for existing responses.
    """
    _script(db, """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(username) BETWEEN 1 AND 64),
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('staff', 'analyst', 'admin')),
        created_at TEXT NOT NULL,
        created_by TEXT,
        disabled_at TEXT,
        last_login_at TEXT
    );
    -- Failed sign-ins in a row per user name (existing or not), for throttling.
    -- No client addresses are stored.
    CREATE TABLE login_attempts (
        username TEXT PRIMARY KEY COLLATE NOCASE,
        failures INTEGER NOT NULL CHECK (failures > 0),
        last_failure_at TEXT NOT NULL,
        locked_until TEXT
    );
    -- The fieldwork period (one row; none: the current calendar quarter).
    CREATE TABLE fieldwork (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        starts_on TEXT NOT NULL,
        ends_on TEXT NOT NULL CHECK (ends_on >= starts_on),
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL
    );
    -- Sample target per unit; method says how it was found ('manual' or the CI inputs).
    CREATE TABLE unit_targets (
        unit_id INTEGER PRIMARY KEY REFERENCES units(id),
        target INTEGER NOT NULL CHECK (target > 0),
        method TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL
    );
    -- Every exclusion and restoration (responses.excluded_* holds the current state).
    CREATE TABLE exclusion_log (
        id INTEGER PRIMARY KEY,
        response_id INTEGER NOT NULL REFERENCES responses(id),
        action TEXT NOT NULL CHECK (action IN ('excluded', 'restored')),
        acted_by TEXT NOT NULL,
        acted_at TEXT NOT NULL,
        reason TEXT
    );
    CREATE INDEX exclusion_log_response ON exclusion_log(response_id);
    CREATE TABLE comment_reviews (
        response_id INTEGER PRIMARY KEY REFERENCES responses(id),
        handled_by TEXT NOT NULL,
        handled_at TEXT NOT NULL
    );
    -- What the summary triggers were built with (one row).
    CREATE TABLE summary_config (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        utc_offset_minutes INTEGER NOT NULL,
        straightline_min INTEGER NOT NULL,
        burst_count INTEGER NOT NULL,
        burst_minutes INTEGER NOT NULL,
        built_at TEXT NOT NULL
    );
    -- Responses per local day, unit, channel and kiosk (0: none).
    CREATE TABLE daily_counts (
        day TEXT NOT NULL,
        unit_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        kiosk_id INTEGER NOT NULL,
        n INTEGER NOT NULL DEFAULT 0,
        n_excluded INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, unit_id, channel, kiosk_id)
    ) WITHOUT ROWID;
    -- Responses per local day, unit and field of procedure ('': not given).
    CREATE TABLE daily_field_counts (
        day TEXT NOT NULL,
        unit_id INTEGER NOT NULL,
        field TEXT NOT NULL,
        n INTEGER NOT NULL DEFAULT 0,
        n_excluded INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, unit_id, field)
    ) WITHOUT ROWID;
    -- Durations in whole seconds per questionnaire version and channel (for the median).
    CREATE TABLE duration_histogram (
        questionnaire_id TEXT NOT NULL,
        questionnaire_version INTEGER NOT NULL,
        channel TEXT NOT NULL,
        seconds INTEGER NOT NULL,
        n INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (questionnaire_id, questionnaire_version, channel, seconds)
    ) WITHOUT ROWID;
    -- Responses flagged as straight-lining or part of a kiosk burst (speeders are
    -- found at query time against the current median).
    CREATE TABLE response_flags (
        response_id INTEGER PRIMARY KEY,
        day TEXT NOT NULL,
        unit_id INTEGER NOT NULL,
        kiosk_id INTEGER NOT NULL,
        straightline INTEGER NOT NULL DEFAULT 0,
        burst INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX response_flags_day ON response_flags(day, unit_id, kiosk_id, straightline, burst);
    -- Comment search that ignores case and Vietnamese diacritics (contentless: the
    -- text stays in responses.comment).
    CREATE VIRTUAL TABLE comment_search USING fts5(comment, content='', tokenize='unicode61 remove_diacritics 2');
    CREATE INDEX responses_duration ON responses(duration_s, submitted_at, questionnaire_id,
        questionnaire_version, channel, kiosk_id, unit_id);
    CREATE INDEX responses_with_comment ON responses(submitted_at) WHERE comment IS NOT NULL;
    CREATE INDEX responses_unit_with_comment ON responses(unit_id, submitted_at) WHERE comment IS NOT NULL;
    """)
    from .settings import defaults
    from .staff import summary

    summary.refresh(db, summary.rules_from_config(defaults()), force=True)


@migration("0003_report_jobs")
def _report_jobs(db: sqlite_utils.Database) -> None:
    """Index reports made from the dashboard in the background (survey/staff/reports.py)."""
    _script(db, """
    CREATE TABLE report_jobs (
        id INTEGER PRIMARY KEY,
        folder TEXT NOT NULL UNIQUE,        -- random name of the job's folder under REPORTS_FOLDER
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        request TEXT NOT NULL,              -- the report's options, JSON
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        stage TEXT,
        progress REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
        message TEXT,
        updated_at TEXT NOT NULL,
        finished_at TEXT
    );
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


@migration("0004_throttle")
def _throttle(db: sqlite_utils.Database) -> None:
    """Rate-limit counters shared by every server process (survey/throttle.py), and sign-in
    locks per (user name, client address digest) (survey/staff/users.py).

    ``login_attempts`` (0002) is no longer written: a lock per user name let anyone
    lock any account with five wrong passwords.
    """
    from .throttle import SCHEMA

    _script(db, SCHEMA)
    _script(db, """
    CREATE TABLE IF NOT EXISTS login_locks (
        username TEXT NOT NULL COLLATE NOCASE,
        address TEXT NOT NULL,              -- keyed digest of the client address (throttle.digest)
        failures INTEGER NOT NULL CHECK (failures >= 0),
        last_failure_at TEXT NOT NULL,
        locked_until TEXT,
        PRIMARY KEY (username, address)
    );
    CREATE INDEX IF NOT EXISTS login_locks_last_failure ON login_locks(last_failure_at);
    """)


@migration("0004b_kiosk_times")
def _kiosk_times(db: sqlite_utils.Database) -> None:
    """Kiosk times from the server's clock, and which questionnaire versions each kiosk was served.

    From this migration on, ``responses.submitted_at`` is the time the *server*
    received a response on every channel (kiosk API responses used to take the
    device's clock); the summary counts, day totals and burst flags all read it.
    The device's own claim is kept in ``client_submitted_at`` as a hint only,
    bounded by when the kiosk could have shown the form (its first serving of
    that questionnaire version) and by the receive time.
    ``kiosk_served`` records each questionnaire version a kiosk page was served,
    so that a response queued offline on a form that is no longer current is
    still accepted, and any other version is refused.
    """
    _script(db, """
    ALTER TABLE responses ADD COLUMN client_submitted_at TEXT;
    CREATE TABLE IF NOT EXISTS kiosk_served (
        kiosk_id INTEGER NOT NULL REFERENCES kiosks(id),
        questionnaire_id TEXT NOT NULL,
        questionnaire_version INTEGER NOT NULL,
        first_served_at TEXT NOT NULL,
        PRIMARY KEY (kiosk_id, questionnaire_id, questionnaire_version)
    ) WITHOUT ROWID;
    """)


@migration("0004c_staff_sessions")
def _staff_sessions(db: sqlite_utils.Database) -> None:
    """Staff sessions recorded on the server (survey/staff/sessions.py): signing out ends every
    copy of a session cookie, and sessions end at an absolute and an idle limit."""
    from .staff.sessions import SCHEMA

    _script(db, SCHEMA)


@migration("0004d_report_job_workers")
def _report_job_workers(db: sqlite_utils.Database) -> None:
    """Which process makes a report (survey/staff/reports.py): a job whose process is gone is
    failed and cleaned up at once instead of blocking every report for 15 minutes."""
    _script(db, """
    ALTER TABLE report_jobs ADD COLUMN worker_host TEXT;
    ALTER TABLE report_jobs ADD COLUMN worker_pid INTEGER;
    ALTER TABLE report_jobs ADD COLUMN worker_started TEXT;   -- the process's start time (a reused pid differs)
    """)


@migration("0005_staff_language")
def _staff_language(db: sqlite_utils.Database) -> None:
    """The language each staff member chose for the staff pages (NULL: Vietnamese, the default)."""
    db.execute("ALTER TABLE users ADD COLUMN lang TEXT CHECK (lang IS NULL OR lang IN ('vi', 'en'))")


# The stored channel names how the citizen reached the form (survey/labels.py). Until 0005b the
# plain /u/<slug> link -- the one the counter's QR code holds -- was stored as 'phone', which the
# report then called "phone interview".
OLD_CHANNEL_CHECK = "CHECK (channel IN ('kiosk', 'phone', 'web', 'paper'))"
NEW_CHANNEL_CHECK = "CHECK (channel IN ('qr', 'web', 'kiosk', 'paper', 'phone', 'invitation'))"


@migration("0005b_channels")
def _channels(db: sqlite_utils.Database) -> None:
    """Allow 'qr' and store the QR scans recorded as 'phone' under their true name.

    SQLite cannot ALTER a CHECK constraint; the documented way for a change that leaves the stored
    rows' format alone is to edit the table's SQL in sqlite_schema (https://sqlite.org/lang_altertable.html,
    "other kinds of table schema changes"), so the responses table is never copied or dropped. The
    dashboard's summary tables follow the UPDATE through their triggers.
    """
    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'responses'").fetchone()[0]
    if NEW_CHANNEL_CHECK not in sql:
        if OLD_CHANNEL_CHECK not in sql:
            raise RuntimeError("responses.channel has an unexpected CHECK constraint; not changing it")
        version = db.execute("PRAGMA schema_version").fetchone()[0]
        db.execute("PRAGMA writable_schema = ON")
        try:
            db.execute("UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'responses'",
                       [OLD_CHANNEL_CHECK, NEW_CHANNEL_CHECK])
            db.execute(f"PRAGMA schema_version = {int(version) + 1}")
        finally:
            db.execute("PRAGMA writable_schema = OFF")
        problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise RuntimeError(f"integrity check after changing the channel constraint: {problems}")
    # On a database that went through 0008_frames first, the answers to one-time invitations (frame_id
    # set) were stored as 'phone' (their link) or 'web' (their typed code): they are 'invitation'.
    invited = "frame_id IS NOT NULL" if "frame_id" in {c.name for c in db["responses"].columns} else "0"
    db.execute(f"UPDATE responses SET channel = 'invitation' WHERE {invited}")
    db.execute(f"UPDATE responses SET channel = 'qr' WHERE channel = 'phone' AND NOT ({invited})")
    # On a database that went through 0007_integrity first, the origins of those responses too.
    if db["integrity_origin"].exists():
        db.execute("UPDATE integrity_origin SET channel = (SELECT r.channel FROM responses r "
                   "WHERE r.id = integrity_origin.response_id) WHERE channel IN ('phone', 'web')")


@migration("0005c_simulated")
def _simulated(db: sqlite_utils.Database) -> None:
    """Simulated responses are marked (and left out of the dashboard, exports and reports unless asked).

    Responses the simulator of earlier versions attributed to its own 'simulated kiosk ...' rows are
    marked too; other old simulated rows left no trace to find them by.
    """
    db.execute("ALTER TABLE responses ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1))")
    db.execute("CREATE INDEX responses_simulated ON responses(id) WHERE simulated = 1")
    db.execute("UPDATE responses SET simulated = 1 WHERE kiosk_id IN "
               "(SELECT id FROM kiosks WHERE token_hash LIKE 'simulated:%')")
    from .staff import summary

    summary.rebuild_in_place(db)   # the summaries now leave simulated rows out


@migration("0006_unit_periods")
def _unit_periods(db: sqlite_utils.Database) -> None:
    """Units valid over a period, the crosswalk across a reform, responses tied to the unit valid on their date.

    ``valid_from``/``valid_to`` are local days (inclusive; NULL: open). Existing units
    get neither, so an installation's units and responses are untouched until
    the new units are loaded (``init-db --demo`` or ``--province``; see docs/units.md).
    """
    _script(db, """
    ALTER TABLE units ADD COLUMN valid_from TEXT
        CHECK (valid_from IS NULL OR valid_from GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]');
    ALTER TABLE units ADD COLUMN valid_to TEXT
        CHECK (valid_to IS NULL OR valid_to GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]');
    CREATE INDEX units_parent ON units(parent_id);
    -- Former unit -> new unit across a reform. The former unit need not be a unit of
    -- this installation (e.g. a district of a province that merged into the city).
    -- relation 'full': the new unit lies wholly within the former one; 'partial':
    -- only part of the new unit's area came from it. main = 1: the former unit the
    -- new unit is grouped under (one per new unit).
    CREATE TABLE unit_crosswalk (
        old_slug TEXT NOT NULL CHECK (old_slug <> ''),
        old_name_vi TEXT NOT NULL CHECK (old_name_vi <> ''),
        old_name_en TEXT NOT NULL CHECK (old_name_en <> ''),
        new_unit_id INTEGER NOT NULL REFERENCES units(id),
        relation TEXT NOT NULL CHECK (relation IN ('full', 'partial')),
        main INTEGER NOT NULL DEFAULT 0 CHECK (main IN (0, 1)),
        source TEXT,
        PRIMARY KEY (old_slug, new_unit_id)
    );
    CREATE UNIQUE INDEX unit_crosswalk_main ON unit_crosswalk(new_unit_id) WHERE main = 1;
    CREATE INDEX unit_crosswalk_new ON unit_crosswalk(new_unit_id);
    -- A response belongs to the unit valid on its (local) date: anything else is refused
    -- by the database itself, whichever code writes it.
    CREATE TRIGGER responses_unit_valid_on_date BEFORE INSERT ON responses
    WHEN EXISTS (SELECT 1 FROM units u WHERE u.id = NEW.unit_id
                 AND (u.valid_from IS NOT NULL OR u.valid_to IS NOT NULL)
                 AND date(NEW.submitted_at, coalesce((SELECT utc_offset_minutes FROM summary_config WHERE id = 1), 420)
                          || ' minutes') NOT BETWEEN coalesce(u.valid_from, '0000-00-00')
                                              AND coalesce(u.valid_to, '9999-99-99'))
    BEGIN
        SELECT RAISE(ABORT, 'unit not valid on the response date');
    END;
    """)


@migration("0006b_unit_totals")
def _unit_totals(db: sqlite_utils.Database) -> None:
    """Responses per unit and channel, and per unit and field, over all days, kept by triggers on
    ``daily_counts`` and ``daily_field_counts`` (issue 14): with 3,321 communes a million responses
    fill ~760,000 rows of daily counts, too many to sum per dashboard request; the dashboard takes
    a period's counts from these totals less the days outside the period (see
    ``queries.counts_by_unit_and_channel``)."""
    _script(db, """
    CREATE TABLE unit_channel_totals (
        unit_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        n INTEGER NOT NULL DEFAULT 0,
        n_excluded INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (unit_id, channel)
    ) WITHOUT ROWID;
    CREATE TABLE unit_field_totals (
        unit_id INTEGER NOT NULL,
        field TEXT NOT NULL,
        n INTEGER NOT NULL DEFAULT 0,
        n_excluded INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (unit_id, field)
    ) WITHOUT ROWID;
    CREATE TRIGGER unit_channel_totals_insert AFTER INSERT ON daily_counts BEGIN
        INSERT INTO unit_channel_totals (unit_id, channel, n, n_excluded)
        VALUES (NEW.unit_id, NEW.channel, NEW.n, NEW.n_excluded)
        ON CONFLICT DO UPDATE SET n = n + excluded.n, n_excluded = n_excluded + excluded.n_excluded;
    END;
    CREATE TRIGGER unit_channel_totals_delete AFTER DELETE ON daily_counts BEGIN
        UPDATE unit_channel_totals SET n = n - OLD.n, n_excluded = n_excluded - OLD.n_excluded
        WHERE unit_id = OLD.unit_id AND channel = OLD.channel;
    END;
    CREATE TRIGGER unit_channel_totals_update AFTER UPDATE ON daily_counts BEGIN
        UPDATE unit_channel_totals SET n = n - OLD.n, n_excluded = n_excluded - OLD.n_excluded
        WHERE unit_id = OLD.unit_id AND channel = OLD.channel;
        INSERT INTO unit_channel_totals (unit_id, channel, n, n_excluded)
        VALUES (NEW.unit_id, NEW.channel, NEW.n, NEW.n_excluded)
        ON CONFLICT DO UPDATE SET n = n + excluded.n, n_excluded = n_excluded + excluded.n_excluded;
    END;
    CREATE TRIGGER unit_field_totals_insert AFTER INSERT ON daily_field_counts BEGIN
        INSERT INTO unit_field_totals (unit_id, field, n, n_excluded)
        VALUES (NEW.unit_id, NEW.field, NEW.n, NEW.n_excluded)
        ON CONFLICT DO UPDATE SET n = n + excluded.n, n_excluded = n_excluded + excluded.n_excluded;
    END;
    CREATE TRIGGER unit_field_totals_delete AFTER DELETE ON daily_field_counts BEGIN
        UPDATE unit_field_totals SET n = n - OLD.n, n_excluded = n_excluded - OLD.n_excluded
        WHERE unit_id = OLD.unit_id AND field = OLD.field;
    END;
    CREATE TRIGGER unit_field_totals_update AFTER UPDATE ON daily_field_counts BEGIN
        UPDATE unit_field_totals SET n = n - OLD.n, n_excluded = n_excluded - OLD.n_excluded
        WHERE unit_id = OLD.unit_id AND field = OLD.field;
        INSERT INTO unit_field_totals (unit_id, field, n, n_excluded)
        VALUES (NEW.unit_id, NEW.field, NEW.n, NEW.n_excluded)
        ON CONFLICT DO UPDATE SET n = n + excluded.n, n_excluded = n_excluded + excluded.n_excluded;
    END;
    INSERT INTO unit_channel_totals (unit_id, channel, n, n_excluded)
    SELECT unit_id, channel, sum(n), sum(n_excluded) FROM daily_counts GROUP BY unit_id, channel;
    INSERT INTO unit_field_totals (unit_id, field, n, n_excluded)
    SELECT unit_id, field, sum(n), sum(n_excluded) FROM daily_field_counts GROUP BY unit_id, field;
    """)


@migration("0006c_daily_totals")
def _daily_totals(db: sqlite_utils.Database) -> None:
    """Responses per day over every unit (``daily_totals``, kept by triggers on ``daily_counts``) and
    an index of the daily counts by unit (issue 14): the dashboard's pace chart needs the responses of
    each day of the period for the units that have a target. With 3,321 communes that was a sum over
    ~760,000 daily rows per request (4-5 s of CPU); now it reads one row per day, less the days of
    any unit without a target, which the index finds by unit (see ``queries.daily_counted``). And an
    index of the real responses' comments by time, for the count of open comments, and of the unit
    totals by channel and by field."""
    _script(db, """
    CREATE TABLE daily_totals (
        day TEXT PRIMARY KEY,
        n INTEGER NOT NULL DEFAULT 0,
        n_excluded INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TRIGGER daily_totals_insert AFTER INSERT ON daily_counts BEGIN
        INSERT INTO daily_totals (day, n, n_excluded) VALUES (NEW.day, NEW.n, NEW.n_excluded)
        ON CONFLICT DO UPDATE SET n = n + excluded.n, n_excluded = n_excluded + excluded.n_excluded;
    END;
    CREATE TRIGGER daily_totals_delete AFTER DELETE ON daily_counts BEGIN
        UPDATE daily_totals SET n = n - OLD.n, n_excluded = n_excluded - OLD.n_excluded WHERE day = OLD.day;
    END;
    CREATE TRIGGER daily_totals_update AFTER UPDATE ON daily_counts BEGIN
        UPDATE daily_totals SET n = n - OLD.n, n_excluded = n_excluded - OLD.n_excluded WHERE day = OLD.day;
        INSERT INTO daily_totals (day, n, n_excluded) VALUES (NEW.day, NEW.n, NEW.n_excluded)
        ON CONFLICT DO UPDATE SET n = n + excluded.n, n_excluded = n_excluded + excluded.n_excluded;
    END;
    INSERT INTO daily_totals (day, n, n_excluded)
    SELECT day, sum(n), sum(n_excluded) FROM daily_counts GROUP BY day;
    CREATE INDEX daily_counts_unit_day ON daily_counts(unit_id, day, n, n_excluded);
    -- The period's counts by channel and by field over every unit, read in order (no sort of
    -- 3,321 x fields rows).
    CREATE INDEX unit_channel_totals_channel ON unit_channel_totals(channel, n, n_excluded);
    CREATE INDEX unit_field_totals_field ON unit_field_totals(field, n, n_excluded);
    """)
    # The dashboard counts the open comments of the period: since simulated responses are left out
    # (0005c) the comment indexes no longer covered that count, which read every commented row. (On a
    # database that has not had 0005c yet -- migrations may come in any order -- the count works
    # without it.)
    if "simulated" in {c.name for c in db["responses"].columns}:
        db.execute("CREATE INDEX responses_real_with_comment ON responses(submitted_at, unit_id) "
                   "WHERE comment IS NOT NULL AND simulated = 0")


@migration("0007_integrity")
def _integrity(db: sqlite_utils.Database) -> None:
    """Where each response came from and whether it looks stuffed (survey/integrity.py, docs/integrity.md).

    Adds tables only; responses are never changed by it. Responses stored before
    it have no origin row and are never held.
    """
    _script(db, """
    -- Where a response came from, as far as the server can tell. Times are the
    -- server's clock (UTC). Keys are keyed hashes with a salt that is deleted after
    -- two days (integrity_salts): they cannot be turned back into an address.
    CREATE TABLE integrity_origin (
        response_id INTEGER PRIMARY KEY REFERENCES responses(id),
        unit_id INTEGER NOT NULL,
        channel TEXT NOT NULL,
        kiosk_id INTEGER,
        received_at TEXT NOT NULL,          -- when the server received it
        served_at TEXT,                     -- when the server served its form (signed ticket); NULL: kiosk API
        client_key TEXT,                    -- keyed hash of address + first-party cookie, rotated daily
        address_key TEXT,                   -- keyed hash of the address alone (IPv6: its /64), rotated daily
        answers TEXT NOT NULL
    );
    CREATE INDEX integrity_origin_unit ON integrity_origin(unit_id, received_at);
    CREATE INDEX integrity_origin_client ON integrity_origin(unit_id, client_key, received_at);
    CREATE INDEX integrity_origin_address ON integrity_origin(unit_id, address_key, received_at);
    CREATE INDEX integrity_origin_served ON integrity_origin(unit_id, served_at);
    CREATE INDEX integrity_origin_answers ON integrity_origin(unit_id, answers, received_at);
    CREATE INDEX integrity_origin_kiosk ON integrity_origin(kiosk_id, received_at) WHERE kiosk_id IS NOT NULL;
    -- One random salt per local day; older than yesterday's are deleted.
    CREATE TABLE integrity_salts (
        day TEXT PRIMARY KEY,
        salt BLOB NOT NULL
    );
    -- Responses held for review: left out of the published index while 'held'.
    -- 'excluded' also sets responses.excluded_* (and exclusion_log), 'accepted' counts.
    CREATE TABLE integrity_holds (
        response_id INTEGER PRIMARY KEY REFERENCES responses(id),
        unit_id INTEGER NOT NULL,
        day TEXT NOT NULL,                  -- local day of received_at
        received_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'accepted', 'excluded')),
        reviewed_by TEXT,
        reviewed_at TEXT
    );
    CREATE INDEX integrity_holds_state ON integrity_holds(state, received_at);
    CREATE INDEX integrity_holds_unit_state ON integrity_holds(unit_id, state, received_at);
    -- Each reason a held response was flagged for (state copied from integrity_holds).
    CREATE TABLE integrity_flags (
        response_id INTEGER NOT NULL REFERENCES responses(id),
        reason TEXT NOT NULL,
        unit_id INTEGER NOT NULL,
        day TEXT NOT NULL,
        received_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'held',
        PRIMARY KEY (response_id, reason)
    ) WITHOUT ROWID;
    CREATE INDEX integrity_flags_reason ON integrity_flags(reason, state, received_at);
    CREATE INDEX integrity_flags_unit_reason ON integrity_flags(unit_id, reason, state, received_at);
    -- Flagged responses per local day, unit, reason ('any': each response once) and state,
    -- kept exact by the triggers below: the dashboard never counts flag rows.
    CREATE TABLE integrity_counts (
        day TEXT NOT NULL,
        unit_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        state TEXT NOT NULL,
        n INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, unit_id, reason, state)
    ) WITHOUT ROWID;
    CREATE TRIGGER integrity_flags_insert AFTER INSERT ON integrity_flags BEGIN
        INSERT INTO integrity_counts (day, unit_id, reason, state, n) VALUES (NEW.day, NEW.unit_id, NEW.reason, NEW.state, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER integrity_flags_update AFTER UPDATE OF state ON integrity_flags BEGIN
        UPDATE integrity_counts SET n = n - 1
        WHERE day = OLD.day AND unit_id = OLD.unit_id AND reason = OLD.reason AND state = OLD.state;
        INSERT INTO integrity_counts (day, unit_id, reason, state, n) VALUES (NEW.day, NEW.unit_id, NEW.reason, NEW.state, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER integrity_holds_insert AFTER INSERT ON integrity_holds BEGIN
        INSERT INTO integrity_counts (day, unit_id, reason, state, n) VALUES (NEW.day, NEW.unit_id, 'any', NEW.state, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER integrity_holds_update AFTER UPDATE OF state ON integrity_holds BEGIN
        UPDATE integrity_counts SET n = n - 1
        WHERE day = OLD.day AND unit_id = OLD.unit_id AND reason = 'any' AND state = OLD.state;
        INSERT INTO integrity_counts (day, unit_id, reason, state, n) VALUES (NEW.day, NEW.unit_id, 'any', NEW.state, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
        UPDATE integrity_flags SET state = NEW.state WHERE response_id = NEW.response_id;
    END;
    -- Every review decision (accept, exclude, hold again).
    CREATE TABLE integrity_review_log (
        id INTEGER PRIMARY KEY,
        response_id INTEGER NOT NULL REFERENCES responses(id),
        action TEXT NOT NULL CHECK (action IN ('accepted', 'excluded', 'held')),
        acted_by TEXT NOT NULL,
        acted_at TEXT NOT NULL,
        note TEXT
    );
    CREATE INDEX integrity_review_log_response ON integrity_review_log(response_id);
    -- Answers received per local day and unit, by score (for the distribution-shift alert).
    CREATE TABLE integrity_daily_answers (
        day TEXT NOT NULL,
        unit_id INTEGER NOT NULL,
        responses INTEGER NOT NULL DEFAULT 0,
        n1 INTEGER NOT NULL DEFAULT 0,
        n2 INTEGER NOT NULL DEFAULT 0,
        n3 INTEGER NOT NULL DEFAULT 0,
        n4 INTEGER NOT NULL DEFAULT 0,
        n5 INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, unit_id)
    ) WITHOUT ROWID;
    """)



@migration("0007b_flag_counts")
def _flag_counts(db: sqlite_utils.Database) -> None:
    """Straight-lining and kiosk-burst flags counted per day, unit and kiosk, kept by triggers on
    response_flags, so that the dashboard and the quality page never sum flag rows (issue 13: with
    45 % of a million responses flagged, summing them took most of a page's time)."""
    _script(db, """
    CREATE TABLE daily_flag_counts (
        day TEXT NOT NULL,
        unit_id INTEGER NOT NULL,
        kiosk_id INTEGER NOT NULL,
        straightline INTEGER NOT NULL DEFAULT 0,
        burst INTEGER NOT NULL DEFAULT 0,
        flagged INTEGER NOT NULL DEFAULT 0,          -- responses with either flag
        PRIMARY KEY (day, unit_id, kiosk_id)
    ) WITHOUT ROWID;
    CREATE TRIGGER daily_flag_counts_insert AFTER INSERT ON response_flags BEGIN
        INSERT INTO daily_flag_counts (day, unit_id, kiosk_id, straightline, burst, flagged)
        VALUES (NEW.day, NEW.unit_id, NEW.kiosk_id, NEW.straightline, NEW.burst, NEW.straightline OR NEW.burst)
        ON CONFLICT DO UPDATE SET straightline = straightline + excluded.straightline,
            burst = burst + excluded.burst, flagged = flagged + excluded.flagged;
    END;
    CREATE TRIGGER daily_flag_counts_delete AFTER DELETE ON response_flags BEGIN
        UPDATE daily_flag_counts SET straightline = straightline - OLD.straightline, burst = burst - OLD.burst,
            flagged = flagged - (OLD.straightline OR OLD.burst)
        WHERE day = OLD.day AND unit_id = OLD.unit_id AND kiosk_id = OLD.kiosk_id;
    END;
    CREATE TRIGGER daily_flag_counts_update AFTER UPDATE ON response_flags BEGIN
        UPDATE daily_flag_counts SET straightline = straightline - OLD.straightline, burst = burst - OLD.burst,
            flagged = flagged - (OLD.straightline OR OLD.burst)
        WHERE day = OLD.day AND unit_id = OLD.unit_id AND kiosk_id = OLD.kiosk_id;
        INSERT INTO daily_flag_counts (day, unit_id, kiosk_id, straightline, burst, flagged)
        VALUES (NEW.day, NEW.unit_id, NEW.kiosk_id, NEW.straightline, NEW.burst, NEW.straightline OR NEW.burst)
        ON CONFLICT DO UPDATE SET straightline = straightline + excluded.straightline,
            burst = burst + excluded.burst, flagged = flagged + excluded.flagged;
    END;
    INSERT INTO daily_flag_counts (day, unit_id, kiosk_id, straightline, burst, flagged)
    SELECT day, unit_id, kiosk_id, sum(straightline), sum(burst), sum(straightline OR burst)
    FROM response_flags GROUP BY day, unit_id, kiosk_id;
    -- Excluded responses, for the quality page's included/excluded counts without a scan.
    CREATE INDEX responses_excluded ON responses(submitted_at) WHERE excluded_at IS NOT NULL;
    """)


@migration("0008_frames")
def _frames(db: sqlite_utils.Database) -> None:
    """Probability samples from the dossier register (survey/frames.py, survey/invitations.py).

    Only adds tables and one nullable column (``responses.frame_id``): a response
    given through an invitation keeps the frame (period) and, in its existing
    ``unit_id`` and ``field`` columns, its stratum; never the dossier, contact or code.
    """
    _script(db, """
    -- One imported register of completed dossiers per period.
    CREATE TABLE frames (
        id INTEGER PRIMARY KEY,
        period_from TEXT NOT NULL,
        period_to TEXT NOT NULL CHECK (period_to >= period_from),
        source TEXT NOT NULL,
        imported_at TEXT,                   -- NULL while an import is being written
        dossiers INTEGER NOT NULL,
        sampled_at TEXT,
        sample_seed INTEGER,
        sample_method TEXT,                 -- how the sizes were found, JSON
        contacts_purged_at TEXT
    );
    CREATE INDEX frames_period ON frames(period_from, period_to);
    -- Strata: unit x field of procedure, with the frame count N and the sample size n.
    CREATE TABLE frame_strata (
        id INTEGER PRIMARY KEY,
        frame_id INTEGER NOT NULL REFERENCES frames(id),
        unit_id INTEGER NOT NULL REFERENCES units(id),
        field TEXT NOT NULL,
        population INTEGER NOT NULL CHECK (population > 0),
        sampled INTEGER NOT NULL DEFAULT 0 CHECK (sampled BETWEEN 0 AND population),
        UNIQUE (frame_id, unit_id, field)
    );
    -- The register itself. dossier and contact are deleted by purge-contacts.
    CREATE TABLE frame_dossiers (
        id INTEGER PRIMARY KEY,
        frame_id INTEGER NOT NULL REFERENCES frames(id),
        stratum_id INTEGER NOT NULL REFERENCES frame_strata(id),
        dossier TEXT,
        completed_at TEXT NOT NULL,
        contact TEXT,
        sampled INTEGER NOT NULL DEFAULT 0 CHECK (sampled IN (0, 1)),
        delivered INTEGER NOT NULL DEFAULT 0 CHECK (delivered IN (0, 1)),
        ineligible INTEGER NOT NULL DEFAULT 0 CHECK (ineligible IN (0, 1)),
        responded INTEGER NOT NULL DEFAULT 0 CHECK (responded IN (0, 1))
    );
    CREATE UNIQUE INDEX frame_dossiers_code ON frame_dossiers(frame_id, dossier);
    CREATE INDEX frame_dossiers_sampled ON frame_dossiers(frame_id, stratum_id, sampled);
    -- One-time invitations: only hashes of the link code and of the short code.
    CREATE TABLE invitations (
        id INTEGER PRIMARY KEY,
        frame_id INTEGER NOT NULL REFERENCES frames(id),
        dossier_id INTEGER NOT NULL REFERENCES frame_dossiers(id),
        stratum_id INTEGER NOT NULL REFERENCES frame_strata(id),
        wave INTEGER NOT NULL CHECK (wave >= 1),
        code_hash TEXT UNIQUE,
        short_hash TEXT UNIQUE,
        issued_at TEXT,
        expires_on TEXT,
        used_on TEXT,                       -- the local day it was answered; nothing else
        withdrawn INTEGER NOT NULL DEFAULT 0 CHECK (withdrawn IN (0, 1)),
        UNIQUE (dossier_id, wave)
    );
    CREATE INDEX invitations_frame ON invitations(frame_id, wave);
    """)
    if "frame_id" not in {c.name for c in db["responses"].columns}:
        db.execute("ALTER TABLE responses ADD COLUMN frame_id INTEGER REFERENCES frames(id)")
    db.execute("CREATE INDEX IF NOT EXISTS responses_frame ON responses(frame_id, unit_id, field) "
               "WHERE frame_id IS NOT NULL")
    # A response to an invitation belongs to its frame's period, not to the day it was sent: its
    # unit was checked against that period when the frame was imported (survey/frames.py), so the
    # unit-validity trigger of 0006 leaves it alone (an invitation for a dossier of June 2025 may be
    # answered in July, after the district it names ceased to exist).
    _script(db, """
    DROP TRIGGER IF EXISTS responses_unit_valid_on_date;
    CREATE TRIGGER responses_unit_valid_on_date BEFORE INSERT ON responses
    WHEN NEW.frame_id IS NULL
         AND EXISTS (SELECT 1 FROM units u WHERE u.id = NEW.unit_id
                 AND (u.valid_from IS NOT NULL OR u.valid_to IS NOT NULL)
                 AND date(NEW.submitted_at, coalesce((SELECT utc_offset_minutes FROM summary_config WHERE id = 1), 420)
                          || ' minutes') NOT BETWEEN coalesce(u.valid_from, '0000-00-00')
                                              AND coalesce(u.valid_to, '9999-99-99'))
    BEGIN
        SELECT RAISE(ABORT, 'unit not valid on the response date');
    END;
    """)
