"""Confidence intervals for survey proportions and means, and the reliability flags.

Every function here is vectorised: it takes arrays (or scalars) of estimates,
standard errors, sample sizes and degrees of freedom and returns arrays of the
same shape, so a whole table of estimates gets its intervals in one call.

The formulas are those of R's ``survey`` package (Lumley), which the test suite
checks to 1e-9 against frozen R output:

* :func:`logit_ci` is ``svyciprop(method = "logit")``;
* :func:`korn_graubard_ci` is ``svyciprop(method = "beta")`` (Korn and
  Graubard 1998), with the NCHS convention for estimates of 0 or 1;
* :func:`t_ci` is ``confint(svymean(...), df = degf(design))``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["ConfidenceInterval", "t_quantile", "t_ci", "logit_ci", "korn_graubard_ci", "reliability_flags",
           "Flags"]


@dataclass(frozen=True)
class ConfidenceInterval:
    """Lower and upper bound of a confidence interval (NaN when it cannot be computed)."""
    low: float
    high: float


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    return level


def t_quantile(level: float, df) -> np.ndarray:
    """Two-sided t quantile ``qt(1 - alpha/2, df)``; NaN where ``df`` is not positive.

    A design with as many strata as PSUs has no degrees of freedom left to
    estimate its variance: R then returns NaN, and so does this function.
    """
    alpha = 1.0 - _check_level(level)
    df = np.asarray(df, dtype=float)
    inverse = None
    if df.size > 64:   # a table's degrees of freedom take few values: each quantile once (the same numbers)
        shape = df.shape
        df, inverse = np.unique(df, return_inverse=True)
    with np.errstate(invalid="ignore"):
        q = np.where(df > 0, special.stdtrit(np.where(df > 0, df, 1.0), 1.0 - alpha / 2.0), np.nan)
    return q if inverse is None else q[inverse].reshape(shape)


def t_ci(estimate, se, df, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric interval ``estimate ± qt(1 - alpha/2, df) · se``.

    Notes
    -----
    Used for mean scores (on the 1..5 scale and rescaled to 0..100).
    """
    q = t_quantile(level, df)
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    return estimate - q * se, estimate + q * se


def logit_ci(p, se, df, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wald interval on the logit scale, back-transformed.

    Parameters
    ----------
    p, se : array_like
        Estimated proportion and its design-based standard error.
    df : array_like
        Degrees of freedom of the design (PSUs minus strata in the domain).
    level : float, keyword-only
        Confidence level, default 0.95.

    Returns
    -------
    low, high : ndarray
        NaN where ``p`` is 0 or 1 (the logit is infinite), where ``se`` is not
        finite, or where ``df`` is not positive.

    Notes
    -----
    With :math:`q = t_{1-\\alpha/2,\\,df}` and :math:`\\ell = \\log(p/(1-p))`,

    .. math:: \\operatorname{expit}\\Bigl(\\ell \\pm q\\,\\frac{se}{p(1-p)}\\Bigr)

    which is ``svyciprop(~y, design, method = "logit")`` in R's survey package.
    The interval always lies inside (0, 1) and is asymmetric near the bounds.
    """
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    q = t_quantile(level, df)
    ok = np.isfinite(se) & (p > 0) & (p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(ok, p, 0.5)
        centre = np.log(pp / (1.0 - pp))
        half = q * se / (pp * (1.0 - pp))
        low = special.expit(centre - half)
        high = special.expit(centre + half)
    return np.where(ok, low, np.nan), np.where(ok, high, np.nan)


def korn_graubard_ci(p, se, n, df, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Korn–Graubard (1998) interval: Clopper–Pearson on a df-adjusted effective n.

    Parameters
    ----------
    p, se : array_like
        Estimated proportion and its standard error.
    n : array_like
        Number of respondents behind the estimate.
    df : array_like
        Design degrees of freedom.
    level : float, keyword-only
        Confidence level, default 0.95.

    Returns
    -------
    low, high, n_eff : ndarray
        The interval and the effective sample size it used. NaN where the
        interval is undefined (``df`` not positive while 0 < p < 1, or a zero
        variance with 0 < p < 1).

    Notes
    -----
    .. math::

        n^* = \\frac{p(1-p)}{se^2}
              \\left(\\frac{t_{\\alpha/2,\\,n-1}}{t_{\\alpha/2,\\,df}}\\right)^2,\\qquad
        [\\,B^{-1}(\\alpha/2;\\ n^*p,\\ n^*(1-p)+1),\\ \\
           B^{-1}(1-\\alpha/2;\\ n^*p+1,\\ n^*(1-p))\\,]

    This is ``svyciprop(method = "beta")``. When ``p`` is 0 or 1 the variance
    is 0 and R returns NaN; following the NCHS data presentation standard
    (Parker et al. 2017) ``n* = n`` is used instead, so the interval is the
    exact binomial one: ``[0, 1 - (alpha/2)^(1/n)]`` for ``p = 0``.
    """
    alpha = 1.0 - _check_level(level)
    p = np.asarray(p, dtype=float)
    v = np.asarray(se, dtype=float) ** 2
    n = np.asarray(n, dtype=float)
    df = np.asarray(df, dtype=float)
    p, v, n, df = np.broadcast_arrays(p, v, n, df)
    edge = np.isfinite(v) & np.isfinite(p) & ((p <= 0) | (p >= 1))
    inner = np.isfinite(v) & (v > 0) & (p > 0) & (p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        q_n = np.where(n - 1 > 0, special.stdtrit(np.where(n - 1 > 0, n - 1, 1.0), alpha / 2.0), np.nan)
        q_df = np.where(df > 0, special.stdtrit(np.where(df > 0, df, 1.0), alpha / 2.0), np.nan)
        n_eff = np.where(inner, p * (1 - p) / np.where(inner, v, 1.0) * (q_n / q_df) ** 2, np.nan)
    n_eff = np.where(edge, n, n_eff)
    ok = np.isfinite(n_eff) & (n_eff > 0)
    ne = np.where(ok, n_eff, 1.0)
    pp = np.clip(np.where(ok, p, 0.5), 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        low = np.where(pp <= 0, 0.0, special.betaincinv(ne * pp, ne * (1 - pp) + 1, alpha / 2.0))
        high = np.where(pp >= 1, 1.0, special.betaincinv(ne * pp + 1, ne * (1 - pp), 1.0 - alpha / 2.0))
    return np.where(ok, low, np.nan), np.where(ok, high, np.nan), np.where(ok, n_eff, np.nan)


@dataclass(frozen=True)
class Flags:
    """Reliability flags, one boolean array each (see :func:`reliability_flags`)."""
    n_lt_30: np.ndarray
    neff_lt_30: np.ndarray
    cv_gt_30: np.ndarray
    nchs_suppress: np.ndarray
    nchs_review: np.ndarray


def reliability_flags(p, se, n, df, n_eff_var, ci_kg_low, ci_kg_high) -> Flags:
    """Flags that tell a reader an estimate is too uncertain to use as it is.

    Notes
    -----
    With :math:`n_{eff} = \\min(n,\\ p(1-p)/se^2)` and :math:`w` the width of
    the Korn–Graubard interval (NCHS data presentation standards for
    proportions, Parker et al. 2017):

    * ``n_lt_30``: fewer than 30 respondents;
    * ``neff_lt_30``: :math:`n_{eff} < 30`;
    * ``cv_gt_30``: :math:`se/p > 0.30` (or :math:`p = 0`);
    * ``nchs_suppress``: :math:`n_{eff} < 30`, or no interval, or
      :math:`w \\ge 0.30`, or :math:`w > 0.05` and :math:`w/p > 1.30`;
    * ``nchs_review``: :math:`df < 8` or :math:`p \\in \\{0, 1\\}`.
    """
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    n = np.asarray(n, dtype=float)
    df = np.asarray(df, dtype=float)
    width = np.asarray(ci_kg_high, dtype=float) - np.asarray(ci_kg_low, dtype=float)
    n_eff = np.minimum(n, np.asarray(n_eff_var, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative_width = np.where(p > 0, width / np.where(p > 0, p, 1.0), np.nan)
        cv = np.where(p > 0, se / np.where(p > 0, p, 1.0), np.nan)
    has_width = np.isfinite(width)
    return Flags(
        n_lt_30=n < 30,
        neff_lt_30=n_eff < 30,
        cv_gt_30=~np.isnan(p) & ((p == 0) | (cv > 0.30)),
        nchs_suppress=~has_width | (n_eff < 30) | (has_width & (width >= 0.30))
        | (has_width & (width > 0.05) & (p > 0) & (relative_width > 1.30)),
        nchs_review=~np.isfinite(df) | (df < 8) | (p == 0) | (p == 1),
    )
