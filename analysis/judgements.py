"""What an analyst concludes from the intervals: target met or not, ranks, change between periods.

A point estimate above the target is not evidence that a unit meets it; these
functions only draw the conclusions the confidence intervals support.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

__all__ = ["ABOVE", "BELOW", "NOT_DISTINGUISHABLE", "against_target", "rank_with_range", "Ranked", "rank_units",
           "Change", "period_change", "change_table"]

ABOVE = "above"
BELOW = "below"
NOT_DISTINGUISHABLE = "not distinguishable"


def against_target(ci_low, ci_high, *, target: float = 0.80) -> np.ndarray:
    """Judge each estimate against a target share.

    Parameters
    ----------
    ci_low, ci_high : array_like
        Confidence interval bounds (NaN when there is no interval).
    target : float, keyword-only
        Default 0.80 (80 % satisfied).

    Returns
    -------
    ndarray of str
        ``"above"`` only if the lower bound is above the target, ``"below"`` if
        the upper bound is below it, otherwise (or without an interval)
        ``"not distinguishable"``.
    """
    if not 0 < target < 1:
        raise ValueError(f"target must be a share between 0 and 1 (e.g. 0.80), got {target!r}")
    lo = np.asarray(ci_low, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    return np.where(lo > target, ABOVE, np.where(hi < target, BELOW, NOT_DISTINGUISHABLE))


def rank_with_range(p, ci_low, ci_high) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank estimates (1 = highest) and the range of ranks their intervals allow.

    Returns
    -------
    rank, best, worst : ndarray
        ``rank`` by the point estimate (ties share the better rank); ``best`` is
        1 + the number of units whose interval lies entirely above this unit's,
        ``worst`` is the number of units minus those whose interval lies entirely
        below it. A unit whose rank range is 1..N cannot be told apart from any
        other. Estimates without an interval get the full range.
    """
    p = np.asarray(p, dtype=float)
    lo = np.asarray(ci_low, dtype=float)
    hi = np.asarray(ci_high, dtype=float)
    m = p.size
    # counts by binary search in sorted copies: O(m log m), so 100,000 units rank in milliseconds
    sp = np.sort(p[~np.isnan(p)])
    rank = np.where(np.isnan(p), 1.0, 1.0 + sp.size - np.searchsorted(sp, p, side="right"))   # 1 + #(p > x)
    lo_ = np.where(np.isnan(lo), -np.inf, lo)
    hi_ = np.where(np.isnan(hi), np.inf, hi)
    best = 1.0 + m - np.searchsorted(np.sort(lo_), hi_, side="right")        # 1 + #(lo_j > hi_i)
    worst = (m - np.searchsorted(np.sort(hi_), lo_, side="left")).astype(float)   # m - #(hi_j < lo_i)
    return rank, best, worst


@dataclass(frozen=True)
class Ranked:
    """One unit in a ranking."""
    district: str
    p: float
    ci_low: float
    ci_high: float
    rank: int
    rank_best: int
    rank_worst: int
    vs_target: str | None


def rank_units(table, measure: str = "INDEX:ITEM_AVG") -> list[Ranked]:
    """Districts of an :class:`~analysis.indices.IndexTable` ranked on ``measure``, best first."""
    rows = list(table.rows(level="district", measure=measure))
    if not rows:
        raise ValueError(f"the table has no district rows for measure {measure!r}")

    def ci(r, side):
        v = r[f"ci_logit_{side}"]
        return r[f"ci_kg_{side}"] if v is None else v

    out = [Ranked(r["district"], r["p"], ci(r, "l"), ci(r, "u"), int(r["rank"]), int(r["rank_best"]),
                  int(r["rank_worst"]), r["vs_target"]) for r in rows]
    return sorted(out, key=lambda x: (x.rank, x.district))


@dataclass(frozen=True)
class Change:
    """Change of an estimate between two periods (``after - before``)."""
    estimate: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    significant: bool


def period_change(p_before, se_before, df_before, p_after, se_after, df_after, *, level: float = 0.95) -> Change:
    """Change between two independent samples, with a t interval.

    Notes
    -----
    The two periods are separate samples of respondents, so
    :math:`se = \\sqrt{se_1^2 + se_2^2}`; the degrees of freedom are
    Welch–Satterthwaite's :math:`(v_1+v_2)^2 / (v_1^2/df_1 + v_2^2/df_2)`.
    ``significant`` means the interval excludes 0.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    v1, v2 = float(se_before) ** 2, float(se_after) ** 2
    diff = float(p_after) - float(p_before)
    se = math.sqrt(v1 + v2)
    if df_before is None or df_after is None or df_before <= 0 or df_after <= 0 or se == 0:
        df = math.nan
    else:
        df = (v1 + v2) ** 2 / (v1 ** 2 / df_before + v2 ** 2 / df_after)
    if math.isnan(df):
        lo = hi = math.nan
    else:
        q = float(special.stdtrit(df, 1 - (1 - level) / 2))
        lo, hi = diff - q * se, diff + q * se
    return Change(diff, se, df, lo, hi, bool(lo > 0 or hi < 0))


CHANGE_COLUMNS = ("level", "district", "measure", "p_before", "p_after", "change", "se", "df", "ci_l", "ci_u",
                  "significant", "n_before", "n_after")


def change_table(before, after, *, level: float = 0.95) -> list[dict]:
    """Period change for every (district, measure) present in both tables."""
    b = {(r["district"], r["measure"]): r for r in before.rows()}
    out = []
    for r in after.rows():
        r0 = b.get((r["district"], r["measure"]))
        if r0 is None or r0["p"] is None or r["p"] is None:
            continue
        c = period_change(r0["p"], r0["se"], r0["df"], r["p"], r["se"], r["df"], level=level)
        out.append(dict(level=r["level"], district=r["district"], measure=r["measure"], p_before=r0["p"],
                        p_after=r["p"], change=c.estimate, se=c.se, df=c.df, ci_l=c.ci_low, ci_u=c.ci_high,
                        significant=c.significant, n_before=int(r0["n"]), n_after=int(r["n"])))
    return out
