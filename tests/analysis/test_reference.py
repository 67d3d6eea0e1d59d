"""The table agrees with R's survey package on every number of every frozen reference case.

Expected numbers: tests/fixtures/reference/*/oracle_output.csv, computed by R 4.2.2 with
survey 4.1.1 (see the README and each meta file there).
"""
from __future__ import annotations

import pytest

import analysis
from analysis.__main__ import main
from analysis.indices import IndexTable

from .conftest import FIXTURES, compare_with_r, read_oracle

CASES = {
    # name: (survey, factors, read options, compute options, oracle)
    "basic": ("basic/survey.csv", "basic/factors.csv", {}, {}, "basic/oracle_output.csv"),
    "clustered": ("clustered/survey.csv", "clustered/factors.csv", {}, {}, "clustered/oracle_output.csv"),
    "edge": ("extra/edge/survey.csv", "extra/edge/factors.csv", {}, {}, "extra/edge/oracle_output.csv"),
    "crossing": ("extra/crossing/survey.csv", "extra/crossing/factors.csv", {}, {},
                 "extra/crossing/oracle_output.csv"),
    "top5": ("basic/survey.csv", "basic/factors.csv", {"satisfied_from": 5}, {}, "extra/top5/oracle_output.csv"),
    "level90": ("clustered/survey.csv", "clustered/factors.csv", {}, {"level": 0.90},
                "extra/level90/oracle_output.csv"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_table_matches_r_survey_on_every_reference_number(case):
    survey, factors, read_opts, opts, oracle = CASES[case]
    data = analysis.read_csv(FIXTURES / survey, factors=FIXTURES / factors, **read_opts)
    table = analysis.compute_table(data, **opts)
    worst = compare_with_r(table, FIXTURES / oracle)
    # the estimates themselves agree far better than the tolerance
    assert worst["p"] < 1e-13 and worst["se"] < 1e-13 and worst["mean_score"] < 1e-12


@pytest.mark.parametrize("case", ["basic", "clustered"])
def test_cli_reproduces_r_for_each_shared_reference_case(case, tmp_path):
    survey, factors, _, _, oracle = CASES[case]
    out = tmp_path / "out.csv"
    assert main(["indices", str(FIXTURES / survey), "--factors", str(FIXTURES / factors), "--out", str(out),
                 "--quiet"]) == 0
    table = IndexTable.read_csv(out)
    compare_with_r(table, FIXTURES / oracle)
    # one row per (level, district, measure) of R, and no other measure than R computes
    ours = {(d, m) for d, m in zip(table.columns["district"], table.columns["measure"])}
    theirs = {(r["district"], r["measure"]) for r in read_oracle(FIXTURES / oracle)}
    assert ours == theirs


def test_criterion_weights_equal_r_on_duplicated_criteria():
    # R has no criterion weights: weight 2 for q01 and 3 for q17 must give what R gives when q01 is
    # asked twice and q17 three times (tests/fixtures/reference/extra/weighted).
    data = analysis.read_csv(FIXTURES / "basic/survey.csv", factors=FIXTURES / "extra/weighted/factors.csv")
    assert data.item_weights[data.items.index("q01")] == 2 and data.item_weights[data.items.index("q17")] == 3
    table = analysis.compute_table(data)
    compare_with_r(table, FIXTURES / "extra/weighted/oracle_output.csv", skip_measures=("q01b", "q17b", "q17c"))
    unweighted = analysis.compute_table(analysis.read_csv(FIXTURES / "basic/survey.csv",
                                                          factors=FIXTURES / "basic/factors.csv"))
    assert table.row("ALL", "INDEX:ITEM_AVG")["p"] != pytest.approx(unweighted.row("ALL", "INDEX:ITEM_AVG")["p"],
                                                                     abs=1e-6)
