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
import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from ._blas import single_threaded_blas
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

    @classmethod
    def read_csv(cls, path) -> "IndexTable":
        """Read a table written by :meth:`to_csv` (or R's oracle output: missing columns become NA)."""
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ValueError(f"{path}: empty file")
            missing = [c for c in ("level", "district", "measure", "p", "se", "df", "n") if c not in header]
            if missing:
                raise ValueError(f"{path}: not an index table (missing column(s) {', '.join(missing)})")
            raw = list(reader)
        idx = {c: i for i, c in enumerate(header)}
        cols: dict[str, np.ndarray] = {}
        for c in COLUMNS:
            values = [r[idx[c]] if c in idx and idx[c] < len(r) else "" for r in raw]
            if c in _STR_COLUMNS:
                cols[c] = np.array([v if v not in ("", "NA") else None for v in values], dtype=object)
            elif c in _BOOL_COLUMNS:
                cols[c] = np.array([v == "TRUE" for v in values], dtype=bool)
            else:
                try:
                    cols[c] = np.array([float(v) if v not in ("", "NA") else np.nan for v in values])
                except ValueError as exc:
                    raise ValueError(f"{path}, column {c}: {exc}") from None
        return cls(cols, level=math.nan)

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


# ----------------------------------------------------------------------------- accumulation

QP = 4  # centred planes per criterion in the design Gram: answered, satisfied', score', nd'


@dataclass
class _Centres:
    """Exact domain estimates from the category totals of pass 1, and the lookup table that centres
    each respondent's answers at them (so that variances are sums of squares, free of cancellation)."""
    W: np.ndarray          # (J,) weighted count answering
    theta: np.ndarray      # (J, 3) satisfied share, mean score, nd share (NaN where nobody answered)
    lut_theta: np.ndarray  # the same with 0 for NaN (used for centring)
    share: np.ndarray      # (J, K)
    sws2: np.ndarray       # (J,) sum w score^2
    xhat: np.ndarray       # (NS,) criterion-weighted answers per set
    pooled: np.ndarray     # (NS, 3) pooled ratios (NaN where the set has no answers)
    lut_pooled: np.ndarray
    pooled_share: np.ndarray  # (NS, K)
    lut: np.ndarray        # (6 J, QP): centred planes for answer code c of criterion j at row 6 j + c

    @classmethod
    def from_totals(cls, P: np.ndarray, top: int, membership: np.ndarray) -> "_Centres":
        J = P.shape[0]
        scores = np.arange(1, K + 1, dtype=float)
        W = P[:, 1:].sum(axis=1)
        A = P[:, top:].sum(axis=1)
        S = P[:, 1:] @ scores
        ND = P[:, NOT_DISSATISFIED_FROM:].sum(axis=1)
        present = W > 0
        Wd = np.where(present, W, 1.0)
        theta = np.where(present[:, None], np.stack([A, S, ND], axis=1) / Wd[:, None], np.nan)
        lut_theta = np.nan_to_num(theta)
        share = np.where(present[:, None], P[:, 1:] / Wd[:, None], np.nan)
        xhat = W @ membership
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = np.stack([A @ membership, S @ membership, ND @ membership], axis=1) / xhat[:, None]
            pooled_share = (membership.T @ P[:, 1:]) / xhat[:, None]
        pooled = np.where(xhat[:, None] > 0, pooled, np.nan)
        codes = np.arange(6, dtype=float)
        r = (codes > 0).astype(float)
        v = np.stack([(codes >= top) & (codes > 0), codes, (codes >= NOT_DISSATISFIED_FROM)]).astype(float)  # (3, 6)
        lut = np.empty((J, 6, QP))
        lut[:, :, 0] = r
        for q in range(3):
            lut[:, :, 1 + q] = v[q][None, :] - lut_theta[:, q:q + 1] * r[None, :]
        return cls(W, theta, lut_theta, share, P[:, 1:] @ scores ** 2, xhat, pooled, np.nan_to_num(pooled),
                   pooled_share, lut.reshape(6 * J, QP))


def _shift(M: np.ndarray, delta: np.ndarray, axis: int = -1) -> np.ndarray:
    """Change of basis from centres c to centres c': plane q of criterion j gains delta[j, q-1] * answered_j.

    ``M`` has the QP * J features on ``axis``; ``delta`` (J, 3) = c - c'.
    """
    M = np.moveaxis(M, axis, -1)
    shape = M.shape
    X = M.reshape(shape[:-1] + (-1, QP)).copy()
    X[..., 1:] += X[..., :1] * delta
    return np.moveaxis(X.reshape(shape), -1, axis)


def _shift_resp(M: np.ndarray, delta: np.ndarray, axis: int = -1) -> np.ndarray:
    """The same for respondent features [has, rt', rs', rnd'] per set; ``delta`` (NS, 3)."""
    return _shift(M, delta, axis)


def _categories(r, ge4, s, nd, f5):
    """Counts of scores 1..5 from totals of the planes answered, score >= 4, score, score >= 3, score == 5.

    Exact: these five planes span the one-hot answers.
    """
    c5 = f5
    c4 = ge4 - f5
    c3 = nd - ge4
    low = r - nd                      # c1 + c2
    c2 = s - 3 * c3 - 4 * c4 - 5 * c5 - low
    return np.stack([low - c2, c2, c3, c4, c5], axis=-1)


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


class _Acc:
    """Sums over the rows of each district (D) and each district x stratum group (G)."""

    def __init__(self, D: int, G: int, J: int, NS: int, NZ: int, want_cells: bool):
        NF, NR = QP * J, 4 * NS
        self.V = np.zeros((D, NF, NF))     # sum_h a_h sum_c X_c X_c', X_c = sum_{i in c} w_i x_i (centred planes)
        self.T = np.zeros((G, NF))         # sum w x per group
        self.Q = np.zeros((D, J))          # sum w^2 answered (Kish)
        self.nit = np.zeros((G, J))        # rows answering criterion j
        self.pit = np.zeros((G, J))        # PSUs with an answer to criterion j
        self.VR = np.zeros((D, NR, NR))    # the same for respondent features [has, rt', rs', rnd'] per set
        self.TR = np.zeros((G, NR))
        self.R2 = np.zeros((D, NS))        # sum w^2 has (Kish)
        self.nset = np.zeros((G, NS))      # rows with an answer in the set
        self.pset = np.zeros((G, NS))      # PSUs with an answer in the set
        self.E = np.zeros((D, NS, 12))     # sum w [rt'^2, rs'^2, shares 1..5, a'^2, a'k, k^2, s'^2, s'k]
        self.Z = np.zeros((D, 2, NZ))      # sum w z^2, sum w z of the ITEM_AVG linearisations (design effects)
        self.cells: dict | None = {} if want_cells else None     # district -> list of cell sums


def _segment_sums(M: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sums of ``M``'s rows over segments [bounds[i], bounds[i+1])."""
    if bounds.size == 2:
        return M.sum(axis=0, keepdims=True)
    return np.add.reduceat(M, bounds[:-1], axis=0)


def _category_totals(codes: np.ndarray, w: np.ndarray, dom_bounds: np.ndarray, chunk_rows: int) -> np.ndarray:
    """Pass 1: sum of weights per (district, criterion, answer code 0..5)."""
    D = dom_bounds.size - 1
    n, J = codes.shape
    P = np.zeros((D, J * 6))
    offs = (np.arange(J) * 6).astype(np.intp)
    for d in range(D):
        for a in range(int(dom_bounds[d]), int(dom_bounds[d + 1]), chunk_rows):
            b = min(a + chunk_rows, int(dom_bounds[d + 1]))
            key = (codes[a:b] + offs).ravel()
            P[d] += np.bincount(key, np.repeat(w[a:b], J), minlength=J * 6)
    return P.reshape(D, J, 6)


class _Pass:
    """Pass 2: everything else, block by block (buffers are reused between blocks)."""

    # per-respondent totals over a set of criteria, packed in one int64 per answer:
    # answered, satisfied, not dissatisfied, fives, score >= 4 (10 bits each), score (13 bits)
    FIELDS = ((0, 10), (10, 10), (20, 10), (30, 10), (40, 10), (50, 13))

    def __init__(self, acc, lay, membership, top, g_start, c_start, sqrt_a_group, p_code, block_rows):
        self.acc, self.lay, self.M, self.top = acc, lay, membership, top
        self.g_start, self.c_start, self.sqrt_a_group, self.p_code = g_start, c_start, sqrt_a_group, p_code
        J = membership.shape[0]
        self.J = J
        self.offs = (np.arange(J) * 6).astype(np.intp)
        c = np.arange(6)
        planes = np.stack([c > 0, (c >= top) & (c > 0), c >= NOT_DISSATISFIED_FROM, c == K, c >= 4, c])
        self.planes = planes.astype(float)                  # (6 fields, 6 codes)
        sizes = [hi - lo for lo, hi in lay.base]
        iw = np.array([membership[j].max() for j in range(J)])
        self.packed = bool(np.all(iw == 1.0)) and max(sizes) < 1000
        if self.packed:
            lut = sum(planes[f].astype(np.int64) << shift for f, (shift, _) in enumerate(self.FIELDS))
            self.lut_packed = np.tile(lut, J)               # row 6 j + code
            self.base_starts = np.array([lo for lo, _ in lay.base])
            self.set_members = [list(members) for _, members in lay.sets]   # output set = sum of base sets
        else:
            self.lut_raw = np.repeat(self.planes[:, None, :], J, axis=1).reshape(6, 6 * J)
        self.Zbuf = np.empty((block_rows, J, QP))

    def set_totals(self, idx: np.ndarray) -> np.ndarray:
        """(6, m, NS): criterion-weighted answered, satisfied, nd, fives, >= 4, score over each set."""
        m = idx.shape[0]
        if self.packed:
            packed = np.take(self.lut_packed, idx)
            per_base = np.add.reduceat(packed, self.base_starts, axis=1) if len(self.base_starts) > 1 \
                else packed.sum(axis=1, keepdims=True)
            per_set = np.empty((m, len(self.set_members)), dtype=np.int64)   # packed sums add field by field
            for s_, members in enumerate(self.set_members):
                if len(members) == 1:
                    per_set[:, s_] = per_base[:, members[0]]
                else:
                    np.sum(per_base[:, members], axis=1, out=per_set[:, s_])
            out = np.empty((6, m, per_set.shape[1]))
            tmp = np.empty_like(per_set)
            for f, (shift, bits) in enumerate(self.FIELDS):
                np.right_shift(per_set, shift, out=tmp)
                np.bitwise_and(tmp, (1 << bits) - 1, out=tmp)
                out[f] = tmp
            return out
        raw = np.take(self.lut_raw, idx, axis=1)            # (6, m, J)
        return (raw.reshape(6 * m, self.J) @ self.M).reshape(6, m, -1)

    def block(self, codes, w, a, b, d, cen: _Centres, cz: np.ndarray):
        acc = self.acc
        m, J = codes.shape
        NS = self.M.shape[1]
        idx = codes + self.offs
        Z3 = np.take(cen.lut, idx, axis=0, out=self.Zbuf[:m])   # centred planes (m, J, QP)
        Z = Z3.reshape(m, QP * J)
        S = self.set_totals(idx)
        k = S[0]
        has = k > 0
        inv = np.where(has, 1.0 / np.where(has, k, 1.0), 0.0)
        R = np.empty((m, NS, 4))
        R[:, :, 0] = has
        for v, f in enumerate((1, 5, 2)):                  # satisfied, score, nd
            R[:, :, 1 + v] = S[f] * inv - cen.lut_pooled[:, v] * has
        # row-level moments (design effects, respondent shares): single-pass contractions
        Ed = acc.E[d]
        Ed[:, 0] += np.einsum("m,ms,ms->s", w, R[:, :, 1], R[:, :, 1])
        Ed[:, 1] += np.einsum("m,ms,ms->s", w, R[:, :, 2], R[:, :, 2])
        F = np.einsum("m,ms,fms->fs", w, inv, S)          # the shares are linear in the set totals
        Ed[:, 2:7] += _categories(F[0], F[4], F[5], F[2], F[3])
        a_ = S[1] - cen.lut_pooled[:, 0] * k
        s_ = S[5] - cen.lut_pooled[:, 1] * k
        Ed[:, 7] += np.einsum("m,ms,ms->s", w, a_, a_)
        Ed[:, 8] += np.einsum("m,ms,ms->s", w, a_, k)
        Ed[:, 9] += np.einsum("m,ms,ms->s", w, k, k)
        Ed[:, 10] += np.einsum("m,ms,ms->s", w, s_, s_)
        Ed[:, 11] += np.einsum("m,ms,ms->s", w, s_, k)
        R = R.reshape(m, 4 * NS)
        blocks, share = cz
        zb = np.empty((m, len(blocks), 4))
        for b_, (lo, hi) in enumerate(self.lay.base):   # each factor's columns touch only its criteria
            np.matmul(Z[:, lo * QP:hi * QP], blocks[b_], out=zb[:, b_, :])
        z = np.empty((m, NS, 4))
        for s_, (f_, members) in enumerate(self.lay.sets):
            if f_ is not None:
                z[:, s_, :] = zb[:, members[0], :]
            else:
                np.einsum("mbk,bk->mk", zb[:, members, :], share[members], out=z[:, s_, :])
        z = z.reshape(m, NS * 4)
        acc.Z[d, 0] += np.einsum("m,mc,mc->c", w, z, z)
        acc.Z[d, 1] += w @ z
        w2 = w * w
        answered = codes > 0
        acc.Q[d] += np.einsum("m,mj->j", w2, Z3[:, :, 0])
        acc.R2[d] += np.einsum("m,ms->s", w2, has)
        g0 = int(np.searchsorted(self.g_start, a, side="right")) - 1
        g1 = int(np.searchsorted(self.g_start, b, side="left"))
        gb = np.clip(self.g_start[g0:g1 + 1], a, b) - a
        for s, (lo, hi) in enumerate(zip(gb[:-1], gb[1:])):
            g = g0 + s
            acc.T[g] += w[lo:hi] @ Z[lo:hi]
            acc.TR[g] += w[lo:hi] @ R[lo:hi]
            acc.nit[g] += np.count_nonzero(answered[lo:hi], axis=0)
            acc.nset[g] += np.count_nonzero(has[lo:hi], axis=0)
        if self.c_start is None:   # each respondent its own PSU: X_c = w_i x_i
            scale = w * np.repeat(self.sqrt_a_group[g0:g1], np.diff(gb))
            np.multiply(Z, scale[:, None], out=Z)
            acc.V[d] += Z.T @ Z
            Ra = R * scale[:, None]
            acc.VR[d] += Ra.T @ Ra
            return
        c0 = int(np.searchsorted(self.c_start, a, side="left"))
        c1 = int(np.searchsorted(self.c_start, b, side="left"))
        cb = self.c_start[c0:c1 + 1] - a
        np.multiply(Z, w[:, None], out=Z)
        Xc = _segment_sums(Z, cb)
        XRc = _segment_sums(R * w[:, None], cb)
        cell_answered = _segment_sums(answered.astype(np.float64), cb) > 0
        cell_has = _segment_sums(has.astype(np.float64), cb) > 0
        cell_group = np.searchsorted(self.g_start, cb[:-1] + a, side="right") - 1
        sa = self.sqrt_a_group[cell_group]
        Xa = Xc * sa[:, None]
        acc.V[d] += Xa.T @ Xa
        XRa = XRc * sa[:, None]
        acc.VR[d] += XRa.T @ XRa
        np.add.at(acc.pit, cell_group, cell_answered)
        np.add.at(acc.pset, cell_group, cell_has)
        if acc.cells is not None:
            acc.cells.setdefault(d, []).append((d, self.p_code[cb[:-1] + a], Xc, XRc, cell_answered, cell_has))


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


def _rows(level: _Level, lay: _Layout, data: SurveyData, iw: np.ndarray) -> dict | None:
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
    var = np.einsum("kc,kc->c", Gam, level.V @ Gam) - (level.b[:, None] * (level.T @ Gam) ** 2).sum(axis=0)
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
    var_re = np.einsum("kc,kc->c", GR, level.VR @ GR) - (level.b[:, None] * (level.TR @ GR) ** 2).sum(axis=0)
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
    out = _RowBuilder()
    inv_order = np.empty(J, dtype=np.intp)
    inv_order[lay.order] = np.arange(J)
    for jo in range(J):
        j = inv_order[jo]
        if n_item[j] == 0:
            continue
        item = data.items[jo]
        c = j * 3
        out.add(measure=item, measure_type="item", factor=data.factor_of.get(item), n=n_item[j], sum_w=W[j],
                sum_w2=level.Q[j], df=df_item[j], est=cen.theta[j], var=var[c:c + 3],
                vsrs_ss=ss_item[j], share=cen.share[j])
    o_ia, o_po, o_fa = J * 3, J * 3 + NS * 3, J * 3 + 2 * NS * 3
    for s, (f, _) in enumerate(lay.sets):
        if n_set[s] == 0:
            continue
        name = "INDEX" if f is None else f"FACTOR:{f}"
        kind = "index" if f is None else "factor"
        common = dict(factor=f, n=n_set[s], sum_w=W_has[s], sum_w2=level.R2[s], df=df_set[s])
        c = o_ia + s * 3
        out.add(measure=f"{name}:ITEM_AVG", measure_type=f"{kind}_item_avg", est=est_ia[s], var=var[c:c + 3],
                z_moments=level.Z[:, s, :], share=share_ia[s], **common)
        if f is None and factor_sets:
            c = o_fa
            out.add(measure="INDEX:FACTOR_AVG", measure_type="index_factor_avg", est=est_fa, var=var[c:c + 3],
                    share=share_fa, **common)
        c = o_po + s * 3
        out.add(measure=f"{name}:POOLED", measure_type=f"{kind}_pooled", est=cen.pooled[s], var=var[c:c + 3],
                z_moments=np.stack([swz2_po[s], np.zeros(2)]), share=cen.pooled_share[s], **common)
        with np.errstate(invalid="ignore", divide="ignore"):
            share_re = level.E[s, 2:7] / W_has[s]
        out.add(measure=f"{name}:RESP", measure_type=f"{kind}_resp", est=est_re[s], var=var_re[s * 3:s * 3 + 3],
                vsrs_ss=ss_re[s], share=share_re, **common)
    return out.columns()


class _RowBuilder:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, *, measure, measure_type, factor, n, sum_w, sum_w2, df, est, var, share,
            vsrs_ss=None, z_moments=None):
        """``vsrs_ss``: sum w (x - mean)^2 (svymean's deff); ``z_moments``: (sum w z^2, sum w z) of the
        linearisation (svytotal / svyratio deff); neither: no design effect (FACTOR_AVG, as in R)."""
        n = float(n)
        var = np.maximum(np.asarray(var, dtype=float), 0.0)
        deff = np.full(2, np.nan)
        if n > 1:
            with np.errstate(invalid="ignore", divide="ignore"):
                if vsrs_ss is not None:      # svymean: vsrs = sum w (x - mean)^2 / (W (n - 1))
                    deff = var[:2] / (np.asarray(vsrs_ss, dtype=float) / (sum_w * (n - 1)))
                elif z_moments is not None:  # svytotal(z): vsrs = W * sum w (z - zbar)^2 / (n - 1)
                    swz2, swz = np.asarray(z_moments, dtype=float)
                    deff = var[:2] / (sum_w * (swz2 - swz ** 2 / sum_w) / (n - 1))
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


# ----------------------------------------------------------------------------- public entry point

def compute_table(data: SurveyData, *, level: float = 0.95, overall: bool = True, lonely_psu: str = "adjust",
                  target: float | None = 0.80, ci_method: str = "logit", chunk_rows: int = 1 << 16,
                  threads: int | None = None, progress: Callable[[int, int], None] | None = None) -> IndexTable:
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
        Rows per block of the pass (memory ~ 30 MB per 65,536 rows and thread).
    threads : int, optional, keyword-only
        Units are processed on this many threads (default: one per CPU).
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
    with single_threaded_blas():
        return _compute(data, level=level, overall=overall, lonely_psu=lonely_psu, target=target,
                        ci_method=ci_method, chunk_rows=chunk_rows, threads=threads, progress=progress)


def _compute(data: SurveyData, *, level, overall, lonely_psu, target, ci_method, chunk_rows, threads,
             progress) -> IndexTable:
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
    overall_cen = _Centres.from_totals(P.sum(axis=0), data.satisfied_from, membership)
    cens = [_Centres.from_totals(P[d], data.satisfied_from, membership) for d in range(D)]

    # ---- pass 2
    acc = _Acc(D, G, J, NS, NS * 4, crossing)
    largest_cell = int(np.diff(c_start).max()) if clustered else 1
    block_rows = min(n, max(chunk_rows, largest_cell))
    local = threading.local()

    def district(d: int) -> int:
        # every accumulator a district writes is its own (per district or per group), so districts
        # can run on separate threads: numpy and BLAS release the GIL for the heavy work
        if not hasattr(local, "ps"):
            local.ps = _Pass(acc, lay, membership, data.satisfied_from, g_start, c_start, np.sqrt(a_h[g_h]),
                             p_code if crossing else None, block_rows)
        lo, hi = int(dom_bounds[d]), int(dom_bounds[d + 1])
        cz = _item_avg_coefficients(lay, iw, cens[d], overall_cen)
        for a, b in _chunks(lo, hi, c_start, chunk_rows):
            local.ps.block(codes[a:b], w[a:b], a, b, d, cens[d], cz)
        return hi - lo

    todo = sorted((d for d in range(D) if dom_bounds[d + 1] > dom_bounds[d]),
                  key=lambda d: dom_bounds[d] - dom_bounds[d + 1])          # largest first
    workers = max(1, min(threads or os.cpu_count() or 1, len(todo)))
    done = 0
    if workers == 1:
        for d in todo:
            done += district(d)
            if progress:
                progress(done, n)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for fut in as_completed([pool.submit(district, d) for d in todo]):
                done += fut.result()
                if progress:
                    progress(done, n)
    if not clustered:
        acc.pit, acc.pset = acc.nit, acc.nset

    # ---- per level
    levels: list[tuple[str, str, _Level]] = []
    if overall:
        levels.append(("overall", "ALL", _overall_level(acc, cens, overall_cen, P, g_d, g_h, H, b_h, a_h, psu_h,
                                                         crossing)))
    for d, name in enumerate(data.districts):
        groups = np.flatnonzero(g_d == d)
        if groups.size == 0:
            continue
        zc = [_zcol(s, v, 0) for s in range(NS) for v in range(2)]
        levels.append(("district", name, _Level(
            cens[d], acc.V[d], acc.T[groups], b_h[g_h[groups]], acc.VR[d], acc.TR[groups], acc.Q[d],
            acc.nit[groups], acc.pit[groups], acc.nset[groups], acc.pset[groups], acc.R2[d], acc.E[d],
            acc.Z[d][:, zc].reshape(2, NS, 2), P[d])))
    cols: dict[str, list] = {}
    for lv, name, level_ in levels:
        part = _rows(level_, lay, data, iw)
        m = len(part.get("measure", ()))
        if m == 0:            # nobody in this unit answered any criterion
            continue
        cols.setdefault("level", []).extend([lv] * m)
        cols.setdefault("district", []).extend([name] * m)
        for k_, v_ in part.items():
            cols.setdefault(k_, []).extend(v_)
    if not cols:
        raise ValueError("no respondent gave a valid answer (1..5) to any criterion: nothing to estimate")
    return _finish(cols, level=level, target=target, ci_method=ci_method, notes=data.notes)


def _overall_level(acc: _Acc, cens, oc: _Centres, P, g_d, g_h, H, b_h, a_h, psu_h, crossing) -> _Level:
    """The whole sample: groups are strata, and every district's sums move to the overall centres."""
    D = len(cens)
    NS = acc.nset.shape[1]
    delta = [c.lut_theta - oc.lut_theta for c in cens]          # (J, 3) per district
    rho = [c.lut_pooled - oc.lut_pooled for c in cens]          # (NS, 3) per district
    T = np.zeros((H, acc.T.shape[1]))
    TR = np.zeros((H, acc.TR.shape[1]))
    for g in range(g_d.size):
        d = int(g_d[g])
        T[g_h[g]] += _shift(acc.T[g], delta[d])
        TR[g_h[g]] += _shift_resp(acc.TR[g], rho[d])
    def by_stratum(x):
        out = np.zeros((H,) + x.shape[1:])
        np.add.at(out, g_h, x)
        return out
    nit, nset = by_stratum(acc.nit), by_stratum(acc.nset)
    if crossing:
        V, VR, pit, pset = _overall_from_psus(acc, delta, rho, psu_h, a_h, H)
    else:
        V = sum(_shift(_shift(acc.V[d], delta[d], 0), delta[d], 1) for d in range(D))
        VR = sum(_shift_resp(_shift_resp(acc.VR[d], rho[d], 0), rho[d], 1) for d in range(D))
        pit, pset = by_stratum(acc.pit), by_stratum(acc.pset)
    # row-level moments re-centred: x_all = x_d + shift * has (or * k)
    E = np.zeros((NS, 12))
    for d in range(D):
        Ed = acc.E[d]
        TRd = acc.TR[g_d == d].sum(axis=0).reshape(NS, 4)
        r = rho[d]
        for v in range(2):   # rt'^2, rs'^2
            E[:, v] += Ed[:, v] + 2 * r[:, v] * TRd[:, 1 + v] + r[:, v] ** 2 * TRd[:, 0]
        E[:, 2:7] += Ed[:, 2:7]
        for v, (i2, ik) in enumerate(((7, 8), (10, 11))):   # a'^2, a'k ; s'^2, s'k
            E[:, i2] += Ed[:, i2] + 2 * r[:, v] * Ed[:, ik] + r[:, v] ** 2 * Ed[:, 9]
            E[:, ik] += Ed[:, ik] + r[:, v] * Ed[:, 9]
        E[:, 9] += Ed[:, 9]
    zc = [_zcol(s, v, 1) for s in range(NS) for v in range(2)]
    Z = acc.Z[:, :, zc].sum(axis=0).reshape(2, NS, 2)
    return _Level(oc, V, T, b_h, VR, TR, acc.Q.sum(axis=0), nit, pit, nset, pset, acc.R2.sum(axis=0), E, Z,
                  P.sum(axis=0))


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
