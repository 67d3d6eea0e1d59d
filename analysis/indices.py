"""SIPAS indices for every unit and overall, with design-based intervals: the whole table at once.

:func:`compute_table` turns a :class:`~analysis.inputs.SurveyData` into an
:class:`IndexTable` with one row per (level, district, measure):

* every criterion ``q01``…: the share satisfied (answers >= 4 among valid
  answers), "not dissatisfied" (>= 3), the mean score and its 0–100 rescale, the
  1–5 distribution;
* every factor and the overall index under four definitions:

  - ``ITEM_AVG`` (default, the SIPAS definition): the mean of the criterion
    shares, weighted by the criterion weights;
  - ``FACTOR_AVG`` (overall index only): the mean over factors of the pooled
    factor shares;
  - ``POOLED``: satisfied answers / valid answers, all pooled (a ratio);
  - ``RESP``: the weighted mean of each respondent's share of satisfied answers;

each with its SE, degrees of freedom, logit and Korn–Graubard intervals, design
effect, effective sample sizes, Kish's weighting effect, CV and reliability
flags, exactly as R's ``survey`` package computes them (the test suite checks
this to 1e-9 against frozen R output).

How it is fast
--------------
Every statistic except ``RESP`` is linear in the respondents' *one-hot*
answers ``F[i, (j, k)] = 1`` if respondent *i* gave score *k* to criterion *j*.
The engine therefore makes one pass over the rows (sorted by district,
stratum and PSU) and accumulates, per district, the first moments
:math:`\\sum w F` and two Gram matrices of the one-hot answers — the
design one, :math:`\\sum_h a_h \\sum_c X_c X_c^\\top` over PSU totals
:math:`X_c = \\sum_{i \\in c} w_i F_i`, and the row-level
:math:`\\sum_i w_i F_i F_i^\\top` for design effects. Afterwards each
estimate is a coefficient vector :math:`\\gamma` (its linearisation), its
variance a quadratic form :math:`\\gamma^\\top V \\gamma - \\sum_h b_h
(\\gamma^\\top T_h)^2`. ``RESP`` gets the same treatment with the per-respondent
shares as features. Nothing of size respondents × measures is ever built.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._blas import single_threaded_blas
from .accumulate import QP, _Acc, _category_totals, _Centres, _centres_many, _chunks, _layout, _Pass, _segment_sums, _shift, _shift_resp
from .calibration import CalibrationSums
from .design import LONELY_PSU, stratum_factors
from .inputs import SurveyData
from .measures import _item_avg_coefficients, _item_avg_coefficients_many, _Level, _rows, _rows_many, _zcol
from .messages import coded
from .table import (COLUMNS, DEFINITIONS, EXTRA_COLUMNS, K, NOT_DISSATISFIED_FROM, REFERENCE_COLUMNS, VARIANTS,
                    IndexTable, finish_table)

MISSING_ITEMS = ("drop", "fail")
"""What to do when a unit has criteria nobody answered validly (see :func:`_missing_items`)."""

LONELY_EXPLAINED = {
    "adjust": "its PSU is compared with the overall mean (R's survey.lonely.psu = \"adjust\"; conservative)",
    "remove": "it adds nothing to the variance (R's \"remove\"; can understate it)",
    "certainty": "it is treated as sampled with certainty and adds nothing (R's \"certainty\")",
    "average": "it is given the average variance contribution of the other strata (R's \"average\")",
}

__all__ = ["compute_table", "IndexTable", "COLUMNS", "REFERENCE_COLUMNS", "DEFINITIONS", "VARIANTS"]

# ----------------------------------------------------------------------------- public entry point

def compute_table(data: SurveyData, *, level: float = 0.95, overall: bool = True, lonely_psu: str = "adjust",
                  target: float | None = 0.80, ci_method: str = "logit", chunk_rows: int = 1 << 16,
                  threads: int | None = None, progress: Callable[[int, int], None] | None = None,
                  missing_items: str = "drop", calibrated: bool = True) -> IndexTable:
    """Estimate every criterion, factor and index for every district and overall.

    Parameters
    ----------
    data : SurveyData
        From :func:`analysis.read_csv` or :func:`analysis.load_db`.
    level : float, keyword-only
        Confidence level of every interval (default 0.95).
    overall : bool, keyword-only
        Include the ``overall``/``ALL`` rows (default True).
    lonely_psu : {"adjust", "remove", "certainty", "average", "fail"}, keyword-only
        Treatment of strata with a single PSU (default "adjust", as R's
        ``options(survey.lonely.psu = "adjust")``).
    target : float or None, keyword-only
        Judge each district against this share satisfied (default 0.80): the
        ``vs_target`` column (see :func:`analysis.judgements.against_target`).
    ci_method : {"logit", "beta"}, keyword-only
        Interval used for judgements and ranks (both are always reported).
    chunk_rows : int, keyword-only
        Rows per block of the pass (memory ~ 30 MB per 65,536 rows and thread).
    threads : int, optional, keyword-only
        Units are processed on this many threads (default: one per CPU).
    progress : callable, optional, keyword-only
        ``progress(rows_done, rows_total)``.
    missing_items : {"drop", "fail"}, keyword-only
        A unit where a criterion (or a whole factor) has no valid answer: ``"drop"`` (default)
        estimates its indices over the criteria answered, reports ``items_used`` <
        ``items_expected`` with ``flag_items_missing`` and leaves those rows out of the ranks;
        ``"fail"`` raises ``ValueError`` naming the units and criteria.
    calibrated : bool, keyword-only
        When ``data.calibration`` says how the weights were post-stratified or raked (as
        :func:`analysis.load_db` does), use the calibration (g-weight residual) variance, as R's
        ``postStratify()`` / ``calibrate()`` designs do (default True); False treats the weights as
        fixed (the earlier behaviour).

    Returns
    -------
    IndexTable

    Notes
    -----
    Design: strata, optional PSUs nested in strata, with replacement, weights
    fixed (R: ``svydesign(ids = ~psu, strata = ~stratum, weights = ~weight,
    nest = TRUE)``). Districts are domains of that one design; each criterion
    uses the respondents who answered it (available case). Degrees of freedom
    are PSUs minus strata among the rows behind the estimate.

    Linearisations (:math:`W_j` the weighted count answering criterion *j* in
    the domain, :math:`\\omega_j` criterion weights, :math:`r_{ij}` = answered):

    * criterion: :math:`z_i = r_{ij}(y_{ij} - p_j)/W_j` (``svymean``);
    * ITEM_AVG: :math:`z_i = \\sum_j \\frac{\\omega_j}{\\Omega} r_{ij}(y_{ij}-p_j)/W_j`;
    * POOLED: :math:`z_i = (a_i - R k_i)/\\sum w k` with :math:`a_i, k_i` the
      (criterion-weighted) satisfied and valid answers of respondent *i*
      (``svyratio``);
    * FACTOR_AVG: the mean over factors of the POOLED factor linearisations
      (``svycontrast`` of ``svyratio``);
    * RESP: :math:`z_i = (a_i/k_i - \\hat\\mu)/\\sum w` over respondents with
      :math:`k_i > 0` (``svymean``).

    A criterion nobody in a domain answered is left out of that domain's
    ITEM_AVG (its weight is shared among the others), and a factor with no
    answers out of its FACTOR_AVG; R's reference script would instead count
    the criterion as 0, or return NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    if lonely_psu not in LONELY_PSU:
        raise ValueError(f"lonely_psu must be one of {', '.join(LONELY_PSU)}; got {lonely_psu!r}")
    if missing_items not in MISSING_ITEMS:
        raise ValueError(f"missing_items must be one of {', '.join(MISSING_ITEMS)}; got {missing_items!r}")
    if ci_method not in ("logit", "beta"):
        raise ValueError(f"ci_method must be 'logit' or 'beta', got {ci_method!r}")
    if target is not None and not 0 < target < 1:
        raise ValueError(f"target must be a share between 0 and 1 (e.g. 0.80), got {target!r}")
    if data.n == 0:
        raise coded(ValueError, "table.no_respondents", "no respondents")
    with single_threaded_blas():
        return _compute(data, level=level, overall=overall, lonely_psu=lonely_psu, target=target,
                        ci_method=ci_method, chunk_rows=chunk_rows, threads=threads, progress=progress,
                        missing_items=missing_items, calibrated=calibrated)


BATCH_GROUPS = 16
"""Units with at most this many strata in the period have their rows computed many at a time."""


def _compute(data: SurveyData, *, level, overall, lonely_psu, target, ci_method, chunk_rows, threads,
             progress, missing_items, calibrated) -> IndexTable:
    run = _levels(data, lonely_psu=lonely_psu, chunk_rows=chunk_rows, threads=threads, progress=progress,
                  overall=overall, missing_items=missing_items, calibrated=calibrated)
    parts: dict[str, list] = {}
    average = lonely_psu == "average"

    def add(lv, names, counts, part):
        m = len(part.get("measure", ()))
        if m == 0:            # nobody in these units answered any criterion
            return
        parts.setdefault("level", []).append(np.full(m, lv, dtype=object))
        parts.setdefault("district", []).append(np.repeat(np.array(names, dtype=object), counts))
        for k_, v_ in part.items():
            parts.setdefault(k_, []).append(v_)

    if run.overall is not None:
        part = _rows(run.overall, run.lay, data, run.iw, average=average)
        add("overall", ["ALL"], [len(part.get("measure", ()))], part)
    for names, counts, part in district_rows(run, data, average=average):
        add("district", names, counts, part)
    if not parts:
        raise coded(ValueError, "table.nothing_to_estimate", "no respondent gave a valid answer (1..5) to any "
                    "criterion: nothing to estimate")
    cols = {k_: np.concatenate(v_) for k_, v_ in parts.items()}
    return finish_table(cols, level=level, target=target, ci_method=ci_method,
                        notes=tuple(data.notes) + run.notes)


def district_rows(run: "EngineRun", data: SurveyData, *, average: bool = False, batch: bool = True):
    """The rows of every unit of ``run``, in unit order: ``(names, rows per unit, columns)`` pieces.

    Units with at most :data:`BATCH_GROUPS` strata, no calibration variance and ``average`` False have
    their rows computed many at a time (:func:`analysis.measures._rows_many`: the same numbers as
    :func:`analysis.measures._rows` one unit at a time); the others one by one. ``batch=False`` computes
    every unit alone (tests compare the two).
    """
    pending: list = []

    def flush():
        if pending:
            counts, part = _rows_many([level_ for _, level_ in pending], run.lay, data, run.iw)
            names = [name for name, _ in pending]
            pending.clear()
            return names, counts, part
        return None
    for name, level_ in run.districts:
        if batch and not average and level_.cal is None and level_.T.shape[0] <= BATCH_GROUPS:
            pending.append((name, level_))
            continue
        got = flush()
        if got:
            yield got
        part = _rows(level_, run.lay, data, run.iw, average=average)
        yield [name], [len(part.get("measure", ()))], part
    got = flush()
    if got:
        yield got


@dataclass
class EngineRun:
    """The engine's passes over the rows, before the rows of the table (shared with :mod:`analysis.summary`)."""
    lay: object                # criterion layout (factor order)
    iw: np.ndarray             # criterion weights in engine order
    membership: np.ndarray     # (J, NS) criterion weights of each set
    districts: list            # [(label, _Level)] in label order, units with rows only
    overall: _Level | None     # the whole sample
    overall_cen: _Centres
    n_psu: np.ndarray          # PSUs per stratum (data.strata order)
    clustered: bool
    codes: np.ndarray          # (n, J) answer codes, rows sorted, criteria in engine order
    w: np.ndarray              # weights of those rows
    notes: tuple = ()          # what the run did that the reader must know (missing criteria, calibration, lonely PSUs)


BATCH_ROWS = 4096
"""Units with at most this many rows go through the pass many at a time, up to this many rows a batch."""


def _levels(data: SurveyData, *, lonely_psu, chunk_rows, threads, progress, overall: bool = True,
            missing_items: str = "drop", calibrated: bool = False, batch_rows: int | None = None) -> EngineRun:
    chunk_rows = max(int(chunk_rows), 1)
    lay = _layout(data)
    n, J = data.n, len(data.items)
    NS = len(lay.sets)
    iw = data.item_weights[lay.order]
    membership = np.zeros((J, NS))
    for s, (_, members) in enumerate(lay.sets):
        for b_ in members:
            lo_, hi_ = lay.base[b_]
            membership[lo_:hi_, s] = iw[lo_:hi_]

    # ---- sort rows by (district, stratum, psu); criteria in factor order
    d_code = data.district.astype(np.int64)
    h_code = data.stratum.astype(np.int64)
    clustered = data.psu is not None
    p_code = data.psu.astype(np.int64) if clustered else np.zeros(n, dtype=np.int64)
    D, H = len(data.districts), len(data.strata)
    P_ = int(p_code.max()) + 1
    key = (d_code * H + h_code) * P_ + p_code if D * H * P_ < 2 ** 62 else None
    perm = None if key is not None and np.all(key[1:] >= key[:-1]) else np.lexsort((p_code, h_code, d_code))
    reorder = np.any(lay.order != np.arange(J))
    if perm is not None:
        d_code, h_code, p_code, w = d_code[perm], h_code[perm], p_code[perm], data.weights[perm]
        codes = data.answers[perm]
    else:
        w, codes = data.weights, data.answers
    codes = np.ascontiguousarray(codes[:, lay.order] if reorder else codes).astype(np.intp)

    # ---- structure: districts, groups (district x stratum), cells (district x stratum x psu)
    gchange = np.flatnonzero((d_code[1:] != d_code[:-1]) | (h_code[1:] != h_code[:-1])) + 1
    g_start = np.concatenate(([0], gchange, [n]))
    G = g_start.size - 1
    g_d, g_h = d_code[g_start[:-1]], h_code[g_start[:-1]]
    dom_bounds = np.searchsorted(d_code, np.arange(D + 1), side="left")
    psu_h = None
    if clustered:
        cchange = np.flatnonzero((d_code[1:] != d_code[:-1]) | (h_code[1:] != h_code[:-1])
                                 | (p_code[1:] != p_code[:-1])) + 1
        c_start = np.concatenate(([0], cchange, [n]))
        c_psu = p_code[c_start[:-1]]
        psu_h = np.zeros(P_, dtype=np.int64)
        psu_h[p_code] = h_code
        n_psu = np.bincount(psu_h[np.unique(p_code)], minlength=H)
        crossing = bool(np.unique(c_psu).size < c_psu.size)
    else:
        c_start = None
        n_psu = np.bincount(h_code, minlength=H)
        crossing = False
    if lonely_psu == "fail" and np.any(n_psu == 1):
        bad = data.strata[int(np.flatnonzero(n_psu == 1)[0])]
        raise ValueError(f"stratum {bad!r} has a single PSU (lonely_psu='fail')")
    a_h, b_h = stratum_factors(n_psu, lonely_psu)
    if data.fpc is not None:     # without replacement: R's onestrat scales by (N_h - n_h) / N_h
        f_h = (data.fpc - n_psu) / data.fpc
        a_h, b_h = a_h * f_h, b_h * f_h

    # ---- pass 1: exact category totals -> centres
    P = _category_totals(codes, w, dom_bounds, chunk_rows)
    item_notes = _missing_items(data, lay, P, missing_items)
    overall_cen = _Centres.from_totals(P.sum(axis=0), data.satisfied_from, membership)
    cens, lut_all = _centres_many(P, data.satisfied_from, membership)     # every unit's _Centres.from_totals

    # ---- calibration variance (post-stratified or raked weights)
    cal = None
    if data.calibration is not None and calibrated:
        if lonely_psu == "average":
            raise ValueError("lonely_psu='average' is not supported with a calibration variance")
        cal = CalibrationSums(data.calibration, perm, w, a_h[h_code], h_code, H)

    # ---- pass 2
    acc = _Acc(D, G, J, NS, NS * 4, crossing)
    largest_cell = int(np.diff(c_start).max()) if clustered else 1
    block_rows = min(n, max(chunk_rows, largest_cell))
    local = threading.local()
    # every district's ITEM_AVG coefficients at once (one call per district cost a second per 1,000 units)
    coefficients = _item_avg_coefficients_many(lay, iw, np.stack([c.W for c in cens]),
                                               np.stack([c.lut_theta for c in cens]), overall_cen)

    def district(d: int) -> int:
        # every accumulator a district writes is its own (per district or per group), so districts
        # can run on separate threads: numpy and BLAS release the GIL for the heavy work
        if not hasattr(local, "ps"):
            local.ps = _Pass(acc, lay, membership, data.satisfied_from, g_start, c_start, np.sqrt(a_h[g_h]),
                             p_code if crossing else None, block_rows, cal)
        lo, hi = int(dom_bounds[d]), int(dom_bounds[d + 1])
        cz = ([block[d] for block in coefficients[0]], coefficients[1][d])
        for a, b in _chunks(lo, hi, c_start, chunk_rows):
            local.ps.block(codes[a:b], w[a:b], a, b, d, cens[d], cz)
        return hi - lo

    # small units (all their rows in one block) many at a time: thousands of communes of a few hundred
    # rows each made the per-unit pass some 60 numpy calls per unit (see _Pass.block_many)
    sizes = np.diff(dom_bounds)
    limit = min(chunk_rows, BATCH_ROWS if batch_rows is None else batch_rows)
    small = (sizes > 0) & (sizes <= limit) if cal is None else np.zeros(D, bool)
    todo: list = [(d,) for d in np.flatnonzero((sizes > 0) & ~small).tolist()]
    run_: list = []
    for d in np.flatnonzero(small).tolist():     # runs of adjacent rows (a larger unit between ends a run)
        if run_ and (dom_bounds[d] != dom_bounds[run_[-1] + 1] or dom_bounds[d + 1] - dom_bounds[run_[0]] > limit):
            todo.append(tuple(run_))
            run_ = []
        run_.append(d)
    if run_:
        todo.append(tuple(run_))
    rows_of = {t: int(sum(sizes[d] for d in t)) for t in todo}
    todo.sort(key=lambda t: -rows_of[t])                                  # largest first
    lut_pooled_all = np.stack([c.lut_pooled for c in cens]) if any(len(t) > 1 for t in todo) else None

    def work(t: tuple) -> int:
        if len(t) == 1:
            return district(t[0])
        if not hasattr(local, "ps"):
            local.ps = _Pass(acc, lay, membership, data.satisfied_from, g_start, c_start, np.sqrt(a_h[g_h]),
                             p_code if crossing else None, block_rows, cal)
        lo, hi = int(dom_bounds[t[0]]), int(dom_bounds[t[-1] + 1])
        starts = dom_bounds[list(t) + [t[-1] + 1]] - lo
        local.ps.block_many(codes[lo:hi], w[lo:hi], lo, t, starts, lut_all, lut_pooled_all, coefficients)
        return hi - lo

    workers = max(1, min(threads or os.cpu_count() or 1, len(todo)))
    done = 0
    if workers == 1:
        for t in todo:
            done += work(t)
            if progress:
                progress(done, n)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for fut in as_completed([pool.submit(work, t) for t in todo]):
                done += fut.result()
                if progress:
                    progress(done, n)
    if not clustered:
        acc.pit, acc.pset = acc.nit, acc.nset

    # ---- per level
    overall_level = (_overall_level(acc, cens, overall_cen, P, g_d, g_h, H, b_h, a_h, psu_h, crossing)
                     if overall else None)
    districts = []
    zc = [_zcol(s, v, 0) for s in range(NS) for v in range(2)]
    g_bounds = np.searchsorted(g_d, np.arange(D + 1), side="left")      # groups are sorted by district
    for d, name in enumerate(data.districts):
        groups = np.arange(g_bounds[d], g_bounds[d + 1])
        if groups.size == 0:
            continue
        districts.append((name, _Level(
            cens[d], acc.V[d], acc.T[groups], b_h[g_h[groups]], acc.VR[d], acc.TR[groups], acc.Q[d],
            acc.nit[groups], acc.pit[groups], acc.nset[groups], acc.pset[groups], acc.R2[d], acc.E[d],
            acc.Z[d][:, zc].reshape(2, NS, 2), P[d])))
    levels = ([("overall", "ALL", overall_level)] if overall_level is not None else []) + \
        [("district", name, level_) for name, level_ in districts]
    notes = item_notes
    if cal is not None:
        _calibrate_levels(levels, cal, acc, cens, overall_cen, data, g_d, g_h, H, b_h, QP * J)
        c = data.calibration
        kind, r_call = (("post-stratification", "postStratify()") if c.kind == "poststratify"
                        else ("raking", 'calibrate(calfun = "raking")'))
        margins = ", ".join(c.names) or f"{len(c.margins)} margin(s)"
        notes += (f"variance: calibration (g-weight residual) variance for the {kind} to {margins} "
                  f"(as R's {r_call})",)
    elif data.calibration is not None:
        notes += ("variance: the calibrated weights are treated as fixed (calibrated=False)",)
    lonely = [data.strata[h] for h in np.flatnonzero(n_psu == 1)]
    if lonely:
        notes += (f"lonely PSUs: {len(lonely)} stratum/strata with a single PSU ({', '.join(lonely[:10])}"
                  + (" ..." if len(lonely) > 10 else "") + f"); handled by lonely_psu={lonely_psu!r}: "
                  + LONELY_EXPLAINED[lonely_psu],)
    return EngineRun(lay, iw, membership, districts, overall_level, overall_cen, n_psu, clustered, codes, w, notes)


def _calibrate_levels(levels, cal: CalibrationSums, acc: _Acc, cens, oc: _Centres, data: SurveyData, g_d, g_h,
                      H: int, b_h: np.ndarray, F: int) -> None:
    """Replace each level's Gram matrices and stratum totals by those of the calibration residuals
    (:mod:`analysis.calibration`); the stratum sums then run over every stratum, as residuals of rows
    outside a unit are not zero."""
    units = {d: cal.unit(d, F) for d in range(len(data.districts))}
    for lv, name, level in levels:
        if lv == "overall":
            parts = []
            for d, got in units.items():
                if got is None:
                    continue
                u, S1, S2 = got
                delta, rho = cens[d].lut_theta - oc.lut_theta, cens[d].lut_pooled - oc.lut_pooled
                parts.append((u, *(np.concatenate([_shift(S[:, :F], delta), _shift_resp(S[:, F:], rho)], axis=1)
                                   for S in (S1, S2))))
            u = np.unique(np.concatenate([q[0] for q in parts]))
            S1 = np.zeros((u.size, parts[0][1].shape[1]))
            S2 = np.zeros_like(S1)
            for cells, s1, s2 in parts:
                S1[np.searchsorted(u, cells)] += s1
                S2[np.searchsorted(u, cells)] += s2
            T_h, TR_h = level.T, level.TR               # already one row per stratum
        else:
            d = data.districts.index(name)
            u, S1, S2 = units[d]
            groups = np.flatnonzero(g_d == d)
            T_h = np.zeros((H, level.T.shape[1]))
            TR_h = np.zeros((H, level.TR.shape[1]))
            np.add.at(T_h, g_h[groups], level.T)
            np.add.at(TR_h, g_h[groups], level.TR)
        level.V, T_cal = cal.adjust(u, S1[:, :F], S2[:, :F], level.V, T_h)
        level.VR, TR_cal = cal.adjust(u, S1[:, F:], S2[:, F:], level.VR, TR_h)
        level.cal = (T_cal, TR_cal, b_h)


def _missing_items(data: SurveyData, lay, P: np.ndarray, missing_items: str) -> tuple[str, ...]:
    """Units where a criterion has no valid answer: their factor and overall indices are over fewer
    criteria than the questionnaire's. ``fail``: refuse; ``drop``: estimate over the criteria answered,
    flag those rows (``flag_items_missing``), leave them out of the ranks, and say so in a note."""
    answered = P[:, :, 1:].sum(axis=2) > 0             # (D, J) in engine order
    items = [data.items[j] for j in lay.order]
    has_rows = P.sum(axis=(1, 2)) > 0
    short = [(data.districts[d], [items[j] for j in np.flatnonzero(~answered[d])])
             for d in range(len(data.districts)) if has_rows[d] and not answered[d].all()]
    if not short:
        return ()
    J = len(items)
    listing = "; ".join(f"{u} ({J - len(m)} of {J}, none for {', '.join(m[:8])}{' ...' if len(m) > 8 else ''})"
                        for u, m in short[:10]) + (" ..." if len(short) > 10 else "")
    if missing_items == "fail":
        raise ValueError(f"{len(short)} unit(s) have criteria without any valid answer, so their indices would "
                         f"be over fewer criteria than the questionnaire's: {listing} (missing_items='fail'; "
                         f"'drop' estimates over the criteria answered and flags the rows)")
    return (f"criteria without any valid answer in {len(short)} unit(s): {listing}; their factor and overall "
            f"indices are over the criteria answered (items_used < items_expected, flag_items_missing) and are "
            f"not ranked with the other units",)


def _overall_level(acc: _Acc, cens, oc: _Centres, P, g_d, g_h, H, b_h, a_h, psu_h, crossing) -> _Level:
    """The whole sample: groups are strata, and every district's sums move to the overall centres."""
    D = len(cens)
    NS = acc.nset.shape[1]
    delta = np.stack([c.lut_theta - oc.lut_theta for c in cens])   # (D, J, 3)
    rho = np.stack([c.lut_pooled - oc.lut_pooled for c in cens])    # (D, NS, 3)
    # (whole arrays at once, summed in the same order as one group / district at a time: thousands of
    # communes made these loops a second each)
    T = np.zeros((H, acc.T.shape[1]))
    TR = np.zeros((H, acc.TR.shape[1]))
    np.add.at(T, g_h, _shift(acc.T, delta[g_d]))
    np.add.at(TR, g_h, _shift_resp(acc.TR, rho[g_d]))
    def by_stratum(x):
        out = np.zeros((H,) + x.shape[1:])
        np.add.at(out, g_h, x)
        return out
    nit, nset = by_stratum(acc.nit), by_stratum(acc.nset)
    if crossing:
        V, VR, pit, pset = _overall_from_psus(acc, delta, rho, psu_h, a_h, H)
    else:
        V = np.zeros(acc.V.shape[1:])
        VR = np.zeros(acc.VR.shape[1:])
        for lo in range(0, D, 256):     # V + V_d + V_d+1 + ..., left to right (a sum over axis 0 keeps that order)
            hi = min(lo + 256, D)
            V = _shifted_sum(V, acc.V[lo:hi], delta[lo:hi])
            VR = _shifted_sum(VR, acc.VR[lo:hi], rho[lo:hi])
        pit, pset = by_stratum(acc.pit), by_stratum(acc.pset)
    # row-level moments re-centred: x_all = x_d + shift * has (or * k)
    Ed = acc.E[:D]                                               # (D, NS, 12)
    TRd = np.zeros((D,) + acc.TR.shape[1:])
    np.add.at(TRd, g_d, acc.TR)
    TRd = TRd.reshape(D, NS, 4)
    terms = np.zeros((D, NS, 12))
    r = rho
    for v in range(2):   # rt'^2, rs'^2
        terms[:, :, v] = Ed[:, :, v] + 2 * r[:, :, v] * TRd[:, :, 1 + v] + r[:, :, v] ** 2 * TRd[:, :, 0]
    terms[:, :, 2:7] = Ed[:, :, 2:7]
    for v, (i2, ik) in enumerate(((7, 8), (10, 11))):   # a'^2, a'k ; s'^2, s'k
        terms[:, :, i2] = Ed[:, :, i2] + 2 * r[:, :, v] * Ed[:, :, ik] + r[:, :, v] ** 2 * Ed[:, :, 9]
        terms[:, :, ik] = Ed[:, :, ik] + r[:, :, v] * Ed[:, :, 9]
    terms[:, :, 9] = Ed[:, :, 9]
    E = terms.sum(axis=0)
    zc = [_zcol(s, v, 1) for s in range(NS) for v in range(2)]
    Z = acc.Z[:, :, zc].sum(axis=0).reshape(2, NS, 2)
    return _Level(oc, V, T, b_h, VR, TR, acc.Q.sum(axis=0), nit, pit, nset, pset, acc.R2.sum(axis=0), E, Z,
                  P.sum(axis=0))


def _shifted_sum(total: np.ndarray, Ms: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``total + sum_l shift(shift(Ms[l], delta[l], rows), delta[l], columns)``, left to right.

    The same numbers as :func:`analysis.accumulate._shift` on axis 1 then axis 2 of ``Ms`` and a sum over
    axis 0 of ``total`` and the result, without moving axes (no copies but one): each element gains
    ``answered x delta`` exactly as there.
    """
    L, NF = Ms.shape[:2]
    m = delta.shape[1]
    buf = np.empty((L + 1, NF, NF))
    buf[0] = total
    X = buf[1:]
    X[...] = Ms
    rows = X.reshape(L, m, QP, NF)
    rows[:, :, 1:, :] += rows[:, :, :1, :] * delta[:, :, :, None]
    cols = X.reshape(L, NF, m, QP)
    cols[..., 1:] += cols[..., :1] * delta[:, None, :, :]
    return buf.sum(axis=0)


def _overall_from_psus(acc: _Acc, delta, rho, psu_h, a_h, H):
    """When PSUs cross districts, the overall level needs whole-PSU totals."""
    cells = [c for d_ in sorted(acc.cells) for c in acc.cells[d_]]
    d = np.concatenate([np.full(c[1].size, c[0]) for c in cells])
    psu = np.concatenate([c[1] for c in cells])
    X = np.concatenate([c[2] for c in cells])
    XR = np.concatenate([c[3] for c in cells])
    ans = np.concatenate([c[4] for c in cells]).astype(float)
    has = np.concatenate([c[5] for c in cells]).astype(float)
    for dd in np.unique(d):
        sel = d == dd
        X[sel] = _shift(X[sel], delta[dd])
        XR[sel] = _shift_resp(XR[sel], rho[dd])
    order = np.argsort(psu, kind="stable")
    psu = psu[order]
    starts = np.concatenate(([0], np.flatnonzero(psu[1:] != psu[:-1]) + 1, [psu.size]))
    h = psu_h[psu[starts[:-1]]]
    sa = np.sqrt(a_h[h])[:, None]
    Xa = _segment_sums(X[order], starts) * sa
    XRa = _segment_sums(XR[order], starts) * sa
    pit = np.zeros((H, ans.shape[1]))
    pset = np.zeros((H, has.shape[1]))
    np.add.at(pit, h, _segment_sums(ans[order], starts) > 0)
    np.add.at(pset, h, _segment_sums(has[order], starts) > 0)
    return Xa.T @ Xa, XRa.T @ XRa, pit, pset


