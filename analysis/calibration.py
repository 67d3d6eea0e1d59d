"""The calibration (g-weight residual) variance after post-stratification or raking, in the engine's terms.

R's ``survey`` (``svyrecvar``) computes the variance of an estimate from a calibrated design by
replacing each respondent's linearised value ``z_i`` by its residual from the calibration model
before the usual stratified sum of squares:

* ``calibrate()`` (any ``calfun``, e.g. raking): ``e_i = z_i - m_i' B`` with ``m_i`` the
  respondent's margin indicators and ``B`` the least-squares fit of ``z`` on ``m`` weighted by the
  design weights *before* calibration, over the whole sample (``qr.resid(qr(mm * sqrt(d)), ...)``);
* ``postStratify()``: ``e_i = z_i - mean(z)`` over the respondent's cell, an *unweighted* mean
  (``x - psw * ave(x / psw, cell)``).

For a domain (a unit) ``z`` is zero outside it, so rows of other units get residuals too. Every
estimate of the engine is ``z_i = gamma' x_i`` for the domain's features ``x_i``, so the residuals
are ``gamma' (x_i 1[i in d] - C' m_i)`` with ``C = Q^+ S1_d``, ``Q = sum r m m'``,
``S1_d = sum_{i in d} r m x'`` (``r`` = design weight, or 1 for post-stratification), and the
stratified sum of squares becomes, with each respondent its own PSU::

    V_cal = V - C' S2 - S2' C + C' Gm C,   T_cal[h] = T[h] - M[h] C

``S2 = sum_{i in d} a_h w^2 m x'``, ``Gm = sum_i a_h w^2 m m'``, ``M[h] = sum_{i in h} w m``. The pass
over the rows adds ``S1`` and ``S2`` per unit (a few cells per unit); the rest is small algebra.
"""
from __future__ import annotations

import numpy as np

from .inputs import Calibration


class CalibrationSums:
    """Whole-sample matrices of the calibration model and the per-unit cross sums of the pass."""

    def __init__(self, cal: Calibration, perm: np.ndarray | None, w_sorted: np.ndarray, a_row: np.ndarray,
                 h_sorted: np.ndarray, H: int):
        margins = [m if perm is None else m[perm] for m in cal.margins]
        sizes = [int(m.max()) + 1 for m in margins]
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        self.p = int(sum(sizes))
        self.cols = np.stack([m + o for m, o in zip(margins, offsets)], axis=1)       # (n, K), sorted rows
        if cal.kind == "calibrate":
            self.r = cal.design_weights if perm is None else cal.design_weights[perm]
        else:
            self.r = np.ones(w_sorted.size)
        self.aw2 = a_row * w_sorted ** 2
        p, K = self.p, self.cols.shape[1]
        Q = np.zeros(p * p)
        Gm = np.zeros(p * p)
        for k in range(K):
            for l in range(K):
                pair = self.cols[:, k] * p + self.cols[:, l]
                Q += np.bincount(pair, self.r, minlength=p * p)
                Gm += np.bincount(pair, self.aw2, minlength=p * p)
        Q, self.Gm = Q.reshape(p, p), Gm.reshape(p, p)
        # the projection on the margins' span is unique even though the indicator columns are dependent
        self.Qpinv = np.linalg.pinv(Q, rcond=1e-12, hermitian=True)
        M = np.zeros((H, p))
        for k in range(K):
            np.add.at(M, (h_sorted, self.cols[:, k]), w_sorted)
        # C = Q^+[:, u] S1 enters only through these products (so each unit costs a few small products)
        self.K = self.Qpinv @ self.Gm @ self.Qpinv          # C' Gm C = S1' K[u, u] S1
        self.MQ = M @ self.Qpinv                             # M C = MQ[:, u] S1
        self.parts: dict[int, list] = {}

    def add(self, d: int, a: int, b: int, Z: np.ndarray, R: np.ndarray) -> None:
        """Rows a:b (sorted order) of unit d with centred features Z (m, F) and respondent features R."""
        cols = self.cols[a:b]
        r, aw2 = self.r[a:b, None], self.aw2[a:b, None]
        X = np.concatenate([Z, R], axis=1)
        for k in range(cols.shape[1]):
            u, inv = np.unique(cols[:, k], return_inverse=True)
            E = np.zeros((b - a, u.size))
            E[np.arange(b - a), inv.reshape(-1)] = 1.0
            self.parts.setdefault(d, []).append((u, E.T @ (r * X), E.T @ (aw2 * X)))

    def unit(self, d: int, F: int):
        """(cells, S1, S2) of unit d, split into engine features (F) and respondent features."""
        parts = self.parts.get(d, [])
        if not parts:
            return None
        u = np.unique(np.concatenate([q[0] for q in parts]))
        S1 = np.zeros((u.size, parts[0][1].shape[1]))
        S2 = np.zeros_like(S1)
        for cells, s1, s2 in parts:
            idx = np.searchsorted(u, cells)
            S1[idx] += s1
            S2[idx] += s2
        return u, S1, S2

    def adjust(self, u: np.ndarray, S1: np.ndarray, S2: np.ndarray, V: np.ndarray, T_strata: np.ndarray):
        """The calibrated Gram matrix and stratum totals of one feature set (see the module docstring)."""
        Cu = self.Qpinv[np.ix_(u, u)] @ S1                           # C's rows of the unit's cells
        CS = Cu.T @ S2
        V_cal = V - CS - CS.T + S1.T @ (self.K[np.ix_(u, u)] @ S1)
        return V_cal, T_strata - self.MQ[:, u] @ S1
