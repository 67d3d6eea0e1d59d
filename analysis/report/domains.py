"""The overall index (ITEM_AVG) for the categories of any column, in one pass: the report's breakdowns.

The report shows the index by channel, field of procedure and respondent
group, and by unit for the comparison period. :func:`analysis.compute_table`
gives these (with the category as the domain column) but computes every
criterion, factor and definition on the way, a full pass per breakdown; this
module computes only ``INDEX:ITEM_AVG``, for every category of a column at
once, with the same design (strata = units, each respondent a PSU, with
replacement, weights fixed — after post-stratification or raking this is
``compute_table(..., calibrated=False)``: the breakdowns do not have the
calibration variance yet), the same linearisation and the engine's own
interval, design-effect and flag functions. The test suite checks its rows
against ``compute_table`` to 1e-9.

Notes
-----
For category *c*, with :math:`W_{cj}` the weight of respondents in *c* who
answered criterion *j*, :math:`p_{cj}` their share satisfied and
:math:`\\omega_j` the criterion weights over the criteria answered in *c*
(:math:`\\Omega_c = \\sum \\omega_j`):

.. math:: P_c = \\sum_j \\frac{\\omega_j}{\\Omega_c} p_{cj}, \\qquad
          z_i = \\sum_j \\frac{\\omega_j}{\\Omega_c} r_{ij} \\frac{y_{ij} - p_{cj}}{W_{cj}}

and :math:`\\mathrm{Var}(P_c)` is the with-replacement stratified variance of
the total :math:`\\sum_i w_i z_i` over *c* (zero outside it).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.design import Design, stratum_factors
from analysis.inputs import SurveyData
from analysis.intervals import korn_graubard_ci, logit_ci, reliability_flags
from analysis.judgements import against_target

MEASURE = "INDEX:ITEM_AVG"
CHUNK = 1 << 17


def index_by(data: SurveyData, codes: np.ndarray, labels: Sequence[str], *, level: float = 0.95,
             target: float | None = 0.80, overall: bool = False) -> list[dict]:
    """``INDEX:ITEM_AVG`` rows (the engine's table columns) for each category of ``codes``.

    Parameters
    ----------
    data
        Respondents, answers, weights and strata (from :func:`analysis.load_db`).
    codes
        Category of each respondent, ``0..len(labels)-1``; ``-1`` for none
        (e.g. a field the respondent did not give: in no category).
    labels
        Category labels, written in the ``district`` column.
    overall
        Also the ``ALL`` row (every respondent).

    Returns
    -------
    list of dict
        One row per category with at least one answer; columns ``level,
        district, measure, measure_type, factor, n, sum_w, df, p, se,
        ci_logit_l, ci_logit_u, ci_kg_l, ci_kg_u, deff, n_eff_deff, n_eff_var,
        n_eff_kg, deff_kish, n_eff_kish, cv`` and the flags, ``target`` and
        ``vs_target``.
    """
    codes = np.asarray(codes, dtype=np.intp)
    C = len(labels)
    if codes.shape != (data.n,):
        raise ValueError(f"codes must give one category per respondent ({data.n}), got shape {codes.shape}")
    if codes.size and (codes.max() >= C or codes.min() < -1):
        raise ValueError("codes must be -1 or 0..len(labels)-1")
    groups = [(labels[c], codes == c, "district") for c in range(C)]
    if overall:
        groups.insert(0, ("ALL", np.ones(data.n, dtype=bool), "overall"))
    # Each respondent its own PSU (the database's design): the variance is two bincounts over strata.
    fast = data.psu is None
    if fast:
        a_h, b_h = stratum_factors(np.bincount(data.stratum, minlength=len(data.strata)), "adjust")
    else:
        design = Design.from_columns(data.weights, strata=data.stratum, psu=data.psu)
    w = data.weights
    top = data.satisfied_from
    omega = np.asarray(data.item_weights, dtype=float)
    J = len(data.items)
    # per category and criterion: weight answering (W) and weight satisfied (S), in chunks
    cat = np.where(codes < 0, C, codes)
    W = np.zeros((C + 1, J))
    S = np.zeros((C + 1, J))
    answered_any = np.zeros(data.n, dtype=bool)
    for lo in range(0, data.n, CHUNK):
        hi = min(lo + CHUNK, data.n)
        a = data.answers[lo:hi]
        r = a > 0
        y = a >= top
        answered_any[lo:hi] = r.any(axis=1)
        wc = w[lo:hi, None]
        for j in range(J):
            W[:, j] += np.bincount(cat[lo:hi], weights=wc[:, 0] * r[:, j], minlength=C + 1)
            S[:, j] += np.bincount(cat[lo:hi], weights=wc[:, 0] * y[:, j], minlength=C + 1)
    rows = []
    for label, member, level_name in groups:
        if level_name == "overall":
            Wc, Sc = W.sum(axis=0), S.sum(axis=0)
        else:
            c = labels.index(label) if isinstance(labels, list) else list(labels).index(label)
            Wc, Sc = W[c], S[c]
        keep = member & answered_any
        n = int(keep.sum())
        if n == 0:
            continue
        present = Wc > 0
        om = np.where(present, omega, 0.0)
        om = om / om.sum()
        p_j = np.where(present, Sc / np.where(present, Wc, 1.0), 0.0)
        P = float(om @ p_j)
        coef = np.where(present, om / np.where(present, Wc, 1.0), 0.0)      # weight of r_ij (y_ij - p_j)
        idx = np.flatnonzero(keep)
        z = np.zeros(idx.size)
        for lo in range(0, idx.size, CHUNK):
            a = data.answers[idx[lo:lo + CHUNK]]
            r = a > 0
            z[lo:lo + CHUNK] = ((r & (a >= top)) * coef).sum(axis=1) - (r * (coef * p_j)).sum(axis=1)
        if fast:
            var, df = _variance_one_per_psu(w[idx] * z, data.stratum[idx], a_h, b_h)
        else:
            full = np.zeros(data.n)
            full[idx] = z
            var = float(design.total_variance(full, domain=keep))
            df = int(design.degrees_of_freedom(domain=keep))
        se = float(np.sqrt(max(var, 0.0)))
        deff = _deff(var, z, w[idx])
        wk = w[idx]
        sum_w, sum_w2 = float(wk.sum()), float((wk ** 2).sum())
        rows.append(dict(level=level_name, district=label, measure=MEASURE, measure_type="index_item_avg",
                         factor=None, n=n, sum_w=sum_w, df=df, p=P, se=se, deff=deff,
                         deff_kish=n * sum_w2 / sum_w ** 2, n_eff_kish=sum_w ** 2 / sum_w2))
    if not rows:
        return rows
    p = np.array([r["p"] for r in rows])
    se = np.array([r["se"] for r in rows])
    n = np.array([r["n"] for r in rows], dtype=float)
    df = np.array([r["df"] for r in rows], dtype=float)
    deff = np.array([r["deff"] for r in rows])
    lo_l, hi_l = logit_ci(p, se, df, level=level)
    lo_k, hi_k, n_eff_kg = korn_graubard_ci(p, se, n, df, level=level)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (p > 0) & (p < 1) & (se > 0)
        n_eff_var = np.where(inner, p * (1 - p) / np.where(inner, se, 1.0) ** 2, n)
        n_eff_deff = np.where(np.isfinite(deff) & (deff > 0), n / deff, np.nan)
        cv = np.where(p > 0, se / np.where(p > 0, p, 1.0), np.nan)
    flags = reliability_flags(p, se, n, df, n_eff_var, lo_k, hi_k)
    lo = np.where(np.isnan(lo_l), lo_k, lo_l)
    hi = np.where(np.isnan(hi_l), hi_k, hi_l)
    vs = against_target(lo, hi, target=target) if target is not None else [None] * len(rows)
    for i, r in enumerate(rows):
        r.update(ci_logit_l=_f(lo_l[i]), ci_logit_u=_f(hi_l[i]), ci_kg_l=_f(lo_k[i]), ci_kg_u=_f(hi_k[i]),
                 deff=_f(deff[i]), n_eff_deff=_f(n_eff_deff[i]), n_eff_var=_f(n_eff_var[i]),
                 n_eff_kg=_f(n_eff_kg[i]), cv=_f(cv[i]),
                 flag_n_lt_30=bool(flags.n_lt_30[i]), flag_neff_lt_30=bool(flags.neff_lt_30[i]),
                 flag_cv_gt_30=bool(flags.cv_gt_30[i]), nchs_suppress=bool(flags.nchs_suppress[i]),
                 nchs_review=bool(flags.nchs_review[i]),
                 target=target, vs_target=None if vs[i] is None else str(vs[i]))
    return rows


def _variance_one_per_psu(u: np.ndarray, stratum: np.ndarray, a_h: np.ndarray, b_h: np.ndarray) -> tuple[float, int]:
    """Variance of the total of ``u`` (the domain's rows; every row a PSU) and the domain's df.

    :math:`\\sum_h a_h \\sum_i u_i^2 - b_h (\\sum_i u_i)^2` over the domain's rows of each stratum, with
    ``(a_h, b_h)`` from :func:`analysis.design.stratum_factors` on the whole sample's PSUs per stratum
    (the rows outside the domain are PSUs whose total is 0); df = rows - strata with a row.
    """
    H = a_h.size
    total = np.bincount(stratum, weights=u, minlength=H)
    squares = np.bincount(stratum, weights=u * u, minlength=H)
    present = np.bincount(stratum, minlength=H) > 0
    return float((a_h * squares - b_h * total ** 2).sum()), int(u.size - present.sum())


def _deff(var: float, z: np.ndarray, w: np.ndarray) -> float:
    """Design effect against simple random sampling with replacement (R ``svytotal(deff = "replace")``,
    as :func:`analysis.design._srs_deff`): var / (W · Σ w (z − z̄)² / (n − 1))."""
    n = z.size
    W = w.sum()
    zbar = (w * z).sum() / W
    vsrs = W * (w * (z - zbar) ** 2).sum() / (n - 1) if n > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(var) / vsrs)


def _f(value) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value
