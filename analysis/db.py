"""Read responses from the survey database into :class:`~analysis.inputs.SurveyData`.

The analysis reads the SQLite file directly with :mod:`sqlite3`, through the
schema that is the contract between the parts of the platform (tables
``units``, ``unit_population``, ``questionnaires``, ``responses``); it imports
nothing from the web application.

* Reporting units are the leaf units (units without active children) that have
  responses; each is its own stratum and its slug is the ``district`` label.
* Responses marked excluded (``excluded_at`` set) are left out.
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
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .inputs import InputError, SurveyData
from .weights import Margin, design_weights, poststratify, rake

__all__ = ["load_db", "WEIGHTING", "DbError"]

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


def load_db(path, *, date_from=None, date_to=None, questionnaire: str | None = None,
            units: Sequence[str] | None = None, weights: str = "design", tz: str = "Asia/Ho_Chi_Minh",
            drop_incomplete: bool = False, rake_tol: float = 1e-8, rake_max_iter: int = 100,
            trim: tuple[float, float] | None = None,
            progress: Callable[[int, int], None] | None = None) -> SurveyData:
    """Load the responses of one questionnaire and period, weighted, ready for :func:`compute_table`.

    Parameters
    ----------
    path : path
        The SQLite database of the survey application.
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
    if weights not in WEIGHTING:
        raise DbError(f"weights must be one of {', '.join(WEIGHTING)}; got {weights!r}")
    path = Path(path)
    if not path.is_file():
        raise DbError(f"{path}: no such database file")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise DbError(f"unknown time zone {tz!r}") from None
    d0, d1 = _day(date_from, "--from"), _day(date_to, "--to")
    if d0 and d1 and d1 < d0:
        raise DbError(f"the period ends ({d1}) before it starts ({d0})")
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:   # e.g. a WAL database whose -shm cannot be created read-only
        conn = sqlite3.connect(str(path))
    try:
        return _load(conn, path, d0, d1, zone, questionnaire, units, weights, drop_incomplete, rake_tol,
                     rake_max_iter, trim, progress)
    except sqlite3.DatabaseError as exc:
        raise DbError(f"{path}: cannot read the survey database: {exc}") from None
    finally:
        conn.close()


def _load(conn, path, d0, d1, zone, questionnaire, units, weights, drop_incomplete, rake_tol, rake_max_iter,
          trim, progress) -> SurveyData:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = {"units", "unit_population", "questionnaires", "responses"} - tables
    if missing:
        raise DbError(f"{path}: not a survey database (no table {', '.join(sorted(missing))})")
    unit_rows = conn.execute("SELECT id, slug, parent_id, population, active FROM units").fetchall()
    by_id = {r[0]: r for r in unit_rows}
    by_slug = {r[1]: r for r in unit_rows}
    children: dict = {}
    for r in unit_rows:
        if r[2] is not None:
            children.setdefault(r[2], []).append(r[0])

    where = ["excluded_at IS NULL"]
    args: list = []
    if d0:
        where.append("submitted_at >= ?")
        args.append(_utc(d0, zone))
    if d1:
        where.append("submitted_at < ?")
        args.append(_utc(d1 + timedelta(days=1), zone))
    period = f"{d0 or 'start'} .. {d1 or 'end'} ({zone.key})"
    if units:
        chosen: set[int] = set()
        for slug in units:
            if slug not in by_slug:
                raise DbError(f"unknown unit {slug!r}")
            stack = [by_slug[slug][0]]
            while stack:
                u = stack.pop()
                kids = children.get(u, [])
                if kids:
                    stack.extend(kids)
                else:
                    chosen.add(u)
        where.append(f"unit_id IN ({', '.join(str(int(u)) for u in sorted(chosen))})")
    if questionnaire is None:
        found = conn.execute(f"SELECT questionnaire_id, count(*) FROM responses WHERE {' AND '.join(where)} "
                             "GROUP BY questionnaire_id", args).fetchall()
        if not found:
            raise DbError(f"no responses in {period}" + (f" for units {', '.join(units)}" if units else ""))
        if len(found) > 1:
            listing = ", ".join(f"{q} ({n} responses)" for q, n in found)
            raise DbError(f"the period holds several questionnaires: {listing}; choose one with --questionnaire")
        questionnaire = found[0][0]
    versions = {v: d for v, d in conn.execute("SELECT version, definition FROM questionnaires WHERE id = ?",
                                               [questionnaire])}
    if not versions:
        known = [r[0] for r in conn.execute("SELECT DISTINCT id FROM questionnaires ORDER BY id")]
        raise DbError(f"unknown questionnaire {questionnaire!r} (known: {', '.join(known) or 'none'})")
    where.append("questionnaire_id = ?")
    args.append(questionnaire)
    need_age = weights in ("poststratify", "rake")
    need_gender = weights == "rake"
    cols = "id, unit_id, questionnaire_version, answers" + (", age_band" if need_age else "") + \
        (", gender" if need_gender else "")
    rows = conn.execute(f"SELECT {cols} FROM responses WHERE {' AND '.join(where)}", args).fetchall()
    if not rows:
        raise DbError(f"no responses to {questionnaire!r} in {period}")
    columns = list(zip(*rows))
    del rows
    rid = np.fromiter(columns[0], dtype=np.int64, count=len(columns[0]))
    unit_id = np.fromiter(columns[1], dtype=np.int64, count=rid.size)
    version = np.fromiter(columns[2], dtype=np.int64, count=rid.size)
    answers = columns[3]
    notes = [f"database: {path}", f"period: {period}", f"questionnaire: {questionnaire}"]

    # ---- questionnaire versions -> aligned criteria
    defs = {}
    for v in sorted(set(version.tolist())):
        if v not in versions:
            raise DbError(f"responses use version {v} of {questionnaire!r}, which is not in the questionnaires table")
        try:
            defs[v] = _definition(versions[v], questionnaire, v)
        except (ValueError, KeyError, TypeError) as exc:
            raise DbError(f"questionnaire {questionnaire!r} version {v}: unreadable definition ({exc})") from None
    newest = defs[max(defs)]
    items = list(newest["codes"])
    for v in sorted(defs, reverse=True):
        items.extend(c for c in defs[v]["codes"] if c not in items)
    col_of = {c: i for i, c in enumerate(items)}
    factor_of: dict[str, str] = {}
    weight_of: dict[str, float] = {}
    for v in sorted(defs):          # the newest version's factor and weight win
        factor_of.update(defs[v]["factor_of"])
        weight_of.update(defs[v]["weight_of"])
    counts = Counter(version.tolist())
    notes.append("versions: " + ", ".join(f"v{v} ({counts[v]} responses)" for v in sorted(counts)))
    J = len(items)
    codes = np.zeros((rid.size, J), dtype=np.uint8)
    done = 0
    for v, dfn in defs.items():
        sel = np.flatnonzero(version == v)
        Jv = len(dfn["codes"])
        text = "".join(answers[i] for i in sel) if sel.size < rid.size else "".join(answers)
        raw = np.frombuffer(text.encode("latin-1", "replace"), dtype=np.uint8)
        if raw.size != sel.size * Jv:
            lengths = np.fromiter((len(answers[i]) for i in sel), dtype=np.int64, count=sel.size)
            bad = int(np.flatnonzero(lengths != Jv)[0])
            raise DbError(f"response id {rid[sel[bad]]}: answers {answers[sel[bad]]!r} have {lengths[bad]} "
                          f"characters but version {v} of {questionnaire!r} has {Jv} criteria")
        raw = raw.reshape(sel.size, Jv)
        invalid = ~_VALID[raw]
        if invalid.any():
            r, c = np.argwhere(invalid)[0]
            raise DbError(f"response id {rid[sel[r]]}: answer {chr(raw[r, c])!r} to criterion "
                          f"{dfn['codes'][c]} is not 1..5, n or -")
        target_cols = np.array([col_of[c] for c in dfn["codes"]])
        if sel.size == rid.size and np.array_equal(target_cols, np.arange(J)):
            codes = _DECODE[raw]
        else:
            codes[np.ix_(sel, target_cols)] = _DECODE[raw]
        done += sel.size
        if progress:
            progress(done, rid.size)
    del answers

    # ---- units: leaves with responses
    present_units = np.unique(unit_id)
    for u in present_units.tolist():
        if u not in by_id:
            raise DbError(f"responses refer to unit id {u}, which is not in the units table")
    slugs = np.array([by_id[u][1] for u in present_units.tolist()], dtype=object)
    order = np.argsort(slugs.astype(str))
    unit_code = np.searchsorted(present_units, unit_id)           # 0..U-1 in id order
    remap = np.empty(order.size, dtype=np.intp)
    remap[order] = np.arange(order.size)
    district = remap[unit_code]
    labels = tuple(str(s) for s in slugs[order])
    label_ids = [int(present_units[o]) for o in order]

    keep = np.ones(rid.size, dtype=bool)
    age = gender = None
    if need_age:
        age = np.array(columns[4], dtype=object)
        if need_gender:
            gender = np.array(columns[5], dtype=object)
        lacking = np.array([a is None or a == "" for a in age]) | (
            np.array([g is None or g == "" for g in gender]) if need_gender else False)
        if lacking.any():
            what = "an age band" + (" or a gender" if need_gender else "")
            if not drop_incomplete:
                first = rid[np.flatnonzero(lacking)[:5]].tolist()
                raise DbError(f"{int(lacking.sum())} response(s) lack {what}, which {weights} weighting needs "
                              f"(e.g. response ids {', '.join(map(str, first))}); use --drop-incomplete to "
                              f"leave them out")
            keep &= ~lacking
            notes.append(f"dropped {int(lacking.sum())} response(s) without {what}")
    if not keep.all():
        rid, district, codes = rid[keep], district[keep], codes[keep]
        age = age[keep] if age is not None else None
        gender = gender[keep] if gender is not None else None
        if rid.size == 0:
            raise DbError("no responses left after dropping incomplete ones")

    n_unit = np.bincount(district, minlength=len(labels))
    pop = {}
    for lab, uid in zip(labels, label_ids):
        p = by_id[uid][3]
        pop[lab] = p
    slug_of_row = np.array(labels, dtype=object)[district]
    if weights == "none":
        w = np.ones(rid.size)
        notes.append("weights: none (every response weighs 1)")
    else:
        missing_pop = [lab for lab in labels if pop[lab] is None]
        if missing_pop:
            raise DbError(f"unit(s) {', '.join(missing_pop)} have no population: needed for design weights")
        w = design_weights(district, {i: pop[lab] for i, lab in enumerate(labels)})
        notes.append("weights: design (unit population / responses in the unit)")
    if need_age:
        margins_age = _margins(conn, label_ids, "age_band")
        cell_totals = {}
        for i, uid in enumerate(label_ids):
            if uid not in margins_age:
                raise DbError(f"unit {labels[i]!r} has no age_band population margins (table unit_population)")
            for cat, value in margins_age[uid].items():
                cell_totals[(labels[i], cat)] = value
        age_str = np.array([str(a) for a in age])
        cells = np.char.add(np.char.add(slug_of_row.astype(str), " x "), age_str)
        totals = {f"{u} x {c}": v for (u, c), v in cell_totals.items()}
        try:
            if weights == "poststratify":
                w = poststratify(w, cells, totals, respondent_labels=rid)
                notes.append("weights: post-stratified to unit x age_band")
            else:
                parent_of = {lab: by_id[uid][2] for lab, uid in zip(labels, label_ids)}
                parents = sorted({p for p in parent_of.values() if p is not None})
                if not parents or any(parent_of[lab] is None for lab in labels):
                    raise DbError("raking to gender needs every unit to have a parent unit with gender margins")
                margins_gender = _margins(conn, parents, "gender")
                g_totals = {}
                for pid in parents:
                    if pid not in margins_gender:
                        raise DbError(f"unit {by_id[pid][1]!r} has no gender population margins")
                    for cat, value in margins_gender[pid].items():
                        g_totals[f"{by_id[pid][1]} x {cat}"] = value
                parent_slug = np.array([by_id[parent_of[lab]][1] for lab in labels], dtype=object)[district]
                g_cells = np.char.add(np.char.add(parent_slug.astype(str), " x "),
                                      np.array([str(g) for g in gender]))
                result = rake(w, [Margin("unit x age_band", cells, totals), Margin("gender", g_cells, g_totals)],
                              tol=rake_tol, max_iter=rake_max_iter, trim=trim, rescale=True,
                              respondent_labels=rid)
                w = result.weights
                notes.extend("weights: " + line for line in result.report().splitlines())
                if not result.converged:
                    notes.append("WARNING: raking did not converge; the margins are not met (see above)")
        except ValueError as exc:
            raise DbError(str(exc)) from None
    notes.append(f"responses: {rid.size} in {len(labels)} unit(s)")
    return SurveyData(items=tuple(items), answers=np.ascontiguousarray(codes), weights=w, district=district,
                      districts=labels, stratum=district.copy(), strata=labels, psu=None,
                      factor_of=factor_of, item_weights=np.array([weight_of.get(c, 1.0) for c in items]),
                      satisfied_from=newest["satisfied_from"], respondent_id=rid, notes=tuple(notes))


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
