"""Design-based variance by Taylor linearisation, as R's ``survey`` package computes it.

A :class:`Design` is a stratified sample of primary sampling units (PSUs,
optionally clusters of respondents) drawn with replacement, with a final weight
per respondent that is treated as fixed. Reporting units (districts) are
*domains* of that one design: an estimate for a district uses only its rows,
but the number of PSUs per stratum comes from the whole sample, exactly like
``svyby`` or ``subset(design, ...)`` in R.

The functions :func:`mean`, :func:`proportion` and :func:`ratio` estimate one
quantity for one domain and return a small result object. They are simple and
direct; :func:`analysis.compute_table` computes the same numbers for every
unit, criterion and index at once with a vectorised engine that shares
:func:`stratum_factors` with this module.

References
----------
T. Lumley (2004, 2024). survey: analysis of complex survey samples. R package
4.1: ``svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE)``,
``svymean``, ``svyratio``, ``svyciprop``; ``options(survey.lonely.psu = "adjust")``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .intervals import ConfidenceInterval, korn_graubard_ci, logit_ci, t_ci

__all__ = ["LONELY_PSU", "Design", "Estimate", "stratum_factors", "average_scale", "mean", "proportion", "ratio"]

LONELY_PSU = ("adjust", "remove", "certainty", "average", "fail")
"""How a stratum with a single PSU in the whole sample enters the variance.

``adjust`` (the default, R's ``survey.lonely.psu = "adjust"``): its PSU total is
compared with zero, the grand mean of a linearised estimator, instead of with a
stratum mean that does not exist. ``remove`` and ``certainty``: it adds nothing.
``average`` (R's ``"average"``): it adds nothing, and the domain's variance is
scaled by (strata in the domain) / (those with more than one PSU), i.e. each lonely
stratum is given the average contribution of the others (:func:`average_scale`). ``fail``: refuse to estimate.
"""


def stratum_factors(n_psu, lonely_psu: str = "adjust") -> tuple[np.ndarray, np.ndarray]:
    """Scale factors ``(a_h, b_h)`` of each stratum's variance contribution.

    Parameters
    ----------
    n_psu : array_like of int
        Number of PSUs in each stratum in the *whole* sample.
    lonely_psu : {"adjust", "remove", "certainty", "average", "fail"}
        Treatment of strata with one PSU.

    Returns
    -------
    a, b : ndarray
        With :math:`X_{hc}` the total of the linearised variable over PSU *c* of
        stratum *h* (zero for PSUs with no row in the domain), the stratum adds
        :math:`a_h \\sum_c X_{hc}^2 - b_h (\\sum_c X_{hc})^2` to the variance.

    Notes
    -----
    For :math:`n_h > 1`, :math:`a_h = n_h/(n_h-1)` and :math:`b_h = 1/(n_h-1)`,
    which is :math:`\\frac{n_h}{n_h-1}\\sum_c (X_{hc}-\\bar X_h)^2` with the mean
    over all :math:`n_h` PSUs of the stratum (``survey:::onestrat``). A lonely PSU
    under ``adjust`` gives :math:`a_h = 1, b_h = 0`.
    """
    if lonely_psu not in LONELY_PSU:
        raise ValueError(f"lonely_psu must be one of {', '.join(LONELY_PSU)}; got {lonely_psu!r}")
    n = np.asarray(n_psu, dtype=float)
    many = n > 1
    with np.errstate(divide="ignore"):
        a = np.where(many, n / np.where(many, n - 1, 1.0), 1.0 if lonely_psu == "adjust" else 0.0)
        b = np.where(many, 1.0 / np.where(many, n - 1, 1.0), 0.0)
    return a, b


def average_scale(n_psu, present) -> float:
    """``lonely_psu="average"``: the factor (strata in the domain) / (those with more than one PSU) that
    the domain's variance is multiplied by (``survey:::onestage``: ``nstrat / nokstrat`` over the
    strata with rows in the domain); NaN when every stratum of the domain is lonely."""
    present = np.asarray(present, dtype=bool)
    ok = np.count_nonzero(present & (np.asarray(n_psu) > 1))
    return np.count_nonzero(present) / ok if ok else math.nan


def _codes(values, what: str, n: int) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(f"{what} must have one value per respondent ({n}), got shape {values.shape}")
    _, codes = np.unique(values, return_inverse=True)
    return codes.reshape(n)


@dataclass(frozen=True, eq=False)
class Design:
    """A stratified, optionally clustered, with-replacement sample with fixed weights.

    Build one with :meth:`from_columns`. Attributes are arrays with one entry per
    respondent (``weights``, ``stratum``, ``psu``) or per stratum (``n_psu``).
    """
    weights: np.ndarray
    stratum: np.ndarray
    psu: np.ndarray
    n_psu: np.ndarray
    clustered: bool
    lonely_psu: str = "adjust"

    @classmethod
    def from_columns(cls, weights, *, strata=None, psu=None, lonely_psu: str = "adjust") -> "Design":
        """Describe a design from per-respondent columns.

        Parameters
        ----------
        weights : array_like
            Final weights, finite and > 0.
        strata : array_like, optional
            Stratum of each respondent (any hashable labels). Default: one stratum.
        psu : array_like, optional
            Cluster of each respondent, nested in strata (the same label in two
            strata is two PSUs, as with ``nest = TRUE``). Default: each
            respondent is its own PSU.
        lonely_psu : {"adjust", "remove", "certainty", "average", "fail"}, keyword-only
            See :data:`LONELY_PSU`.
        """
        w = np.asarray(weights, dtype=float)
        if w.ndim != 1 or w.size == 0:
            raise ValueError("weights must be a non-empty one-dimensional array")
        bad = np.flatnonzero(~np.isfinite(w) | (w <= 0))
        if bad.size:
            raise ValueError(f"weights must be finite and > 0; row {bad[0]} has {w[bad[0]]!r}")
        n = w.size
        h = np.zeros(n, dtype=np.intp) if strata is None else _codes(strata, "strata", n)
        if psu is None:
            c = np.arange(n)
            clustered = False
        else:
            p = _codes(psu, "psu", n)
            _, c = np.unique(h.astype(np.int64) * (int(p.max()) + 1) + p, return_inverse=True)
            c = c.reshape(n)
            clustered = True
        first = np.zeros(int(c.max()) + 1, dtype=np.intp)
        first[c] = h
        n_psu = np.bincount(first, minlength=int(h.max()) + 1)
        stratum_factors(n_psu, lonely_psu)  # validates lonely_psu
        return cls(w, h, c, n_psu, clustered, lonely_psu)

    @property
    def n(self) -> int:
        return self.weights.size

    def _domain(self, domain) -> np.ndarray:
        if domain is None:
            return np.ones(self.n, dtype=bool)
        d = np.asarray(domain, dtype=bool)
        if d.shape != (self.n,):
            raise ValueError(f"domain must be a boolean array with one value per respondent ({self.n})")
        return d

    def total_variance(self, x, *, domain=None) -> np.ndarray:
        """Variance of the weighted total :math:`\\sum_i w_i x_i` over a domain.

        Parameters
        ----------
        x : array_like, shape (n,) or (n, k)
            Linearised (influence) values per respondent; rows outside the
            domain are ignored.
        domain : array_like of bool, optional
            The respondents in the domain. Default: everyone.

        Returns
        -------
        float or ndarray of shape (k,)

        Notes
        -----
        :math:`\\sum_h a_h \\sum_c X_{hc}^2 - b_h (\\sum_c X_{hc})^2` with
        :math:`X_{hc} = \\sum_{i \\in c,\\, i \\in D} w_i x_i` (see
        :func:`stratum_factors`); this is ``survey:::svyrecvar`` for a
        one-stage design.
        """
        d = self._domain(domain)
        x = np.asarray(x, dtype=float)
        one = x.ndim == 1
        x2 = x.reshape(self.n, -1)
        wx = np.where(d[:, None], x2 * self.weights[:, None], 0.0)
        n_units = int(self.psu.max()) + 1
        X = np.stack([np.bincount(self.psu, wx[:, k], minlength=n_units) for k in range(wx.shape[1])], axis=1)
        psu_stratum = np.zeros(n_units, dtype=np.intp)
        psu_stratum[self.psu] = self.stratum
        present = np.zeros(n_units, dtype=bool)
        present[self.psu[d]] = True
        h_present = np.zeros(self.n_psu.size, dtype=bool)
        h_present[psu_stratum[present]] = True
        if self.lonely_psu == "fail" and np.any(h_present & (self.n_psu == 1)):
            raise ValueError("a stratum has a single PSU (lonely_psu='fail')")
        a, b = stratum_factors(self.n_psu, self.lonely_psu)
        H = self.n_psu.size
        S = np.stack([np.bincount(psu_stratum, X[:, k] ** 2, minlength=H) for k in range(X.shape[1])], axis=1)
        T = np.stack([np.bincount(psu_stratum, X[:, k], minlength=H) for k in range(X.shape[1])], axis=1)
        v = (a[:, None] * S - b[:, None] * T ** 2).sum(axis=0)
        if self.lonely_psu == "average":
            v = v * average_scale(self.n_psu, h_present)
        return float(v[0]) if one else v

    def degrees_of_freedom(self, *, domain=None) -> int:
        """PSUs with a row in the domain minus strata with a row in it (``degf``)."""
        d = self._domain(domain)
        return int(np.unique(self.psu[d]).size - np.unique(self.stratum[d]).size)


@dataclass(frozen=True)
class Estimate:
    """One design-based estimate.

    Attributes
    ----------
    estimate, se : float
        The estimate and its standard error.
    ci : ConfidenceInterval
        At ``level``, by ``method`` (``"t"``, ``"logit"`` or ``"beta"``).
    df : int
        Design degrees of freedom in the domain.
    n : int
        Respondents behind the estimate (domain and answered).
    sum_w : float
        Their total weight.
    deff : float
        Design effect against simple random sampling with replacement
        (``deff = "replace"`` in R).
    """
    estimate: float
    se: float
    ci: ConfidenceInterval
    df: int
    n: int
    sum_w: float
    deff: float
    method: str
    level: float


def _subset(y, design: Design, domain) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    if y.shape != (design.n,):
        raise ValueError(f"values must have one entry per respondent ({design.n}), got shape {y.shape}")
    keep = design._domain(domain) & ~np.isnan(y)
    if not keep.any():
        raise ValueError("no respondent in the domain has a value")
    return y, keep


def _srs_deff(v: float, z: np.ndarray, w: np.ndarray, keep: np.ndarray) -> float:
    # survey 4.1, svytotal(deff = "replace"): var(z) * (sum w)^2 / n, var = svyvar
    n = int(keep.sum())
    W = w[keep].sum()
    zbar = (w[keep] * z[keep]).sum() / W
    vsrs = W * (w[keep] * (z[keep] - zbar) ** 2).sum() / (n - 1) if n > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(v) / vsrs)


def mean(y, design: Design, *, domain=None, level: float = 0.95) -> Estimate:
    """Weighted mean of ``y`` over a domain, with a t interval.

    Parameters
    ----------
    y : array_like
        One value per respondent; NaN is a missing answer (left out: the
        domain becomes "domain and answered", per-item available case).
    design : Design
    domain : array_like of bool, optional
    level : float, keyword-only

    Notes
    -----
    :math:`\\hat\\mu = \\sum w y / \\sum w`, linearised as
    :math:`z_i = (y_i - \\hat\\mu)/\\sum w`. This is ``svymean``.
    """
    y, keep = _subset(y, design, domain)
    w = design.weights
    W = w[keep].sum()
    mu = (w[keep] * y[keep]).sum() / W
    z = np.where(keep, (np.where(keep, y, 0.0) - mu) / W, 0.0)
    v = design.total_variance(z, domain=keep)
    df = design.degrees_of_freedom(domain=keep)
    se = float(np.sqrt(v))
    low, high = t_ci(mu, se, df, level=level)
    return Estimate(float(mu), se, ConfidenceInterval(float(low), float(high)), df, int(keep.sum()), float(W),
                    _srs_deff(v, z, w, keep), "t", level)


def proportion(y, design: Design, *, domain=None, level: float = 0.95, method: str = "logit") -> Estimate:
    """Weighted share of respondents with ``y`` true (1), with a logit or Korn–Graubard interval.

    Parameters
    ----------
    y : array_like
        0/1 (or boolean) per respondent; NaN is a missing answer.
    design : Design
    domain : array_like of bool, optional
    level : float, keyword-only
    method : {"logit", "beta"}, keyword-only
        ``svyciprop`` method: logit (default) or Korn–Graubard ("beta").
    """
    if method not in ("logit", "beta"):
        raise ValueError(f"method must be 'logit' or 'beta', got {method!r}")
    y = np.asarray(y, dtype=float)
    values = y[~np.isnan(y)]
    if np.any((values != 0) & (values != 1)):
        raise ValueError("a proportion needs 0/1 values (or NaN for missing)")
    m = mean(y, design, domain=domain, level=level)
    if method == "logit":
        low, high = logit_ci(m.estimate, m.se, m.df, level=level)
    else:
        low, high, _ = korn_graubard_ci(m.estimate, m.se, m.n, m.df, level=level)
    return Estimate(m.estimate, m.se, ConfidenceInterval(float(low), float(high)), m.df, m.n, m.sum_w, m.deff,
                    method, level)


def ratio(numerator, denominator, design: Design, *, domain=None, level: float = 0.95) -> Estimate:
    """Ratio of weighted totals :math:`\\hat R = \\sum w a / \\sum w k` with a t interval.

    Rows whose denominator is 0 are outside the domain (as in the table, where
    the POOLED index uses respondents who answered at least one criterion).

    Notes
    -----
    Linearised as :math:`z_i = (a_i - \\hat R k_i) / \\sum w k` (``svyratio``).
    """
    a = np.asarray(numerator, dtype=float)
    k = np.asarray(denominator, dtype=float)
    if a.shape != (design.n,) or k.shape != (design.n,):
        raise ValueError(f"numerator and denominator need one value per respondent ({design.n})")
    keep = design._domain(domain) & (k != 0) & ~np.isnan(a) & ~np.isnan(k)
    if not keep.any():
        raise ValueError("no respondent in the domain has a non-zero denominator")
    w = design.weights
    X = (w[keep] * k[keep]).sum()
    R = (w[keep] * a[keep]).sum() / X
    z = np.where(keep, (np.where(keep, a, 0.0) - R * np.where(keep, k, 0.0)) / X, 0.0)
    v = design.total_variance(z, domain=keep)
    df = design.degrees_of_freedom(domain=keep)
    se = float(np.sqrt(v))
    low, high = t_ci(R, se, df, level=level)
    return Estimate(float(R), se, ConfidenceInterval(float(low), float(high)), df, int(keep.sum()),
                    float(w[keep].sum()), _srs_deff(v, z, w, keep), "t", level)
