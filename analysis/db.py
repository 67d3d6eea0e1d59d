"""Read responses from the survey database into :class:`~analysis.inputs.SurveyData`.

The analysis reads the SQLite file directly with :mod:`sqlite3`, through the
schema that is the contract between the parts of the platform (tables
``units``, ``unit_population``, ``questionnaires``, ``responses``); it imports
nothing from the web application.

* Reporting units are the leaf units (units without active children) that have
  responses; each is its own stratum and its slug is the ``district`` label.
* Responses marked excluded (``excluded_at`` set) are left out, and so are
  responses held for review as possibly stuffed (``integrity_holds`` with state
  ``held``; see docs/integrity.md) unless ``held="include"``. ``origin``
  restricts the index to one origin: ``open-link`` (the unit's QR link or the
  web list: channels ``qr``, ``web``), ``kiosk`` or ``paper``.
* A period that is exactly a sampling frame's period is estimated from that
  frame's probability sample (:mod:`analysis.frame`); otherwise responses given
  through an invitation (``frame_id`` set) are left out: they count only in
  their frame's design.
* Answers (one character per criterion: ``1``..``5``, ``n`` not applicable,
  ``-`` no answer) are decoded with numpy, one questionnaire version at a time;
  versions of one questionnaire are aligned by criterion code. Factor
  membership, criterion weights and the "satisfied" threshold come from the
  newest version in the period.
"""
from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .frame import MIN_RESPONDENTS, FrameDesignError, frame_for_period, frame_weights
from .inputs import Calibration, InputError, SurveyData, nfc
from .messages import coded as coded_error, recast
from .weights import Margin, design_weights, poststratify, rake

__all__ = ["load_db", "LoadSpec", "Period", "Filters", "Weighting", "WEIGHTING", "DbError", "ORIGINS", "HELD",
           "held_sql"]

ORIGINS = {"open-link": "channel IN ('qr', 'web')", "kiosk": "channel = 'kiosk'", "paper": "channel = 'paper'"}  # qr: the counter's QR code (survey/labels.py)
"""Where responses came from: the unit's open link (QR code or web list), a registered kiosk, paper forms.
(Invitations will be a fourth origin once they exist.)"""
HELD = ("leave-out", "include")
"""Responses held for review as possibly stuffed: left out of the index (default) or included."""


def held_sql(conn) -> str | None:
    """SQL true for a response held for review (None when the database has no integrity tables)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'integrity_holds'").fetchone():
        return "id IN (SELECT response_id FROM integrity_holds WHERE state = 'held')"
    return None

WEIGHTING = ("none", "design", "poststratify", "rake")
"""``none``: every response weighs 1. ``design``: unit population / unit sample size.
``poststratify``: unit x age band cells (``unit_population``, dimension ``age_band``).
``rake``: unit x age band and, for each parent unit (the city), gender."""

_DECODE = np.zeros(256, dtype=np.uint8)
for _c in b"12345":
    _DECODE[_c] = _c - 48
_VALID = np.zeros(256, dtype=bool)
_VALID[list(b"12345n-")] = True


class DbError(InputError):
    """The database cannot give what was asked (no such questionnaire, no responses, missing margins...)."""


def _day(value, what: str) -> date:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DbError(f"{what} must be a date YYYY-MM-DD, got {value!r}") from None


def _utc(day: date, zone: ZoneInfo) -> str:
    return datetime.combine(day, time(0), zone).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Period:
    """Days ``date_from`` .. ``date_to`` (inclusive, either open), counted in the time zone ``tz``."""
    date_from: date | None = None
    date_to: date | None = None
    tz: str = "Asia/Ho_Chi_Minh"

    def __post_init__(self):
        object.__setattr__(self, "date_from", _day(self.date_from, "--from"))
        object.__setattr__(self, "date_to", _day(self.date_to, "--to"))
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise DbError(f"the period ends ({self.date_to}) before it starts ({self.date_from})")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise DbError(f"unknown time zone {self.tz!r}") from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def label(self) -> str:
        return f"{self.date_from or 'start'} .. {self.date_to or 'end'} ({self.tz})"


@dataclass(frozen=True)
class Filters:
    """Which responses: one questionnaire (None: the only one in the period) and unit slugs (a parent
    unit stands for its leaf units; None: all). Excluded responses are always left out; responses held
    for review as possibly stuffed are left out unless ``held`` is "include" (see :data:`HELD`);
    ``origin`` keeps one origin only (see :data:`ORIGINS`); simulated responses (survey/simulate.py
    marks them) are left out unless ``include_simulated``."""
    questionnaire: str | None = None
    units: tuple[str, ...] | None = None
    held: str = "leave-out"
    origin: str | None = None
    include_simulated: bool = False

    def __post_init__(self):
        if self.units is not None:
            object.__setattr__(self, "units", tuple(self.units))
        if self.held not in HELD:
            raise DbError(f"held must be one of {', '.join(HELD)}; got {self.held!r}")
        if self.origin is not None and self.origin not in ORIGINS:
            raise DbError(f"origin must be one of {', '.join(ORIGINS)}; got {self.origin!r}")


@dataclass(frozen=True)
class Weighting:
    """How responses are weighted: ``method`` one of :data:`WEIGHTING`; ``drop_incomplete`` drops
    responses without the age band (and gender) that post-stratification and raking need instead of
    refusing; ``rake_tol``, ``rake_max_iter``, ``trim`` go to :func:`analysis.weights.rake`."""
    method: str = "design"
    drop_incomplete: bool = False
    rake_tol: float = 1e-8
    rake_max_iter: int = 100
    trim: tuple[float, float] | None = None
    # Probability samples (analysis/frame.py): with method "design", a period that is exactly a
    # sampling frame's period is estimated from that frame's sample (None: when there is one;
    # True: require one; False: never); min_cell is the smallest non-response weighting cell.
    frame: bool | None = None
    min_cell: int = MIN_RESPONDENTS

    def __post_init__(self):
        if self.method not in WEIGHTING:
            raise DbError(f"weights must be one of {', '.join(WEIGHTING)}; got {self.method!r}")

    @property
    def margins(self) -> tuple[str, ...]:
        """Population margins the method needs, in ``unit_population`` dimension names."""
        return {"poststratify": ("age_band",), "rake": ("age_band", "gender")}.get(self.method, ())


@dataclass(frozen=True)
class LoadSpec:
    """Everything :func:`load_db` needs to know besides the file: the period, the response filters
    and the weighting. Frozen; build variants with :func:`dataclasses.replace`.

    Strata and PSUs are not chosen: each reporting unit is its own stratum and each response its
    own PSU (the survey is a stratified sample of respondents).
    """
    period: Period = field(default_factory=Period)
    filters: Filters = field(default_factory=Filters)
    weighting: Weighting = field(default_factory=Weighting)

    @classmethod
    def of(cls, *, date_from=None, date_to=None, tz: str = "Asia/Ho_Chi_Minh", questionnaire: str | None = None,
           units: Sequence[str] | None = None, weights: str = "design", drop_incomplete: bool = False,
           rake_tol: float = 1e-8, rake_max_iter: int = 100,
           trim: tuple[float, float] | None = None, held: str = "leave-out",
           origin: str | None = None, include_simulated: bool = False, frame: bool | None = None,
           min_cell: int = MIN_RESPONDENTS) -> "LoadSpec":
        """A spec from the flat keyword arguments of :func:`load_db`."""
        return cls(Period(date_from, date_to, tz), Filters(questionnaire, units, held, origin, include_simulated),
                   Weighting(weights, drop_incomplete, rake_tol, rake_max_iter, trim, frame, min_cell))


def load_db(path, *, spec: LoadSpec | None = None, date_from=None, date_to=None, questionnaire: str | None = None,
            units: Sequence[str] | None = None, weights: str = "design", tz: str = "Asia/Ho_Chi_Minh",
            drop_incomplete: bool = False, rake_tol: float = 1e-8, rake_max_iter: int = 100,
            trim: tuple[float, float] | None = None, held: str = "leave-out", origin: str | None = None,
            include_simulated: bool = False,
            frame: bool | None = None, min_cell: int = MIN_RESPONDENTS,
            progress: Callable[[int, int], None] | None = None) -> SurveyData:
    """Load the responses of one questionnaire and period, weighted, ready for :func:`compute_table`.

    Parameters
    ----------
    path : path
        The SQLite database of the survey application.
    spec : LoadSpec, optional, keyword-only
        The period, filters and weighting in one object. When given, the flat
        keywords below must be left at their defaults.
    date_from, date_to : date or "YYYY-MM-DD", optional, keyword-only
        First and last day (inclusive), counted in the city's time zone ``tz``.
    questionnaire : str, optional, keyword-only
        Questionnaire id; required only when the period holds several.
    units : sequence of str, optional, keyword-only
        Unit slugs to include (a parent unit stands for its leaf units).
    weights : {"none", "design", "poststratify", "rake"}, keyword-only
        See :data:`WEIGHTING`. Default "design".
    tz : str, keyword-only
        Time zone in which days are counted (default Asia/Ho_Chi_Minh).
    drop_incomplete : bool, keyword-only
        Post-stratification and raking need each respondent's age band (and
        gender): by default a response without them is an error; with True such
        responses are dropped and counted in ``notes``.
    rake_tol, rake_max_iter, trim : keyword-only
        Passed to :func:`analysis.weights.rake`.
    held : {"leave-out", "include"}, keyword-only
        Responses held for review as possibly stuffed: left out (default) or included.
    origin : {"open-link", "kiosk", "paper"}, optional, keyword-only
        Only responses of this origin (see :data:`ORIGINS`); default all.
    frame : bool or None, keyword-only
        With ``weights="design"``, a period that is exactly the period of a sampling
        frame with a drawn sample is estimated from that probability sample only
        (:mod:`analysis.frame`: the responses given through its invitations,
        whenever they were submitted; strata unit x field; weights N_h/n_h adjusted
        for non-response; finite population correction). None (default): do so
        when such a frame exists; True: require one; False: never.
    min_cell : int, keyword-only
        Smallest number of respondents in a non-response weighting cell (frame design).
    progress : callable, optional, keyword-only
        ``progress(done, total)`` while decoding.

    Returns
    -------
    SurveyData
        ``notes`` records the period, questionnaire versions, counts and the weighting.

    Raises
    ------
    DbError
        Unknown questionnaire or unit, no responses, an answer string that does
        not fit its questionnaire version, missing population margins,
        respondents outside every weighting cell.
    """
    flat = LoadSpec.of(date_from=date_from, date_to=date_to, tz=tz, questionnaire=questionnaire, units=units,
                       weights=weights, drop_incomplete=drop_incomplete, rake_tol=rake_tol,
                       rake_max_iter=rake_max_iter, trim=trim, held=held, origin=origin,
                       include_simulated=include_simulated, frame=frame, min_cell=min_cell)
    if spec is None:
        spec = flat
    elif flat != LoadSpec():
        raise TypeError("load_db: give either spec= or the flat keyword arguments, not both")
    path = Path(path)
    if not path.is_file():
        raise coded_error(DbError, "db.no_file", f"{path}: no such database file", path=str(path))
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:   # e.g. a WAL database whose -shm cannot be created read-only
        conn = sqlite3.connect(str(path))
    try:
        return _load(conn, path, spec, progress)
    except sqlite3.DatabaseError as exc:
        raise coded_error(DbError, "db.unreadable", f"{path}: cannot read the survey database: {exc}", path=str(path),
                    reason=str(exc)) from None
    finally:
        conn.close()


def _category_case(column: str, categories: list[str]) -> tuple[str, list]:
    """SQL mapping a text column to 0..61 for known categories, 62 for missing, 63 for anything else."""
    whens = " ".join(f"WHEN {column} = ? THEN {i}" for i in range(len(categories)))
    return f"48 + CASE WHEN {column} IS NULL OR {column} = '' THEN 62 {whens} ELSE 63 END", list(categories)


@dataclass
class _Units:
    """The ``units`` table: rows by id and slug, children by parent id."""
    by_id: dict
    by_slug: dict
    children: dict

    @classmethod
    def read(cls, conn) -> "_Units":
        rows = conn.execute("SELECT id, slug, parent_id, population, active FROM units").fetchall()
        children: dict = {}
        for r in rows:
            if r[2] is not None:
                children.setdefault(r[2], []).append(r[0])
        rows = [(r[0], nfc(r[1]), *r[2:]) for r in rows]
        by_slug: dict = {}
        for r in rows:
            if r[1] in by_slug:
                raise coded_error(DbError, "db.same_slug", f"units {by_slug[r[1]][0]} and {r[0]} have the same slug "
                            f"{r[1]!r} once written in Unicode NFC: rename one", first=by_slug[r[1]][0],
                            second=r[0], slug=r[1])
            by_slug[r[1]] = r
        return cls({r[0]: r for r in rows}, by_slug, children)

    def leaves(self, slugs: Iterable[str]) -> set[int]:
        chosen: set[int] = set()
        for slug in slugs:
            slug = nfc(slug)
            if slug not in self.by_slug:
                raise DbError(f"unknown unit {slug!r}")
            stack = [self.by_slug[slug][0]]
            while stack:
                u = stack.pop()
                kids = self.children.get(u, [])
                if kids:
                    stack.extend(kids)
                else:
                    chosen.add(u)
        return chosen


@dataclass
class _Where:
    """The WHERE clause selecting the responses of a spec."""
    clauses: list
    args: list

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)


def _where(spec: LoadSpec, units: _Units) -> _Where:
    period, zone = spec.period, spec.period.zone
    where = _Where(["excluded_at IS NULL"] + ([] if spec.filters.include_simulated else ["simulated = 0"]), [])
    if period.date_from:
        where.clauses.append("submitted_at >= ?")
        where.args.append(_utc(period.date_from, zone))
    if period.date_to:
        where.clauses.append("submitted_at < ?")
        where.args.append(_utc(period.date_to + timedelta(days=1), zone))
    if spec.filters.units:
        chosen = units.leaves(spec.filters.units)
        where.clauses.append(f"unit_id IN ({', '.join(str(int(u)) for u in sorted(chosen))})")
    if spec.filters.origin is not None:
        where.clauses.append(ORIGINS[spec.filters.origin])
    return where


def _catalogue(conn, path, spec: LoadSpec, where: _Where) -> tuple[dict, list[str], dict]:
    """Questionnaire versions: (catalogue id -> version -> definition text, candidate ids, parsed definitions).
    Adds the questionnaire condition to ``where``."""
    questionnaire = spec.filters.questionnaire
    catalogue: dict[str, dict[int, str]] = {}
    for qid, v, definition in conn.execute("SELECT id, version, definition FROM questionnaires"):
        catalogue.setdefault(qid, {})[v] = definition
    if questionnaire is not None:
        if questionnaire not in catalogue:
            raise DbError(f"unknown questionnaire {questionnaire!r} (known: {', '.join(sorted(catalogue)) or 'none'})")
        where.clauses.append("questionnaire_id = ?")
        where.args.append(questionnaire)
        candidates = [questionnaire]
    else:
        candidates = sorted(catalogue)
    if not candidates or len(candidates) > 63:
        raise coded_error(DbError, "db.questionnaire_count", f"{path}: {len(candidates)} questionnaires in the database; "
                    f"choose one with --questionnaire", path=str(path), count=len(candidates))
    defs: dict[tuple[str, int], dict] = {}
    for qid in candidates:
        for v, definition in catalogue[qid].items():
            try:
                defs[(qid, v)] = _definition(definition, qid, v)
            except (ValueError, KeyError, TypeError) as exc:
                raise coded_error(DbError, "db.bad_definition", f"questionnaire {qid!r} version {v}: unreadable "
                            f"definition ({exc})", questionnaire=qid, version=v, reason=str(exc)) from None
    return catalogue, candidates, defs


@dataclass
class _Scan:
    """The selected responses, one array per column (``coded``: category codes of the weighting dimensions,
    62 = missing, 63 = a category without population margins)."""
    n: int
    questionnaire: str
    rid: np.ndarray
    unit_id: np.ndarray
    version: np.ndarray
    text: bytes
    categories: dict[str, list[str]]
    coded: dict[str, np.ndarray]


def _scan(conn, path, spec: LoadSpec, where: _Where, catalogue: dict, candidates: list[str]) -> _Scan:
    """One scan: SQLite concatenates each column over all responses (in the same row order), numpy decodes
    the strings; no Python object per response."""
    several_versions = any(len(catalogue[q]) > 1 for q in candidates)
    cols = ["count(*)", "min(questionnaire_id)", "max(questionnaire_id)", "group_concat(id, ',')",
            "group_concat(unit_id, ',')", "group_concat(answers, ',')"]
    if several_versions:
        cols.append("group_concat(questionnaire_version, ',')")
    categories: dict[str, list[str]] = {}
    cat_args: list = []
    for dim in spec.weighting.margins:
        cats = [r[0] for r in conn.execute("SELECT DISTINCT category FROM unit_population WHERE dimension = ? "
                                           "ORDER BY category", [dim])][:61]
        categories[dim] = cats
        sql_, extra = _category_case(dim, cats)
        cols.append(f"group_concat(char({sql_}), '')")
        cat_args.extend(extra)
    sql, args = f"SELECT {', '.join(cols)} FROM responses WHERE {where.sql}", cat_args + where.args
    in_time_order = _time_order_ids(conn, sql, args, spec)
    row = conn.execute(sql.replace("FROM responses WHERE", "FROM responses NOT INDEXED WHERE", 1)
                       if in_time_order is not None else sql, args).fetchone()
    n = row[0]
    if not n:
        units, questionnaire = spec.filters.units, spec.filters.questionnaire
        raise coded_error(DbError, "db.no_responses", f"no responses in {spec.period.label()}"
                    + (f" for units {', '.join(units)}" if units else "")
                    + (f" to {questionnaire!r}" if questionnaire else ""), date_from=spec.period.date_from,
                    date_to=spec.period.date_to, units=tuple(units or ()), questionnaire=questionnaire)
    if row[1] != row[2]:
        found = conn.execute(f"SELECT questionnaire_id, count(*) FROM responses WHERE {where.sql} "
                             "GROUP BY questionnaire_id", where.args).fetchall()
        listing = ", ".join(f"{q} ({c} responses)" for q, c in found)
        raise coded_error(DbError, "db.several_questionnaires", f"the period holds several questionnaires: {listing}; "
                    f"choose one with --questionnaire", found=tuple((q, c) for q, c in found))
    questionnaire = row[1]
    rid = np.fromstring(row[3], dtype=np.int64, sep=",")
    unit_id = np.fromstring(row[4], dtype=np.int64, sep=",")
    nxt = 6
    if several_versions:
        version = np.fromstring(row[nxt], dtype=np.int64, sep=",")
        nxt += 1
    else:
        version = np.full(n, next(iter(catalogue[questionnaire])), dtype=np.int64)
    coded = {}
    for dim in categories:
        coded[dim] = np.frombuffer(row[nxt].encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
        nxt += 1
    if rid.size != n or unit_id.size != n or any(c.size != n for c in coded.values()):
        raise coded_error(DbError, "db.undecodable", f"{path}: could not decode the responses table", path=str(path))
    text = row[5].encode("ascii")
    if in_time_order is not None:      # the rows in the order the time index gives them, as before
        perm = _permutation_to(rid, in_time_order)
        width = text.find(b",") if n > 1 else len(text)
        records = (np.frombuffer(text + b",", dtype=np.uint8).reshape(n, width + 1)
                   if len(text) == n * (width + 1) - 1 else None)
        if perm is None or records is None or not np.all(records[:, width] == 44):
            # answer strings of several lengths (or a damaged one): let SQLite read them through the index
            return _scan_of(conn.execute(sql, args).fetchone(), n, questionnaire, several_versions, catalogue,
                            categories)
        rid, unit_id, version = rid[perm], unit_id[perm], version[perm]
        coded = {dim: c[perm] for dim, c in coded.items()}
        text = records[perm].tobytes()[:-1]
    return _Scan(n, questionnaire, rid, unit_id, version, text, categories, coded)


def _scan_of(row, n, questionnaire, several_versions, catalogue, categories) -> _Scan:
    """The columns of the scan's one row (as :func:`_scan` decodes them)."""
    rid = np.fromstring(row[3], dtype=np.int64, sep=",")
    unit_id = np.fromstring(row[4], dtype=np.int64, sep=",")
    nxt = 6
    if several_versions:
        version = np.fromstring(row[nxt], dtype=np.int64, sep=",")
        nxt += 1
    else:
        version = np.full(n, next(iter(catalogue[questionnaire])), dtype=np.int64)
    coded = {}
    for dim in categories:
        coded[dim] = np.frombuffer(row[nxt].encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
        nxt += 1
    return _Scan(n, questionnaire, rid, unit_id, version, row[5].encode("ascii"), categories, coded)


SCAN_SHARE = 0.25
"""A period holding more than this share of the table's rows is read by a table scan, not the time index."""


def _time_order_ids(conn, sql: str, args: list, spec: LoadSpec) -> np.ndarray | None:
    """When SQLite would read the scan through the time index and the period holds most of the table,
    the ids of the period's responses in the index's order (the scan then reads the table straight
    through, 3 to 5 times faster than fetching each row by the index, and puts its rows back in this
    order, so every sum downstream runs in the same order as before); otherwise None."""
    period, zone = spec.period, spec.period.zone
    clauses, date_args = [], []
    if period.date_from:
        clauses.append("submitted_at >= ?")
        date_args.append(_utc(period.date_from, zone))
    if period.date_to:
        clauses.append("submitted_at < ?")
        date_args.append(_utc(period.date_to + timedelta(days=1), zone))
    if not clauses:
        return None
    plan = [str(r[-1]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()]
    if not any(p.startswith("SEARCH responses USING INDEX responses_submitted_at (") for p in plan):
        return None
    date_sql = " AND ".join(clauses)
    in_period = conn.execute(f"SELECT count(*) FROM responses WHERE {date_sql}", date_args).fetchone()[0]
    everything = conn.execute("SELECT max(rowid) FROM responses").fetchone()[0] or 1
    if in_period <= SCAN_SHARE * everything:
        return None
    ids = conn.execute(f"SELECT group_concat(id, ',') FROM responses INDEXED BY responses_submitted_at "
                       f"WHERE {date_sql}", date_args).fetchone()[0]
    return np.fromstring(ids or "", dtype=np.int64, sep=",")


def _permutation_to(rid: np.ndarray, ids: np.ndarray) -> np.ndarray | None:
    """The order that puts ``rid`` (unique) in the relative order of ``ids`` (None if one is missing)."""
    if rid.size == 0:
        return np.zeros(0, dtype=np.intp)
    sorter = np.argsort(ids, kind="stable")
    at = np.searchsorted(ids, rid, sorter=sorter)
    if np.any(at >= ids.size) or not np.array_equal(ids[sorter[np.minimum(at, ids.size - 1)]], rid):
        return None
    return np.argsort(sorter[at], kind="stable")


def _answer_bytes(conn, scan: _Scan, defs: dict) -> np.ndarray:
    """The answer strings as an (n, widest version) byte matrix, checked character by character."""
    n, version, questionnaire, rid = scan.n, scan.version, scan.questionnaire, scan.rid
    widths = {v: len(defs[(questionnaire, v)]["codes"]) for v in np.unique(version).tolist()}
    raw = np.frombuffer(scan.text, dtype=np.uint8)
    if len(set(widths.values())) == 1 and raw.size == n * (next(iter(widths.values())) + 1) - 1:
        wv = next(iter(widths.values()))
        answer_bytes = np.lib.stride_tricks.as_strided(raw, shape=(n, wv), strides=(wv + 1, 1), writeable=False)
        if n > 1 and not np.all(raw[wv::wv + 1] == 44):
            answer_bytes = None
    else:
        answer_bytes = None
    if answer_bytes is None:      # records of several widths (versions), or a wrong-length answer string
        sep = np.flatnonzero(raw == 44)
        starts = np.concatenate(([0], sep + 1))
        lengths = np.concatenate((sep, [raw.size])) - starts
        expected = np.array([widths[v] for v in version.tolist()]) if len(widths) > 1 else next(iter(widths.values()))
        bad = np.flatnonzero(lengths != expected) if lengths.size == n else np.arange(min(n, 1))
        if bad.size:
            i = int(bad[0])
            ans = conn.execute("SELECT answers, questionnaire_version FROM responses WHERE id = ?", [int(rid[i])]).fetchone()
            raise coded_error(DbError, "db.answer_length", f"response id {rid[i]}: answers {ans[0]!r} have {len(ans[0])} "
                        f"characters but version {ans[1]} of {questionnaire!r} has {widths.get(ans[1], '?')} criteria",
                        response=int(rid[i]), length=len(ans[0]), version=ans[1], questionnaire=questionnaire,
                        criteria=widths.get(ans[1]))
        wmax = max(widths.values())
        answer_bytes = np.full((n, wmax), ord("-"), dtype=np.uint8)
        for v, wv in widths.items():
            sel = np.flatnonzero(version == v) if len(widths) > 1 else np.arange(n)
            answer_bytes[np.ix_(sel, np.arange(wv))] = raw[starts[sel, None] + np.arange(wv)]
    invalid = ~_VALID[answer_bytes]
    if invalid.any():
        r, c = np.argwhere(invalid)[0]
        raise coded_error(DbError, "db.answer_value", f"response id {rid[r]}: an answer {chr(answer_bytes[r, c])!r} is "
                    f"not 1..5, n or -", response=int(rid[r]), answer=chr(answer_bytes[r, c]))
    return answer_bytes


@dataclass
class _Criteria:
    items: list[str]
    codes: np.ndarray           # (n, J) answer codes 0..5
    factor_of: dict[str, str]
    weight_of: dict[str, float]
    satisfied_from: int
    note: str


def _criteria(scan: _Scan, defs: dict, answer_bytes: np.ndarray) -> _Criteria:
    """Questionnaire versions -> criteria aligned by code (the newest version's factor and weight win)."""
    version = scan.version
    versions = {v: defs[(scan.questionnaire, v)] for v in np.unique(version).tolist()}
    newest = versions[max(versions)]
    items = list(newest["codes"])
    for v in sorted(versions, reverse=True):
        items.extend(c for c in versions[v]["codes"] if c not in items)
    col_of = {c: i for i, c in enumerate(items)}
    factor_of: dict[str, str] = {}
    weight_of: dict[str, float] = {}
    for v in sorted(versions):
        factor_of.update(versions[v]["factor_of"])
        weight_of.update(versions[v]["weight_of"])
    vc = np.bincount(version - version.min())
    note = "versions: " + ", ".join(f"v{v + version.min()} ({c} responses)" for v, c in enumerate(vc.tolist()) if c)
    J = len(items)
    if len(versions) == 1 and newest["codes"] == items and answer_bytes.shape[1] == J:
        codes = _DECODE[answer_bytes]
    else:
        codes = np.zeros((scan.n, J), dtype=np.uint8)
        for v, dfn in versions.items():
            sel = np.flatnonzero(version == v)
            target_cols = np.array([col_of[c] for c in dfn["codes"]])
            codes[np.ix_(sel, target_cols)] = _DECODE[answer_bytes[np.ix_(sel, np.arange(len(dfn["codes"])))]]
    return _Criteria(items, codes, factor_of, weight_of, newest["satisfied_from"], note)


def _reporting_units(scan: _Scan, units: _Units) -> tuple[np.ndarray, tuple[str, ...], list[int]]:
    """Leaves with responses, sorted by slug: (district code per response, slugs, unit ids)."""
    present_units = np.unique(scan.unit_id)
    for u in present_units.tolist():
        if u not in units.by_id:
            raise coded_error(DbError, "db.unknown_unit_id", f"responses refer to unit id {u}, which is not in the units "
                        f"table", unit_id=u)
    slugs = np.array([units.by_id[u][1] for u in present_units.tolist()], dtype=object)
    order = np.argsort(slugs.astype(str))
    unit_code = np.searchsorted(present_units, scan.unit_id)           # 0..U-1 in id order
    remap = np.empty(order.size, dtype=np.intp)
    remap[order] = np.arange(order.size)
    labels = tuple(str(s) for s in slugs[order])
    return remap[unit_code], labels, [int(present_units[o]) for o in order]


def _incomplete(conn, spec: LoadSpec, where: _Where, scan: _Scan) -> tuple[np.ndarray, list[str]]:
    """Responses to keep: those with every category the weighting needs (or an error, see drop_incomplete)."""
    coded, categories = scan.coded, scan.categories
    keep = np.ones(scan.n, dtype=bool)
    notes: list[str] = []
    if not coded:
        return keep, notes
    method = spec.weighting.method
    what = "an age band" + (" or a gender" if "gender" in coded else "")
    lacking = np.zeros(scan.n, dtype=bool)
    for dim, c in coded.items():
        lacking |= c == 62
    for dim, c in coded.items():
        if np.any(c == 63):
            known = categories[dim]
            placeholders = ", ".join("?" for _ in known) or "''"
            examples = conn.execute(
                f"SELECT id, {dim} FROM responses WHERE {where.sql} AND {dim} IS NOT NULL AND "
                f"{dim} != '' AND {dim} NOT IN ({placeholders}) LIMIT 5", where.args + known).fetchall()
            raise DbError(f"{int(np.sum(c == 63))} response(s) have a value of {dim} without population margins "
                          f"(e.g. response id {examples[0][0]}: {examples[0][1]!r}); margins exist for "
                          f"{', '.join(known)}")
    if lacking.any():
        if not spec.weighting.drop_incomplete:
            ids = [r[0] for r in conn.execute(
                f"SELECT id FROM responses WHERE {where.sql} AND ("
                + " OR ".join(f"{dim} IS NULL OR {dim} = ''" for dim in coded) + ") LIMIT 5", where.args)]
            raise DbError(f"{int(lacking.sum())} response(s) lack {what}, which {method} weighting needs "
                          f"(e.g. response ids {', '.join(map(str, ids))}); use --drop-incomplete to "
                          f"leave them out")
        keep &= ~lacking
        notes.append(f"dropped {int(lacking.sum())} response(s) without {what}")
    return keep, notes


def _weights(conn, spec: LoadSpec, units: _Units, district: np.ndarray, labels, label_ids,
             categories: dict, coded: dict) -> tuple[np.ndarray, list[str], Calibration | None]:
    """Final weights, the notes describing them and the calibration behind them (for the variance)."""
    method = spec.weighting.method
    n, notes = district.size, []
    by_id = units.by_id
    pop = {lab: by_id[uid][3] for lab, uid in zip(labels, label_ids)}
    if method == "none":
        return np.ones(n), ["weights: none (every response weighs 1)"], None
    missing_pop = [lab for lab in labels if pop[lab] is None]
    if missing_pop:
        shown = ", ".join(missing_pop[:8]) + (f", … ({len(missing_pop)} in all)" if len(missing_pop) > 8 else "")
        raise DbError(f"{len(missing_pop)} unit(s) have no population, which design weights need: {shown}. "
                      "Weighting does not invent margins: import the units' counts (`flask --app survey "
                      "import-margins`, dimension total) or use weights none")
    w = design_weights(district, {i: pop[lab] for i, lab in enumerate(labels)})
    notes.append("weights: design (unit population / responses in the unit)")
    if method == "design":
        return w, notes, None
    age_cats = categories["age_band"]
    margins_age = _margins(conn, label_ids, "age_band")
    totals, names = {}, {}
    for i, uid in enumerate(label_ids):
        if uid not in margins_age:
            lacking = [labels[k] for k, u in enumerate(label_ids) if u not in margins_age]
            shown = ", ".join(lacking[:8]) + (f", … ({len(lacking)} in all)" if len(lacking) > 8 else "")
            raise DbError(f"{len(lacking)} unit(s) have no age_band population margins (table unit_population), "
                          f"so the margins do not cover them: {shown}. Weighting does not invent margins: import "
                          "the units' counts (`flask --app survey import-margins`) or use weights none or design")
        for cat, value in margins_age[uid].items():
            totals[i * 64 + age_cats.index(cat)] = value
            names[i * 64 + age_cats.index(cat)] = f"{labels[i]} x {cat}"
    for i in range(len(labels)):      # name the cells respondents fall in, with or without a margin
        for k, cat in enumerate(age_cats):
            names.setdefault(i * 64 + k, f"{labels[i]} x {cat}")
    cells = district.astype(np.int64) * 64 + coded["age_band"]
    try:
        if method == "poststratify":
            w = poststratify(w, cells, totals, labels=names)
            notes.append("weights: post-stratified to unit x age_band")
            return w, notes, Calibration("poststratify", (cells,), names=("unit x age_band",))
        parent_of = [by_id[uid][2] for uid in label_ids]
        parents = sorted({p for p in parent_of if p is not None})
        if not parents or any(p is None for p in parent_of):
            raise DbError("raking to gender needs every unit to have a parent unit with gender margins")
        g_cats = categories["gender"]
        margins_gender = _margins(conn, parents, "gender")
        g_totals, g_names = {}, {}
        for j, pid in enumerate(parents):
            if pid not in margins_gender:
                raise DbError(f"unit {by_id[pid][1]!r} has no gender population margins")
            for cat, value in margins_gender[pid].items():
                g_totals[j * 64 + g_cats.index(cat)] = value
            for k, cat in enumerate(g_cats):
                g_names[j * 64 + k] = f"{by_id[pid][1]} x {cat}"
        parent_index = np.array([parents.index(p) for p in parent_of])
        g_cells = parent_index[district].astype(np.int64) * 64 + coded["gender"]
        wt = spec.weighting
        design_w = w
        result = rake(w, [Margin("unit x age_band", cells, totals, names),
                          Margin("gender", g_cells, g_totals, g_names)],
                      tol=wt.rake_tol, max_iter=wt.rake_max_iter, trim=wt.trim, rescale=True)
    except ValueError as exc:
        raise DbError(str(exc)) from None
    notes.extend("weights: " + line for line in result.report().splitlines())
    if not result.converged:
        notes.append("WARNING: raking did not converge; the margins are not met (see above)")
    return result.weights, notes, Calibration("calibrate", (cells, g_cells), design_w,
                                              ("unit x age_band", "gender"))


def _frame_of(conn, spec: LoadSpec) -> int | None:
    """The sampling frame whose sample estimates this spec's period (see :class:`Weighting`), or None."""
    wt = spec.weighting
    if wt.method != "design" or wt.frame is False or spec.filters.origin is not None:
        return None
    frame_id = frame_for_period(conn, spec.period.date_from, spec.period.date_to)
    if wt.frame is True and frame_id is None:
        raise coded_error(DbError, "db.no_frame", f"no sampling frame with a drawn sample for exactly "
                    f"{spec.period.date_from}:{spec.period.date_to}", date_from=spec.period.date_from,
                    date_to=spec.period.date_to)
    return frame_id


def _frame_design(conn, spec: LoadSpec, frame_id: int, rid: np.ndarray):
    """(weights, stratum codes, stratum labels, N per stratum, notes) of the frame's design for ``rid``."""
    try:
        fw = frame_weights(conn, frame_id, min_respondents=spec.weighting.min_cell, response_ids=rid)
    except FrameDesignError as exc:
        raise recast(DbError, exc) from None
    pos = np.searchsorted(fw.response_id, rid)
    names, stratum = np.unique(np.array(fw.strata, dtype=object)[fw.stratum[pos]].astype(str), return_inverse=True)
    fpc = np.array([fw.population[fw.strata.index(s)] for s in names.tolist()])
    return fw.weights[pos], stratum.reshape(-1), tuple(names.tolist()), fpc, fw.notes()


def _load(conn, path, spec: LoadSpec, progress) -> SurveyData:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = {"units", "unit_population", "questionnaires", "responses"} - tables
    if missing:
        raise coded_error(DbError, "db.not_survey", f"{path}: not a survey database (no table "
                    f"{', '.join(sorted(missing))})", path=str(path), missing=tuple(sorted(missing)))
    units = _Units.read(conn)
    where = _where(spec, units)
    period_label = spec.period.label()
    frame_id = _frame_of(conn, spec)
    if frame_id is not None:     # the probability sample: its responses, whenever they were submitted
        where.clauses = ["excluded_at IS NULL", f"frame_id = {int(frame_id)}"] + [
            c for c in where.clauses if c.startswith("unit_id IN")]
        where.args = []
        period_label = (f"{spec.period.date_from} .. {spec.period.date_to} (sampling frame {frame_id}: "
                        f"responses to its invitations)")
    elif "frame_id" in {r[1] for r in conn.execute("PRAGMA table_info(responses)")}:
        # responses to invitations count only in their frame's design, never as open feedback
        where.clauses.append("frame_id IS NULL")
    catalogue, candidates, defs = _catalogue(conn, path, spec, where)
    held_where, held_n = held_sql(conn), 0
    if held_where is not None:
        held_n = conn.execute(f"SELECT count(*) FROM responses WHERE {held_where} AND {where.sql}",
                              where.args).fetchone()[0]
        if spec.filters.held == "leave-out":
            where.clauses.append(f"NOT {held_where}")
    if progress:
        progress(0, 1)
    scan = _scan(conn, path, spec, where, catalogue, candidates)
    crit = _criteria(scan, defs, _answer_bytes(conn, scan, defs))
    scan.text = b""
    notes = [f"database: {path}", f"period: {period_label}", f"questionnaire: {scan.questionnaire}",
             crit.note]
    if spec.filters.origin is not None:
        notes.append(f"origin: {spec.filters.origin} only")
    if held_n:
        notes.append(f"held for review as possibly stuffed: {held_n} response(s) "
                     + ("left out (held=leave-out)" if spec.filters.held == "leave-out" else "included (held=include)"))
    if progress:
        progress(1, 1)
    district, labels, label_ids = _reporting_units(scan, units)
    keep, dropped = _incomplete(conn, spec, where, scan)
    notes.extend(dropped)
    codes, rid, coded, n = crit.codes, scan.rid, scan.coded, scan.n
    if not keep.all():
        district, codes, rid = district[keep], codes[keep], rid[keep]
        coded = {dim: c[keep] for dim, c in coded.items()}
        n = int(keep.sum())
        if n == 0:
            raise DbError("no responses left after dropping incomplete ones")
    stratum, strata, fpc, calibration = district.copy(), labels, None, None
    if frame_id is not None:
        w, stratum, strata, fpc, weight_notes = _frame_design(conn, spec, frame_id, rid)
    else:
        w, weight_notes, calibration = _weights(conn, spec, units, district, labels, label_ids, scan.categories,
                                                coded)
    notes.extend(weight_notes)
    notes.append(f"responses: {n} in {len(labels)} unit(s)")
    items = crit.items
    return SurveyData(items=tuple(items), answers=np.ascontiguousarray(codes), weights=w, district=district,
                      districts=labels, stratum=stratum, strata=strata, psu=None, fpc=fpc,
                      factor_of=crit.factor_of,
                      item_weights=np.array([crit.weight_of.get(c, 1.0) for c in items]),
                      satisfied_from=crit.satisfied_from, respondent_id=rid, notes=tuple(notes),
                      calibration=calibration)


def _definition(text: str, qid: str, version: int) -> dict:
    d = json.loads(text)
    criteria = d["criteria"]
    codes = [c["code"] for c in criteria]
    if len(set(codes)) != len(codes) or not codes:
        raise ValueError("criterion codes must be unique and non-empty")
    weight_of = {}
    for c in criteria:
        w = float(c.get("weight", 1.0))
        if not (math.isfinite(w) and w > 0):
            raise ValueError(f"criterion {c['code']}: weight {w!r} is not > 0")
        weight_of[c["code"]] = w
    scale = d.get("scale", {})
    if (scale.get("min", 1), scale.get("max", 5)) != (1, 5):
        raise ValueError(f"only a 1..5 scale is supported, got {scale.get('min')}..{scale.get('max')}")
    return {"codes": codes, "factor_of": {c["code"]: c["factor"] for c in criteria if c.get("factor")},
            "weight_of": weight_of,
            "satisfied_from": int(scale.get("satisfied_from", 4))}


def _margins(conn, unit_ids: Iterable[int], dimension: str) -> dict[int, dict[str, float]]:
    ids = list(unit_ids)
    out: dict[int, dict[str, float]] = {}
    rows = conn.execute(f"SELECT unit_id, category, population FROM unit_population WHERE dimension = ? AND "
                        f"unit_id IN ({', '.join(str(int(u)) for u in ids)})", [dimension]).fetchall()
    for uid, cat, value in rows:
        out.setdefault(uid, {})[cat] = value
    return out
