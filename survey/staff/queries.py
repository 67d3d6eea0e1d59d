"""Every query of the staff pages, one named function per question asked.

Counts come from the summary tables (see ``summary``), which triggers keep
exact; lists of responses (comments, flagged responses) read ``responses``
through indexes and are paginated. ``scope`` is a list of unit ids (a unit and
everything under it) or None for all units.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from ..responses import RESPONDENT_FIELDS
from . import periods
from ..sqlite import write_transaction

Scope = Sequence[int] | None


def _scope(column: str, scope: Scope) -> tuple[str, list]:
    if scope is None:
        return "", []
    return f" AND {column} IN ({', '.join('?' for _ in scope)})", list(scope)


# --- Units -----------------------------------------------------------------------------------

def unit_by_slug(db: sqlite_utils.Database, slug: str) -> dict | None:
    return next(db.query("SELECT * FROM units WHERE slug = ?", [slug]), None)


def unit_scope(db: sqlite_utils.Database, unit_id: int) -> list[int]:
    """``unit_id`` and every unit below it."""
    return [r["id"] for r in db.query(
        "WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT u.id FROM units u JOIN tree ON u.parent_id = tree.id) "
        "SELECT id FROM tree", [unit_id])]


def reporting_units(db: sqlite_utils.Database, scope: Scope, period: periods.Period | None = None,
                    columns: Sequence[str] | None = None) -> list[dict]:
    """Active units that responses belong to (those without active children), within ``scope``;
    with ``period``, only those valid on some day of it (a reform ends some units, starts others).
    Each a dict of the unit's ``columns`` (default: all of them; the dashboard asks for the five it shows,
    3,321 rows of twelve columns cost it 15 ms)."""
    where, params = _scope("u.id", scope)
    if period is not None:
        where += " AND (u.valid_from IS NULL OR u.valid_from <= ?) AND (u.valid_to IS NULL OR u.valid_to >= ?)"
        params += [period.end.isoformat(), period.start.isoformat()]
    cursor = db.execute(
        f"SELECT {', '.join(f'u.{c}' for c in dict.fromkeys([*columns, 'code', 'name_vi'])) if columns else 'u.*'} "
        "FROM units u WHERE u.active = 1 "
        "AND NOT EXISTS (SELECT 1 FROM units c WHERE c.parent_id = u.id AND c.active = 1)" + where, params)
    keys = [d[0] for d in cursor.description]
    rows = [dict(zip(keys, row)) for row in cursor]
    # By code and Vietnamese name, as ORDER BY would (BINARY: UTF-8 bytes, the order of code points, which
    # is Python's), sorted here: SQLite walked the code index and looked up every row (5 ms at 3,321 units).
    rows.sort(key=lambda r: (r["code"], r["name_vi"]))
    return rows


def unit_choices(db: sqlite_utils.Database, *, most: int | None = None, keep: str | None = None) -> list[dict]:
    """Units for a filter menu: parents first, then reporting units by parent (``group``), by code.

    Units that have ended carry ``valid_to`` (the menu shows it). ``group_label`` names the
    menu group in the page's language: '' for parents, else the parent's name (and 'until ...'
    for ended units). With ``most``, an installation of more active units than that (the whole
    country's 3,321 communes) lists only the parents and the unit ``keep`` (a slug: the one selected)."""
    from flask_babel import gettext as _

    from ..i18n import language, local_date

    english = language() == "en"
    where, params = "", []
    if most is not None and db.execute("SELECT count(*) FROM units WHERE active = 1").fetchone()[0] > most:
        where = " AND (EXISTS (SELECT 1 FROM units c WHERE c.parent_id = u.id AND c.active = 1) OR u.slug = ?)"
        params = [keep or ""]
    rows = list(db.query(
        "SELECT u.id, u.slug, u.name_vi, u.name_en, u.valid_to, coalesce(p.name_vi, '') AS parent_name, "
        "coalesce(p.name_en, '') AS parent_name_en, "
        "EXISTS (SELECT 1 FROM units c WHERE c.parent_id = u.id AND c.active = 1) AS is_parent "
        "FROM units u LEFT JOIN units p ON p.id = u.parent_id WHERE u.active = 1" + where +
        " ORDER BY is_parent DESC, u.valid_to IS NULL, coalesce(p.code, ''), u.code, u.name_vi", params))
    for r in rows:
        parent = (r["parent_name_en"] if english else r["parent_name"]) or _("Units")
        r["group_label"] = "" if r["is_parent"] else \
            (_("%(parent)s – until %(day)s", parent=parent, day=local_date(r["valid_to"])) if r["valid_to"] else parent)
    return rows


def former_groups(db: sqlite_utils.Database, period: periods.Period, offset_minutes: int) -> list[dict]:
    """Responses in ``period`` per former unit of the crosswalk: its new units' (grouped under it)
    beside its own, with targets and the straddling units (partial links)."""
    from ..units import former_groups as groups

    counts = {k[0]: counted + excluded for k, (counted, excluded) in
              _sums_in_period(db, "daily_counts", "unit_id", period, None).items()}
    wanted = {r["unit_id"]: r["target"] for r in db.query("SELECT unit_id, target FROM unit_targets")} \
        if db["unit_targets"].exists() else {}
    out = []
    for g in groups(db):
        units = [dict(u, n=counts.get(u["id"], 0), target=wanted.get(u["id"])) for u in g["units"]]
        old = g["old_unit"]
        out.append(dict(g, units=units, n_new=sum(u["n"] for u in units),
                        target=sum(u["target"] or 0 for u in units) or None,
                        n_old=counts.get(old["id"], 0) if old else None))
    return out


# --- Counts (from the summary tables) ---------------------------------------------------------

def count_between(db: sqlite_utils.Database, first: str, last: str, scope: Scope) -> tuple[int, int]:
    """(counted, excluded) responses of local days ``first``..``last`` (ISO dates, inclusive)."""
    where, params = _scope("unit_id", scope)
    table = "daily_counts" if scope is not None else "daily_totals"    # every unit: one row a day (0006c)
    row = db.execute(f"SELECT coalesce(sum(n - n_excluded), 0), coalesce(sum(n_excluded), 0) FROM {table} "
                     "WHERE day BETWEEN ? AND ?" + where, [first, last, *params]).fetchone()
    return row[0], row[1]


# Totals over every day (migration 0006b), kept by triggers on the daily tables.
_TOTALS = {"daily_counts": "unit_channel_totals", "daily_field_counts": "unit_field_totals"}


def _sums_in_period(db: sqlite_utils.Database, table: str, keys: str, period: periods.Period,
                    scope: Scope) -> dict[tuple, tuple[int, int]]:
    """{keys: (counted, excluded)} of ``table``'s days in ``period``, with the fewest rows read.

    A daily table holds a row per day, unit and key that had a response: with thousands of
    units, a million responses make most of a million rows. A period that spans every day with
    responses is read from the totals table (one row per unit and key); one that spans most of
    them, as the totals less the days outside it; a short one, from its own days."""
    where, params = _scope("unit_id", scope)
    start, end = period.start.isoformat(), period.end.isoformat()
    first = db.execute(f"SELECT min(day) FROM {table}").fetchone()[0]
    last = db.execute(f"SELECT max(day) FROM {table}").fetchone()[0]
    sql = f"SELECT {keys}, sum(n - n_excluded), sum(n_excluded) FROM {{}} WHERE {{}}{where} GROUP BY {keys}"

    def read(source: str, condition: str, values: list) -> list[tuple]:
        return db.execute(sql.format(source, condition), [*values, *params]).fetchall()

    if first is None or end < first or start > last:
        return {}
    outside = start > first or end < last
    if outside:
        day = date.fromisoformat
        span = (day(last) - day(first)).days + 1
        inside = (day(min(end, last)) - day(max(start, first))).days + 1
        if inside <= span - inside:
            return {tuple(r[:-2]): (r[-2], r[-1]) for r in read(table, "day BETWEEN ? AND ?", [start, end])}
    sums = {tuple(r[:-2]): [r[-2], r[-1]] for r in read(_TOTALS[table], "1 = 1", [])}
    if outside:
        for condition, value in (("day < ?", start), ("day > ?", end)):
            for r in read(table, condition, [value]):
                counted = sums[tuple(r[:-2])]
                counted[0] -= r[-2]
                counted[1] -= r[-1]
    return {k: (c, e) for k, (c, e) in sums.items() if c or e}


def counts_by_unit_and_channel(db: sqlite_utils.Database, period: periods.Period,
                               scope: Scope) -> dict[tuple[int, str], tuple[int, int]]:
    """{(unit_id, channel): (counted, excluded)} in the period: one pass gives the totals by unit,
    by channel and overall."""
    return _sums_in_period(db, "daily_counts", "unit_id, channel", period, scope)


def counts_by_unit(db: sqlite_utils.Database, period: periods.Period, scope: Scope) -> dict[int, tuple[int, int]]:
    """{unit_id: (counted, excluded)} in the period."""
    return {k[0]: v for k, v in _sums_in_period(db, "daily_counts", "unit_id", period, scope).items()}


def counts_by_channel(db: sqlite_utils.Database, period: periods.Period, scope: Scope) -> dict[str, int]:
    """{channel: counted responses} in the period."""
    return {k[0]: c for k, (c, _e) in _sums_in_period(db, "daily_counts", "channel", period, scope).items()}


def counts_by_field(db: sqlite_utils.Database, period: periods.Period, scope: Scope) -> dict[str, int]:
    """{field: counted responses} in the period, most frequent first."""
    sums = _sums_in_period(db, "daily_field_counts", "field", period, scope)
    return dict(sorted(((k[0], c) for k, (c, _e) in sums.items()), key=lambda kv: (-kv[1], kv[0])))


def daily_by_unit(db: sqlite_utils.Database, first: str, last: str, scope: Scope) -> dict[int, dict[str, int]]:
    """{unit_id: {day: counted responses}} for local days ``first``..``last``."""
    where, params = _scope("unit_id", scope)
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for unit_id, day, n in db.execute(
            "SELECT unit_id, day, sum(n - n_excluded) FROM daily_counts WHERE day BETWEEN ? AND ?" + where +
            " GROUP BY unit_id, day", [first, last, *params]):
        out[unit_id][day] = n
    return out


def daily_counted(db: sqlite_utils.Database, first: str, last: str, units: Iterable[int],
                  scope: Scope) -> dict[str, int]:
    """{day: counted responses} of local days ``first``..``last`` summed over ``units`` (ids; those of
    ``scope``, which they lie in), with the fewest rows read.

    With thousands of units the daily counts hold most of a row per response. Over the whole
    installation (``scope`` None) the per-day totals (``daily_totals``, migration 0006c) are read,
    less the days of the units that had responses but are not asked for; otherwise, or when those
    are the more, the days of the units asked for, found by unit (index ``daily_counts_unit_day``)."""
    wanted = set(units)
    where, params = _scope("unit_id", scope)
    present = {r[0] for r in db.execute("SELECT DISTINCT unit_id FROM unit_channel_totals WHERE 1 = 1" + where,
                                        params)}
    others = present - wanted
    wanted &= present

    def by_unit(ids: set[int]) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        ids = sorted(ids)
        for i in range(0, len(ids), 10_000):
            chunk = ids[i:i + 10_000]
            for day, n in db.execute(
                    f"SELECT day, sum(n - n_excluded) FROM daily_counts INDEXED BY daily_counts_unit_day "
                    f"WHERE unit_id IN ({', '.join('?' * len(chunk))}) AND day BETWEEN ? AND ? GROUP BY day",
                    [*chunk, first, last]):
                out[day] += n
        return out

    if scope is None and len(others) < len(wanted):
        days = dict(db.execute("SELECT day, n - n_excluded FROM daily_totals WHERE day BETWEEN ? AND ?",
                               [first, last]).fetchall())
        for day, n in by_unit(others).items():
            days[day] = days.get(day, 0) - n
        return {d: n for d, n in days.items() if n}
    return {d: n for d, n in by_unit(wanted).items() if n}


# --- Kiosks ----------------------------------------------------------------------------------

def kiosks(db: sqlite_utils.Database, scope: Scope, today: str, *, include_revoked: bool = False,
           limit: int | None = None, offset: int = 0) -> list[dict]:
    """Kiosks with their last submission and today's responses (local day ``today``);
    ``limit``/``offset`` cut one page (the last submissions are looked up for that page only)."""
    where, params = _scope("k.unit_id", scope)
    if not include_revoked:
        where += " AND k.revoked_at IS NULL"
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    rows = list(db.query(
        "SELECT k.id, k.unit_id, k.name, k.field, k.created_at, k.revoked_at, k.last_seen_at, "
        "u.slug AS unit_slug, u.name_vi AS unit_name_vi, u.name_en AS unit_name_en, "
        "(SELECT max(submitted_at) FROM responses WHERE kiosk_id = k.id) AS last_submission "
        "FROM kiosks k JOIN units u ON u.id = k.unit_id WHERE 1 = 1" + where +
        " ORDER BY u.code, k.name, k.id" + page, params))
    # Today's counts in one pass over today's rows (a lookup per kiosk would read them all each time).
    ids = [r["id"] for r in rows]
    today_n = dict(db.execute(
        f"SELECT kiosk_id, sum(n) FROM daily_counts WHERE day = ? AND kiosk_id IN ({', '.join('?' * len(ids))}) "
        "GROUP BY kiosk_id", [today, *ids]).fetchall()) if ids else {}
    for r in rows:
        r["today"] = today_n.get(r["id"], 0)
    return rows


def count_kiosks(db: sqlite_utils.Database, scope: Scope) -> int:
    """Active kiosks within ``scope``."""
    where, params = _scope("unit_id", scope)
    return db.execute("SELECT count(*) FROM kiosks WHERE revoked_at IS NULL" + where, params).fetchone()[0]


def kiosk(db: sqlite_utils.Database, kiosk_id: int) -> dict | None:
    return next(db.query("SELECT * FROM kiosks WHERE id = ?", [kiosk_id]), None)


def update_kiosk(db: sqlite_utils.Database, kiosk_id: int, *, name: str, field: str | None) -> None:
    db.execute("UPDATE kiosks SET name = ?, field = ? WHERE id = ?", [name, field, kiosk_id])


def kiosk_named(db: sqlite_utils.Database, unit_id: int, name: str) -> int | None:
    """The id of the unit's active kiosk called ``name``, if any."""
    row = db.execute("SELECT id FROM kiosks WHERE unit_id = ? AND name = ? AND revoked_at IS NULL",
                     [unit_id, name]).fetchone()
    return row[0] if row else None


# --- Data quality ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SpeederLimit:
    questionnaire_id: str
    questionnaire_version: int
    channel: str
    median_seconds: int
    responses: int
    limit_seconds: float


MIN_RESPONSES_FOR_MEDIAN = 30


def speeder_limits(db: sqlite_utils.Database, ratio: float) -> list[SpeederLimit]:
    """Per questionnaire version and channel: the median duration and the speeder limit (ratio x median).

    The median is read from the duration histogram in whole seconds (the lower
    median); groups with fewer than 30 responses have no limit yet. Each group's bins are read
    up to its median only (a group has a bin per second of duration seen: hundreds)."""
    limits = []
    for qid, version, channel, total in db.execute(
            "SELECT questionnaire_id, questionnaire_version, channel, sum(n) FROM duration_histogram "
            "WHERE n > 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall():
        if total < MIN_RESPONSES_FOR_MEDIAN:
            continue
        half, seen = (total + 1) // 2, 0
        for seconds, n in db.execute(
                "SELECT seconds, n FROM duration_histogram WHERE questionnaire_id = ? AND questionnaire_version = ? "
                "AND channel = ? AND n > 0 ORDER BY seconds", [qid, version, channel]):
            seen += n
            if seen >= half:
                break
        limits.append(SpeederLimit(qid, version, channel, seconds, total, ratio * seconds))
    return limits


def _speeders_sql(limits: list[SpeederLimit], bounds: tuple[str, str], scope: Scope,
                  columns: str, extra: str = "", extra_params: Sequence = ()) -> tuple[str, list]:
    """The speeders of ``bounds`` and ``scope``; ``extra`` (with ``extra_params``) is a further condition
    on ``r`` tested before the speeder expression (cheap ones first: it is the costly part)."""
    speeder, params = _speeder_expression(limits)
    top = max((lim.limit_seconds for lim in limits), default=0)
    where, scope_params = _scope("r.unit_id", scope)
    # The scan must walk the (covering) duration index below the largest limit,
    # a few % of responses: left to itself the planner prefers the time index,
    # which reads every response of the period.
    return (f"SELECT {columns} FROM responses r INDEXED BY responses_duration "
            f"WHERE r.duration_s < ? AND +r.submitted_at >= ? AND +r.submitted_at < ?{extra}{where} AND {speeder}",
            [top, *bounds, *extra_params, *scope_params, *params])


def flag_counts(db: sqlite_utils.Database, period: periods.Period, offset_minutes: int, scope: Scope,
                limits: list[SpeederLimit], kiosk_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{kiosk_id: {'straightline', 'burst', 'speeder'}} in the period, for the kiosks ``kiosk_ids`` (those of
    one page of the kiosk table: grouping the speeders of every kiosk sorted tens of thousands of rows)."""
    out: dict[int, dict[str, int]] = {k: {"straightline": 0, "burst": 0, "speeder": 0} for k in kiosk_ids}
    if not out:
        return out
    where, params = _scope("unit_id", scope)
    marks = ", ".join("?" * len(out))
    # From the per-day counts (migration 0007b), not the flag rows: as fast with 45 % of rows flagged.
    for kiosk_id, straight, burst in db.execute(
            f"SELECT kiosk_id, sum(straightline), sum(burst) FROM daily_flag_counts WHERE day BETWEEN ? AND ? "
            f"AND kiosk_id IN ({marks})" + where + " GROUP BY kiosk_id",
            [period.start.isoformat(), period.end.isoformat(), *out, *params]):
        out[kiosk_id]["straightline"] += straight
        out[kiosk_id]["burst"] += burst
    sql, params = _speeders_sql(limits, period.utc_bounds(offset_minutes), scope, "r.kiosk_id AS kiosk_id",
                                f" AND r.kiosk_id IN ({marks})", list(out))
    for kiosk_id, n in db.execute(f"SELECT kiosk_id, count(*) FROM ({sql}) GROUP BY kiosk_id", params):
        out[kiosk_id]["speeder"] += n
    return out


def flag_totals(db: sqlite_utils.Database, period: periods.Period, offset_minutes: int, scope: Scope,
                limits: list[SpeederLimit]) -> dict[str, int]:
    """{'straightline', 'burst', 'speeder'}: the responses of the period with each flag, over every kiosk
    and none (the sums of :func:`flag_counts` over them all)."""
    where, params = _scope("unit_id", scope)
    straight, burst = db.execute(
        "SELECT coalesce(sum(straightline), 0), coalesce(sum(burst), 0) FROM daily_flag_counts "
        "WHERE day BETWEEN ? AND ?" + where, [period.start.isoformat(), period.end.isoformat(), *params]).fetchone()
    sql, params = _speeders_sql(limits, period.utc_bounds(offset_minutes), scope, "1")
    speeder = db.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
    return {"straightline": straight, "burst": burst, "speeder": speeder}


FLAG_KINDS = ("any", "straightline", "speeder", "burst")
EXCLUSION_STATES = ("all", "included", "excluded")


def _flagged_ids_sql(kind: str, period: periods.Period, offset_minutes: int, scope: Scope,
                     limits: list[SpeederLimit]) -> tuple[str, list]:
    parts = []
    where, scope_params = _scope("unit_id", scope)
    days = [period.start.isoformat(), period.end.isoformat()]
    for flag in ("straightline", "burst"):
        if kind in ("any", flag):
            parts.append((f"SELECT response_id AS id FROM response_flags WHERE day BETWEEN ? AND ? AND {flag} = 1" +
                          where, [*days, *scope_params]))
    if kind in ("any", "speeder"):
        parts.append(_speeders_sql(limits, period.utc_bounds(offset_minutes), scope, "r.id AS id"))
    return " UNION ".join(p[0] for p in parts), [v for p in parts for v in p[1]]


# Up to this many flagged responses, a page is cut from their sorted list;
# beyond, from a backwards walk of the time index (flags are then dense
# enough that a page is found within a few thousand rows).
SORT_AT_MOST = 5000
_FLAGGED_COLUMNS = (
    "r.id, r.uuid, r.questionnaire_id, r.questionnaire_version, r.submitted_at, r.channel, r.kiosk_id, "
    "r.duration_s, r.answers, r.excluded_at, r.excluded_by, r.excluded_reason, "
    "coalesce(f.straightline, 0) AS straightline, coalesce(f.burst, 0) AS burst, "
    "u.slug AS unit_slug, u.name_vi AS unit_name_vi, u.name_en AS unit_name_en, k.name AS kiosk_name "
    "FROM responses r JOIN units u ON u.id = r.unit_id LEFT JOIN kiosks k ON k.id = r.kiosk_id "
    "LEFT JOIN response_flags f ON f.response_id = r.id")


def _speeder_expression(limits: list[SpeederLimit]) -> tuple[str, list]:
    """1 for a response faster than its questionnaire version and channel's limit, else 0 (no limit: 0).

    Grouped by questionnaire version, then a simple CASE on the channel: the same value as a CASE with
    one branch per (questionnaire, version, channel), at half the cost per row."""
    if not limits:
        return "0", []
    by_version: dict[tuple[str, int], list[SpeederLimit]] = defaultdict(list)
    for lim in limits:
        by_version[(lim.questionnaire_id, lim.questionnaire_version)].append(lim)
    cases, params = [], []
    for (qid, version), group in by_version.items():
        channels = " ".join("WHEN ? THEN ?" for _ in group)
        cases.append(f"WHEN r.questionnaire_id = ? AND r.questionnaire_version = ? "
                     f"THEN r.duration_s < CASE r.channel {channels} END")
        params += [qid, version, *(v for lim in group for v in (lim.channel, lim.limit_seconds))]
    return f"coalesce(CASE {' '.join(cases)} END, 0)", params


def flagged_responses(db: sqlite_utils.Database, *, kind: str, state: str, period: periods.Period,
                      offset_minutes: int, scope: Scope, limits: list[SpeederLimit], limit: int,
                      offset: int) -> tuple[int, list[dict]]:
    """(total, one page) of flagged responses, latest first."""
    ids_sql, params = _flagged_ids_sql(kind, period, offset_minutes, scope, limits)
    state_sql = {"all": "", "included": " AND r.excluded_at IS NULL",
                 "excluded": " AND r.excluded_at IS NOT NULL"}[state]
    total = flagged_total(db, kind=kind, state=state, period=period, offset_minutes=offset_minutes, scope=scope,
                          limits=limits)
    if total == 0 or offset >= total:
        return total, []
    if total <= SORT_AT_MOST:
        rows = list(db.query(f"SELECT {_FLAGGED_COLUMNS} WHERE r.id IN ({ids_sql}){state_sql} "
                             f"ORDER BY r.submitted_at DESC, r.id DESC LIMIT ? OFFSET ?", [*params, limit, offset]))
    else:
        speeder, speeder_params = _speeder_expression(limits)
        condition = {"any": f"(f.straightline = 1 OR f.burst = 1 OR {speeder})", "straightline": "f.straightline = 1",
                     "burst": "f.burst = 1", "speeder": speeder}[kind]
        condition_params = speeder_params if kind in ("any", "speeder") else []
        where, scope_params = _scope("r.unit_id", scope)
        rows = list(db.query(
            f"SELECT {_FLAGGED_COLUMNS} WHERE r.submitted_at >= ? AND r.submitted_at < ?{where}{state_sql} "
            f"AND {condition} ORDER BY r.submitted_at DESC, r.id DESC LIMIT ? OFFSET ?",
            [*period.utc_bounds(offset_minutes), *scope_params, *condition_params, limit, offset]))
    mark_speeders(rows, limits)
    return total, rows


def flagged_total(db: sqlite_utils.Database, *, kind: str, state: str, period: periods.Period, offset_minutes: int,
                  scope: Scope, limits: list[SpeederLimit]) -> int:
    """How many responses ``flagged_responses`` lists, without counting flag rows one by one.

    Straight-lining and bursts come from ``daily_flag_counts``; speeders (a few % of responses) from
    the duration index, less those already counted as flagged; excluded ones through the partial
    index of excluded responses (exclusions are few), 'included' being the rest.
    """
    days = [period.start.isoformat(), period.end.isoformat()]
    where, scope_params = _scope("unit_id", scope)
    column = {"any": "flagged", "straightline": "straightline", "burst": "burst", "speeder": None}[kind]
    total = 0
    if column:
        total = db.execute(f"SELECT coalesce(sum({column}), 0) FROM daily_flag_counts WHERE day BETWEEN ? AND ?"
                           + where, [*days, *scope_params]).fetchone()[0]
    if kind in ("any", "speeder"):
        sql, params = _speeders_sql(limits, period.utc_bounds(offset_minutes), scope, "r.id AS id")
        if kind == "any":
            sql += " AND NOT EXISTS (SELECT 1 FROM response_flags f WHERE f.response_id = r.id " \
                   "AND (f.straightline = 1 OR f.burst = 1))"
        total += db.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
    if state == "all":
        return total
    speeder, speeder_params = _speeder_expression(limits)
    flag = {"any": "(f.straightline = 1 OR f.burst = 1)", "straightline": "f.straightline = 1",
            "burst": "f.burst = 1"}.get(kind)
    has_flag = f"EXISTS (SELECT 1 FROM response_flags f WHERE f.response_id = r.id AND {flag})" if flag else "0"
    condition = {"any": f"({has_flag} OR {speeder})", "speeder": speeder}.get(kind, has_flag)
    rwhere, rparams = _scope("r.unit_id", scope)
    excluded = db.execute(
        f"SELECT count(*) FROM responses r INDEXED BY responses_excluded WHERE r.excluded_at IS NOT NULL "
        f"AND r.submitted_at >= ? AND r.submitted_at < ?{rwhere} AND {condition}",
        [*period.utc_bounds(offset_minutes), *rparams,
         *(speeder_params if kind in ("any", "speeder") else [])]).fetchone()[0]
    return excluded if state == "excluded" else total - excluded


def mark_speeders(rows: list[dict], limits: list[SpeederLimit]) -> None:
    by_key = {(lim.questionnaire_id, lim.questionnaire_version, lim.channel): lim.limit_seconds for lim in limits}
    for row in rows:
        limit = by_key.get((row["questionnaire_id"], row["questionnaire_version"], row["channel"]))
        row["speeder"] = int(limit is not None and row["duration_s"] is not None and row["duration_s"] < limit)


def response(db: sqlite_utils.Database, response_id: int, limits: list[SpeederLimit]) -> dict | None:
    row = next(db.query(
        "SELECT r.*, coalesce(f.straightline, 0) AS straightline, coalesce(f.burst, 0) AS burst, "
        "u.slug AS unit_slug, u.name_vi AS unit_name_vi, u.name_en AS unit_name_en, k.name AS kiosk_name, "
        "c.handled_by, c.handled_at FROM responses r JOIN units u ON u.id = r.unit_id "
        "LEFT JOIN kiosks k ON k.id = r.kiosk_id LEFT JOIN response_flags f ON f.response_id = r.id "
        "LEFT JOIN comment_reviews c ON c.response_id = r.id WHERE r.id = ?", [response_id]), None)
    if row is not None:
        mark_speeders([row], limits)
    return row


def exclusion_history(db: sqlite_utils.Database, response_id: int) -> list[dict]:
    return list(db.query("SELECT * FROM exclusion_log WHERE response_id = ? ORDER BY id", [response_id]))


def questionnaire_definition(db: sqlite_utils.Database, questionnaire_id: str, version: int) -> dict | None:
    row = next(db.query("SELECT definition FROM questionnaires WHERE id = ? AND version = ?",
                        [questionnaire_id, version]), None)
    return json.loads(row["definition"]) if row else None


def latest_definition(db: sqlite_utils.Database, questionnaire_id: str) -> dict | None:
    row = next(db.query("SELECT definition FROM questionnaires WHERE id = ? ORDER BY version DESC LIMIT 1",
                        [questionnaire_id]), None)
    return json.loads(row["definition"]) if row else None


def questionnaire_ids(db: sqlite_utils.Database) -> list[str]:
    return [r["id"] for r in db.query("SELECT DISTINCT id FROM questionnaires ORDER BY id")]


# --- Comments --------------------------------------------------------------------------------

COMMENT_STATES = ("all", "open", "handled")
_WORD = re.compile(r"\w+")


def search_expression(text: str) -> str:
    """An FTS5 query matching comments that contain words starting like each word of ``text``.

    Case and Vietnamese diacritics are ignored (``đ`` is folded by hand, as in
    the index). Raises ValueError when ``text`` has no letters or digits.
    """
    words = _WORD.findall(text.replace("đ", "d").replace("Đ", "D"))
    if not words:
        raise ValueError(f"search: {text!r} has no letters or digits to look for")
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words[:20])


def _comments_where(period: periods.Period, offset_minutes: int, scope: Scope, search: str | None,
                    state: str) -> tuple[str, list]:
    where, params = _scope("r.unit_id", scope)
    sql = "r.comment IS NOT NULL AND r.simulated = 0 AND r.submitted_at >= ? AND r.submitted_at < ?" + where
    params = [*period.utc_bounds(offset_minutes), *params]
    if state == "open":
        sql += " AND c.response_id IS NULL"
    elif state == "handled":
        sql += " AND c.response_id IS NOT NULL"
    if search:
        sql += " AND r.id IN (SELECT rowid FROM comment_search WHERE comment_search MATCH ?)"
        params.append(search_expression(search))
    return sql, params


def _real_comments_index(db: sqlite_utils.Database) -> str:
    """``INDEXED BY`` the index of real responses' comments (0006c), when the database has it.

    Without statistics SQLite picked the older index of every comment and read each commented row
    to check that it is not simulated: 200 ms for the dashboard's count at 1,000,000 responses (60,000
    comments), 5 ms through this one; its latest five took 184 ms (a scan per unit), 0.2 ms here.
    """
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'responses_real_with_comment'")
    return " INDEXED BY responses_real_with_comment" if found.fetchone() else ""


def comments(db: sqlite_utils.Database, *, period: periods.Period, offset_minutes: int, scope: Scope,
             search: str | None, state: str, limit: int, offset: int) -> tuple[int, list[dict]]:
    """(total, one page) of comments, latest first."""
    where, params = _comments_where(period, offset_minutes, scope, search, state)
    real = _real_comments_index(db)
    if state == "open":
        # All less those handled: counted from an index, not a review lookup per comment.
        every, every_params = _comments_where(period, offset_minutes, scope, search, "all")
        total = db.execute(f"SELECT count(*) FROM responses r{real} WHERE " + every, every_params).fetchone()[0]
        total -= db.execute("SELECT count(*) FROM comment_reviews c CROSS JOIN responses r ON r.id = c.response_id "
                            "WHERE " + every, every_params).fetchone()[0]
    else:
        total = db.execute(f"SELECT count(*) FROM responses r{real} LEFT JOIN comment_reviews c ON c.response_id = r.id "
                           "WHERE " + where, params).fetchone()[0]
    rows = list(db.query(
        "SELECT r.id, r.submitted_at, r.channel, r.lang, r.comment, r.kiosk_id, r.excluded_at, "
        "u.slug AS unit_slug, u.name_vi AS unit_name_vi, u.name_en AS unit_name_en, c.handled_by, c.handled_at "
        f"FROM responses r{real} JOIN units u ON u.id = r.unit_id LEFT JOIN comment_reviews c ON c.response_id = r.id "
        "WHERE " + where + " ORDER BY r.submitted_at DESC, r.id DESC LIMIT ? OFFSET ?", [*params, limit, offset]))
    return total, rows


def set_comment_handled(db: sqlite_utils.Database, response_id: int, handled: bool, *, by: str) -> bool:
    """Mark a comment handled (or not); False if the response has no comment."""
    with write_transaction(db):
        if db.execute("SELECT 1 FROM responses WHERE id = ? AND comment IS NOT NULL",
                      [response_id]).fetchone() is None:
            return False
        if handled:
            db.execute("INSERT INTO comment_reviews (response_id, handled_by, handled_at) VALUES (?, ?, ?) "
                       "ON CONFLICT (response_id) DO NOTHING",
                       [response_id, by, periods.now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")])
        else:
            db.execute("DELETE FROM comment_reviews WHERE response_id = ?", [response_id])
    return True


# --- Export ----------------------------------------------------------------------------------

# Above this share of all responses, an export reads the whole table in storage
# order (sequential pages) rather than visiting its rows through an index.
FULL_SCAN_SHARE = 0.25


_EXPORT_COLUMNS = (f"r.uuid, r.id, r.questionnaire_version, r.unit_id, r.channel, r.kiosk_id, r.lang, r.started_at, "
                   f"r.submitted_at, r.duration_s, r.answers, {', '.join('r.' + c for c in RESPONDENT_FIELDS)}, "
                   f"r.comment, r.excluded_at, r.excluded_by, r.excluded_reason, f.straightline, f.burst")


def _export_where(questionnaire_id: str, bounds: tuple[str, str], scope: Scope, full_scan: bool,
                  include_simulated: bool) -> tuple[str, list]:
    where, params = _scope("+r.unit_id" if full_scan else "r.unit_id", scope)
    time_column = "+r.submitted_at" if full_scan else "r.submitted_at"
    return (f"WHERE r.questionnaire_id = ? AND {time_column} >= ? AND {time_column} < ?" + where +
            ("" if include_simulated else " AND r.simulated = 0"), [questionnaire_id, *bounds, *params])


def export_rows(db: sqlite_utils.Database, questionnaire_id: str, bounds: tuple[str, str],
                scope: Scope, *, full_scan: bool, include_simulated: bool = False) -> Iterator[tuple]:
    """Responses to export as tuples in the order they were stored, read lazily.

    Columns: uuid, id, questionnaire version, unit id, channel, kiosk id, lang,
    started_at, submitted_at, duration_s, answers, the respondent fields,
    comment, excluded at/by/reason, straight-lining and burst flags (None: no).
    ``full_scan`` (for exports of most responses) walks the table itself, without sorting;
    otherwise an index finds the rows and SQLite sorts them (spilling to disk,
    not memory, when there are many).
    """
    where, params = _export_where(questionnaire_id, bounds, scope, full_scan, include_simulated)
    return db.execute(f"SELECT {_EXPORT_COLUMNS} FROM responses r LEFT JOIN response_flags f ON f.response_id = r.id "
                      f"{where} ORDER BY r.id", params)


def export_parts(db: sqlite_utils.Database, parts: list[str], part_params: list, questionnaire_id: str,
                 bounds: tuple[str, str], scope: Scope, *, full_scan: bool, include_simulated: bool = False):
    """The rows of :func:`export_rows` as (id, *``parts``), in the same order, read lazily; the
    expressions in ``parts`` may use ``r`` (responses) and ``f`` (response_flags)."""
    where, params = _export_where(questionnaire_id, bounds, scope, full_scan, include_simulated)
    return db.conn.execute(f"SELECT r.id, {', '.join(parts)} FROM responses r LEFT JOIN response_flags f "
                           f"ON f.response_id = r.id {where} ORDER BY r.id", [*part_params, *params])


def export_rows_by_id(db: sqlite_utils.Database, ids: Sequence[int]) -> list[tuple]:
    """The rows of :func:`export_rows` of the responses ``ids``."""
    out: list[tuple] = []
    for i in range(0, len(ids), 10_000):
        chunk = list(ids[i:i + 10_000])
        out += db.execute(f"SELECT {_EXPORT_COLUMNS} FROM responses r LEFT JOIN response_flags f ON "
                          f"f.response_id = r.id WHERE r.id IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
    return out


def export_share(db: sqlite_utils.Database, period: periods.Period, scope: Scope) -> float:
    """About what share of all responses an export of ``period`` and ``scope`` reads (from the summaries)."""
    everything = db.execute("SELECT coalesce(sum(n), 0) FROM daily_counts").fetchone()[0]
    selected = sum(count_between(db, period.start.isoformat(), period.end.isoformat(), scope))
    return selected / everything if everything else 0.0


def export_names(db: sqlite_utils.Database) -> tuple[dict[int, tuple[str, str]], dict[int, str]]:
    """({unit id: (slug, name_vi)}, {kiosk id: name}) for labelling export rows."""
    units = {r["id"]: (r["slug"], r["name_vi"]) for r in db.query("SELECT id, slug, name_vi FROM units")}
    kiosks = {r["id"]: r["name"] for r in db.query("SELECT id, name FROM kiosks")}
    return units, kiosks


def questionnaire_versions(db: sqlite_utils.Database, questionnaire_id: str) -> list[dict]:
    return [{"version": r["version"], "definition": json.loads(r["definition"])} for r in db.query(
        "SELECT version, definition FROM questionnaires WHERE id = ? ORDER BY version", [questionnaire_id])]
