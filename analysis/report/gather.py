"""Everything a report needs from the survey database, through the analysis engine.

:func:`gather` checks the request (period, units, questionnaire) with a few
cheap queries first, so a bad request fails in a moment with a message that
names what is wrong; then it loads the period with :func:`analysis.load_db`,
computes the full indices table with :func:`analysis.compute_table`, the
breakdowns and the comparison period with :mod:`.domains`, and reads the
response counts, exclusions and population margins for the weighting summary.

Like the engine it reads the SQLite file directly (read-only) and imports
nothing from the web application.
"""
from __future__ import annotations

import re
import sqlite3
from time import perf_counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from analysis import compute_table, load_db
from analysis.crosswalk import compare_former, read_crosswalk
from analysis.db import held_sql
from analysis.db import DbError
from analysis.frame import frame_for_period, frame_summary
from analysis.indices import IndexTable
from analysis.inputs import SurveyData
from analysis.weights import kish_deff
from questionnaires.loader import Questionnaire, QuestionnaireError, Text

from . import domains
from .model import BREAKDOWNS, CHANNELS, MarginFit, Period, ReportInputs, UnitCounts, Weighting

WEIGHT_DIMENSIONS = {"none": (), "design": ("unit",), "poststratify": ("unit", "age_band"),
                     "rake": ("unit", "age_band", "gender")}
METHOD = {"none": "none", "design": "design", "poststratify": "poststratification", "rake": "raking"}


class ReportRequestError(ValueError):
    """The report cannot be made as asked; the message says what to change."""


@dataclass(frozen=True)
class ReportRequest:
    """What the analyst asked for (the CLI's and the dashboard's options)."""

    db: Path
    date_from: date
    date_to: date
    units: tuple[str, ...] | None = None
    target: float | None = 0.80
    compare_from: date | None = None
    compare_to: date | None = None
    questionnaire: str | None = None
    weights: str = "design"
    drop_incomplete: bool = False
    tz: str = "Asia/Ho_Chi_Minh"
    level: float = 0.95
    include_simulated: bool = False   # simulated responses (survey/simulate.py) only when asked for
    sae: bool = False                       # small-area estimates of the unit index (analysis.sae)
    sae_covariates: Path | None = None      # CSV: a key column (ward/unit/district/slug) + covariates
    sae_columns: tuple[str, ...] | None = None

    @property
    def compare(self) -> bool:
        return self.compare_from is not None


Progress = Callable[[str, float], None]


def _utc(day: date, zone: ZoneInfo) -> str:
    return datetime.combine(day, time(0), zone).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:      # a WAL database whose -shm cannot be created read-only
        conn = sqlite3.connect(str(path))
    return conn


@dataclass
class _Scope:
    """The rows a period covers: SQL condition and arguments, and the leaf units chosen."""

    where: str
    args: list
    unit_ids: list[int]
    source: str = "responses"      # "responses NOT INDEXED" when a table scan beats the time index


class _Db:
    def __init__(self, request: ReportRequest):
        self.request = request
        path = Path(request.db)
        if not path.is_file():
            raise ReportRequestError(f"--db {path}: no such database file")
        try:
            self.zone = ZoneInfo(request.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ReportRequestError(f"unknown time zone {request.tz!r}") from None
        self.conn = _connect(path)
        try:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            self.held_sql = held_sql(self.conn)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise ReportRequestError(f"--db {path}: not a readable SQLite database ({exc})") from None
        if not {"units", "unit_population", "questionnaires", "responses"} <= tables:
            self.conn.close()
            raise ReportRequestError(f"--db {path}: not a survey database (run `flask --app survey init-db`)")
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(units)")}
        valid = "valid_from, valid_to" if "valid_from" in columns else "NULL, NULL"   # before migration 0006
        self.units = {r[0]: dict(id=r[0], slug=r[1], name_vi=r[2], name_en=r[3], parent_id=r[4], active=r[5],
                                 population=r[6], valid_from=r[7], valid_to=r[8])
                      for r in self.conn.execute(
                          f"SELECT id, slug, name_vi, name_en, parent_id, active, population, {valid} FROM units")}
        self.by_slug = {u["slug"]: u for u in self.units.values()}
        # Probability samples (analysis/frame.py): a period that is a frame's period is reported from
        # the frame's sample; every other scope leaves invitation responses out.
        self.has_frames = "frame_id" in {r[1] for r in self.conn.execute("PRAGMA table_info(responses)")}
        self.frame_id = (frame_for_period(self.conn, request.date_from, request.date_to)
                         if self.has_frames and request.weights == "design" else None)
        self.children: dict[int, list[int]] = {}
        for u in self.units.values():
            if u["parent_id"] is not None:
                self.children.setdefault(u["parent_id"], []).append(u["id"])

    def close(self) -> None:
        self.conn.close()

    def leaves(self, slugs: Sequence[str] | None) -> list[int]:
        if not slugs:
            return sorted(u["id"] for u in self.units.values()
                          if u["active"] and not any(self.units[c]["active"] for c in self.children.get(u["id"], [])))
        unknown = [s for s in slugs if s not in self.by_slug]
        if unknown:
            known = sorted(u["slug"] for u in self.units.values() if u["active"])
            raise ReportRequestError(
                f"unknown unit{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"known units: {', '.join(known) if len(known) <= 40 else ', '.join(known[:40]) + ', …'}")
        chosen: set[int] = set()
        for slug in slugs:
            stack = [self.by_slug[slug]["id"]]
            while stack:
                u = stack.pop()
                kids = self.children.get(u, [])
                if kids:
                    stack.extend(kids)
                else:
                    chosen.add(u)
        return sorted(chosen)

    def frame_of(self, start: date, end: date) -> int | None:
        """The sampling frame whose sample stands for ``start``..``end`` in this report (the period's own)."""
        return self.frame_id if (start, end) == (self.request.date_from, self.request.date_to) else None

    def scope(self, start: date, end: date, unit_ids: list[int], questionnaire: str | None,
              excluded: bool | None = False) -> _Scope:
        frame = self.frame_of(start, end)
        if frame is not None:        # the frame's sample: its responses, whenever they came
            where = [f"frame_id = {int(frame)}", f"unit_id IN ({', '.join(map(str, unit_ids)) or 'NULL'})"]
            args: list = []
            if excluded is False:
                where.append("excluded_at IS NULL")
            if questionnaire is not None:
                where.append("questionnaire_id = ?")
                args.append(questionnaire)
            return _Scope(" AND ".join(where), args, unit_ids, "responses")
        where = ["submitted_at >= ?", "submitted_at < ?", f"unit_id IN ({', '.join(map(str, unit_ids)) or 'NULL'})"]
        args = [_utc(start, self.zone), _utc(end + timedelta(days=1), self.zone)]
        if self.has_frames:
            where.append("frame_id IS NULL")
        if excluded is False:
            where.append("excluded_at IS NULL")
            if self.held_sql is not None:
                where.append(f"NOT {self.held_sql}")
        if not self.request.include_simulated:   # simulated responses (survey/simulate.py) only when asked
            where.append("simulated = 0")
        if questionnaire is not None:
            where.append("questionnaire_id = ?")
            args.append(questionnaire)
        # Reading most of the table through the (unit, time) index is a random walk: twice as slow as a
        # plain scan (measured on 1,000,000 responses). Count the period's rows on the time index first.
        in_period = self.conn.execute("SELECT count(*) FROM responses WHERE submitted_at >= ? AND submitted_at < ?",
                                      args[:2]).fetchone()[0]
        everything = self.conn.execute("SELECT max(rowid) FROM responses").fetchone()[0] or 1
        source = "responses NOT INDEXED" if in_period > 0.02 * everything else "responses"
        return _Scope(" AND ".join(where), args, unit_ids, source)

    def require_responses(self, start: date, end: date, unit_ids: list[int], label: str) -> None:
        """Refuse a period with no usable response (an EXISTS probe on the time index: no scan)."""
        scope = self.scope(start, end, unit_ids, self.request.questionnaire)
        if not self.conn.execute(f"SELECT EXISTS (SELECT 1 FROM responses WHERE {scope.where})",
                                 scope.args).fetchone()[0]:
            which = f" for {', '.join(self.request.units)}" if self.request.units else ""
            also = f" to questionnaire {self.request.questionnaire!r}" if self.request.questionnaire else ""
            raise ReportRequestError(f"the {label} {start.isoformat()} to {end.isoformat()} has no responses"
                                     f"{also}{which}: nothing to report (check the dates and units)")

    def only_questionnaire(self) -> str | None:
        """The questionnaire of every response in the database, if there is only one (an index read)."""
        ids = [r[0] for r in self.conn.execute("SELECT DISTINCT questionnaire_id FROM responses LIMIT 2")]
        return ids[0] if len(ids) == 1 else None

    def questionnaire(self, qid: str) -> Questionnaire:
        row = self.conn.execute("SELECT definition FROM questionnaires WHERE id = ? ORDER BY version DESC LIMIT 1",
                                [qid]).fetchone()
        if row is None:
            raise ReportRequestError(f"questionnaire {qid!r} is not in the database")
        try:
            return Questionnaire.from_json(row[0], name=f"{qid} (database)")
        except QuestionnaireError as exc:
            raise ReportRequestError(str(exc)) from None


def check(request: ReportRequest) -> None:
    """Refuse a request that cannot give a report, quickly and with a reason (nothing is written)."""
    _validate(request)
    db = _Db(request)
    try:
        leaves = db.leaves(request.units)
        db.require_responses(request.date_from, request.date_to, leaves, "period")
        if request.compare:
            db.require_responses(request.compare_from, request.compare_to, leaves, "comparison period")
    finally:
        db.close()


def _validate(request: ReportRequest) -> None:
    if request.date_to < request.date_from:
        raise ReportRequestError(f"the period is empty: --to {request.date_to} is before --from {request.date_from}")
    if (request.compare_from is None) != (request.compare_to is None):
        raise ReportRequestError("give both --compare-from and --compare-to, or neither")
    if request.compare and request.compare_to < request.compare_from:
        raise ReportRequestError(f"the comparison period is empty: --compare-to {request.compare_to} is before "
                                 f"--compare-from {request.compare_from}")
    if request.target is not None and not 0 < request.target < 1:
        raise ReportRequestError(f"--target must be a percentage between 0 and 100, got {100 * request.target:g}")
    if request.weights not in WEIGHT_DIMENSIONS:
        raise ReportRequestError(f"--weights must be one of {', '.join(WEIGHT_DIMENSIONS)}")
    if request.units is not None and not request.units:
        raise ReportRequestError("--units is empty: give unit slugs separated by commas, or leave it out for all")


ATTRIBUTES = ("questionnaire_id", "excluded", "excluded_reason", "channel", "field", "respondent_type",
              "age_band", "gender")


class _Scan:
    """One pass over the period's responses (excluded ones too): which questionnaires, how many per unit,
    why excluded, and each response's channel, field, respondent group, age band and gender.

    Every response is reduced to its unit and the combination of the other values (a few thousand
    distinct ones), so 1,000,000 rows cost three columns read from SQLite and numpy work, not Python
    objects per value. The unit stays out of the combination: with the country's 3,321 communes
    nearly every response would be a combination of its own.
    """

    def __init__(self, request: ReportRequest, scope: _Scope):
        sep = "char(31)"
        conn = _connect(Path(request.db))
        held = held_sql(conn)
        # A response held for review as possibly stuffed is left out like an excluded one, with its reasons.
        if held is None:
            out, why = "(excluded_at IS NOT NULL)", "ifnull(excluded_reason, '')"
        else:
            out = f"(excluded_at IS NOT NULL OR {held})"
            why = (f"CASE WHEN excluded_at IS NOT NULL THEN ifnull(excluded_reason, '') WHEN {held} THEN "
                   "'held for review: ' || (SELECT group_concat(reason, ', ') FROM integrity_flags f "
                   "WHERE f.response_id = responses.id) ELSE '' END")
        parts = ["questionnaire_id", out, why,
                 "channel", "ifnull(field, '')", "ifnull(respondent_type, '')", "ifnull(age_band, '')",
                 "ifnull(gender, '')"]
        key = f" || {sep} || ".join(parts)
        try:
            index: dict[str, int] = {}
            ids, units, combos = [], [], []
            for rid, unit, combo in conn.execute(f"SELECT id, unit_id, {key} FROM {scope.source} "
                                                 f"WHERE {scope.where}", scope.args):
                ids.append(rid)
                units.append(unit)
                combos.append(index.setdefault(combo, len(index)))
        finally:
            conn.close()
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        self.ids = np.asarray(ids, dtype=np.int64)[order]
        self.combo = np.asarray(combos, dtype=np.intp)[order]
        self.unit = np.asarray(units, dtype=np.int64)[order]
        self.values = {name: [] for name in ATTRIBUTES}
        for text in index:              # in code order
            for name, value in zip(ATTRIBUTES, text.split("\x1f")):
                self.values[name].append(value)
        self.count = np.bincount(self.combo, minlength=len(index))

    def column(self, name: str) -> list[str]:
        """The value of ``name`` for each combination."""
        return self.values[name]

    def totals(self, *names: str) -> dict[tuple[str, ...], int]:
        """Responses per value (tuple) of ``names`` (``unit_id``: the unit's id as text)."""
        out: dict[tuple[str, ...], int] = {}
        others = [n for n in names if n != "unit_id"]
        cols = [self.values[n] for n in others]
        if "unit_id" not in names:
            for k, n in enumerate(self.count.tolist()):
                key = tuple(c[k] for c in cols)
                out[key] = out.get(key, 0) + n
            return out
        # Group the combinations by the other names, then count (group, unit) pairs with numpy.
        groups: dict[tuple[str, ...], int] = {}
        group_of = np.array([groups.setdefault(tuple(c[k] for c in cols), len(groups))
                             for k in range(len(self.count))] or [0], dtype=np.int64)
        units, unit_code = np.unique(self.unit, return_inverse=True)
        pair = group_of[self.combo] * max(len(units), 1) + unit_code
        present, counts = np.unique(pair, return_counts=True)
        keys = list(groups)
        at = names.index("unit_id")
        for p, n in zip(present.tolist(), counts.tolist()):
            key = list(keys[p // len(units)])
            key.insert(at, str(int(units[p % len(units)])))
            out[tuple(key)] = n
        return out

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Positions in the scan of the responses ``ids`` (the engine's rows)."""
        pos = np.searchsorted(self.ids, ids)
        if pos.size and (pos.max() >= self.ids.size or not np.array_equal(self.ids[pos], ids)):
            raise RuntimeError("responses changed while the report was being made; make it again")
        return pos

    def codes(self, name: str, rows: np.ndarray, order: Sequence[str] = ()) -> tuple[np.ndarray, list[str]]:
        """Category code of each response at ``rows`` (-1 for none) and the labels: ``order`` first, then others."""
        values = self.values[name]
        present = {v for v, n in zip(values, self.count.tolist()) if v and n}
        labels = [c for c in order if c in present] + sorted(present - set(order))
        lookup = np.array([labels.index(v) if v in present else -1 for v in values] or [-1], dtype=np.intp)
        return lookup[self.combo[rows]], labels


def _scan_in_child(request: ReportRequest, scope: _Scope) -> _Scan:
    """The scan, run in a spawned child process by :func:`gather` (it comes back pickled)."""
    return _Scan(request, scope)


def _main_questionnaire(scan: _Scan, asked: str | None) -> tuple[str, list[dict]]:
    """The questionnaire the report is about, and the period's others (id, responses, excluded), most first.

    A period can hold several questionnaires (a new version rolled out mid-period, a kiosk that
    queued an older form): the report is about the one asked for, else the one with the most usable
    responses (ties: the id first in order), and names the others with their counts instead of
    refusing the period (issue 12 item 4). Their responses count in no figure of this report.
    """
    used: dict[str, int] = {}
    excluded: dict[str, int] = {}
    for (qid, out), n in scan.totals("questionnaire_id", "excluded").items():
        used.setdefault(qid, 0)
        excluded.setdefault(qid, 0)
        if out == "1":
            excluded[qid] += n
        else:
            used[qid] += n
    if asked is None:
        asked = min(used, key=lambda q: (-used[q], q))
    others = [{"id": q, "responses": used[q], "excluded": excluded[q]}
              for q in sorted(used, key=lambda q: (-used[q], q)) if q != asked]
    return asked, others


def _options(q: Questionnaire, code: str) -> list[str]:
    question = next((r for r in q.respondent if r.code == code), None)
    return [o.code for o in question.options] if question else []


def _counts(db: _Db, scan: _Scan, qid: str, unit_ids: list[int], data: SurveyData, channel_codes: np.ndarray,
            channels: list[str]) -> list[UnitCounts]:
    received: dict[str, list[int]] = {}
    for (q, unit, excluded), n in scan.totals("questionnaire_id", "unit_id", "excluded").items():
        if q == qid:
            acc = received.setdefault(unit, [0, 0])
            acc[0] += n
            acc[1] += n if excluded == "1" else 0
    used = np.bincount(data.district, minlength=len(data.districts))
    by_channel = np.zeros((len(data.districts), max(len(channels), 1)), dtype=np.int64)
    ok = channel_codes >= 0
    np.add.at(by_channel, (data.district[ok], channel_codes[ok]), 1)
    slot = {slug: i for i, slug in enumerate(data.districts)}
    out = []
    for uid in unit_ids:
        u = db.units[uid]
        i = slot.get(u["slug"])
        n, x = received.get(str(uid), (0, 0))
        out.append(UnitCounts(u["slug"], Text(u["name_vi"], u["name_en"]), n, x,
                              int(used[i]) if i is not None else 0,
                              {c: int(by_channel[i, k]) for k, c in enumerate(channels)} if i is not None else {}))
    return out


def _margins(db: _Db, data: SurveyData, scan: _Scan, rows: np.ndarray) -> list[MarginFit]:
    """Population, sample and weighted shares of each age band (per unit and overall) and gender (overall)."""
    unit_ids = [db.by_slug[s]["id"] for s in data.districts]
    population: dict[tuple[str, int], dict[str, float]] = {}
    for uid, dim, cat, pop in db.conn.execute(
            "SELECT unit_id, dimension, category, population FROM unit_population WHERE dimension IN "
            "('age_band', 'gender')"):
        population.setdefault((dim, uid), {})[cat] = float(pop)
    w = data.weights
    out: list[MarginFit] = []

    def fit(dimension: str, unit: str, pop: dict[str, float], rows: np.ndarray | None, codes: np.ndarray,
            labels: list[str]) -> None:
        c = codes if rows is None else codes[rows]
        wr = w if rows is None else w[rows]
        has = c >= 0
        count = np.bincount(c[has], minlength=len(labels))
        weight = np.bincount(c[has], weights=wr[has], minlength=len(labels))
        n_all, w_all = int(has.sum()), float(weight.sum())
        total_pop = sum(pop.values())
        for cat, p in pop.items():
            k = labels.index(cat) if cat in labels else None
            n_cat = int(count[k]) if k is not None else 0
            w_cat = float(weight[k]) if k is not None else 0.0
            out.append(MarginFit(dimension, unit, cat, p / total_pop, n_cat,
                                 n_cat / n_all if n_all else float("nan"), w_cat / w_all if n_all else float("nan")))

    age, age_labels = scan.codes("age_band", rows)
    gender, gender_labels = scan.codes("gender", rows)
    age_pop = [population.get(("age_band", uid)) for uid in unit_ids]
    if age_pop and all(age_pop):
        overall: dict[str, float] = {}
        for pop in age_pop:
            for cat, value in pop.items():
                overall[cat] = overall.get(cat, 0.0) + value
        fit("age_band", "ALL", overall, None, age, age_labels)
    parents = {db.units[uid]["parent_id"] for uid in unit_ids}
    if len(parents) == 1 and None not in parents and ("gender", next(iter(parents))) in population:
        fit("gender", "ALL", population[("gender", next(iter(parents)))], None, gender, gender_labels)
    order = np.argsort(data.district, kind="stable")
    bounds = np.searchsorted(data.district[order], np.arange(len(unit_ids) + 1))
    for k, uid in enumerate(unit_ids):
        pop = population.get(("age_band", uid))
        if pop:
            fit("age_band", db.units[uid]["slug"], pop, order[bounds[k]:bounds[k + 1]], age, age_labels)
    return out


def _weighting(request: ReportRequest, data: SurveyData, margins: list[MarginFit]) -> Weighting:
    w = data.weights
    notes = "\n".join(data.notes)
    iterations = re.search(r"after (\d+) iteration", notes)
    trimmed = re.search(r"(\d+) weight\(s\) trimmed", notes)
    converged = None
    if request.weights == "rake":
        converged = "did not converge" not in notes
    return Weighting(method=METHOD[request.weights],
                     dimensions=tuple(d for d in WEIGHT_DIMENSIONS[request.weights]),
                     margins=tuple(margins), weight_min=float(w.min()), weight_max=float(w.max()),
                     weight_mean=float(w.mean()), deff_kish=float(kish_deff(w)),
                     n_eff_kish=float(w.sum() ** 2 / (w ** 2).sum()),
                     iterations=int(iterations.group(1)) if iterations else None, converged=converged,
                     trimmed=int(trimmed.group(1)) if trimmed else 0, notes=tuple(data.notes))


def _load(request: ReportRequest, start: date, end: date, units: Sequence[str] | None, qid: str,
          progress: Callable[[int, int], None] | None = None) -> SurveyData:
    return load_db(request.db, date_from=start, date_to=end, questionnaire=qid, units=units,
                   weights=request.weights, tz=request.tz, drop_incomplete=request.drop_incomplete,
                   include_simulated=request.include_simulated, progress=progress)


def gather(request: ReportRequest, *, progress: Progress | None = None, span: float = 0.7,
           parallel: bool = False, on_table: Callable[[IndexTable], None] | None = None,
           ) -> tuple[ReportInputs, IndexTable]:
    """Compute everything the report shows; return the inputs and the engine's full table.

    ``progress(stage, fraction)`` goes from 0 to ``span`` of the whole job. ``parallel``: scan the
    period's responses in a spawned child process while this one loads them and computes the engine
    table, when the questionnaire is known beforehand (asked for, or the database's only one); the
    result is the same. For the CLI; a server thread leaves it off. ``on_table(table)`` is called
    with the engine's full table (small-area columns included) as soon as it is final, before the
    breakdowns and the comparison: the CLI starts writing ``indices.csv`` then.
    """
    seconds: dict[str, float] = {}
    clock = [perf_counter(), None]

    def report(stage: str, fraction: float) -> None:
        now = perf_counter()
        if clock[1] is not None:
            seconds[clock[1]] = seconds.get(clock[1], 0.0) + now - clock[0]
        clock[:] = [now, stage]
        if progress:
            progress(stage, span * fraction)

    _validate(request)
    report("checking", 0.0)
    db = _Db(request)
    scanner = None
    try:
        leaves = db.leaves(request.units)
        db.require_responses(request.date_from, request.date_to, leaves, "period")
        if request.compare:
            db.require_responses(request.compare_from, request.compare_to, leaves, "comparison period")
        report("scanning", 0.0)
        scope = db.scope(request.date_from, request.date_to, leaves, None, excluded=None)
        # With two processors and the questionnaire known before the scan (asked for, or the only one in
        # the database), the scan runs in a child process beside loading and the engine table.
        known = (request.questionnaire or db.only_questionnaire()) if parallel else None
        if known is None:
            scan = _Scan(request, scope)
            qid, others = _main_questionnaire(scan, request.questionnaire)
        else:
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            qid, others = known, None
            scanner = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
            pending = scanner.submit(_scan_in_child, request, scope)
        q = db.questionnaire(qid)
        report("loading", 0.1)
        data = _load(request, request.date_from, request.date_to, request.units, qid,
                     progress=lambda done, total: report("loading", 0.1 + 0.2 * done / max(total, 1)))
        report("estimating", 0.3)
        table = compute_table(data, level=request.level, target=request.target,
                              progress=lambda done, total: report("estimating", 0.3 + 0.4 * done / max(total, 1)))
        if others is None:
            report("scanning", 0.7)
            scan = pending.result()
            scanner.shutdown()
            scanner = None
            qid_scanned, others = _main_questionnaire(scan, request.questionnaire)
            if qid_scanned != qid:      # cannot happen (the scan sees the same rows); never report the wrong one
                raise RuntimeError(f"the scan found questionnaire {qid_scanned}, the report loaded {qid}")
        others = [dict(o, title=db.questionnaire(o["id"]).title) for o in others]
        if request.sae:
            from analysis.sae import read_covariates, small_area_table

            covariates, columns = None, ()
            if request.sae_covariates is not None:
                try:
                    covariates, columns = read_covariates(request.sae_covariates, columns=request.sae_columns)
                except OSError as exc:
                    raise ReportRequestError(f"--sae-covariates: {exc}") from None
            try:
                table, _ = small_area_table(table, covariates=covariates, columns=columns)
            except ValueError as exc:
                raise ReportRequestError(f"small-area estimates: {exc}") from None
        if on_table is not None:
            on_table(table)
        report("breakdowns", 0.7)
        rows = scan.rows_of(data.respondent_id)
        breakdowns = {}
        channel_codes, channels = scan.codes("channel", rows, domains_order("channel", q))
        for dimension in BREAKDOWNS:
            codes, labels = (channel_codes, channels) if dimension == "channel" else \
                scan.codes(dimension, rows, domains_order(dimension, q))
            if labels:
                breakdowns[dimension] = domains.index_by(data, codes, labels, level=request.level,
                                                         target=request.target)
        compare_period = compare_table = previous = None
        if request.compare:
            report("comparison", 0.75)
            previous = _load(request, request.compare_from, request.compare_to, request.units, qid)
            compare_table = domains.index_by(previous, previous.district, list(previous.districts),
                                             level=request.level, target=request.target, overall=True)
            compare_period = Period(request.compare_from, request.compare_to)
        former = _former(db, data, previous, request.level)
        sample = feedback = None
        if db.frame_id is not None:
            report("feedback", 0.9)
            sample = frame_summary(db.conn, db.frame_id)
            feedback = _feedback(request, qid)
        report("counting", 0.95)
        counts = _counts(db, scan, qid, leaves, data, channel_codes, channels)
        exclusions = {reason: n for (q_, excluded, reason), n in
                      scan.totals("questionnaire_id", "excluded", "excluded_reason").items()
                      if q_ == qid and excluded == "1"}
        weighting = _weighting(request, data, _margins(db, data, scan, rows))
        units = [dict(slug=s, name_vi=db.by_slug[s]["name_vi"], name_en=db.by_slug[s]["name_en"],
                      valid_from=db.by_slug[s]["valid_from"], valid_to=db.by_slug[s]["valid_to"])
                 for s in data.districts]
    finally:
        if scanner is not None:     # a failure while the scan ran: let it finish, leave no process behind
            scanner.shutdown(cancel_futures=True)
        db.close()
    report("rendering", 1.0)
    seconds.pop("rendering", None)
    inputs = ReportInputs(
        questionnaire=q, period=Period(request.date_from, request.date_to), units=units,
        table=table.row_view(), breakdowns=breakdowns, counts=counts, weighting=weighting, exclusions=exclusions,
        target=request.target, compare_period=compare_period, compare_table=compare_table,
        generated_at=datetime.now(ZoneInfo(request.tz)).replace(microsecond=0),  # the city's local time
        source=Path(request.db).name,
        engine={"notes": tuple(table.notes), "weights": request.weights, "lonely_psu": "adjust",
                "lonely_strata": _lonely_strata(data),
                "calibrated": data.calibration is not None, "level": request.level, "seconds": seconds},
        former=former, sample=sample, feedback=feedback, other_questionnaires=tuple(others))
    return inputs, table


def _lonely_strata(data: SurveyData) -> tuple[str, ...]:
    """The strata of the design with a single PSU (compute_table's default lonely_psu="adjust" handles them)."""
    H = len(data.strata)
    if data.psu is None:
        n_psu = np.bincount(data.stratum, minlength=H)
    else:
        pairs = np.unique(np.stack([np.asarray(data.stratum), np.asarray(data.psu)]), axis=1)
        n_psu = np.bincount(pairs[0], minlength=H)
    return tuple(str(data.strata[h]) for h in np.flatnonzero(n_psu == 1))


def _feedback(request: ReportRequest, qid: str) -> list[dict]:
    """Kiosk and open-link responses of the period: unweighted index per unit and overall (may be empty).

    They are kept apart from the probability sample: self-selected, not weighted to the frame.
    """
    try:
        data = load_db(request.db, date_from=request.date_from, date_to=request.date_to, questionnaire=qid,
                       units=request.units, weights="none", tz=request.tz, frame=False)
    except DbError:
        return []
    table = compute_table(data, level=request.level, target=None)
    rows = list(table.rows(measure="INDEX:ITEM_AVG"))
    rows.sort(key=lambda r: (r["level"] != "overall", r["district"]))
    return rows


def _former(db: _Db, data: SurveyData, previous: SurveyData | None, level: float) -> list[dict]:
    """New units grouped by former unit (the crosswalk), for the groups with responses now."""
    former_units = read_crosswalk(db.conn)
    present = set(data.districts)
    relevant = [f for f in former_units if present & set(f.new_units)]
    if not relevant:
        return []
    rows = compare_former(data, relevant, previous, level=level)
    by_slug = {f.slug: f for f in relevant}
    return [dict(r, former=by_slug[r["former_unit"]]) for r in rows]


def domains_order(dimension: str, q: Questionnaire) -> tuple[str, ...]:
    if dimension == "channel":
        return CHANNELS
    return tuple(_options(q, dimension))
