"""Small-area estimates for reporting units: the area-level Fay–Herriot model.

A city of 168 wards cannot afford a large sample in each ward, so most direct
ward estimates have wide intervals. The Fay–Herriot model borrows strength
from the other wards through covariates known for every ward::

    y_i = x_i' beta + u_i + e_i,    u_i ~ N(0, A),    e_i ~ N(0, D_i)

``y_i`` is the direct (design-based) estimate of ward *i*, ``D_i`` its
sampling variance (the square of its design-based SE, treated as known),
``x_i`` the ward's covariates and ``A`` the between-ward variance left after the
covariates. The best linear unbiased predictor of ``theta_i = x_i' beta + u_i``
is a weighted mean of the direct estimate and the regression ("synthetic")
estimate::

    theta_i = gamma_i y_i + (1 - gamma_i) x_i' beta,    gamma_i = A / (A + D_i)

so a ward with a precise direct estimate keeps it, and a ward with a noisy one
is pulled towards what wards like it score. With ``A`` and ``beta`` estimated
this is the EBLUP.

* :func:`fit` estimates ``A`` by maximum likelihood (``method="ML"``, equal to
  ``nlme::lme(y ~ x, random = ~ 1 | ward, weights = varFixed(~ D),
  method = "ML", control = lmeControl(sigma = 1))``) or by residual maximum
  likelihood (``"REML"``, the default: the maximum of the closed-form restricted
  log-likelihood below; ``lme``'s REML with sigma fixed is *not* this maximum).
* MSE: Prasad–Rao ``g1 + g2 + 2 g3`` for REML; Datta–Lahiri's for ML, which adds
  the ML bias correction of ``A``.
* :func:`benchmark` shifts every ward by the same amount so that the
  population-weighted mean of the wards equals the city's direct estimate.
* ``direct_preferred`` flags wards whose direct estimate is at least as
  precise as the small-area one (its ``D_i`` <= the estimated MSE).

References: Fay & Herriot (1979); Prasad & Rao (1990); Datta & Lahiri (2000);
Rao & Molina, *Small Area Estimation*, 2nd ed. (2015), chapter 6.
"""
from __future__ import annotations

import csv
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import optimize, stats

__all__ = ["FayHerriot", "fit", "loglik", "benchmark", "read_covariates", "design_matrix", "SAE_COLUMNS",
           "small_area_table"]

METHODS = ("REML", "ML")


# ----------------------------------------------------------------------------- likelihoods

def _gls(A: float, y: np.ndarray, X: np.ndarray, D: np.ndarray):
    V = A + D
    Xw = X / V[:, None]
    XtVX = X.T @ Xw
    beta = np.linalg.solve(XtVX, Xw.T @ y)
    r = y - X @ beta
    return V, XtVX, beta, r


def loglik(A: float, y, X, D, *, method: str = "REML") -> float:
    """The Fay–Herriot log-likelihood at ``A`` with ``beta`` profiled out (constants included).

    ML: ``-1/2 [m log 2 pi + sum log V_i + sum r_i^2 / V_i]``; REML (restricted, Patterson–Thompson /
    Harville): ``-1/2 [(m - p) log 2 pi + sum log V_i + log |X'V^-1 X| - log |X'X| + r'V^-1 r]`` with
    ``V_i = A + D_i`` and ``r = y - X beta_GLS(A)``.
    """
    y, X, D = np.asarray(y, float), np.asarray(X, float), np.asarray(D, float)
    V, XtVX, _, r = _gls(float(A), y, X, D)
    m, p = X.shape
    q = float(np.sum(r * r / V))
    if method == "ML":
        return -0.5 * (m * math.log(2 * math.pi) + np.sum(np.log(V)) + q)
    if method != "REML":
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    return -0.5 * ((m - p) * math.log(2 * math.pi) + np.sum(np.log(V)) + np.linalg.slogdet(XtVX)[1]
                   - np.linalg.slogdet(X.T @ X)[1] + q)


def _score(A: float, y, X, D, method: str) -> float:
    """d loglik / dA."""
    V, XtVX, _, r = _gls(A, y, X, D)
    if method == "ML":
        return 0.5 * (np.sum(r * r / V ** 2) - np.sum(1.0 / V))
    # REML: -1/2 tr(P) + 1/2 y'P P y, P y = V^-1 r
    Vi = 1.0 / V
    Xw = X * Vi[:, None]
    tr_p = np.sum(Vi) - np.trace(np.linalg.solve(XtVX, Xw.T @ Xw))
    return 0.5 * (np.sum((r * Vi) ** 2) - tr_p)


def _scores(grid: np.ndarray, y, X, D, method: str) -> np.ndarray:
    """:func:`_score` at every value of ``grid`` at once."""
    Vi = 1.0 / (grid[:, None] + D[None, :])                       # (G, m)
    XtVX = np.einsum("gi,ij,ik->gjk", Vi, X, X)
    beta = np.linalg.solve(XtVX, np.einsum("gi,ij,i->gj", Vi, X, y)[..., None])[..., 0]
    r = y[None, :] - beta @ X.T
    if method == "ML":
        return 0.5 * (np.sum((r * Vi) ** 2, axis=1) - np.sum(Vi, axis=1))
    XtV2X = np.einsum("gi,ij,ik->gjk", Vi ** 2, X, X)
    tr_p = np.sum(Vi, axis=1) - np.trace(np.linalg.solve(XtVX, XtV2X), axis1=1, axis2=2)
    return 0.5 * (np.sum((r * Vi) ** 2, axis=1) - tr_p)


def _maximise(y, X, D, method: str) -> tuple[float, bool]:
    """A >= 0 maximising the (restricted) likelihood: the largest-likelihood root of the score on a
    bracketing grid, or 0 (boundary). Returns (A, converged)."""
    spread = float(np.var(y)) + float(np.max(D))
    upper = max(spread, 1e-12) * 100.0
    grid = np.concatenate(([0.0], np.geomspace(max(spread, 1e-12) * 1e-8, upper, 120)))
    s = _scores(grid, y, X, D, method)
    candidates = [0.0] if s[0] <= 0 else []
    for i in range(grid.size - 1):
        if s[i] > 0 and s[i + 1] <= 0:
            candidates.append(optimize.brentq(_score, grid[i], grid[i + 1], args=(y, X, D, method),
                                              xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))
    if not candidates:          # the likelihood still rises at the upper end: no finite maximum
        return upper, False
    values = [loglik(a, y, X, D, method=method) for a in candidates]
    return float(candidates[int(np.argmax(values))]), True


# ----------------------------------------------------------------------------- the fit

@dataclass
class FayHerriot:
    """A fitted Fay–Herriot model and its small-area estimates (arrays in the order of the input areas).

    ``in_model`` marks the areas the model was fitted on (a direct estimate with a sampling variance
    > 0); the others get the synthetic estimate ``x_i' beta`` with MSE ``A + x_i' Var(beta) x_i``.
    """
    method: str
    A: float
    beta: np.ndarray
    beta_cov: np.ndarray        # (X'V^-1 X)^-1
    loglik: float
    converged: bool
    y: np.ndarray
    D: np.ndarray
    X: np.ndarray
    in_model: np.ndarray
    gamma: np.ndarray
    synthetic: np.ndarray
    eblup: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    g3: np.ndarray
    mse: np.ndarray
    names: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(self.mse)

    @property
    def direct_preferred(self) -> np.ndarray:
        """The direct estimate is at least as precise as the EBLUP (D_i <= MSE_i)."""
        return self.in_model & (self.D <= self.mse)


def fit(y, D, X=None, *, method: str = "REML", names: Sequence[str] = ()) -> FayHerriot:
    """Fit the Fay–Herriot model and compute EBLUPs and their MSE.

    Parameters
    ----------
    y : array_like (m,)
        Direct estimates; NaN for areas without one (they get synthetic estimates).
    D : array_like (m,)
        Sampling variances of the direct estimates (SE squared), treated as known. Areas with
        ``D`` NaN or <= 0 are left out of the fit (a zero variance, e.g. every respondent satisfied,
        is not a credible "known" variance) and get synthetic estimates.
    X : array_like (m, p), optional
        Covariates including the intercept column; default: intercept only (every ward shrinks
        towards the precision-weighted city mean).
    method : {"REML", "ML"}, keyword-only

    Raises
    ------
    ValueError
        Fewer areas in the model than covariates + 2, covariates that are not of full rank among the
        areas in the model, non-finite covariates.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    y = np.asarray(y, dtype=float)
    D = np.asarray(D, dtype=float)
    m = y.size
    X = np.ones((m, 1)) if X is None else np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != m or D.shape != (m,):
        raise ValueError(f"y ({m}), D {D.shape} and X {X.shape} must have one row per area")
    if not np.all(np.isfinite(X)):
        raise ValueError("covariates must be finite numbers for every area")
    ok = np.isfinite(y) & np.isfinite(D) & (D > 0)
    p = X.shape[1]
    if ok.sum() < p + 2:
        raise ValueError(f"{int(ok.sum())} area(s) with a direct estimate and a sampling variance > 0: too few "
                         f"to fit {p} coefficient(s) and a variance")
    Xo, yo, Do = X[ok], y[ok], D[ok]
    if np.linalg.matrix_rank(Xo) < p:
        raise ValueError("the covariates are collinear among the areas with direct estimates "
                         "(e.g. a category present in no sampled area): drop or merge columns")
    A, converged = _maximise(yo, Xo, Do, method)
    V, XtVX, beta, _ = _gls(A, yo, Xo, Do)
    cov = np.linalg.inv(XtVX)
    ll = loglik(A, yo, Xo, Do, method=method)
    synthetic = X @ beta
    Dz = np.where(ok, D, np.nan)
    Vall = A + Dz
    gamma = np.where(ok, A / np.where(ok, Vall, 1.0), 0.0)
    eblup = np.where(ok, gamma * np.where(ok, y, 0.0) + (1 - gamma) * synthetic, synthetic)
    xcx = np.einsum("ij,jk,ik->i", X, cov, X)
    # Var(A-hat): inverse Fisher information, 2 / sum V^-2 (the same to first order for ML and REML)
    var_A = 2.0 / np.sum(1.0 / V ** 2)
    g1 = np.where(ok, gamma * np.where(ok, D, 0.0), A)
    g2 = np.where(ok, (1 - gamma) ** 2 * xcx, xcx)
    g3 = np.where(ok, np.where(ok, D, 0.0) ** 2 / np.where(ok, Vall, 1.0) ** 3 * var_A, 0.0)
    mse = g1 + g2 + 2 * g3
    notes = []
    if method == "ML":
        # Datta & Lahiri (2000): the ML estimator of A has bias b = -tr[(X'V^-1X)^-1 X'V^-2 X] / sum V^-2,
        # so g1(A-hat) is too small on average by b dg1/dA = b (D_i / V_i)^2: add it back
        Xw2 = Xo / V[:, None] ** 2
        underestimate = np.trace(cov @ (Xo.T @ Xw2)) / np.sum(1.0 / V ** 2)
        mse = mse + np.where(ok, (np.where(ok, D, 0.0) / np.where(ok, Vall, 1.0)) ** 2 * underestimate, 0.0)
    if A == 0.0:
        notes.append("the between-area variance is estimated as 0: every area gets the regression (synthetic) "
                     "estimate")
    if not converged:
        notes.append("WARNING: the likelihood has no finite maximum in A; the fit is unreliable")
    return FayHerriot(method, float(A), beta, cov, float(ll), converged, y, D, X, ok, gamma, synthetic, eblup,
                      g1, g2, g3, mse, tuple(names), notes)


def benchmark(estimates, shares, total: float) -> np.ndarray:
    """Shift every estimate by the same amount so that ``sum(shares * estimates) == total``.

    ``shares`` are the areas' population shares (normalised here). The difference benchmark keeps the
    areas' order and their differences; the MSE is reported for the unbenchmarked EBLUP (the
    shift is small when the model fits; see docs/analysis.md).
    """
    est = np.asarray(estimates, dtype=float)
    s = np.asarray(shares, dtype=float)
    s = s / s.sum()
    return est + (total - float(s @ est))


# ----------------------------------------------------------------------------- covariates

def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def read_covariates(path, *, key: str | None = None, columns: Sequence[str] | None = None
                    ) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Read a CSV of area covariates: one row per area, a key column (``ward``, ``unit``, ``district`` or
    ``slug``; or ``key``) and covariate columns (all others, or ``columns``).

    Returns ``({area: {column: text}}, covariate column names)``; keys are NFC-normalised.
    """
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [_nfc(h) for h in next(reader, [])]
        rows = list(reader)
    if not header:
        raise ValueError(f"{path}: empty covariates file")
    if key is None:
        key = next((k for k in ("ward", "unit", "district", "slug") if k in header), None)
        if key is None:
            raise ValueError(f"{path}: no key column (ward, unit, district or slug) in the header "
                             f"{', '.join(header)}")
    elif key not in header:
        raise ValueError(f"{path}: no column {key!r}")
    ki = header.index(key)
    cols = [c for c in header if c != key] if columns is None else list(columns)
    for c in cols:
        if c not in header:
            raise ValueError(f"{path}: no covariate column {c!r} (columns: {', '.join(header)})")
    out: dict[str, dict[str, str]] = {}
    for line, r in enumerate(rows, start=2):
        if not any(x.strip() for x in r):
            continue
        if len(r) != len(header):
            raise ValueError(f"{path}, line {line}: {len(r)} fields, the header has {len(header)}")
        area = _nfc(r[ki])
        if not area:
            raise ValueError(f"{path}, line {line}: empty {key}")
        if area in out:
            raise ValueError(f"{path}, line {line}: {key} {area!r} appears twice")
        out[area] = {c: r[header.index(c)].strip() for c in cols}
    return out, cols


def design_matrix(areas: Sequence[str], covariates: dict[str, dict[str, str]], columns: Sequence[str]
                  ) -> tuple[np.ndarray, list[str]]:
    """The model matrix: intercept, numeric columns as they are, text columns as 0/1 indicators of each
    category but the first (sorted). Every area must be in ``covariates`` with every value present."""
    missing = [a for a in areas if a not in covariates]
    if missing:
        raise ValueError(f"no covariates for {len(missing)} area(s): {', '.join(missing[:5])}"
                         + (" ..." if len(missing) > 5 else ""))
    X = [np.ones(len(areas))]
    names = ["(Intercept)"]
    for c in columns:
        values = [covariates[a][c] for a in areas]
        empty = [a for a, v in zip(areas, values) if v == ""]
        if empty:
            raise ValueError(f"covariate {c!r} is empty for {', '.join(empty[:5])}")
        try:
            X.append(np.array([float(v) for v in values]))
            names.append(c)
        except ValueError:
            cats = sorted(set(values))
            for cat in cats[1:]:
                X.append(np.array([v == cat for v in values], dtype=float))
                names.append(f"{c}={cat}")
    return np.column_stack(X), names


# ----------------------------------------------------------------------------- the table columns

SAE_COLUMNS = ("sae_est", "sae_se", "sae_ci_l", "sae_ci_u", "sae_direct_weight", "sae_synthetic",
               "sae_benchmarked", "sae_direct_preferred", "sae_rank", "sae_rank_best", "sae_rank_worst")
"""Columns ``indices --sae`` adds (on the district rows of the small-area measure, empty elsewhere):
the EBLUP, its root MSE, a normal interval ``est +- z sqrt(MSE)``, gamma (the weight of the direct
estimate), the synthetic estimate, the benchmarked EBLUP, the direct-preferred flag, and the rank
by the benchmarked EBLUP with its range (as :func:`analysis.judgements.rank_with_range`)."""


def small_area_table(table, *, measure: str = "INDEX:ITEM_AVG", covariates: dict | None = None,
                     columns: Sequence[str] = (), method: str = "REML", population: dict | None = None,
                     level: float | None = None):
    """Add :data:`SAE_COLUMNS` to an :class:`~analysis.table.IndexTable` (a new table is returned) and
    return it with the fit.

    ``population``: district -> population (benchmark shares); default the sum of weights. The city's
    direct estimate is the ``ALL`` row of ``measure`` when the table has one, else the share-weighted
    mean of the direct estimates.
    """
    from .judgements import rank_with_range
    from .table import IndexTable

    cols = table.columns
    level = table.level if level is None or math.isnan(level) else level
    if level is None or not 0 < level < 1 or math.isnan(level):
        level = 0.95
    sel = np.flatnonzero((cols["level"] == "district") & (cols["measure"] == measure))
    if sel.size == 0:
        raise ValueError(f"no district rows for measure {measure!r}")
    areas = [str(d) for d in cols["district"][sel]]
    y = cols["p"][sel].astype(float)
    D = cols["se"][sel].astype(float) ** 2
    other_items = cols["flag_items_missing"][sel].astype(bool) if "flag_items_missing" in cols else \
        np.zeros(sel.size, dtype=bool)
    y[other_items] = np.nan        # an index over fewer criteria is not the same quantity: synthetic there
    if covariates is not None and columns:
        X, xnames = design_matrix(areas, covariates, columns)
    else:
        X, xnames = np.ones((len(areas), 1)), ["(Intercept)"]
    model = fit(y, D, X, method=method, names=areas)
    shares = np.array([(population or {}).get(a, np.nan) for a in areas], dtype=float) if population else \
        cols["sum_w"][sel].astype(float)
    if not np.all(np.isfinite(shares)) or np.any(shares < 0):
        shares = cols["sum_w"][sel].astype(float)
    overall = np.flatnonzero((cols["level"] == "overall") & (cols["measure"] == measure))
    total = float(cols["p"][overall[0]]) if overall.size else float((shares / shares.sum()) @ np.nan_to_num(y))
    bench = benchmark(model.eblup, shares, total)
    z = stats.norm.ppf(0.5 + level / 2)
    se = model.se
    lo, hi = bench - z * se, bench + z * se
    rank, best, worst = (np.full(sel.size, np.nan) for _ in range(3))
    ok = ~other_items
    rank[ok], best[ok], worst[ok] = rank_with_range(bench[ok], lo[ok], hi[ok])
    n = len(table)
    new = {c: np.full(n, np.nan) for c in SAE_COLUMNS}
    new["sae_direct_preferred"] = np.zeros(n, dtype=bool)
    new["sae_est"][sel] = model.eblup
    new["sae_se"][sel] = se
    new["sae_ci_l"][sel], new["sae_ci_u"][sel] = lo, hi
    new["sae_direct_weight"][sel] = model.gamma
    new["sae_synthetic"][sel] = model.synthetic
    new["sae_benchmarked"][sel] = bench
    new["sae_direct_preferred"][sel] = model.direct_preferred
    new["sae_rank"][sel], new["sae_rank_best"][sel], new["sae_rank_worst"][sel] = rank, best, worst
    notes = list(table.notes) + [
        f"small-area estimates ({measure}): Fay-Herriot, {method}, {len(areas)} unit(s) "
        f"({int(model.in_model.sum())} in the model), covariates: {', '.join(xnames)}; "
        f"between-unit variance A = {model.A:.6g}; benchmarked to the city's direct estimate {total:.6g} "
        f"(shift {bench[0] - model.eblup[0]:+.3g}); direct estimate preferred for "
        f"{int(model.direct_preferred.sum())} unit(s)"] + model.notes
    out = IndexTable({**cols, **new}, table.level, tuple(notes))
    out.sae = model
    out.sae_covariate_names = xnames
    return out, model
