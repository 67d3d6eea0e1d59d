"""The engine's passes over the rows: layout of criteria, centres, and the sums every estimate needs.

Pass 1 (:func:`_category_totals`) gives each district's weighted count per
criterion and answer; :class:`_Centres` turns them into exact domain estimates
and the lookup table that centres each respondent's answers at them. Pass 2
(:class:`_Pass`) accumulates, block by block, the first moments and the Gram
matrices of the centred features into :class:`_Acc`. See
:mod:`analysis.indices` for the method.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .inputs import SurveyData
from .table import K, NOT_DISSATISFIED_FROM

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


def _centres_many(P: np.ndarray, top: int, membership: np.ndarray) -> tuple[list[_Centres], np.ndarray]:
    """:meth:`_Centres.from_totals` of every unit at once, ``P`` (D, J, 6); also every unit's ``lut`` stacked
    (D * 6 J, QP).

    The same numbers: every step is the one ``from_totals`` takes, on a stack of units (the matrix
    products are stacked ``matmul`` calls, i.e. the same BLAS call per unit, with the same strides).
    """
    D, J = P.shape[:2]
    scores = np.arange(1, K + 1, dtype=float)
    P1 = P[:, :, 1:]
    W = P1.sum(axis=2)
    A = P[:, :, top:].sum(axis=2)
    S = np.matmul(P1, scores)
    ND = P[:, :, NOT_DISSATISFIED_FROM:].sum(axis=2)
    present = W > 0
    Wd = np.where(present, W, 1.0)
    theta = np.where(present[:, :, None], np.stack([A, S, ND], axis=2) / Wd[:, :, None], np.nan)
    lut_theta = np.nan_to_num(theta)
    share = np.where(present[:, :, None], P1 / Wd[:, :, None], np.nan)

    def by_set(x):                                    # (D, J) -> (D, NS): x_d @ membership for each unit
        return np.matmul(x[:, None, :], membership)[:, 0, :]
    xhat = by_set(W)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.stack([by_set(A), by_set(S), by_set(ND)], axis=2) / xhat[:, :, None]
        pooled_share = np.matmul(membership.T, P1) / xhat[:, :, None]
    pooled = np.where(xhat[:, :, None] > 0, pooled, np.nan)
    lut_pooled = np.nan_to_num(pooled)
    sws2 = np.matmul(P1, scores ** 2)
    codes = np.arange(6, dtype=float)
    r = (codes > 0).astype(float)
    v = np.stack([(codes >= top) & (codes > 0), codes, (codes >= NOT_DISSATISFIED_FROM)]).astype(float)  # (3, 6)
    lut = np.empty((D, J, 6, QP))
    lut[:, :, :, 0] = r
    for q in range(3):
        lut[:, :, :, 1 + q] = v[q][None, None, :] - lut_theta[:, :, q:q + 1] * r[None, None, :]
    lut = lut.reshape(D, 6 * J, QP)
    cens = [_Centres(W[d], theta[d], lut_theta[d], share[d], sws2[d], xhat[d], pooled[d], lut_pooled[d],
                     pooled_share[d], lut[d]) for d in range(D)]
    return cens, lut.reshape(D * 6 * J, QP)


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

    def __init__(self, acc, lay, membership, top, g_start, c_start, sqrt_a_group, p_code, block_rows, cal=None):
        self.acc, self.lay, self.M, self.top = acc, lay, membership, top
        self.cal = cal          # analysis.calibration.CalibrationSums, or None (weights treated as fixed)
        self.g_start, self.c_start, self.sqrt_a_group, self.p_code = g_start, c_start, sqrt_a_group, p_code
        J = membership.shape[0]
        self.J = J
        self.offs = (np.arange(J) * 6).astype(np.intp)
        c = np.arange(6)
        planes = np.stack([c > 0, (c >= top) & (c > 0), c >= NOT_DISSATISFIED_FROM, c == K, c >= 4, c])
        self.planes = planes.astype(float)                  # (6 fields, 6 codes)
        sizes = [hi - lo for lo, hi in lay.base]
        iw = np.array([membership[j].max() for j in range(J)])
        # 10-bit fields hold at most 1023 answers per respondent and set (the overall set holds every
        # criterion); with more criteria the exact float path is used instead of overflowing
        self.packed = bool(np.all(iw == 1.0)) and J < 1 << 10 and max(sizes) < 1 << 10
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
        if self.cal is not None:
            self.cal.add(d, a, b, Z, R)
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


    def block_many(self, codes, w, a, ds, starts, lut_all: np.ndarray, lut_pooled_all: np.ndarray, coefficients):
        """Several small units at once: rows ``a + starts[u] .. a + starts[u + 1]`` are unit ``ds[u]``'s, all of them.

        The same numbers as :meth:`block` of each unit in turn (one block per unit): the row-wise steps
        (looking up the centred planes, the set totals, the respondent features) run on all the rows
        at once, with each row's own unit's centres; every sum over rows is the very numpy or BLAS call
        :meth:`block` makes, on the unit's rows with the same memory layout, so its summation order is
        unchanged. ``lut_all`` is every unit's ``_Centres.lut`` stacked, ``lut_pooled_all`` (D, NS, 3).
        """
        acc = self.acc
        m, J = codes.shape
        NS = self.M.shape[1]
        ds = np.asarray(ds)
        counts = np.diff(starts)
        d_row = np.repeat(ds, counts)
        idx = codes + self.offs
        Z3 = np.take(lut_all, idx + (d_row * (6 * J))[:, None], axis=0, out=self.Zbuf[:m])
        Z = Z3.reshape(m, QP * J)
        S = self.set_totals(idx)
        k = S[0]
        has = k > 0
        inv = np.where(has, 1.0 / np.where(has, k, 1.0), 0.0)
        lp = lut_pooled_all[d_row]                           # (m, NS, 3): each row's unit's pooled centres
        R = np.empty((m, NS, 4))
        R[:, :, 0] = has
        for v, f in enumerate((1, 5, 2)):                  # satisfied, score, nd
            R[:, :, 1 + v] = S[f] * inv - lp[:, :, v] * has
        a_ = S[1] - lp[:, :, 0] * k
        s_ = S[5] - lp[:, :, 1] * k
        del lp
        R4 = R.reshape(m, 4 * NS)
        w2 = w * w
        answered = codes > 0
        base, sets = self.lay.base, self.lay.sets
        blocks_all, share_all = coefficients
        # groups (unit x stratum) of these rows: their counts of answers in whole-array steps (exact integers)
        g0 = int(np.searchsorted(self.g_start, a, side="right")) - 1
        g1 = int(np.searchsorted(self.g_start, a + m, side="left"))
        gb = self.g_start[g0:g1 + 1] - a
        acc.nit[g0:g1] += np.add.reduceat(answered, gb[:-1], axis=0, dtype=np.intp)
        acc.nset[g0:g1] += np.add.reduceat(has, gb[:-1], axis=0, dtype=np.intp)
        ug = np.searchsorted(gb, starts, side="left")      # unit u's groups: ug[u] .. ug[u + 1]
        for u, d in enumerate(ds.tolist()):
            lo, hi = int(starts[u]), int(starts[u + 1])
            wu = w[lo:hi]
            Ru = R[lo:hi]
            Ed = acc.E[d]
            Ed[:, 0] += np.einsum("m,ms,ms->s", wu, Ru[:, :, 1], Ru[:, :, 1])
            Ed[:, 1] += np.einsum("m,ms,ms->s", wu, Ru[:, :, 2], Ru[:, :, 2])
            F = np.einsum("m,ms,fms->fs", wu, inv[lo:hi], S[:, lo:hi])
            Ed[:, 2:7] += _categories(F[0], F[4], F[5], F[2], F[3])
            au, su, ku = a_[lo:hi], s_[lo:hi], k[lo:hi]
            Ed[:, 7] += np.einsum("m,ms,ms->s", wu, au, au)
            Ed[:, 8] += np.einsum("m,ms,ms->s", wu, au, ku)
            Ed[:, 9] += np.einsum("m,ms,ms->s", wu, ku, ku)
            Ed[:, 10] += np.einsum("m,ms,ms->s", wu, su, su)
            Ed[:, 11] += np.einsum("m,ms,ms->s", wu, su, ku)
            Zu = Z[lo:hi]
            zb = np.empty((hi - lo, len(base), 4))
            for b_, (blo, bhi) in enumerate(base):
                np.matmul(Zu[:, blo * QP:bhi * QP], blocks_all[b_][d], out=zb[:, b_, :])
            z = np.empty((hi - lo, NS, 4))
            for s_i, (f_, members) in enumerate(sets):
                if f_ is not None:
                    z[:, s_i, :] = zb[:, members[0], :]
                else:
                    np.einsum("mbk,bk->mk", zb[:, members, :], share_all[d][members], out=z[:, s_i, :])
            z = z.reshape(hi - lo, NS * 4)
            acc.Z[d, 0] += np.einsum("m,mc,mc->c", wu, z, z)
            acc.Z[d, 1] += wu @ z
            w2u = w2[lo:hi]
            acc.Q[d] += np.einsum("m,mj->j", w2u, Z3[lo:hi, :, 0])
            acc.R2[d] += np.einsum("m,ms->s", w2u, has[lo:hi])
            for g in range(int(ug[u]), int(ug[u + 1])):
                glo, ghi = int(gb[g]), int(gb[g + 1])
                acc.T[g0 + g] += w[glo:ghi] @ Z[glo:ghi]
                acc.TR[g0 + g] += w[glo:ghi] @ R4[glo:ghi]
        if self.c_start is None:   # each respondent its own PSU: X_c = w_i x_i
            scale = w * np.repeat(self.sqrt_a_group[g0:g1], np.diff(gb))
            np.multiply(Z, scale[:, None], out=Z)
            Ra = R4 * scale[:, None]
            for u, d in enumerate(ds.tolist()):
                lo, hi = int(starts[u]), int(starts[u + 1])
                Zu, Rau = Z[lo:hi], Ra[lo:hi]
                acc.V[d] += Zu.T @ Zu
                acc.VR[d] += Rau.T @ Rau
            return
        np.multiply(Z, w[:, None], out=Z)
        Rw = R4 * w[:, None]
        ans_f, has_f = answered.astype(np.float64), has.astype(np.float64)
        for u, d in enumerate(ds.tolist()):
            lo, hi = int(starts[u]), int(starts[u + 1])
            c0 = int(np.searchsorted(self.c_start, a + lo, side="left"))
            c1 = int(np.searchsorted(self.c_start, a + hi, side="left"))
            cb = self.c_start[c0:c1 + 1] - (a + lo)
            Xc = _segment_sums(Z[lo:hi], cb)
            XRc = _segment_sums(Rw[lo:hi], cb)
            cell_answered = _segment_sums(ans_f[lo:hi], cb) > 0
            cell_has = _segment_sums(has_f[lo:hi], cb) > 0
            cell_group = np.searchsorted(self.g_start, cb[:-1] + a + lo, side="right") - 1
            sa = self.sqrt_a_group[cell_group]
            Xa = Xc * sa[:, None]
            acc.V[d] += Xa.T @ Xa
            XRa = XRc * sa[:, None]
            acc.VR[d] += XRa.T @ XRa
            np.add.at(acc.pit, cell_group, cell_answered)
            np.add.at(acc.pset, cell_group, cell_has)
            if acc.cells is not None:
                acc.cells.setdefault(d, []).append((d, self.p_code[cb[:-1] + a + lo], Xc, XRc, cell_answered,
                                                    cell_has))
