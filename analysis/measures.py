"""From the accumulated sums of one domain to its rows: linearisations, variances, design effects.

Each estimate is a coefficient vector (its linearisation) on the centred
features of :mod:`analysis.accumulate`; its variance is a quadratic form in
the domain's Gram matrices (see :mod:`analysis.indices`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accumulate import QP, _Centres, _Layout
from .inputs import SurveyData
from .table import K

def _item_avg_coefficients(lay: _Layout, iw: np.ndarray, cen: _Centres, overall: _Centres):
    """The ITEM_AVG linearisations of a district's rows, for the row-level sums behind design effects.

    Returns per base set (factor) a (QP*J_b, 4) block of coefficients on its own centred planes -- columns
    (v*2 + level), v = satisfied / score, level = district / overall -- and (NB, 4) weights that combine
    the base sets' linearisations into the overall index's (each base set enters in proportion to its
    criterion weight among criteria answered at that level).
    """
    blocks = []
    omega = np.zeros((len(lay.base), 2))
    for b, (lo, hi) in enumerate(lay.base):
        idx = np.arange(lo, hi)
        C = np.zeros((hi - lo, QP, 2, 2))
        for lvl, c in enumerate((cen, overall)):
            pres = c.W[idx] > 0
            if not pres.any():
                continue
            omega[b, lvl] = iw[idx][pres].sum()
            coef = np.where(pres, iw[idx] / omega[b, lvl] / np.where(pres, c.W[idx], 1.0), 0.0)
            for v in range(2):
                C[:, 1 + v, v, lvl] = coef
                if lvl == 1:   # from this district's centres to the overall ones
                    C[:, 0, v, lvl] = coef * (cen.lut_theta[idx, v] - overall.lut_theta[idx, v])
        blocks.append(C.reshape((hi - lo) * QP, 4))
    total = omega.sum(axis=0)
    share = np.divide(omega, total, out=np.zeros_like(omega), where=total > 0)     # (NB, 2 levels)
    return blocks, np.tile(share, (1, 2))          # column v * 2 + level


def _item_avg_coefficients_many(lay: _Layout, iw: np.ndarray, W: np.ndarray, lut_theta: np.ndarray,
                                overall: _Centres):
    """:func:`_item_avg_coefficients` of many districts at once (``W`` (D, J) and ``lut_theta`` (D, J, 3) of
    their centres): per base set a (D, QP*J_b, 4) block, and the (D, NB, 4) weights."""
    D = W.shape[0]
    omega = np.zeros((D, len(lay.base), 2))
    blocks = []
    for b, (lo, hi) in enumerate(lay.base):
        iwb = iw[lo:hi]
        C = np.zeros((D, hi - lo, QP, 2, 2))
        pres = W[:, lo:hi] > 0
        some = pres.any(axis=1)
        om = np.where(some, np.where(pres, iwb, 0.0).sum(axis=1), 0.0)
        omega[:, b, 0] = om
        coef = np.where(pres, iwb / np.where(some, om, 1.0)[:, None] / np.where(pres, W[:, lo:hi], 1.0), 0.0)
        for v in range(2):
            C[:, :, 1 + v, v, 0] = coef
        pres1 = overall.W[lo:hi] > 0
        if pres1.any():
            om1 = iwb[pres1].sum()
            omega[:, b, 1] = om1
            coef1 = np.where(pres1, iwb / om1 / np.where(pres1, overall.W[lo:hi], 1.0), 0.0)
            for v in range(2):
                C[:, :, 1 + v, v, 1] = coef1
                C[:, :, 0, v, 1] = coef1 * (lut_theta[:, lo:hi, v] - overall.lut_theta[lo:hi, v])
        blocks.append(C.reshape(D, (hi - lo) * QP, 4))
    total = omega.sum(axis=1)
    share = np.divide(omega, total[:, None, :], out=np.zeros_like(omega), where=total[:, None, :] > 0)
    return blocks, np.tile(share, (1, 1, 2))


def _zcol(s: int, v: int, lvl: int) -> int:
    return (s * 2 + v) * 2 + lvl


@dataclass
class _Level:
    """Everything one domain's rows need, in the basis centred at that domain's estimates."""
    cen: _Centres
    V: np.ndarray
    T: np.ndarray
    b: np.ndarray
    VR: np.ndarray
    TR: np.ndarray
    Q: np.ndarray
    nit: np.ndarray
    pit: np.ndarray
    nset: np.ndarray
    pset: np.ndarray
    R2: np.ndarray
    E: np.ndarray
    Z: np.ndarray       # (2, NS, 2): sum w z^2, sum w z per (set, variant)
    P: np.ndarray       # (J, 6) category totals
    cal: tuple | None = None   # calibration variance: (T, TR, b) of the residuals over every stratum
    strata: tuple | None = None  # lonely_psu="average" without groups (merged sums): per criterion and per set,
                                 # (strata with rows, those of them with more than one PSU), see summary.Whole


def _rows(level: _Level, lay: _Layout, data: SurveyData, iw: np.ndarray, average: bool = False) -> dict | None:
    cen = level.cen
    J, NS = iw.size, len(lay.sets)
    NF = QP * J
    W = cen.W
    present = W > 0
    Wd = np.where(present, W, 1.0)
    set_items = [np.concatenate([np.arange(*lay.base[m]) for m in members]) for _, members in lay.sets]
    cols: list[np.ndarray] = []
    # criteria: gamma = e_(j, 1+v) / W_j
    G_item = np.zeros((J, QP, J, 3))
    jj = np.arange(J)
    for v in range(3):
        G_item[jj, 1 + v, jj, v] = np.where(present, 1.0 / Wd, 0.0)
    cols.append(G_item.reshape(NF, J * 3))
    G_ia = np.zeros((NF, NS * 3))
    G_po = np.zeros((NF, NS * 3))
    est_ia = np.full((NS, 3), np.nan)
    share_ia = np.full((NS, K), np.nan)
    for s, idx in enumerate(set_items):
        pres = idx[present[idx]]
        if pres.size == 0:
            continue
        om = iw[pres] / iw[pres].sum()
        g = np.zeros((J, QP, 3))
        for v in range(3):
            g[pres, 1 + v, v] = om / W[pres]
        G_ia[:, s * 3:s * 3 + 3] = g.reshape(NF, 3)
        est_ia[s] = om @ cen.theta[pres]
        share_ia[s] = om @ cen.share[pres]
        X = cen.xhat[s]
        g = np.zeros((J, QP, 3))
        for v in range(3):
            g[idx, 1 + v, v] = iw[idx] / X
            g[idx, 0, v] = iw[idx] * (cen.lut_theta[idx, v] - cen.pooled[s, v]) / X
        G_po[:, s * 3:s * 3 + 3] = g.reshape(NF, 3)
    factor_sets = [s for s, (f, _) in enumerate(lay.sets) if f is not None and cen.xhat[s] > 0]
    G_fa = np.zeros((NF, 3))
    est_fa = np.full(3, np.nan)
    share_fa = np.full(K, np.nan)
    if factor_sets:
        for v in range(3):
            G_fa[:, v] = G_po[:, [s * 3 + v for s in factor_sets]].mean(axis=1)
        est_fa = cen.pooled[factor_sets].mean(axis=0)
        share_fa = cen.pooled_share[factor_sets].mean(axis=0)
    Gam = np.concatenate(cols + [G_ia, G_po, G_fa], axis=1)
    # the stratum totals in the variance: the domain's groups, or (calibration) residual totals of every stratum
    T_v, TR_v, b_v = (level.T, level.TR, level.b) if level.cal is None else level.cal
    var = np.einsum("kc,kc->c", Gam, level.V @ Gam) - (b_v[:, None] * (T_v @ Gam) ** 2).sum(axis=0)
    # respondents: features [has, rt', rs', rnd'] per set, centred at the pooled ratios
    TRs = level.TR.sum(axis=0).reshape(NS, 4)
    W_has = TRs[:, 0]
    ok = W_has > 0
    Wh = np.where(ok, W_has, 1.0)
    est_re = np.where(ok[:, None], cen.lut_pooled + TRs[:, 1:] / Wh[:, None], np.nan)
    dev = cen.lut_pooled - np.nan_to_num(est_re)      # centre minus estimate
    GR = np.zeros((NS, 4, NS, 3))
    for v in range(3):
        GR[np.arange(NS), 1 + v, np.arange(NS), v] = np.where(ok, 1.0 / Wh, 0.0)
        GR[np.arange(NS), 0, np.arange(NS), v] = np.where(ok, dev[:, v] / Wh, 0.0)
    GR = GR.reshape(4 * NS, 3 * NS)
    var_re = np.einsum("kc,kc->c", GR, level.VR @ GR) - (b_v[:, None] * (TR_v @ GR) ** 2).sum(axis=0)
    if average:
        # lonely_psu="average" (survey:::onestage): each estimate's variance (lonely strata left out) times
        # (strata with rows behind the estimate) / (those strata with more than one PSU, b_h > 0)
        def scale(rows_per_group, counts=None):     # (groups, k) -> (k,)
            if counts is None:
                present_ = rows_per_group > 0
                n_ = present_.sum(axis=0)
                ok = (present_ & (level.b[:, None] > 0)).sum(axis=0)
            else:                                   # counted per province, summed over provinces (exact)
                n_, ok = counts
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(ok > 0, n_ / np.where(ok > 0, ok, 1), np.nan)
        got = level.strata or (None, None)
        s_item, s_set = scale(level.nit, got[0]), scale(level.nset, got[1])
        all_set = next(i for i, (f, _) in enumerate(lay.sets) if f is None)
        var = var * np.concatenate([np.repeat(s_item, 3), np.repeat(s_set, 3), np.repeat(s_set, 3),
                                    np.repeat(s_set[all_set], 3)])
        var_re = var_re * np.repeat(s_set, 3)
    # counts, weights, degrees of freedom
    n_item = level.nit.sum(axis=0)
    df_item = level.pit.sum(axis=0) - (level.nit > 0).sum(axis=0)
    n_set = level.nset.sum(axis=0)
    df_set = level.pset.sum(axis=0) - (level.nset > 0).sum(axis=0)
    # sums behind design effects
    scores = np.arange(1, K + 1, dtype=float)
    vals = np.stack([(scores >= data.satisfied_from).astype(float), scores])
    with np.errstate(invalid="ignore", divide="ignore"):
        ss_item = np.stack([(level.P[:, 1:] * (vals[v][None, :] - cen.theta[:, v:v + 1]) ** 2).sum(axis=1)
                            for v in range(2)], axis=1)                          # sum w (x - mean)^2
        ss_re = np.stack([level.E[:, v] + 2 * dev[:, v] * TRs[:, 1 + v] + dev[:, v] ** 2 * W_has
                          for v in range(2)], axis=1)
        xh = np.where(cen.xhat > 0, cen.xhat, np.nan)
        swz2_po = np.stack([level.E[:, 7] / xh ** 2, level.E[:, 10] / xh ** 2], axis=1)
    # the rows, a few batches per unit: criteria in questionnaire order, then per set ITEM_AVG,
    # [FACTOR_AVG], POOLED, RESP (``key`` restores that order)
    out = _RowBuilder()
    inv_order = np.empty(J, dtype=np.intp)
    inv_order[lay.order] = np.arange(J)
    jo = np.flatnonzero(n_item[inv_order] > 0)          # questionnaire positions with answers
    j = inv_order[jo]
    items = np.array(data.items, dtype=object)[jo]
    var_item = var[:J * 3].reshape(J, 3)
    out.add(key=np.arange(jo.size), measure=items, measure_type="item",
            factor=np.array([data.factor_of.get(i) for i in items], dtype=object), n=n_item[j], sum_w=W[j],
            sum_w2=level.Q[j], df=df_item[j], est=cen.theta[j], var=var_item[j], vsrs_ss=ss_item[j],
            share=cen.share[j], items_used=np.ones(jo.size), items_expected=np.ones(jo.size))
    o_ia, o_po, o_fa = J * 3, J * 3 + NS * 3, J * 3 + 2 * NS * 3
    ss_ = np.flatnonzero(n_set > 0)
    if ss_.size:
        f_of = [lay.sets[s][0] for s in ss_]
        factor = np.array(f_of, dtype=object)
        name = np.array(["INDEX" if f is None else f"FACTOR:{f}" for f in f_of], dtype=object)
        kind = np.array(["index" if f is None else "factor" for f in f_of], dtype=object)
        base = jo.size + 4 * np.arange(ss_.size)
        # criteria of the set with at least one valid answer here: fewer than the questionnaire's means
        # the index is over a different item set (flagged, not ranked with the others)
        common = dict(factor=factor, n=n_set[ss_], sum_w=W_has[ss_], sum_w2=level.R2[ss_], df=df_set[ss_],
                      items_used=np.array([present[set_items[s]].sum() for s in ss_], dtype=float),
                      items_expected=np.array([set_items[s].size for s in ss_], dtype=float))
        var_set = var[o_ia:o_ia + NS * 3].reshape(NS, 3)
        out.add(key=base, measure=name + ":ITEM_AVG", measure_type=kind + "_item_avg", est=est_ia[ss_],
                var=var_set[ss_], z_moments=np.moveaxis(level.Z[:, ss_, :], 1, 0), share=share_ia[ss_], **common)
        all_ = [k for k, f in enumerate(f_of) if f is None]
        if all_ and factor_sets:
            k = all_[0]
            out.add(key=base[[k]] + 1, measure=np.array(["INDEX:FACTOR_AVG"], dtype=object),
                    measure_type="index_factor_avg", est=est_fa[None, :], var=var[None, o_fa:o_fa + 3],
                    share=share_fa[None, :], **{c: v[[k]] for c, v in common.items()})
        var_po = var[o_po:o_po + NS * 3].reshape(NS, 3)
        zm_po = np.stack([swz2_po[ss_], np.zeros((ss_.size, 2))], axis=1)
        out.add(key=base + 2, measure=name + ":POOLED", measure_type=kind + "_pooled", est=cen.pooled[ss_],
                var=var_po[ss_], z_moments=zm_po, share=cen.pooled_share[ss_], **common)
        with np.errstate(invalid="ignore", divide="ignore"):
            share_re = level.E[ss_, 2:7] / W_has[ss_, None]
        out.add(key=base + 3, measure=name + ":RESP", measure_type=kind + "_resp", est=est_re[ss_],
                var=var_re.reshape(NS, 3)[ss_], vsrs_ss=ss_re[ss_], share=share_re, **common)
    return out.columns()


ZERO_VARIANCE = 1e-26
"""Variances at or below this (SE <= 1e-13) are rounding noise of an exactly constant linearised
variable (e.g. every respondent of a unit gave the same answers) and are set to 0: the SE is 0 and
``n_eff_var`` is n, as exact arithmetic gives. R's own value on such rows depends on its rounding
(SE ~ 1e-17, deff Inf, n_eff_var ~ 1e32 on one case); see docs/analysis.md."""


class _RowBuilder:
    """Rows of one domain, added in batches (arrays with one entry per row; scalars are repeated)."""

    def __init__(self):
        self.parts: list[dict] = []

    def add(self, *, key, measure, measure_type, factor, n, sum_w, sum_w2, df, est, var, share, items_used,
            items_expected, vsrs_ss=None, z_moments=None):
        """``vsrs_ss``: (m, 2) sum w (x - mean)^2 (svymean's deff); ``z_moments``: (m, 2, 2) (sum w z^2,
        sum w z) of the linearisation (svytotal / svyratio deff); neither: no design effect (FACTOR_AVG,
        as in R). ``key`` orders the batches' rows."""
        m = len(key)
        if m == 0:
            return
        n = np.asarray(n, dtype=float)
        sum_w = np.asarray(sum_w, dtype=float)
        var = np.maximum(np.asarray(var, dtype=float).reshape(m, 3), 0.0)
        var[var <= ZERO_VARIANCE] = 0.0          # rounding noise of an exactly constant variable
        deff = np.full((m, 2), np.nan)
        # Without variation among the respondents (every answer the same) the SRS variance is 0 and the
        # design effect undefined: NaN, rather than 0/0 or rounding noise divided by rounding noise.
        with np.errstate(invalid="ignore", divide="ignore"):
            if vsrs_ss is not None:      # svymean: vsrs = sum w (x - mean)^2 / (W (n - 1))
                ss = np.asarray(vsrs_ss, dtype=float).reshape(m, 2)
                ss = np.where(ss > 1e-12 * sum_w[:, None] * np.array([1.0, 25.0]), ss, np.nan)
                deff = var[:, :2] / (ss / (sum_w * (n - 1))[:, None])
            elif z_moments is not None:  # svytotal(z): vsrs = W * sum w (z - zbar)^2 / (n - 1)
                zm = np.asarray(z_moments, dtype=float).reshape(m, 2, 2)
                swz2, swz = zm[:, 0, :], zm[:, 1, :]
                ss = swz2 - swz ** 2 / sum_w[:, None]
                ss = np.where(ss > 1e-9 * np.abs(swz2), ss, np.nan)
                deff = var[:, :2] / (sum_w[:, None] * ss / (n - 1)[:, None])
            deff = np.where((n > 1)[:, None], deff, np.nan)
        est = np.asarray(est, dtype=float).reshape(m, 3)
        share = np.asarray(share, dtype=float).reshape(m, K)
        se = np.sqrt(var)

        def labels(x):
            return np.full(m, x, dtype=object) if isinstance(x, str) or x is None else np.asarray(x, dtype=object)
        part = dict(key=np.asarray(key), measure=labels(measure), measure_type=labels(measure_type),
                    factor=labels(factor), n=n, sum_w=sum_w, sum_w2=np.asarray(sum_w2, dtype=float),
                    df=np.asarray(df, dtype=float), p=est[:, 0], se=se[:, 0], mean_score=est[:, 1], se_mean=se[:, 1],
                    p_nd=est[:, 2], se_nd=se[:, 2], deff=deff[:, 0], deff_mean=deff[:, 1],
                    items_used=np.asarray(items_used, dtype=float).reshape(m),
                    items_expected=np.asarray(items_expected, dtype=float).reshape(m))
        for i in range(K):
            part[f"share_{i + 1}"] = share[:, i]
        self.parts.append(part)

    def columns(self) -> dict:
        """The rows as arrays, in key order ({} when there is none)."""
        if not self.parts:
            return {}
        order = np.argsort(np.concatenate([p["key"] for p in self.parts]), kind="stable")
        return {k: np.concatenate([p[k] for p in self.parts])[order] for k in self.parts[0] if k != "key"}


def _rows_many(levels: list, lay: _Layout, data: SurveyData, iw: np.ndarray, chunk: int = 256
               ) -> tuple[np.ndarray, dict]:
    """The rows of many domains at once: ``(rows per domain, columns)``, the same numbers and order as
    :func:`_rows` of each domain in turn, their columns concatenated.

    With the country's 3,321 communes, :func:`_rows` one unit at a time made some 150 small numpy
    operations per unit; here each operation covers a chunk of units. Only for domains without a
    calibration variance (``level.cal is None``) and ``lonely_psu`` other than "average".
    """
    counts, parts = [], []
    for lo in range(0, len(levels), chunk):
        n_rows, cols = _rows_chunk(levels[lo:lo + chunk], lay, data, iw)
        counts.append(n_rows)
        if cols:
            parts.append(cols)
    counts_ = np.concatenate(counts) if counts else np.zeros(0, dtype=np.intp)
    if not parts:
        return counts_, {}
    return counts_, {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _padded(arrays: list[np.ndarray]) -> np.ndarray:
    """(L, Gmax, ...) from L arrays of (G_l, ...) rows, zeros after each one's rows."""
    gmax = max(a.shape[0] for a in arrays)
    out = np.zeros((len(arrays), gmax) + arrays[0].shape[1:])
    for i, a in enumerate(arrays):
        out[i, :a.shape[0]] = a
    return out


def _rows_chunk(levels: list, lay: _Layout, data: SurveyData, iw: np.ndarray) -> tuple[np.ndarray, dict]:
    L = len(levels)
    J, NS = iw.size, len(lay.sets)
    NF = QP * J
    cen = [lv.cen for lv in levels]
    W = np.stack([c.W for c in cen])                       # (L, J)
    theta = np.stack([c.theta for c in cen])               # (L, J, 3)
    lut_theta = np.stack([c.lut_theta for c in cen])
    share = np.stack([c.share for c in cen])               # (L, J, K)
    xhat = np.stack([c.xhat for c in cen])                 # (L, NS)
    pooled = np.stack([c.pooled for c in cen])             # (L, NS, 3)
    lut_pooled = np.stack([c.lut_pooled for c in cen])
    pooled_share = np.stack([c.pooled_share for c in cen])
    present = W > 0
    Wd = np.where(present, W, 1.0)
    member = np.zeros((NS, J), dtype=bool)                 # criteria of each set (engine positions)
    for s, (_, members) in enumerate(lay.sets):
        for m in members:
            member[s, lay.base[m][0]:lay.base[m][1]] = True
    jj = np.arange(J)
    # the criteria's linearisations have one coefficient each (1 / W_j on plane 1 + v): their variances
    # are read off the diagonal; the sets' (ITEM_AVG, POOLED, FACTOR_AVG) go through the Gram matrices
    C = 2 * NS * 3 + 3
    o_ia, o_po, o_fa = 0, NS * 3, 2 * NS * 3
    Gam = np.zeros((L, NF, C))
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_w = np.where(present, 1.0 / Wd, 0.0)            # (L, J)
        # ITEM_AVG: criterion weights among the set's answered criteria
        wp = present * iw[None, :]                          # (L, J)
        om_den = wp @ member.T                              # (L, NS)
        has = om_den > 0
        om = np.where(has[:, :, None], wp[:, None, :] * member[None] / np.where(has, om_den, 1.0)[:, :, None], 0.0)
        g_ia = om / Wd[:, None, :]                           # (L, NS, J)
        for v in range(3):
            Gam[:, jj * QP + 1 + v, o_ia + np.arange(NS)[:, None] * 3 + v] = g_ia
        # the estimates themselves as _rows computes them, bit for bit (a unit's index must not depend on
        # whether its variance is calibrated)
        est_ia = np.full((L, NS, 3), np.nan)
        share_ia = np.full((L, NS, K), np.nan)
        set_items = [np.concatenate([np.arange(*lay.base[m]) for m in members]) for _, members in lay.sets]
        for l_ in range(L):
            for s, idx in enumerate(set_items):
                pres = idx[present[l_, idx]]
                if pres.size:
                    w_ = iw[pres] / iw[pres].sum()
                    est_ia[l_, s] = w_ @ theta[l_, pres]
                    share_ia[l_, s] = w_ @ share[l_, pres]
        # POOLED
        mw = member * iw[None, :]                           # (NS, J)
        g1 = mw[None] / xhat[:, :, None]                    # (L, NS, J)
        for v in range(3):
            cols = o_po + np.arange(NS)[:, None] * 3 + v
            Gam[:, jj * QP + 1 + v, cols] = np.where(member[None], g1, 0.0)
            Gam[:, jj * QP, cols] = np.where(member[None], mw[None] * (lut_theta[:, None, :, v]
                                                                          - pooled[:, :, v:v + 1]) / xhat[:, :, None], 0.0)
        # FACTOR_AVG: the mean of the factors' POOLED
        is_factor = np.array([f is not None for f, _ in lay.sets])
        fs = is_factor[None, :] & (xhat > 0)                # (L, NS)
        nfs = fs.sum(axis=1)
        any_fs = nfs > 0
        for v in range(3):
            po = Gam[:, :, o_po + v:o_po + NS * 3:3]        # (L, NF, NS)
            Gam[:, :, o_fa + v] = np.where(fs[:, None, :], po, 0.0).sum(axis=2) / np.where(any_fs, nfs, 1)[:, None]
        est_fa = np.where(any_fs[:, None], np.where(fs[:, :, None], pooled, 0.0).sum(axis=1)
                          / np.where(any_fs, nfs, 1)[:, None], np.nan)
        share_fa = np.where(any_fs[:, None], np.where(fs[:, :, None], pooled_share, 0.0).sum(axis=1)
                            / np.where(any_fs, nfs, 1)[:, None], np.nan)
    V = np.stack([lv.V for lv in levels])
    T = _padded([lv.T for lv in levels])                    # (L, G, NF)
    b = _padded([lv.b for lv in levels])                    # (L, G)
    diag = (jj[:, None] * QP + 1 + np.arange(3)[None, :]).reshape(-1)        # plane (j, 1 + v), j-major
    g_item = np.repeat(inv_w, 3, axis=1)                                      # (L, 3 J)
    # (a set nobody in a unit answered has no rows; its NaN coefficients stay in its own columns, as in _rows)
    with np.errstate(invalid="ignore", over="ignore"):
        var_item = g_item * (V[:, diag, diag] * g_item) - np.einsum("lg,lgc->lc", b, (T[:, :, diag] * g_item[:, None, :]) ** 2)
        var = np.concatenate([var_item, (Gam * (V @ Gam)).sum(axis=1) - np.einsum("lg,lgc->lc", b, (T @ Gam) ** 2)],
                             axis=1)
    o_ia, o_po, o_fa = o_ia + J * 3, o_po + J * 3, o_fa + J * 3
    # respondents
    TR = _padded([lv.TR for lv in levels])                  # (L, G, 4 NS)
    TRs = TR.sum(axis=1).reshape(L, NS, 4)
    W_has = TRs[:, :, 0]
    ok = W_has > 0
    Wh = np.where(ok, W_has, 1.0)
    est_re = np.where(ok[:, :, None], lut_pooled + TRs[:, :, 1:] / Wh[:, :, None], np.nan)
    dev = lut_pooled - np.nan_to_num(est_re)
    GR = np.zeros((L, NS, 4, NS, 3))
    ss = np.arange(NS)
    for v in range(3):
        GR[:, ss, 1 + v, ss, v] = np.where(ok, 1.0 / Wh, 0.0)
        GR[:, ss, 0, ss, v] = np.where(ok, dev[:, :, v] / Wh, 0.0)
    GR = GR.reshape(L, 4 * NS, 3 * NS)
    VR = np.stack([lv.VR for lv in levels])
    var_re = np.einsum("lkc,lkc->lc", GR, VR @ GR) - np.einsum("lg,lgc->lc", b, (TR @ GR) ** 2)
    # counts, degrees of freedom (groups summed per domain; padding rows are zero)
    nit, pit = _padded([lv.nit for lv in levels]), _padded([lv.pit for lv in levels])
    nset, pset = _padded([lv.nset for lv in levels]), _padded([lv.pset for lv in levels])
    n_item = nit.sum(axis=1)
    df_item = pit.sum(axis=1) - (nit > 0).sum(axis=1)
    n_set = nset.sum(axis=1)
    df_set = pset.sum(axis=1) - (nset > 0).sum(axis=1)
    Q = np.stack([lv.Q for lv in levels])
    R2 = np.stack([lv.R2 for lv in levels])
    E = np.stack([lv.E for lv in levels])                   # (L, NS, .)
    Z = np.stack([lv.Z for lv in levels])                   # (L, 2, NS, 2)
    P = np.stack([lv.P for lv in levels])                   # (L, J, 6)
    scores = np.arange(1, K + 1, dtype=float)
    vals = np.stack([(scores >= data.satisfied_from).astype(float), scores])
    with np.errstate(invalid="ignore", divide="ignore"):
        ss_item = np.stack([(P[:, :, 1:] * (vals[v][None, None, :] - theta[:, :, v:v + 1]) ** 2).sum(axis=2)
                            for v in range(2)], axis=2)                                  # (L, J, 2)
        ss_re = np.stack([E[:, :, v] + 2 * dev[:, :, v] * TRs[:, :, 1 + v] + dev[:, :, v] ** 2 * W_has
                          for v in range(2)], axis=2)                                    # (L, NS, 2)
        xh = np.where(xhat > 0, xhat, np.nan)
        swz2_po = np.stack([E[:, :, 7] / xh ** 2, E[:, :, 10] / xh ** 2], axis=2)       # (L, NS, 2)
        share_re = E[:, :, 2:7] / W_has[:, :, None]
    # the rows: per domain the criteria in questionnaire order, then per set ITEM_AVG, [FACTOR_AVG],
    # POOLED, RESP -- slots J + 4 s + (0..3); ``key`` orders domain by domain, slot by slot
    S = J + 4 * NS
    out = _RowBuilder()
    inv_order = np.empty(J, dtype=np.intp)
    inv_order[lay.order] = np.arange(J)
    items_q = np.array(data.items, dtype=object)
    factor_q = np.array([data.factor_of.get(i) for i in data.items], dtype=object)
    hit = n_item[:, inv_order] > 0                           # (L, J) questionnaire positions with answers
    li, qpos = np.nonzero(hit)
    j = inv_order[qpos]
    var_item = var[:, :J * 3].reshape(L, J, 3)
    out.add(key=li * S + qpos, measure=items_q[qpos], measure_type="item", factor=factor_q[qpos],
            n=n_item[li, j], sum_w=W[li, j], sum_w2=Q[li, j], df=df_item[li, j], est=theta[li, j],
            var=var_item[li, j], vsrs_ss=ss_item[li, j], share=share[li, j], items_used=np.ones(li.size),
            items_expected=np.ones(li.size))
    f_of = [f for f, _ in lay.sets]
    factor_s = np.array(f_of, dtype=object)
    name_s = np.array(["INDEX" if f is None else f"FACTOR:{f}" for f in f_of], dtype=object)
    kind_s = np.array(["index" if f is None else "factor" for f in f_of], dtype=object)
    li, si = np.nonzero(n_set > 0)
    items_used = (present.astype(float) @ member.T.astype(float))[li, si]
    common = dict(factor=factor_s[si], n=n_set[li, si], sum_w=W_has[li, si], sum_w2=R2[li, si], df=df_set[li, si],
                  items_used=items_used, items_expected=member.sum(axis=1).astype(float)[si])
    base = li * S + J + 4 * si
    var_ia = var[:, o_ia:o_ia + NS * 3].reshape(L, NS, 3)
    out.add(key=base, measure=name_s[si] + ":ITEM_AVG", measure_type=kind_s[si] + "_item_avg", est=est_ia[li, si],
            var=var_ia[li, si], z_moments=Z.transpose(0, 2, 1, 3)[li, si], share=share_ia[li, si], **common)
    fa = np.array([f is None for f in f_of])[si] & any_fs[li]
    if fa.any():
        out.add(key=base[fa] + 1, measure="INDEX:FACTOR_AVG", measure_type="index_factor_avg", est=est_fa[li[fa]],
                var=var[li[fa], o_fa:o_fa + 3], share=share_fa[li[fa]], **{c: v[fa] for c, v in common.items()})
    var_po = var[:, o_po:o_po + NS * 3].reshape(L, NS, 3)
    zm_po = np.stack([swz2_po[li, si], np.zeros((li.size, 2))], axis=1)
    out.add(key=base + 2, measure=name_s[si] + ":POOLED", measure_type=kind_s[si] + "_pooled", est=pooled[li, si],
            var=var_po[li, si], z_moments=zm_po, share=pooled_share[li, si], **common)
    out.add(key=base + 3, measure=name_s[si] + ":RESP", measure_type=kind_s[si] + "_resp", est=est_re[li, si],
            var=var_re.reshape(L, NS, 3)[li, si], vsrs_ss=ss_re[li, si], share=share_re[li, si], **common)
    rows_per = hit.sum(axis=1) + 3 * (n_set > 0).sum(axis=1) + ((n_set > 0) & np.array([f is None for f in f_of])[None]
                                                                & any_fs[:, None]).sum(axis=1)
    return rows_per, out.columns()
