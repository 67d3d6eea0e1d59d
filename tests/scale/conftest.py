"""Helpers for the summary / merge / Parquet / Dask tests: sub-samples, splits and exact comparison."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import analysis
from analysis.indices import COLUMNS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reference"
CASES = {
    "basic": ("basic/survey.csv", "basic/factors.csv"),
    "clustered": ("clustered/survey.csv", "clustered/factors.csv"),
    "edge": ("extra/edge/survey.csv", "extra/edge/factors.csv"),
    "crossing": ("extra/crossing/survey.csv", "extra/crossing/factors.csv"),
    "edge_average": ("extra/edge_average/survey.csv", "extra/edge_average/factors.csv"),
}
TOL = 1e-12


def load_case(name: str) -> analysis.SurveyData:
    survey, factors = CASES[name]
    return analysis.read_csv(FIXTURES / survey, factors=FIXTURES / factors)


def subset(data: analysis.SurveyData, keep, *, district=None) -> analysis.SurveyData:
    """The rows ``keep`` as a SurveyData of their own (``district``: other unit labels for those rows)."""
    keep = np.asarray(keep)
    labels = np.array(data.districts, dtype=object)[data.district[keep]] if district is None else district
    return analysis.SurveyData.from_arrays(
        np.where(data.answers[keep] == 0, np.nan, data.answers[keep]), data.weights[keep], labels,
        stratum=np.array(data.strata, dtype=object)[data.stratum[keep]],
        psu=None if data.psu is None else data.psu[keep], items=data.items, factor_of=data.factor_of,
        item_weights=data.item_weights, satisfied_from=data.satisfied_from)


def components(data: analysis.SurveyData) -> np.ndarray:
    """Per row, the group of units linked by shared strata (a summary must hold whole units and strata)."""
    D = len(data.districts)
    parent = list(range(D + len(data.strata)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for d, h in set(zip(data.district.tolist(), data.stratum.tolist())):
        parent[find(d)] = find(D + h)
    roots = np.array([find(d) for d in range(D)])
    _, comp = np.unique(roots, return_inverse=True)
    return comp[data.district]


def assert_tables_equal(got, expected, *, tol: float = TOL, level_of=None) -> float:
    """Every column of every row of ``expected`` equals ``got`` (numbers within tol, relative above 1).

    ``level_of``: map expected levels to the levels in ``got`` (e.g. district -> province).
    Returns the largest relative difference seen.
    """
    index = {(lv, d, m): i for i, (lv, d, m) in enumerate(zip(got.columns["level"], got.columns["district"],
                                                              got.columns["measure"]))}
    worst = 0.0
    assert len(expected) > 0
    # issue 17: units whose index is over fewer criteria are not ranked in compute_table; summaries do not
    # carry the item counts, so the ranks of such measures are not compared
    flagged = set(expected.columns["measure"][np.asarray(expected.columns["flag_items_missing"], dtype=bool)])
    for i in range(len(expected)):
        lv, d, m = (expected.columns[c][i] for c in ("level", "district", "measure"))
        key = ((level_of or {}).get(lv, lv), d, m)
        assert key in index, f"no row {key} in the merged table"
        j = index[key]
        for c in COLUMNS:
            if c in ("level", "items_used", "items_expected", "flag_items_missing") or \
                    (m in flagged and c in ("rank", "rank_best", "rank_worst")):
                continue        # summaries do not carry the item counts (issue 17 columns): merged rows leave them empty
            a, b = expected.columns[c][i], got.columns[c][j]
            if isinstance(a, (float, np.floating)):
                if math.isnan(a) or math.isnan(b):
                    assert math.isnan(a) and math.isnan(b), (key, c, a, b)
                    continue
                if a == b:          # includes equal infinities
                    continue
                if c in ("n_eff_deff", "n_eff_var", "n_eff_kg") and min(abs(a), abs(b)) > 0:
                    # n / deff, p(1-p) / se^2 (and Korn-Graubard's n_eff) magnify the rounding of a near-zero variance (a
                    # unit whose answers are nearly constant: n_eff 5e6 for n = 6); their inverse
                    # (the variance side, which the merge must reproduce) is compared instead
                    a, b = 1.0 / a, 1.0 / b
                diff = abs(a - b) / max(1.0, abs(a))
                assert diff <= tol, (key, c, a, b, diff)
                worst = max(worst, diff)
            else:
                assert a == b, (key, c, a, b)
    return worst
