"""Intervals at the edges, reliability flags, and the judgements drawn from intervals."""
from __future__ import annotations

import math

import numpy as np
import pytest

import analysis
from analysis.__main__ import main
from analysis.indices import IndexTable
from analysis.intervals import korn_graubard_ci, logit_ci, reliability_flags
from analysis.judgements import against_target, period_change, rank_units, rank_with_range

from .conftest import FIXTURES


def test_korn_graubard_at_zero_and_one_is_the_exact_binomial_interval():
    # with p = 0 the variance is 0; the NCHS convention uses n_eff = n: [0, 1 - (alpha/2)^(1/n)]
    low, high, n_eff = korn_graubard_ci([0.0, 1.0], [0.0, 0.0], [12, 12], [0, 0])
    assert low[0] == 0 and high[0] == pytest.approx(1 - 0.025 ** (1 / 12), rel=1e-14)
    assert high[1] == 1 and low[1] == pytest.approx(0.025 ** (1 / 12), rel=1e-14)
    assert n_eff.tolist() == [12, 12]
    # R (tests/fixtures/reference/clustered): D6_tiny q02, p = 0 -> ci_kg_u 0.264648469397051
    assert high[0] == pytest.approx(0.264648469397051, abs=1e-14)


def test_logit_interval_is_undefined_at_the_bounds_and_without_degrees_of_freedom():
    low, high = logit_ci([0.0, 1.0, 0.5, 0.5], [0.0, 0.0, 0.05, 0.05], [10, 10, 0, 10])
    assert np.isnan(low[:3]).all() and np.isnan(high[:3]).all()
    assert low[3] < 0.5 < high[3] and (0.5 - low[3]) == pytest.approx(high[3] - 0.5, rel=1e-12)


def test_flags_follow_the_nchs_rules():
    f = reliability_flags(p=[0.5, 0.02, 0.5, 1.0], se=[0.02, 0.01, 0.1, 0.0], n=[400, 400, 20, 50],
                          df=[100, 100, 5, 40], n_eff_var=[625, 196, 25, 50],
                          ci_kg_low=[0.46, 0.005, 0.3, 0.93], ci_kg_high=[0.54, 0.06, 0.7, 1.0])
    assert f.n_lt_30.tolist() == [False, False, True, False]
    assert f.neff_lt_30.tolist() == [False, False, True, False]
    assert f.cv_gt_30.tolist() == [False, True, False, False]      # se/p: 0.04, 0.5, 0.2, 0
    # width 0.055 > 0.05 and relative width 2.75 > 1.30 -> suppress; width 0.4 >= 0.30 -> suppress
    assert f.nchs_suppress.tolist() == [False, True, True, False]
    assert f.nchs_review.tolist() == [False, False, True, True]


def test_target_judgement_uses_the_interval_not_the_point():
    got = against_target([0.81, 0.70, 0.78, np.nan], [0.90, 0.79, 0.86, np.nan], target=0.80)
    assert got.tolist() == ["above", "below", "not distinguishable", "not distinguishable"]
    with pytest.raises(ValueError, match="target"):
        against_target([0.1], [0.2], target=80)


def test_rank_range_counts_units_that_are_clearly_better_or_worse():
    p = [0.9, 0.85, 0.6, 0.58]
    lo = [0.86, 0.80, 0.55, 0.50]
    hi = [0.94, 0.89, 0.65, 0.66]
    rank, best, worst = rank_with_range(p, lo, hi)
    assert rank.tolist() == [1, 2, 3, 4]
    assert best.tolist() == [1, 1, 3, 3] and worst.tolist() == [2, 2, 4, 4]


def test_period_change_of_independent_samples():
    c = period_change(0.70, 0.03, 50, 0.80, 0.04, 60)
    assert c.estimate == pytest.approx(0.10) and c.se == pytest.approx(0.05)
    df = 0.05 ** 4 / (0.03 ** 4 / 50 + 0.04 ** 4 / 60)      # Welch-Satterthwaite
    assert c.df == pytest.approx(df)
    from scipy import stats
    q = stats.t.ppf(0.975, df)
    assert (c.ci_low, c.ci_high) == pytest.approx((0.10 - q * 0.05, 0.10 + q * 0.05))
    assert c.significant is True
    assert period_change(0.70, 0.03, 50, 0.72, 0.04, 60).significant is False
    assert math.isnan(period_change(0.7, 0.03, 0, 0.8, 0.04, 60).ci_low)


@pytest.fixture(scope="module")
def table():
    data = analysis.read_csv(FIXTURES / "basic/survey.csv", factors=FIXTURES / "basic/factors.csv")
    return analysis.compute_table(data, target=0.5)


def test_table_judges_each_district_against_the_target(table):
    for r in table.rows():
        lo, hi = r["ci_logit_l"], r["ci_logit_u"]
        expected = "above" if lo > 0.5 else "below" if hi < 0.5 else "not distinguishable"
        assert r["vs_target"] == expected and r["target"] == 0.5


def test_ranking_lists_districts_best_first_with_intervals(table):
    ranked = rank_units(table, "INDEX:ITEM_AVG")
    assert [u.rank for u in ranked] == sorted(u.rank for u in ranked)
    assert ranked[0].p == max(u.p for u in ranked) and len(ranked) == 6
    assert all(u.rank_best <= u.rank <= u.rank_worst for u in ranked)
    assert all(u.ci_low < u.p < u.ci_high for u in ranked)
    overall = table.row("ALL", "INDEX:ITEM_AVG")
    assert overall["rank"] is None


def test_change_command_compares_two_tables(tmp_path, table):
    before = tmp_path / "before.csv"
    table.to_csv(before)
    data = analysis.read_csv(FIXTURES / "extra/crossing/survey.csv", factors=FIXTURES / "basic/factors.csv")
    after = tmp_path / "after.csv"
    analysis.compute_table(data).to_csv(after)
    out = tmp_path / "change.csv"
    assert main(["change", str(before), str(after), "--out", str(out)]) == 0
    import csv
    rows = {(r["district"], r["measure"]): r for r in csv.DictReader(open(out))}
    # same respondents and weights, other design: no change in p, a different SE
    r = rows[("D1", "q01")]
    assert float(r["change"]) == pytest.approx(0, abs=1e-12) and r["significant"] == "FALSE"
    b, a = IndexTable.read_csv(before).row("D1", "q01"), IndexTable.read_csv(after).row("D1", "q01")
    assert float(r["se"]) == pytest.approx(math.hypot(b["se"], a["se"]))
