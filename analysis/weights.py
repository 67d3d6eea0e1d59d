"""Respondent weights: design weights, post-stratification and raking to population margins.

All three take per-respondent arrays and population totals keyed by category,
and refuse what cannot be weighted with a message that names the margin and the
cell: a cell with population but no respondent, a missing or non-positive
population, a respondent whose category no cell covers.

References
----------
Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a
sampled frequency table when the expected marginal totals are known. Ann. Math.
Statist. 11, 427–444 (iterative proportional fitting). Deville, J.-C., Särndal,
C.-E. and Sautory, O. (1993). Generalized raking procedures in survey sampling.
JASA 88, 1013–1020 (bounded raking). R survey: ``postStratify``, ``rake``,
``calibrate(calfun = "raking", bounds = ...)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Hashable, Mapping, Sequence

import numpy as np

__all__ = ["design_weights", "poststratify", "Margin", "MarginFit", "RakeResult", "rake", "kish_deff"]


def _cells(values, n: int, what: str) -> tuple[list, np.ndarray]:
    """Distinct categories and each respondent's code (numpy arrays of numbers/strings take a fast path)."""
    if isinstance(values, np.ndarray) and values.dtype != object and values.ndim == 1:
        if values.shape != (n,):
            raise ValueError(f"{what}: need one category per respondent ({n}), got {values.size}")
        uniq, codes = np.unique(values, return_inverse=True)
        return [_key(u) for u in uniq], codes.reshape(n).astype(np.intp)
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if arr.shape[:1] != (n,):
        raise ValueError(f"{what}: need one category per respondent ({n}), got {len(arr)}")
    labels: dict = {}
    codes = np.fromiter((labels.setdefault(_key(v), len(labels)) for v in arr), dtype=np.intp, count=n)
    return list(labels), codes


def _key(v):
    if isinstance(v, np.ndarray):
        return tuple(v.tolist())
    if isinstance(v, list):
        return tuple(v)
    return v.item() if isinstance(v, np.generic) else v


def _label(cat, labels: Mapping | None = None) -> str:
    if labels is not None and cat in labels:
        return str(labels[cat])
    return " x ".join(str(c) for c in cat) if isinstance(cat, tuple) else str(cat)


def _check_totals(totals: Mapping, what: str, labels: Mapping | None = None) -> dict:
    out = {}
    for cat, value in totals.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{what}, cell {_label(cat, labels)!r}: population must be a number > 0, got {value!r}")
        out[_key(cat)] = v
    if not out:
        raise ValueError(f"{what}: no population totals")
    return out


def _base(weights, n: int | None = None) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or (n is not None and w.size != n):
        raise ValueError(f"base weights must be one number per respondent ({n})")
    bad = np.flatnonzero(~np.isfinite(w) | (w <= 0))
    if bad.size:
        raise ValueError(f"base weight of respondent {bad[0]} must be a number > 0, got {w[bad[0]]!r}")
    return w


def _index(codes: np.ndarray, labels: list, totals: dict, what: str, respondent_labels=None,
           names: Mapping | None = None) -> np.ndarray:
    """Map respondent category codes to positions in ``totals``; refuse respondents outside every cell."""
    keys = list(totals)
    pos = {k: i for i, k in enumerate(keys)}
    lut = np.array([pos.get(lab, -1) for lab in labels], dtype=np.intp)
    idx = lut[codes]
    outside = np.flatnonzero(idx < 0)
    if outside.size:
        i = int(outside[0])
        who = f"respondent {respondent_labels[i]}" if respondent_labels is not None else f"respondent {i}"
        cats = sorted({_label(labels[c], names) for c in codes[outside]})
        raise ValueError(f"{what}: {outside.size} respondent(s) fall outside every cell, e.g. {who} in "
                         f"{_label(labels[codes[i]], names)!r} (categories without a population: "
                         f"{', '.join(cats[:10])})")
    empty = np.flatnonzero(np.bincount(idx, minlength=len(keys)) == 0)
    if empty.size:
        shown = [f"{_label(keys[e], names)!r} (population {totals[keys[e]]:g})" for e in empty[:10]]
        raise ValueError(f"{what}: {empty.size} cell(s) have a population but no respondent: {', '.join(shown)}; "
                         "merge them with a neighbouring cell or collect responses there")
    return idx


def design_weights(stratum, population: Mapping[Hashable, float]) -> np.ndarray:
    """Design weights :math:`N_h / n_h` for a stratified simple random sample.

    Parameters
    ----------
    stratum : array_like
        Stratum of each respondent (e.g. the unit).
    population : mapping
        Population size of each stratum.

    Returns
    -------
    ndarray
        One weight per respondent; each stratum's weights add up to its population.
    """
    if not isinstance(stratum, np.ndarray):
        stratum = np.asarray(stratum, dtype=object)
    n = stratum.size
    labels, codes = _cells(stratum, n, "design weights")
    totals = {}
    for lab in labels:
        if lab not in population:
            raise ValueError(f"design weights: stratum {_label(lab)!r} has respondents but no population size")
        totals[lab] = population[lab]
    totals = _check_totals(totals, "design weights")
    N = np.array([totals[lab] for lab in labels])
    return (N / np.bincount(codes, minlength=len(labels)))[codes]


def poststratify(weights, cells, totals: Mapping[Hashable, float], *, respondent_labels=None,
                 labels: Mapping | None = None) -> np.ndarray:
    """Post-stratify: scale weights so each cell adds up to its population.

    Parameters
    ----------
    weights : array_like
        Base (design) weights.
    cells : array_like
        Cell of each respondent (a label or a tuple such as ``(unit, age_band)``).
    totals : mapping
        Population of each cell. Every cell must have respondents, every
        respondent a cell.
    labels : mapping, optional, keyword-only
        Display names of cells for error messages (when cells are codes).

    Notes
    -----
    :math:`w_i = d_i\\, N_c / \\sum_{k \\in c} d_k` for respondent *i* in cell *c*
    (R: ``postStratify``).
    """
    w = _base(weights)
    cats, codes = _cells(cells, w.size, "post-stratification")
    tot = _check_totals(totals, "post-stratification", labels)
    idx = _index(codes, cats, tot, "post-stratification", respondent_labels, labels)
    target = np.array(list(tot.values()))
    sums = np.bincount(idx, w, minlength=target.size)
    return w * (target / sums)[idx]


@dataclass(frozen=True)
class Margin:
    """One set of population margins: each respondent's category and the population of each category
    (``labels``: optional display names of the categories, for messages and the fit report)."""
    name: str
    cells: Sequence
    totals: Mapping[Hashable, float]
    labels: Mapping[Hashable, str] | None = None


@dataclass(frozen=True)
class MarginFit:
    """How well the weights reproduce one cell of one margin."""
    margin: str
    cell: str
    target: float
    achieved: float
    rel_error: float


@dataclass(frozen=True)
class RakeResult:
    """Result of :func:`rake`.

    Attributes
    ----------
    weights : ndarray
        The raked weights.
    converged : bool
        Every margin within ``tol`` (relative) and every weight ratio within the
        trimming bounds.
    iterations : int
        Full cycles over the margins.
    max_rel_error : float
        Largest ``|achieved - target| / target`` over all cells.
    fit : list of MarginFit
        Target and achieved total of every cell.
    trimmed : int
        Respondents whose weight sits at a trimming bound.
    notes : tuple of str
    """
    weights: np.ndarray
    converged: bool
    iterations: int
    max_rel_error: float
    fit: list[MarginFit]
    trimmed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def report(self) -> str:
        """A short text summary (the CLI prints it to stderr)."""
        head = (f"raking {'converged' if self.converged else 'did NOT converge'} after {self.iterations} "
                f"iteration(s); largest relative margin error {self.max_rel_error:.2e}")
        if self.trimmed:
            head += f"; {self.trimmed} weight(s) at a trimming bound"
        worst = sorted(self.fit, key=lambda f: -f.rel_error)[:5]
        lines = [head] + [f"  {f.margin} {f.cell}: target {f.target:.6g}, achieved {f.achieved:.6g} "
                          f"({f.rel_error:.1e})" for f in worst if not self.converged] + list(self.notes)
        return "\n".join(lines)


def rake(weights, margins: Sequence[Margin], *, tol: float = 1e-8, max_iter: int = 100,
         trim: tuple[float, float] | None = None, rescale: bool = False, respondent_labels=None) -> RakeResult:
    """Rake (iterative proportional fitting) weights to several sets of margins.

    Parameters
    ----------
    weights : array_like
        Base (design) weights :math:`d_i`.
    margins : sequence of Margin
        E.g. ``Margin("unit x age_band", list(zip(unit, age)), {...})`` and
        ``Margin("gender", gender, {"male": ..., "female": ...})``.
    tol : float, keyword-only
        Convergence: largest relative margin error (default 1e-8).
    max_iter : int, keyword-only
        Most cycles over all margins (default 100).
    trim : (float, float), optional, keyword-only
        Bounds ``(L, U)`` on :math:`g_i = w_i/d_i`, e.g. ``(0.3, 3.0)``: after
        each cycle the ratios are clipped to the bounds and raking continues
        (bounded raking). Margins are then met only as far as the bounds allow.
    rescale : bool, keyword-only
        Margins with different grand totals (e.g. sex for all ages, age bands
        for adults) cannot all be met; with ``rescale=True`` every margin after
        the first is scaled to the first one's total (used as shares),
        otherwise such margins are refused.

    Returns
    -------
    RakeResult
        ``converged`` is False when ``max_iter`` cycles did not bring every
        margin within ``tol``; the fit report says by how much.

    Notes
    -----
    Each cycle multiplies the weights in each cell of each margin in turn by
    :math:`N_c / \\sum_{i \\in c} w_i`. The limit is the raking (multiplicative)
    calibration estimator, the weights closest to :math:`d` in the
    Kullback–Leibler sense that meet every margin (R: ``rake``,
    ``calibrate(calfun = "raking")``).
    """
    w0 = _base(weights)
    if not margins:
        raise ValueError("raking needs at least one margin")
    if tol <= 0 or max_iter < 1:
        raise ValueError(f"tol must be > 0 and max_iter >= 1 (got tol={tol}, max_iter={max_iter})")
    if trim is not None:
        lo, hi = (float(x) for x in trim)
        if not (0 <= lo < 1 < hi):
            raise ValueError(f"trim bounds must satisfy 0 <= lower < 1 < upper, got {trim!r}")
    names = [m.name for m in margins]
    if len(set(names)) != len(names):
        raise ValueError("margin names must be unique")
    idxs, targets, keys, notes = [], [], [], []
    grand = None
    for m in margins:
        cats, codes = _cells(m.cells, w0.size, f"margin {m.name!r}")
        tot = _check_totals(m.totals, f"margin {m.name!r}", m.labels)
        idx = _index(codes, cats, tot, f"margin {m.name!r}", respondent_labels, m.labels)
        t = np.array(list(tot.values()))
        if grand is None:
            grand = t.sum()
        elif abs(t.sum() - grand) > 1e-9 * grand:
            if not rescale:
                raise ValueError(f"margin {m.name!r} adds up to {t.sum():.10g} but {margins[0].name!r} to "
                                 f"{grand:.10g}: margins must describe the same population (or rescale=True "
                                 f"to use {m.name!r} as shares)")
            notes.append(f"margin {m.name!r} (total {t.sum():.10g}) used as shares of {grand:.10g}")
            t = t * (grand / t.sum())
        idxs.append(idx)
        targets.append(t)
        keys.append(list(tot))
    w = w0.copy()
    converged = False
    it = 0

    def errors(wt):
        return [np.abs(np.bincount(i, wt, minlength=t.size) - t) / t for i, t in zip(idxs, targets)]

    for it in range(1, max_iter + 1):
        for idx, t in zip(idxs, targets):
            sums = np.bincount(idx, w, minlength=t.size)
            w *= (t / sums)[idx]
        if trim is not None:
            w = w0 * np.clip(w / w0, lo, hi)
        if max(e.max() for e in errors(w)) <= tol:
            converged = True
            break
    errs = errors(w)
    fit = []
    for m, idx, t, e, kk in zip(margins, idxs, targets, errs, keys):
        achieved = np.bincount(idx, w, minlength=t.size)
        fit.extend(MarginFit(m.name, _label(k, m.labels), float(tt), float(a), float(ee))
                   for k, tt, a, ee in zip(kk, t, achieved, e))
    trimmed = 0
    if trim is not None:
        g = w / w0
        trimmed = int(np.sum(np.isclose(g, lo, rtol=1e-12) | np.isclose(g, hi, rtol=1e-12)))
    return RakeResult(w, converged, it, float(max(e.max() for e in errs)), fit, trimmed, tuple(notes))


def kish_deff(weights) -> float:
    """Kish's design effect from unequal weighting, :math:`n \\sum w^2 / (\\sum w)^2`."""
    w = _base(weights)
    return float(w.size * np.sum(w * w) / np.sum(w) ** 2)
