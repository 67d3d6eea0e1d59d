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
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .frame import MIN_RESPONDENTS, FrameDesignError, frame_for_period, frame_weights
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
            trim: tuple[float, float] | None = None, frame: bool | None = None,
            min_cell: int = MIN_RESPONDENTS,
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
                     rake_max_iter, trim, progress, frame, min_cell)
    except sqlite3.DatabaseError as exc:
        raise DbError(f"{path}: cannot read the survey database: {exc}") from None
    finally:
        conn.close()


def _category_case(column: str, categories: list[str]) -> tuple[str, list]:
    """SQL mapping a text column to 0..61 for known categories, 62 for missing, 63 for anything else."""
    whens = " ".join(f"WHEN {column} = ? THEN {i}" for i in range(len(categories)))
    return f"48 + CASE WHEN {column} IS NULL OR {column} = '' THEN 62 {whens} ELSE 63 END", list(categories)


def _load(conn, path, d0, d1, zone, questionnaire, units, weights, drop_incomplete, rake_tol, rake_max_iter,
          trim, progress, frame=None, min_cell=MIN_RESPONDENTS) -> SurveyData:
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
    frame_id = frame_for_period(conn, d0, d1) if weights == "design" and frame is not False else None
    if frame is True and frame_id is None:
        raise DbError(f"no sampling frame with a drawn sample for exactly {d0}:{d1}")
    if frame_id is not None:     # the probability sample: its responses, whenever they were submitted
        where, args = ["excluded_at IS NULL", f"frame_id = {int(frame_id)}"], []
        period = f"{d0} .. {d1} (sampling frame {frame_id}: responses to its invitations)"
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
    catalogue: dict[str, dict[int, str]] = {}
    for qid, v, definition in conn.execute("SELECT id, version, definition FROM questionnaires"):
        catalogue.setdefault(qid, {})[v] = definition
    if questionnaire is not None:
        if questionnaire not in catalogue:
            raise DbError(f"unknown questionnaire {questionnaire!r} (known: {', '.join(sorted(catalogue)) or 'none'})")
        where.append("questionnaire_id = ?")
        args.append(questionnaire)
        candidates = [questionnaire]
    else:
        candidates = sorted(catalogue)
    if not candidates or len(candidates) > 63:
        raise DbError(f"{path}: {len(candidates)} questionnaires in the database; choose one with --questionnaire")
    defs: dict[tuple[str, int], dict] = {}
    for qid in candidates:
        for v, definition in catalogue[qid].items():
            try:
                defs[(qid, v)] = _definition(definition, qid, v)
            except (ValueError, KeyError, TypeError) as exc:
                raise DbError(f"questionnaire {qid!r} version {v}: unreadable definition ({exc})") from None
    need_age = weights in ("poststratify", "rake")
    need_gender = weights == "rake"

    # ---- one scan: SQLite concatenates each column over all responses (in the same row order),
    # numpy decodes the strings; no Python object per response
    several_versions = any(len(catalogue[q]) > 1 for q in candidates)
    cols = ["count(*)", "min(questionnaire_id)", "max(questionnaire_id)", "group_concat(id, ',')",
            "group_concat(unit_id, ',')", "group_concat(answers, ',')"]
    if several_versions:
        cols.append("group_concat(questionnaire_version, ',')")
    categories: dict[str, list[str]] = {}
    cat_args: list = []
    for dim, needed in (("age_band", need_age), ("gender", need_gender)):
        if needed:
            cats = [r[0] for r in conn.execute("SELECT DISTINCT category FROM unit_population WHERE dimension = ? "
                                               "ORDER BY category", [dim])][:61]
            categories[dim] = cats
            sql_, extra = _category_case(dim, cats)
            cols.append(f"group_concat(char({sql_}), '')")
            cat_args.extend(extra)
    if progress:
        progress(0, 1)
    row = conn.execute(f"SELECT {', '.join(cols)} FROM responses WHERE {' AND '.join(where)}",
                       cat_args + args).fetchone()
    n = row[0]
    if not n:
        raise DbError(f"no responses in {period}" + (f" for units {', '.join(units)}" if units else "")
                      + (f" to {questionnaire!r}" if questionnaire else ""))
    if row[1] != row[2]:
        found = conn.execute(f"SELECT questionnaire_id, count(*) FROM responses WHERE {' AND '.join(where)} "
                             "GROUP BY questionnaire_id", args).fetchall()
        listing = ", ".join(f"{q} ({c} responses)" for q, c in found)
        raise DbError(f"the period holds several questionnaires: {listing}; choose one with --questionnaire")
    questionnaire = row[1]
    rid = np.fromstring(row[3], dtype=np.int64, sep=",")
    unit_id = np.fromstring(row[4], dtype=np.int64, sep=",")
    text = row[5].encode("ascii")
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
    del row
    if rid.size != n or unit_id.size != n or any(c.size != n for c in coded.values()):
        raise DbError(f"{path}: could not decode the responses table")
    widths = {v: len(defs[(questionnaire, v)]["codes"]) for v in np.unique(version).tolist()}
    raw = np.frombuffer(text, dtype=np.uint8)
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
            raise DbError(f"response id {rid[i]}: answers {ans[0]!r} have {len(ans[0])} characters but version "
                          f"{ans[1]} of {questionnaire!r} has {widths.get(ans[1], '?')} criteria")
        wmax = max(widths.values())
        answer_bytes = np.full((n, wmax), ord("-"), dtype=np.uint8)
        for v, wv in widths.items():
            sel = np.flatnonzero(version == v) if len(widths) > 1 else np.arange(n)
            answer_bytes[np.ix_(sel, np.arange(wv))] = raw[starts[sel, None] + np.arange(wv)]
    invalid = ~_VALID[answer_bytes]
    if invalid.any():
        r, c = np.argwhere(invalid)[0]
        raise DbError(f"response id {rid[r]}: an answer {chr(answer_bytes[r, c])!r} is not 1..5, n or -")
    notes = [f"database: {path}", f"period: {period}", f"questionnaire: {questionnaire}"]

    # ---- questionnaire versions -> criteria aligned by code
    versions = {v: defs[(questionnaire, v)] for v in widths}
    newest = versions[max(versions)]
    items = list(newest["codes"])
    for v in sorted(versions, reverse=True):
        items.extend(c for c in versions[v]["codes"] if c not in items)
    col_of = {c: i for i, c in enumerate(items)}
    factor_of: dict[str, str] = {}
    weight_of: dict[str, float] = {}
    for v in sorted(versions):          # the newest version's factor and weight win
        factor_of.update(versions[v]["factor_of"])
        weight_of.update(versions[v]["weight_of"])
    vc = np.bincount(version - version.min())
    notes.append("versions: " + ", ".join(f"v{v + version.min()} ({c} responses)" for v, c in enumerate(vc.tolist()) if c))
    J = len(items)
    if len(versions) == 1 and newest["codes"] == items and answer_bytes.shape[1] == J:
        codes = _DECODE[answer_bytes]
    else:
        codes = np.zeros((n, J), dtype=np.uint8)
        for v, dfn in versions.items():
            sel = np.flatnonzero(version == v)
            target_cols = np.array([col_of[c] for c in dfn["codes"]])
            codes[np.ix_(sel, target_cols)] = _DECODE[answer_bytes[np.ix_(sel, np.arange(len(dfn["codes"])))]]
    del raw, answer_bytes, text
    if progress:
        progress(1, 1)

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

    n_units = len(labels)
    keep = np.ones(n, dtype=bool)
    if coded:
        what = "an age band" + (" or a gender" if need_gender else "")
        lacking = np.zeros(n, dtype=bool)
        for dim, c in coded.items():
            lacking |= c == 62
        for dim, c in coded.items():
            if np.any(c == 63):
                known = categories[dim]
                placeholders = ", ".join("?" for _ in known) or "''"
                examples = conn.execute(
                    f"SELECT id, {dim} FROM responses WHERE {' AND '.join(where)} AND {dim} IS NOT NULL AND "
                    f"{dim} != '' AND {dim} NOT IN ({placeholders}) LIMIT 5", args + known).fetchall()
                raise DbError(f"{int(np.sum(c == 63))} response(s) have a value of {dim} without population margins "
                              f"(e.g. response id {examples[0][0]}: {examples[0][1]!r}); margins exist for "
                              f"{', '.join(known)}")
        if lacking.any():
            if not drop_incomplete:
                ids = [r[0] for r in conn.execute(
                    f"SELECT id FROM responses WHERE {' AND '.join(where)} AND ("
                    + " OR ".join(f"{dim} IS NULL OR {dim} = ''" for dim in coded) + ") LIMIT 5", args)]
                raise DbError(f"{int(lacking.sum())} response(s) lack {what}, which {weights} weighting needs "
                              f"(e.g. response ids {', '.join(map(str, ids))}); use --drop-incomplete to "
                              f"leave them out")
            keep &= ~lacking
            notes.append(f"dropped {int(lacking.sum())} response(s) without {what}")
    if not keep.all():
        district, codes, rid = district[keep], codes[keep], rid[keep]
        coded = {dim: c[keep] for dim, c in coded.items()}
        n = int(keep.sum())
        if n == 0:
            raise DbError("no responses left after dropping incomplete ones")

    pop = {lab: by_id[uid][3] for lab, uid in zip(labels, label_ids)}
    stratum, strata, fpc = district.copy(), labels, None
    if frame_id is not None:
        try:
            fw = frame_weights(conn, frame_id, min_respondents=min_cell, response_ids=rid)
        except FrameDesignError as exc:
            raise DbError(str(exc)) from None
        pos = np.searchsorted(fw.response_id, rid)
        w = fw.weights[pos]
        strata, stratum = np.unique(np.array(fw.strata, dtype=object)[fw.stratum[pos]].astype(str), return_inverse=True)
        fpc = np.array([fw.population[fw.strata.index(s)] for s in strata.tolist()])
        strata = tuple(strata.tolist())
        stratum = stratum.reshape(-1)
        notes.extend(fw.notes())
    elif weights == "none":
        w = np.ones(n)
        notes.append("weights: none (every response weighs 1)")
    else:
        missing_pop = [lab for lab in labels if pop[lab] is None]
        if missing_pop:
            raise DbError(f"unit(s) {', '.join(missing_pop)} have no population: needed for design weights")
        w = design_weights(district, {i: pop[lab] for i, lab in enumerate(labels)})
        notes.append("weights: design (unit population / responses in the unit)")
    if need_age:
        age_cats = categories["age_band"]
        margins_age = _margins(conn, label_ids, "age_band")
        totals, names = {}, {}
        for i, uid in enumerate(label_ids):
            if uid not in margins_age:
                raise DbError(f"unit {labels[i]!r} has no age_band population margins (table unit_population)")
            for cat, value in margins_age[uid].items():
                totals[i * 64 + age_cats.index(cat)] = value
                names[i * 64 + age_cats.index(cat)] = f"{labels[i]} x {cat}"
        for i in range(n_units):      # name the cells respondents fall in, with or without a margin
            for k, cat in enumerate(age_cats):
                names.setdefault(i * 64 + k, f"{labels[i]} x {cat}")
        cells = district.astype(np.int64) * 64 + coded["age_band"]
        try:
            if weights == "poststratify":
                w = poststratify(w, cells, totals, labels=names)
                notes.append("weights: post-stratified to unit x age_band")
            else:
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
                result = rake(w, [Margin("unit x age_band", cells, totals, names),
                                  Margin("gender", g_cells, g_totals, g_names)],
                              tol=rake_tol, max_iter=rake_max_iter, trim=trim, rescale=True)
                w = result.weights
                notes.extend("weights: " + line for line in result.report().splitlines())
                if not result.converged:
                    notes.append("WARNING: raking did not converge; the margins are not met (see above)")
        except ValueError as exc:
            raise DbError(str(exc)) from None
    notes.append(f"responses: {n} in {n_units} unit(s)")
    return SurveyData(items=tuple(items), answers=np.ascontiguousarray(codes), weights=w, district=district,
                      districts=labels, stratum=stratum, strata=strata, psu=None, fpc=fpc,
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
