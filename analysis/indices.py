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

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .design import LONELY_PSU, stratum_factors
from .inputs import SurveyData
from .intervals import korn_graubard_ci, logit_ci, reliability_flags, t_ci

__all__ = ["compute_table", "IndexTable", "COLUMNS", "REFERENCE_COLUMNS", "DEFINITIONS", "VARIANTS"]

DEFINITIONS = ("ITEM_AVG", "FACTOR_AVG", "POOLED", "RESP")
VARIANTS = ("sat", "score", "nd")  # satisfied share, mean score, "not dissatisfied" share
NOT_DISSATISFIED_FROM = 3
K = 5  # scores 1..5

REFERENCE_COLUMNS = (
    "level", "district", "measure", "measure_type", "factor", "n", "sum_w", "df", "p", "se",
    "ci_logit_l", "ci_logit_u", "ci_kg_l", "ci_kg_u", "deff", "n_eff_deff", "n_eff_var", "n_eff_kg",
    "deff_kish", "n_eff_kish", "mean_score", "se_mean", "mean100", "se_mean100", "ci_mean100_l",
    "ci_mean100_u", "deff_mean", "cv", "flag_n_lt_30", "flag_neff_lt_30", "flag_cv_gt_30", "nchs_suppress",
    "nchs_review")
"""The columns of R's ``oracle_output.csv``, same names, same meanings."""

EXTRA_COLUMNS = (
    "p_nd", "se_nd", "ci_nd_logit_l", "ci_nd_logit_u",
    "share_1", "share_2", "share_3", "share_4", "share_5",
    "target", "vs_target", "rank", "rank_best", "rank_worst")
"""Columns this platform adds: "not dissatisfied" (answers >= 3) with its SE and
logit interval, the 1–5 distribution, the judgement against the target and the
rank among districts with its plausible range (see :mod:`analysis.judgements`)."""

COLUMNS = REFERENCE_COLUMNS + EXTRA_COLUMNS
_BOOL_COLUMNS = ("flag_n_lt_30", "flag_neff_lt_30", "flag_cv_gt_30", "nchs_suppress", "nchs_review")
_INT_COLUMNS = ("n", "df", "rank", "rank_best", "rank_worst")
_STR_COLUMNS = ("level", "district", "measure", "measure_type", "factor", "vs_target")


# ----------------------------------------------------------------------------- the result table

@dataclass(eq=False)
class IndexTable:
    """The estimates, one row per (level, district, measure).

    ``columns`` maps each name of :data:`COLUMNS` to an array (numbers as
    float64 with NaN for "not available", flags as bool, labels as object).
    Use :meth:`rows` for dicts, :meth:`row` to look one up, :meth:`to_csv` to
    write the file the CLI writes.
    """
    columns: dict[str, np.ndarray]
    level: float
    notes: tuple[str, ...] = ()
    _index: dict | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.columns["measure"])

    @property
    def measures(self) -> list[str]:
        return list(dict.fromkeys(self.columns["measure"]))

    @property
    def districts(self) -> list[str]:
        return list(dict.fromkeys(d for d, lv in zip(self.columns["district"], self.columns["level"])
                                  if lv == "district"))

    def rows(self) -> Iterator[dict]:
        """Each row as a dict (NaN -> None, numpy scalars -> Python)."""
        names = list(self.columns)
        for i in range(len(self)):
            yield {name: _py(self.columns[name][i]) for name in names}

    def row(self, district: str, measure: str) -> dict:
        """The row of ``measure`` for ``district`` (``"ALL"`` = overall)."""
        if self._index is None:
            self._index = {(d, m): i for i, (d, m) in enumerate(zip(self.columns["district"],
                                                                    self.columns["measure"]))}
        try:
            i = self._index[(district, measure)]
        except KeyError:
            raise KeyError(f"no row for district {district!r}, measure {measure!r}") from None
        return {name: _py(col[i]) for name, col in self.columns.items()}

    def select(self, *, measure: str | None = None, level: str | None = None) -> "IndexTable":
        """The rows of one measure and/or level."""
        keep = np.ones(len(self), dtype=bool)
        if measure is not None:
            keep &= self.columns["measure"] == measure
        if level is not None:
            keep &= self.columns["level"] == level
        return IndexTable({k: v[keep] for k, v in self.columns.items()}, self.level, self.notes)

    def to_csv(self, path, *, columns: Sequence[str] = COLUMNS) -> None:
        """Write the table as CSV (numbers with full precision, NA as empty, flags TRUE/FALSE)."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            self.write_csv(handle, columns=columns)

    def write_csv(self, handle, *, columns: Sequence[str] = COLUMNS) -> None:
        writer = csv.writer(handle)
        writer.writerow(columns)
        cols = [self.columns[c] for c in columns]
        kinds = [("b" if c in _BOOL_COLUMNS else "i" if c in _INT_COLUMNS else "s" if c in _STR_COLUMNS else "f")
                 for c in columns]
        for i in range(len(self)):
            writer.writerow([_fmt(col[i], kind) for col, kind in zip(cols, kinds)])


def _py(v):
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def _fmt(v, kind: str) -> str:
    if v is None:
        return ""
    if kind == "s":
        return "" if v is None else str(v)
    if kind == "b":
        return "TRUE" if v else "FALSE"
    f = float(v)
    if math.isnan(f):
        return ""
    if kind == "i":
        return str(int(f))
    if math.isinf(f):
        return "Inf" if f > 0 else "-Inf"
    return repr(f)


# ----------------------------------------------------------------------------- layout

@dataclass
class _Layout:
    order: np.ndarray            # engine position -> original item index
    base: list[tuple[int, int]]  # contiguous base sets (engine positions): one per factor (+ unassigned)
    base_factor: list[str | None]
    sets: list[tuple[str | None, list[int]]]  # output sets: (factor or None for ALL, base set indices)


def _layout(data: SurveyData) -> _Layout:
    groups: dict[str | None, list[int]] = {f: [] for f in data.factors}
    unassigned = []
    for j, item in enumerate(data.items):
        f = data.factor_of.get(item)
        (groups[f] if f is not None else unassigned).append(j)
    order, base, base_factor = [], [], []
    for f, members in list(groups.items()) + ([(None, unassigned)] if unassigned else []):
        base.append((len(order), len(order) + len(members)))
        base_factor.append(f)
        order.extend(members)
    sets = [(f, [b]) for b, f in enumerate(base_factor) if f is not None]
    sets.append((None, list(range(len(base)))))
    return _Layout(np.array(order, dtype=np.intp), base, base_factor, sets)


# ----------------------------------------------------------------------------- accumulation pass

class _Acc:
    """Sums over the rows of each district (and each district x stratum group)."""

    def __init__(self, D: int, G: int, J: int, NS: int, want_cells: bool):
        KF = J * K
        NR = 4 * NS
        self.V = np.zeros((D, KF, KF))       # design Gram of one-hot PSU totals, scaled by a_h
        self.U = np.zeros((D, KF, KF))       # row-level sum w F F'
        self.Q = np.zeros((D, KF))           # sum w^2 F  (Kish)
        self.T = np.zeros((G, KF))           # sum w F per group
        self.nit = np.zeros((G, J))          # rows answering item j per group
        self.pit = np.zeros((G, J))          # PSUs (cells) with an answer to item j per group
        self.VR = np.zeros((D, NR, NR))      # same for respondent-level features [has, rt, rs, rnd] x sets
        self.TR = np.zeros((G, NR))
        self.R1 = np.zeros((D, NR))          # sum 1 * R (has -> counts)
        self.R2 = np.zeros((D, NR))          # sum w^2 R (Kish)
        self.E = np.zeros((D, NS, 3 + K))    # sum w * [rt^2, rs^2, rnd^2, share_1..5]
        self.pset = np.zeros((G, NS))        # PSUs (cells) with has_S per group
        self.nset = np.zeros((G, NS))        # rows with has_S per group
        self.cells: list | None = [] if want_cells else None


def _onehot(codes: np.ndarray) -> np.ndarray:
    m, J = codes.shape
    return (codes[:, :, None] == np.arange(1, K + 1, dtype=np.uint8)).reshape(m, J * K)


def _segment_sums(M: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sums of ``M``'s rows over segments [bounds[i], bounds[i+1])."""
    if bounds.size == 2:
        return M.sum(axis=0, keepdims=True)
    return np.add.reduceat(M, bounds[:-1], axis=0)


def _respondent_features(F: np.ndarray, layout: _Layout, iw: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row and output set: R = [has, rt, rs, rnd], E = [rt^2, rs^2, rnd^2, shares 1..5]."""
    m = F.shape[0]
    F3 = F.reshape(m, -1, K)
    C_base = [np.einsum("mjk,j->mk", F3[:, a:b], iw[a:b]) for a, b in layout.base]
    NS = len(layout.sets)
    R = np.zeros((m, 4 * NS))
    E = np.zeros((m, NS, 3 + K))
    scores = np.arange(1, K + 1, dtype=float)
    for s, (_, members) in enumerate(layout.sets):
        C = C_base[members[0]] if len(members) == 1 else sum(C_base[b] for b in members)
        tot = C.sum(axis=1)
        has = tot > 0
        inv = np.where(has, 1.0 / np.where(has, tot, 1.0), 0.0)
        rt = C[:, top - 1:].sum(axis=1) * inv
        rs = (C @ scores) * inv
        rnd = C[:, NOT_DISSATISFIED_FROM - 1:].sum(axis=1) * inv
        R[:, 4 * s] = has
        R[:, 4 * s + 1] = rt
        R[:, 4 * s + 2] = rs
        R[:, 4 * s + 3] = rnd
        E[:, s, 0] = rt * rt
        E[:, s, 1] = rs * rs
        E[:, s, 2] = rnd * rnd
        E[:, s, 3:] = C * inv[:, None]
    return R, E


# ----------------------------------------------------------------------------- public entry point

def compute_table(data: SurveyData, *, level: float = 0.95, overall: bool = True, lonely_psu: str = "adjust",
                  target: float | None = 0.80, ci_method: str = "logit", chunk_rows: int = 1 << 16,
                  progress: Callable[[int, int], None] | None = None) -> IndexTable:
    """Estimate every criterion, factor and index for every district and overall.

    Parameters
    ----------
    data : SurveyData
        From :func:`analysis.read_csv` or :func:`analysis.load_db`.
    level : float, keyword-only
        Confidence level of every interval (default 0.95).
    overall : bool, keyword-only
        Include the ``overall``/``ALL`` rows (default True).
    lonely_psu : {"adjust", "remove", "certainty", "fail"}, keyword-only
        Treatment of strata with a single PSU (default "adjust", as R's
        ``options(survey.lonely.psu = "adjust")``).
    target : float or None, keyword-only
        Judge each district against this share satisfied (default 0.80): the
        ``vs_target`` column (see :func:`analysis.judgements.against_target`).
    ci_method : {"logit", "beta"}, keyword-only
        Interval used for judgements and ranks (both are always reported).
    chunk_rows : int, keyword-only
        Rows per block of the pass (memory ~ 130 MB per 65,536 rows).
    progress : callable, optional, keyword-only
        ``progress(rows_done, rows_total)``.

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
    if ci_method not in ("logit", "beta"):
        raise ValueError(f"ci_method must be 'logit' or 'beta', got {ci_method!r}")
    if target is not None and not 0 < target < 1:
        raise ValueError(f"target must be a share between 0 and 1 (e.g. 0.80), got {target!r}")
    if data.n == 0:
        raise ValueError("no respondents")
    chunk_rows = max(int(chunk_rows), 1)
    lay = _layout(data)
    n, J = data.n, len(data.items)
    NS = len(lay.sets)
    top = data.satisfied_from
    iw = data.item_weights[lay.order]

    # ---- sort rows by (district, stratum, psu)
    d_code = data.district.astype(np.int64)
    h_code = data.stratum.astype(np.int64)
    clustered = data.psu is not None
    p_code = data.psu.astype(np.int64) if clustered else np.zeros(n, dtype=np.int64)
    H = len(data.strata)
    P = int(p_code.max()) + 1
    key = (d_code * H + h_code) * P + p_code if (len(data.districts) * H * P) < 2 ** 62 else None
    if key is not None and np.all(key[1:] >= key[:-1]):
        perm = None
    else:
        perm = np.lexsort((p_code, h_code, d_code))
    if perm is not None:
        d_code, h_code, p_code = d_code[perm], h_code[perm], p_code[perm]
        w = data.weights[perm]
        codes = data.answers[perm][:, lay.order]
    else:
        w = data.weights
        codes = data.answers[:, lay.order] if np.any(lay.order != np.arange(J)) else data.answers
    codes = np.ascontiguousarray(codes)

    # ---- structure: districts, groups (district x stratum), cells (district x stratum x psu)
    D = len(data.districts)
    gchange = np.flatnonzero((d_code[1:] != d_code[:-1]) | (h_code[1:] != h_code[:-1])) + 1
    g_start = np.concatenate(([0], gchange, [n]))
    G = g_start.size - 1
    g_d = d_code[g_start[:-1]]
    g_h = h_code[g_start[:-1]]
    dom_bounds = np.searchsorted(d_code, np.arange(D + 1), side="left")
    if clustered:
        cchange = np.flatnonzero((d_code[1:] != d_code[:-1]) | (h_code[1:] != h_code[:-1])
                                 | (p_code[1:] != p_code[:-1])) + 1
        c_start = np.concatenate(([0], cchange, [n]))
        c_psu = p_code[c_start[:-1]]
        psu_h = np.zeros(P, dtype=np.int64)
        psu_h[p_code] = h_code
        n_psu = np.bincount(psu_h[np.unique(p_code)], minlength=H)
        crossing = np.unique(c_psu).size < c_psu.size
    else:
        c_start = None
        n_psu = np.bincount(h_code, minlength=H)
        crossing = False
    a_h, b_h = stratum_factors(n_psu, lonely_psu)
    if lonely_psu == "fail" and np.any(n_psu == 1):
        bad = data.strata[int(np.flatnonzero(n_psu == 1)[0])]
        raise ValueError(f"stratum {bad!r} has a single PSU (lonely_psu='fail')")

    acc = _Acc(D, G, J, NS, crossing)
    sqrt_a_row_of_group = np.sqrt(a_h[g_h])

    # ---- the pass
    done = 0
    for d in range(D):
        lo, hi = int(dom_bounds[d]), int(dom_bounds[d + 1])
        if lo == hi:
            continue
        for a, b in _chunks(lo, hi, c_start, chunk_rows):
            _accumulate(acc, codes[a:b], w[a:b], a, b, d, g_start, c_start, sqrt_a_row_of_group,
                        lay, iw, top, p_code if crossing else None)
            done += b - a
            if progress:
                progress(done, n)

    est = _Estimator(data, lay, acc, g_start, g_d, g_h, a_h, b_h, n_psu, H, crossing,
                     p_code if crossing else None, psu_h if clustered else None, top, iw)
    cols = est.table(overall)
    return _finish(cols, level=level, target=target, ci_method=ci_method, notes=data.notes)


def _chunks(lo: int, hi: int, c_start: np.ndarray | None, size: int) -> Iterator[tuple[int, int]]:
    """Row ranges of at most ``size`` rows (more if one cluster is bigger), cut between clusters."""
    a = lo
    while a < hi:
        b = min(a + size, hi)
        if c_start is not None and b < hi:
            i = int(np.searchsorted(c_start, b, side="right")) - 1
            cut = int(c_start[i])
            if cut <= a:
                cut = int(c_start[np.searchsorted(c_start, a, side="right")])
            b = min(cut, hi)
        yield a, b
        a = b


def _accumulate(acc: _Acc, codes, w, a, b, d, g_start, c_start, sqrt_a_group, lay, iw, top, p_code):
    m = b - a
    Fb = _onehot(codes)
    # groups (district x stratum) inside this block
    g0 = int(np.searchsorted(g_start, a, side="right")) - 1
    g1 = int(np.searchsorted(g_start, b, side="left"))
    gb = np.clip(g_start[g0:g1 + 1], a, b) - a
    gids = np.arange(g0, g1)
    sqrt_w = np.sqrt(w)
    Fs = Fb * sqrt_w[:, None]                         # sqrt(w) F
    acc.U[d] += Fs.T @ Fs                             # sum w F F'
    answered = codes > 0
    for s, (lo, hi) in enumerate(zip(gb[:-1], gb[1:])):
        g = gids[s]
        acc.T[g] += sqrt_w[lo:hi] @ Fs[lo:hi]         # sum w F
        acc.nit[g] += np.count_nonzero(answered[lo:hi], axis=0)
    acc.Q[d] += (w * sqrt_w) @ Fs                     # sum w^2 F
    R, E = _respondent_features(Fb, lay, iw, top)
    has = R[:, 0::4]
    acc.R1[d] += R.sum(axis=0)
    acc.R2[d] += (w * w) @ R
    acc.E[d] += np.einsum("m,msk->sk", w, E)
    for s, (lo, hi) in enumerate(zip(gb[:-1], gb[1:])):
        g = gids[s]
        acc.TR[g] += w[lo:hi] @ R[lo:hi]
        acc.nset[g] += has[lo:hi].sum(axis=0)
    if c_start is None:
        # each respondent is a PSU: X_c = w_i F_i
        scale = w * np.repeat(sqrt_a_group[gids], np.diff(gb))
        Fa = Fb * scale[:, None]
        acc.V[d] += Fa.T @ Fa
        Ra = R * scale[:, None]
        acc.VR[d] += Ra.T @ Ra
        for s, (lo, hi) in enumerate(zip(gb[:-1], gb[1:])):
            acc.pit[gids[s]] += np.count_nonzero(answered[lo:hi], axis=0)
            acc.pset[gids[s]] += has[lo:hi].sum(axis=0)
        return
    # clustered: PSU (cell) totals
    c0 = int(np.searchsorted(c_start, a, side="left"))
    c1 = int(np.searchsorted(c_start, b, side="left"))
    cb = c_start[c0:c1 + 1] - a
    Fw = Fb * w[:, None]
    Xc = _segment_sums(Fw, cb)
    Rw = R * w[:, None]
    XRc = _segment_sums(Rw, cb)
    cell_answered = _segment_sums(answered.astype(np.float64), cb) > 0
    cell_has = _segment_sums(has, cb) > 0
    cell_group = np.searchsorted(g_start, cb[:-1] + a, side="right") - 1
    sa = sqrt_a_group[cell_group]
    Xa = Xc * sa[:, None]
    acc.V[d] += Xa.T @ Xa
    XRa = XRc * sa[:, None]
    acc.VR[d] += XRa.T @ XRa
    np.add.at(acc.pit, cell_group, cell_answered)
    np.add.at(acc.pset, cell_group, cell_has)
    if acc.cells is not None:
        acc.cells.append((p_code[cb[:-1] + a], Xc, XRc, cell_answered, cell_has))


# ----------------------------------------------------------------------------- estimates

class _Estimator:
    def __init__(self, data, lay, acc, g_start, g_d, g_h, a_h, b_h, n_psu, H, crossing, p_code, psu_h, top, iw):
        self.data, self.lay, self.acc = data, lay, acc
        self.g_d, self.g_h = g_d, g_h
        self.a_h, self.b_h = a_h, b_h
        self.n_psu = n_psu
        self.H = H
        self.top = top
        self.iw = iw
        self.J = len(data.items)
        self.NS = len(lay.sets)
        self.psu_h = psu_h
        self.overall_V = self.overall_VR = None
        self.overall_pit = self.overall_pset = None
        if crossing:
            self._overall_from_psus()

    def _overall_from_psus(self):
        """When PSUs cross districts, the overall level needs whole-PSU totals."""
        acc = self.acc
        psu = np.concatenate([c[0] for c in acc.cells])
        X = np.concatenate([c[1] for c in acc.cells])
        XR = np.concatenate([c[2] for c in acc.cells])
        ans = np.concatenate([c[3] for c in acc.cells]).astype(float)
        has = np.concatenate([c[4] for c in acc.cells]).astype(float)
        order = np.argsort(psu, kind="stable")
        psu = psu[order]
        starts = np.concatenate(([0], np.flatnonzero(psu[1:] != psu[:-1]) + 1, [psu.size]))
        Xp = _segment_sums(X[order], starts)
        XRp = _segment_sums(XR[order], starts)
        ansp = _segment_sums(ans[order], starts) > 0
        hasp = _segment_sums(has[order], starts) > 0
        h = self.psu_h[psu[starts[:-1]]]
        sa = np.sqrt(self.a_h[h])
        Xa = Xp * sa[:, None]
        XRa = XRp * sa[:, None]
        self.overall_V = Xa.T @ Xa
        self.overall_VR = XRa.T @ XRa
        self.overall_pit = np.zeros((self.H, self.J))
        self.overall_pset = np.zeros((self.H, self.NS))
        np.add.at(self.overall_pit, h, ansp)
        np.add.at(self.overall_pset, h, hasp)

    # -- one domain: returns a dict of column arrays for its rows
    def domain(self, d: int | None) -> dict | None:
        acc = self.acc
        J, NS, top, iw = self.J, self.NS, self.top, self.iw
        if d is None:  # overall: groups are strata
            groups = np.arange(self.g_d.size)
            T = np.zeros((self.H, J * K))
            np.add.at(T, self.g_h, acc.T)
            TR = np.zeros((self.H, 4 * NS))
            np.add.at(TR, self.g_h, acc.TR)
            b = self.b_h
            V = self.overall_V if self.overall_V is not None else acc.V.sum(axis=0)
            VR = self.overall_VR if self.overall_VR is not None else acc.VR.sum(axis=0)
            U = acc.U.sum(axis=0)
            Q = acc.Q.sum(axis=0)
            R1, R2, E = acc.R1.sum(axis=0), acc.R2.sum(axis=0), acc.E.sum(axis=0)
            nit_g = np.zeros((self.H, J))
            np.add.at(nit_g, self.g_h, acc.nit)
            nset_g = np.zeros((self.H, NS))
            np.add.at(nset_g, self.g_h, acc.nset)
            if self.overall_pit is not None:
                pit_g, pset_g = self.overall_pit, self.overall_pset
            else:
                pit_g = np.zeros((self.H, J))
                np.add.at(pit_g, self.g_h, acc.pit)
                pset_g = np.zeros((self.H, NS))
                np.add.at(pset_g, self.g_h, acc.pset)
        else:
            groups = np.flatnonzero(self.g_d == d)
            if groups.size == 0:
                return None
            T, TR = acc.T[groups], acc.TR[groups]
            b = self.b_h[self.g_h[groups]]
            V, VR, U, Q = acc.V[d], acc.VR[d], acc.U[d], acc.Q[d]
            R1, R2, E = acc.R1[d], acc.R2[d], acc.E[d]
            nit_g, nset_g = acc.nit[groups], acc.nset[groups]
            pit_g, pset_g = acc.pit[groups], acc.pset[groups]
        Pw = T.sum(axis=0)                      # sum w F over the domain
        P3 = Pw.reshape(J, K)
        W = P3.sum(axis=1)                      # weighted count answering each item
        present = W > 0
        scores = np.arange(1, K + 1, dtype=float)
        vals = np.stack([(scores >= top).astype(float), scores, (scores >= NOT_DISSATISFIED_FROM).astype(float)])
        with np.errstate(invalid="ignore", divide="ignore"):
            theta = (P3 @ vals.T) / W[:, None]              # (J, 3): item estimates
            share = P3 / W[:, None]                          # (J, K)
        theta = np.where(present[:, None], theta, np.nan)
        # ---- coefficient vectors (KF x columns), one column per (measure, variant)
        cols: list[np.ndarray] = []
        meta: list[tuple] = []   # (kind, set index or item, variant)
        # items
        G_item = np.zeros((J, K, J, 3))
        for v in range(3):
            g = np.where(present[:, None], (vals[v][None, :] - np.nan_to_num(theta[:, v:v + 1])) /
                         np.where(present, W, 1.0)[:, None], 0.0)
            G_item[np.arange(J), :, np.arange(J), v] = g
        G_item = G_item.reshape(J * K, J * 3)
        # ITEM_AVG and POOLED per set, FACTOR_AVG
        set_items = []
        for _, members in self.lay.sets:
            idx = np.concatenate([np.arange(*self.lay.base[m]) for m in members])
            set_items.append(idx)
        G_ia = np.zeros((J * K, NS * 3))
        G_po = np.zeros((J * K, NS * 3))
        est_ia = np.full((NS, 3), np.nan)
        est_po = np.full((NS, 3), np.nan)
        share_ia = np.full((NS, K), np.nan)
        share_po = np.full((NS, K), np.nan)
        xhat = np.zeros(NS)
        for s, idx in enumerate(set_items):
            pres = idx[present[idx]]
            if pres.size == 0:
                continue
            om = iw[pres] / iw[pres].sum()
            for v in range(3):
                G_ia[:, s * 3 + v] = G_item[:, pres * 3 + v] @ om
            est_ia[s] = om @ theta[pres]
            share_ia[s] = om @ share[pres]
            X = (iw[idx] * W[idx]).sum()
            xhat[s] = X
            A = iw[idx] @ P3[idx]                          # (K,) criterion-weighted answer totals
            Rv = (vals @ A) / X                            # (3,)
            est_po[s] = Rv
            share_po[s] = A / X
            for v in range(3):
                blk = np.zeros((J, K))
                blk[idx] = iw[idx][:, None] * (vals[v][None, :] - Rv[v]) / X
                G_po[:, s * 3 + v] = blk.ravel()
        factor_sets = [s for s, (f, _) in enumerate(self.lay.sets) if f is not None and xhat[s] > 0]
        G_fa = np.zeros((J * K, 3))
        est_fa = np.full(3, np.nan)
        share_fa = np.full(K, np.nan)
        if factor_sets:
            for v in range(3):
                G_fa[:, v] = G_po[:, [s * 3 + v for s in factor_sets]].mean(axis=1)
            est_fa = est_po[factor_sets].mean(axis=0)
            share_fa = share_po[factor_sets].mean(axis=0)
        Gam = np.concatenate([G_item, G_ia, G_po, G_fa], axis=1)
        var = np.einsum("kc,kc->c", Gam, V @ Gam) - (b[:, None] * (T @ Gam) ** 2).sum(axis=0)
        swz2 = np.einsum("kc,kc->c", Gam, U @ Gam)
        swz = Pw @ Gam
        # ---- RESP: features [has, rt, rs, rnd] per set
        Rw = TR.sum(axis=0)
        W_has = Rw[0::4]
        with np.errstate(invalid="ignore", divide="ignore"):
            est_re = np.stack([Rw[1::4], Rw[2::4], Rw[3::4]], axis=1) / W_has[:, None]     # (NS, 3)
        GR = np.zeros((4 * NS, NS * 3))
        for s in range(NS):
            if W_has[s] <= 0:
                continue
            for v in range(3):
                GR[4 * s + 1 + v, s * 3 + v] = 1.0 / W_has[s]
                GR[4 * s, s * 3 + v] = -est_re[s, v] / W_has[s]
        var_re = np.einsum("kc,kc->c", GR, VR @ GR) - (b[:, None] * (TR @ GR) ** 2).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            share_re = E[:, 3:] / W_has[:, None]
            # sum w (x - mean)^2 over respondents with an answer in the set
            ss_re = E[:, :3] - est_re ** 2 * W_has[:, None]
        # ---- counts, weights, df
        n_item = nit_g.sum(axis=0)
        Q3 = Q.reshape(J, K).sum(axis=1)
        df_item = pit_g.sum(axis=0) - (nit_g > 0).sum(axis=0)
        n_set = R1[0::4]
        W2_set = R2[0::4]
        df_set = pset_g.sum(axis=0) - (nset_g > 0).sum(axis=0)
        # assemble rows: items (original order), then per factor ITEM_AVG/POOLED/RESP, then INDEX
        out = _RowBuilder()
        inv_order = np.empty(J, dtype=np.intp)
        inv_order[self.lay.order] = np.arange(J)
        nI = J * 3
        for jj in range(J):
            j = inv_order[jj]
            if n_item[j] == 0:
                continue
            item = self.data.items[jj]
            c = j * 3
            out.add(measure=item, measure_type="item", factor=self.data.factor_of.get(item),
                    n=n_item[j], sum_w=W[j], sum_w2=Q3[j], df=df_item[j],
                    est=theta[j], var=var[c:c + 3], swz2=swz2[c:c + 3], swz=swz[c:c + 3],
                    deff_kind="z", share=share[j])
        o_ia, o_po, o_fa = nI, nI + NS * 3, nI + 2 * NS * 3
        for s, (f, _) in enumerate(self.lay.sets):
            if n_set[s] == 0:
                continue
            name = "INDEX" if f is None else f"FACTOR:{f}"
            kind = "index" if f is None else "factor"
            common = dict(factor=f, n=n_set[s], sum_w=W_has[s], sum_w2=W2_set[s], df=df_set[s])
            rows = []
            c = o_ia + s * 3
            rows.append(dict(measure=f"{name}:ITEM_AVG", measure_type=f"{kind}_item_avg", est=est_ia[s],
                             var=var[c:c + 3], swz2=swz2[c:c + 3], swz=swz[c:c + 3], deff_kind="z",
                             share=share_ia[s]))
            if f is None and factor_sets:
                c = o_fa
                rows.append(dict(measure="INDEX:FACTOR_AVG", measure_type="index_factor_avg", est=est_fa,
                                 var=var[c:c + 3], swz2=None, swz=None, deff_kind=None, share=share_fa))
            c = o_po + s * 3
            rows.append(dict(measure=f"{name}:POOLED", measure_type=f"{kind}_pooled", est=est_po[s],
                             var=var[c:c + 3], swz2=swz2[c:c + 3], swz=swz[c:c + 3], deff_kind="z",
                             share=share_po[s]))
            rows.append(dict(measure=f"{name}:RESP", measure_type=f"{kind}_resp", est=est_re[s],
                             var=var_re[s * 3:s * 3 + 3], swz2=ss_re[s], swz=None, deff_kind="mean",
                             share=share_re[s]))
            for r in rows:
                out.add(**common, **r)
        return out.columns()

    def table(self, overall: bool) -> dict:
        parts = []
        labels = []
        if overall:
            parts.append(self.domain(None))
            labels.append(("overall", "ALL"))
        for d, name in enumerate(self.data.districts):
            part = self.domain(d)
            if part is not None:
                parts.append(part)
                labels.append(("district", name))
        cols: dict[str, list] = {}
        for (lv, name), part in zip(labels, parts):
            m = len(part["measure"])
            cols.setdefault("level", []).extend([lv] * m)
            cols.setdefault("district", []).extend([name] * m)
            for k, v in part.items():
                cols.setdefault(k, []).extend(v)
        return cols


class _RowBuilder:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, *, measure, measure_type, factor, n, sum_w, sum_w2, df, est, var, swz2, swz, deff_kind, share):
        n = float(n)
        var = np.maximum(np.asarray(var, dtype=float), 0.0)
        deff = np.full(2, np.nan)
        if deff_kind is not None and n > 1:
            with np.errstate(invalid="ignore", divide="ignore"):
                if deff_kind == "z":   # svytotal / svyratio / svymean on linearised z: W * S_w(z) / (n - 1)
                    vsrs = sum_w * (np.asarray(swz2[:2]) - np.asarray(swz[:2]) ** 2 / sum_w) / (n - 1)
                else:                  # svymean: sum w (x - mean)^2 / (W (n - 1))
                    vsrs = np.asarray(swz2[:2]) / (sum_w * (n - 1))
                deff = var[:2] / vsrs
        self.rows.append(dict(measure=measure, measure_type=measure_type, factor=factor, n=n, sum_w=sum_w,
                              sum_w2=sum_w2, df=float(df), p=est[0], se=math.sqrt(var[0]), mean_score=est[1],
                              se_mean=math.sqrt(var[1]), p_nd=est[2], se_nd=math.sqrt(var[2]), deff=deff[0],
                              deff_mean=deff[1], share=np.asarray(share, dtype=float)))

    def columns(self) -> dict:
        out: dict[str, list] = {}
        for r in self.rows:
            for k, v in r.items():
                if k == "share":
                    for i in range(K):
                        out.setdefault(f"share_{i + 1}", []).append(v[i])
                else:
                    out.setdefault(k, []).append(v)
        return out


# ----------------------------------------------------------------------------- intervals, flags, judgements

def _finish(cols: dict, *, level: float, target, ci_method: str, notes) -> IndexTable:
    from .judgements import against_target, rank_with_range

    f = {k: np.asarray(v, dtype=float) for k, v in cols.items()
         if k not in ("level", "district", "measure", "measure_type", "factor")}
    n, p, se, df = f["n"], f["p"], f["se"], f["df"]
    out: dict[str, np.ndarray] = {
        "level": np.array(cols["level"], dtype=object),
        "district": np.array(cols["district"], dtype=object),
        "measure": np.array(cols["measure"], dtype=object),
        "measure_type": np.array(cols["measure_type"], dtype=object),
        "factor": np.array(cols["factor"], dtype=object),
        "n": n, "sum_w": f["sum_w"], "df": df, "p": p, "se": se,
    }
    out["ci_logit_l"], out["ci_logit_u"] = logit_ci(p, se, df, level=level)
    out["ci_kg_l"], out["ci_kg_u"], n_eff_kg = korn_graubard_ci(p, se, n, df, level=level)
    deff = f["deff"]
    out["deff"] = deff
    with np.errstate(invalid="ignore", divide="ignore"):
        out["n_eff_deff"] = np.where(np.isfinite(deff) & (deff > 0), n / deff, np.nan)
        inner = (p > 0) & (p < 1) & (se > 0)
        out["n_eff_var"] = np.where(inner, p * (1 - p) / np.where(inner, se, 1.0) ** 2, n)
        out["n_eff_kg"] = n_eff_kg
        out["deff_kish"] = n * f["sum_w2"] / f["sum_w"] ** 2
        out["n_eff_kish"] = f["sum_w"] ** 2 / f["sum_w2"]
    out["mean_score"] = f["mean_score"]
    out["se_mean"] = f["se_mean"]
    out["mean100"] = 25.0 * (f["mean_score"] - 1.0)
    out["se_mean100"] = 25.0 * f["se_mean"]
    out["ci_mean100_l"], out["ci_mean100_u"] = t_ci(out["mean100"], out["se_mean100"], df, level=level)
    out["deff_mean"] = f["deff_mean"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["cv"] = np.where(p > 0, se / np.where(p > 0, p, 1.0), np.nan)
    flags = reliability_flags(p, se, n, df, out["n_eff_var"], out["ci_kg_l"], out["ci_kg_u"])
    out["flag_n_lt_30"] = flags.n_lt_30
    out["flag_neff_lt_30"] = flags.neff_lt_30
    out["flag_cv_gt_30"] = flags.cv_gt_30
    out["nchs_suppress"] = flags.nchs_suppress
    out["nchs_review"] = flags.nchs_review
    out["p_nd"] = f["p_nd"]
    out["se_nd"] = f["se_nd"]
    out["ci_nd_logit_l"], out["ci_nd_logit_u"] = logit_ci(f["p_nd"], f["se_nd"], df, level=level)
    for i in range(1, K + 1):
        out[f"share_{i}"] = f[f"share_{i}"]
    # judgements: the chosen interval, Korn-Graubard where the logit one is undefined (p = 0 or 1)
    if ci_method == "logit":
        lo = np.where(np.isnan(out["ci_logit_l"]), out["ci_kg_l"], out["ci_logit_l"])
        hi = np.where(np.isnan(out["ci_logit_u"]), out["ci_kg_u"], out["ci_logit_u"])
    else:
        lo, hi = out["ci_kg_l"], out["ci_kg_u"]
    m = len(p)
    out["target"] = np.full(m, np.nan if target is None else float(target))
    out["vs_target"] = (np.full(m, None, dtype=object) if target is None
                        else np.asarray(against_target(lo, hi, target=target), dtype=object))
    rank = np.full(m, np.nan)
    best = np.full(m, np.nan)
    worst = np.full(m, np.nan)
    is_d = out["level"] == "district"
    for measure in dict.fromkeys(out["measure"][is_d]):
        sel = np.flatnonzero(is_d & (out["measure"] == measure))
        r, rb, rw = rank_with_range(p[sel], lo[sel], hi[sel])
        rank[sel], best[sel], worst[sel] = r, rb, rw
    out["rank"], out["rank_best"], out["rank_worst"] = rank, best, worst
    return IndexTable({c: out[c] for c in COLUMNS}, level, tuple(notes))
