"""Summary tables that keep the staff dashboard fast and exact at a million responses.

Counting a million rows per request is too slow for a dashboard that refreshes
itself, so triggers on ``responses`` keep small tables up to date in the same
transaction as each submission; the summaries are therefore always exact:

- ``daily_counts``: responses (and excluded ones) per local day, unit, channel, kiosk;
- ``daily_field_counts``: the same per field of procedure;
- ``duration_histogram``: durations in whole seconds per questionnaire version and
  channel, from which the median duration (for the speeder check) is read;
- ``response_flags``: responses that straight-line or belong to a kiosk burst;
- ``comment_search``: a full-text index of comments that ignores case and
  Vietnamese diacritics (``đ`` is folded to ``d`` by hand: FTS5 keeps it).

The triggers are built with fixed values (the city's UTC offset, the
straight-lining and burst thresholds), recorded in ``summary_config``. When the
settings change, ``flask --app survey refresh-summaries`` rebuilds the triggers
and the tables (a few seconds per million responses); until then the dashboard
keeps using the values in effect and says so.

Responses are never edited except to exclude or restore them. Should one be
edited or deleted by hand, counts follow (the update and delete triggers), but
burst flags are only recomputed by ``refresh-summaries``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils
from ..sqlite import write_transaction

# Raise when the trigger SQL below changes, so that refresh() reinstalls it.
TRIGGER_VERSION = 2  # 2: simulated responses are left out


@dataclass(frozen=True)
class SummaryRules:
    utc_offset_minutes: int
    straightline_min: int
    burst_count: int
    burst_minutes: int

    def describe(self) -> str:
        hours, minutes = divmod(abs(self.utc_offset_minutes), 60)
        sign = "+" if self.utc_offset_minutes >= 0 else "-"
        return (f"days counted at UTC{sign}{hours:02d}:{minutes:02d}; straight-lining from "
                f"{self.straightline_min} equal answers; burst: more than {self.burst_count} "
                f"submissions from one kiosk within {self.burst_minutes} minutes")


def utc_offset_minutes(tz_name: str) -> int:
    """The fixed UTC offset of ``tz_name`` in minutes.

    Days are counted with one fixed offset (Vietnam has had no daylight saving
    time since 1975); a zone that changes its offset during the year is refused.
    """
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"TIMEZONE {tz_name!r} is not a known time zone") from exc
    now = datetime.now(timezone.utc)
    offsets = {zone.utcoffset(now + timedelta(days=d)) for d in range(0, 366, 30)}
    if len(offsets) != 1:
        raise ValueError(f"TIMEZONE {tz_name!r} changes its UTC offset during the year (daylight saving "
                         "time); the monitoring counts need a zone with one fixed offset")
    return int(offsets.pop().total_seconds() // 60)


def rules_from_config(config: Mapping) -> SummaryRules:
    """The rules the settings ask for; ValueError names a bad setting."""
    rules = SummaryRules(utc_offset_minutes(config["TIMEZONE"]),
                         _whole(config, "QUALITY_STRAIGHTLINE_MIN_ANSWERS", 2),
                         _whole(config, "QUALITY_BURST_COUNT", 1),
                         _whole(config, "QUALITY_BURST_MINUTES", 1))
    return rules


def _whole(config: Mapping, name: str, minimum: int) -> int:
    value = config[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"setting {name} must be a whole number >= {minimum}, not {value!r}")
    return value


def rebuild_in_place(db: sqlite_utils.Database) -> None:
    """Rebuild triggers and summaries with the rules last used (after a migration changes what they count)."""
    row = next(db.query("SELECT * FROM summary_config WHERE id = 1"), None)
    if row is None:
        return
    rules = SummaryRules(row["utc_offset_minutes"], row["straightline_min"], row["burst_count"], row["burst_minutes"])
    refresh(db, rules, force=True)


def in_effect(db: sqlite_utils.Database) -> SummaryRules | None:
    rows = list(db.query("SELECT * FROM summary_config WHERE id = 1"))
    if not rows or rows[0]["version"] != TRIGGER_VERSION:
        return None
    row = rows[0]
    return SummaryRules(row["utc_offset_minutes"], row["straightline_min"], row["burst_count"],
                        row["burst_minutes"])


def refresh(db: sqlite_utils.Database, rules: SummaryRules, *, force: bool = False) -> list[str]:
    """Rebuild triggers and summary tables where ``rules`` differ from those in effect.

    Returns what was rebuilt (empty when everything was up to date). Runs in one
    transaction: submissions arriving meanwhile wait for it.
    """
    with write_transaction(db):
        current = in_effect(db)
        if current == rules and not force:
            return []
        done = []
        _install_triggers(db, rules)
        done.append("triggers")
        if force or current is None or current.utc_offset_minutes != rules.utc_offset_minutes:
            _rebuild_counts(db, rules)
            _rebuild_comment_search(db)
            done += ["daily counts", "duration histogram", "comment search"]
            flags = True
        else:
            flags = (current.straightline_min, current.burst_count, current.burst_minutes) != \
                    (rules.straightline_min, rules.burst_count, rules.burst_minutes)
        if flags:
            _rebuild_flags(db, rules)
            done.append("quality flags")
        db.execute("INSERT INTO summary_config (id, version, utc_offset_minutes, straightline_min, burst_count, "
                   "burst_minutes, built_at) VALUES (1, :version, :utc_offset_minutes, :straightline_min, "
                   ":burst_count, :burst_minutes, :built_at) ON CONFLICT (id) DO UPDATE SET "
                   "version = excluded.version, utc_offset_minutes = excluded.utc_offset_minutes, "
                   "straightline_min = excluded.straightline_min, burst_count = excluded.burst_count, "
                   "burst_minutes = excluded.burst_minutes, built_at = excluded.built_at",
                   {"version": TRIGGER_VERSION, **asdict(rules),
                    "built_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
    return done


# --- SQL pieces -------------------------------------------------------------------------------

def _day(column: str, rules: SummaryRules) -> str:
    return f"date({column}, '{int(rules.utc_offset_minutes):+d} minutes')"


def straightline_sql(answers: str, minimum: int) -> str:
    """SQL true when ``answers`` has >= ``minimum`` scores (1..5) and all are the same."""
    valid = f"replace(replace({answers}, 'n', ''), '-', '')"
    return f"(length({valid}) >= {int(minimum)} AND replace({valid}, substr({valid}, 1, 1), '') = '')"


def _fold(text: str) -> str:
    return f"replace(replace({text}, 'đ', 'd'), 'Đ', 'D')"


def _add(row: str, rules: SummaryRules) -> str:
    return f"""
    INSERT INTO daily_counts (day, unit_id, channel, kiosk_id, n, n_excluded)
    VALUES ({_day(f'{row}.submitted_at', rules)}, {row}.unit_id, {row}.channel, coalesce({row}.kiosk_id, 0), 1,
            {row}.excluded_at IS NOT NULL)
    ON CONFLICT DO UPDATE SET n = n + 1, n_excluded = n_excluded + excluded.n_excluded;
    INSERT INTO daily_field_counts (day, unit_id, field, n, n_excluded)
    VALUES ({_day(f'{row}.submitted_at', rules)}, {row}.unit_id, coalesce({row}.field, ''), 1,
            {row}.excluded_at IS NOT NULL)
    ON CONFLICT DO UPDATE SET n = n + 1, n_excluded = n_excluded + excluded.n_excluded;
    INSERT INTO duration_histogram (questionnaire_id, questionnaire_version, channel, seconds, n)
    SELECT {row}.questionnaire_id, {row}.questionnaire_version, {row}.channel,
           CAST(min({row}.duration_s, 86400) AS INTEGER), 1 WHERE {row}.duration_s IS NOT NULL
    ON CONFLICT DO UPDATE SET n = n + 1;"""


def _subtract(row: str, rules: SummaryRules) -> str:
    return f"""
    UPDATE daily_counts SET n = n - 1, n_excluded = n_excluded - ({row}.excluded_at IS NOT NULL)
    WHERE day = {_day(f'{row}.submitted_at', rules)} AND unit_id = {row}.unit_id AND channel = {row}.channel
      AND kiosk_id = coalesce({row}.kiosk_id, 0);
    UPDATE daily_field_counts SET n = n - 1, n_excluded = n_excluded - ({row}.excluded_at IS NOT NULL)
    WHERE day = {_day(f'{row}.submitted_at', rules)} AND unit_id = {row}.unit_id
      AND field = coalesce({row}.field, '');
    UPDATE duration_histogram SET n = n - 1
    WHERE {row}.duration_s IS NOT NULL AND questionnaire_id = {row}.questionnaire_id
      AND questionnaire_version = {row}.questionnaire_version AND channel = {row}.channel
      AND seconds = CAST(min({row}.duration_s, 86400) AS INTEGER);"""


def _burst_sql(rules: SummaryRules) -> str:
    # Only windows that contain the new submission can have become bursts. Each
    # such window may start at a submission s in [t - M, t]; count the kiosk's
    # submissions in [s, s + M] with a window function over the (few) rows near
    # t, and flag every submission between the first and the last qualifying
    # window. Cost: one index range of the kiosk's submissions within +-M of t.
    seconds = int(rules.burst_minutes) * 60
    stamp = "'%Y-%m-%dT%H:%M:%SZ'"
    near = (f"kiosk_id = NEW.kiosk_id AND submitted_at BETWEEN "
            f"strftime({stamp}, NEW.submitted_at, '-{seconds} seconds') AND "
            f"strftime({stamp}, NEW.submitted_at, '+{seconds} seconds')")
    return f"""
    INSERT INTO response_flags (response_id, day, unit_id, kiosk_id, burst)
    SELECT w.id, w.day, w.unit_id, w.kiosk_id, 1
    FROM (SELECT id, unit_id, kiosk_id, {_day('submitted_at', rules)} AS day,
                 CAST(strftime('%s', submitted_at) AS INTEGER) AS ts
          FROM responses WHERE {near}) AS w,
         (SELECT min(ts) AS lo, max(ts) + {seconds} AS hi
          FROM (SELECT ts, count(*) OVER (ORDER BY ts RANGE BETWEEN CURRENT ROW AND {seconds} FOLLOWING) AS k
                FROM (SELECT CAST(strftime('%s', submitted_at) AS INTEGER) AS ts FROM responses WHERE {near}))
          WHERE k > {int(rules.burst_count)} AND ts <= CAST(strftime('%s', NEW.submitted_at) AS INTEGER)) AS a
    WHERE w.ts BETWEEN a.lo AND a.hi
    ON CONFLICT (response_id) DO UPDATE SET burst = 1 WHERE burst = 0;"""


_KEY_COLUMNS = ("submitted_at", "unit_id", "channel", "kiosk_id", "field", "excluded_at", "questionnaire_id",
                "questionnaire_version", "duration_s")


def _marks_simulated(db: sqlite_utils.Database) -> bool:
    """Whether responses has the 'simulated' column yet (migration 0005c; 0002 builds summaries before it)."""
    return any(row[1] == "simulated" for row in db.execute("PRAGMA table_info(responses)"))


def _install_triggers(db: sqlite_utils.Database, rules: SummaryRules) -> None:
    real_new, real_old = ("WHEN NEW.simulated = 0", "WHEN OLD.simulated = 0") if _marks_simulated(db) else ("", "")
    both = f"{real_new} AND OLD.simulated = 0" if real_new else ""
    for row in list(db.query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'staff\\_%' "
                             "ESCAPE '\\'")):
        db.execute(f"DROP TRIGGER {row['name']}")
    statements = [
        f"""CREATE TRIGGER staff_responses_insert AFTER INSERT ON responses {real_new} BEGIN
        {_add('NEW', rules)}
        INSERT INTO response_flags (response_id, day, unit_id, kiosk_id, straightline)
        SELECT NEW.id, {_day('NEW.submitted_at', rules)}, NEW.unit_id, coalesce(NEW.kiosk_id, 0), 1
        WHERE {straightline_sql('NEW.answers', rules.straightline_min)}
        ON CONFLICT (response_id) DO UPDATE SET straightline = 1;
        INSERT INTO comment_search (rowid, comment) SELECT NEW.id, {_fold('NEW.comment')}
        WHERE NEW.comment IS NOT NULL;
        END""",
        f"""CREATE TRIGGER staff_responses_burst AFTER INSERT ON responses
        WHEN NEW.kiosk_id IS NOT NULL {"AND NEW.simulated = 0" if real_new else ""} BEGIN
        {_burst_sql(rules)}
        END""",
        f"""CREATE TRIGGER staff_responses_update AFTER UPDATE OF {', '.join(_KEY_COLUMNS)} ON responses
        {both} BEGIN
        {_subtract('OLD', rules)}
        {_add('NEW', rules)}
        UPDATE response_flags SET day = {_day('NEW.submitted_at', rules)}, unit_id = NEW.unit_id,
            kiosk_id = coalesce(NEW.kiosk_id, 0) WHERE response_id = NEW.id;
        END""",
        f"""CREATE TRIGGER staff_responses_delete AFTER DELETE ON responses {real_old} BEGIN
        {_subtract('OLD', rules)}
        DELETE FROM response_flags WHERE response_id = OLD.id;
        INSERT INTO comment_search (comment_search, rowid, comment) SELECT 'delete', OLD.id, {_fold('OLD.comment')}
        WHERE OLD.comment IS NOT NULL;
        END""",
    ]
    for sql in statements:
        db.execute(sql)


def _rebuild_counts(db: sqlite_utils.Database, rules: SummaryRules) -> None:
    day = _day("submitted_at", rules)
    real = "simulated = 0" if _marks_simulated(db) else "1"
    db.execute("DELETE FROM daily_counts")
    db.execute(f"INSERT INTO daily_counts (day, unit_id, channel, kiosk_id, n, n_excluded) "
               f"SELECT {day}, unit_id, channel, coalesce(kiosk_id, 0), count(*), count(excluded_at) "
               f"FROM responses WHERE {real} GROUP BY 1, 2, 3, 4")
    db.execute("DELETE FROM daily_field_counts")
    db.execute(f"INSERT INTO daily_field_counts (day, unit_id, field, n, n_excluded) "
               f"SELECT {day}, unit_id, coalesce(field, ''), count(*), count(excluded_at) "
               f"FROM responses WHERE {real} GROUP BY 1, 2, 3")
    db.execute("DELETE FROM duration_histogram")
    db.execute("INSERT INTO duration_histogram (questionnaire_id, questionnaire_version, channel, seconds, n) "
               "SELECT questionnaire_id, questionnaire_version, channel, CAST(min(duration_s, 86400) AS INTEGER), "
               f"count(*) FROM responses WHERE duration_s IS NOT NULL AND {real} GROUP BY 1, 2, 3, 4")


def _rebuild_comment_search(db: sqlite_utils.Database) -> None:
    db.execute("INSERT INTO comment_search (comment_search) VALUES ('delete-all')")
    db.execute(f"INSERT INTO comment_search (rowid, comment) SELECT id, {_fold('comment')} FROM responses "
               "WHERE comment IS NOT NULL" + (" AND simulated = 0" if _marks_simulated(db) else ""))


def _rebuild_flags(db: sqlite_utils.Database, rules: SummaryRules) -> None:
    db.execute("DELETE FROM response_flags")
    db.execute(f"INSERT INTO response_flags (response_id, day, unit_id, kiosk_id, straightline) "
               f"SELECT id, {_day('submitted_at', rules)}, unit_id, coalesce(kiosk_id, 0), 1 FROM responses "
               f"WHERE {straightline_sql('answers', rules.straightline_min)}"
               + (" AND simulated = 0" if _marks_simulated(db) else ""))
    rows = db.execute(f"SELECT kiosk_id, id, CAST(strftime('%s', submitted_at) AS INTEGER), unit_id, "
                      f"{_day('submitted_at', rules)} FROM responses WHERE kiosk_id IS NOT NULL "
                      f"{'AND simulated = 0 ' if _marks_simulated(db) else ''}"
                      f"ORDER BY kiosk_id, submitted_at")
    flagged = []
    kiosk, group = None, []
    for row in rows:
        if row[0] != kiosk:
            flagged += burst_members(group, rules.burst_count, rules.burst_minutes)
            kiosk, group = row[0], []
        group.append(row)
    flagged += burst_members(group, rules.burst_count, rules.burst_minutes)
    db.conn.executemany(
        "INSERT INTO response_flags (response_id, day, unit_id, kiosk_id, burst) VALUES (?, ?, ?, ?, 1) "
        "ON CONFLICT (response_id) DO UPDATE SET burst = 1",
        ((r[1], r[4], r[3], r[0]) for r in flagged))


def burst_members(rows: Iterable[tuple], count: int, minutes: int) -> list[tuple]:
    """The rows of ONE kiosk that lie in a window of ``minutes`` holding more than ``count`` rows.

    ``rows`` are sorted by time; each row's third item is its time in epoch seconds.
    Windows are closed: [s, s + minutes].
    """
    rows = list(rows)
    span = minutes * 60
    members = [False] * len(rows)
    end = marked = 0  # rows before `marked` are already flagged
    for start in range(len(rows)):
        end = max(end, start)
        while end + 1 < len(rows) and rows[end + 1][2] <= rows[start][2] + span:
            end += 1
        if end - start + 1 > count:
            for i in range(max(start, marked), end + 1):
                members[i] = True
            marked = end + 1
    return [row for row, member in zip(rows, members) if member]
