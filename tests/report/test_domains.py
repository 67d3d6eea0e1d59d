"""The breakdown estimator gives exactly the engine's numbers for the same domains."""
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from analysis import compute_table
from analysis.db import load_db
from analysis.report.domains import index_by
from analysis.report.gather import ReportRequest, _Db, _Scan

COMPARED = ("n", "sum_w", "df", "p", "se", "ci_logit_l", "ci_logit_u", "ci_kg_l", "ci_kg_u", "deff", "n_eff_deff",
            "n_eff_var", "n_eff_kg", "deff_kish", "n_eff_kish", "cv", "flag_n_lt_30", "flag_neff_lt_30",
            "flag_cv_gt_30", "nchs_suppress", "nchs_review", "vs_target")


def same_rows(mine, table):
    assert mine
    for r in mine:
        engine = table.row(r["district"], "INDEX:ITEM_AVG")
        for column in COMPARED:
            if isinstance(engine[column], float):
                assert r[column] == pytest.approx(engine[column], rel=1e-9, abs=1e-12), (r["district"], column)
            else:
                assert r[column] == engine[column], (r["district"], column)


@pytest.fixture(scope="module", params=["design", "rake"])
def data(request, survey_db):
    return load_db(survey_db, date_from="2024-01-01", date_to="2024-06-30", weights=request.param)


def test_index_by_unit_with_the_overall_row_equals_compute_table(data):
    mine = index_by(data, data.district, list(data.districts), overall=True, target=0.8)
    assert mine[0]["district"] == "ALL" and len(mine) == len(data.districts) + 1
    # the breakdowns treat the weights as fixed (the engine's calibration variance is for its own table)
    same_rows(mine, compute_table(data, target=0.8, calibrated=False))


@pytest.mark.parametrize("column", ["channel", "field", "respondent_type"])
def test_index_by_a_response_column_equals_compute_table_with_it_as_the_domain(data, survey_db, column):
    request = ReportRequest(db=survey_db, date_from=date(2024, 1, 1), date_to=date(2024, 6, 30))
    db = _Db(request)
    try:
        scan = _Scan(request, db.scope(request.date_from, request.date_to, db.leaves(None), None, excluded=None))
    finally:
        db.close()
    codes, labels = scan.codes(column, scan.rows_of(data.respondent_id))
    assert (codes >= 0).all() and len(labels) >= 2
    mine = index_by(data, codes, labels, target=0.8)
    as_domain = replace(data, district=codes, districts=tuple(labels))
    same_rows(mine, compute_table(as_domain, overall=False, target=0.8, calibrated=False))


def test_respondents_without_a_category_are_in_no_breakdown_row(data):
    codes = np.where(np.arange(data.n) % 3 == 0, -1, np.arange(data.n) % 2)
    rows = index_by(data, codes, ["a", "b"], target=0.8)
    counted = sum(r["n"] for r in rows)
    answered = int((data.answers > 0).any(axis=1)[codes >= 0].sum())
    assert counted == answered


def test_the_report_period_change_is_the_engines():
    from analysis import period_change

    from analysis.report.model import Estimate, change
    from questionnaires.loader import Text

    def est(p, se, df):
        return Estimate.from_row({"p": p, "se": se, "df": df, "n": 500, "ci_logit_l": p - 0.02,
                                  "ci_logit_u": p + 0.02}, "u", Text("u", "u"), None)

    for (p0, se0, df0), (p1, se1, df1) in [((0.80, 0.015, 50), (0.84, 0.02, 100)),
                                           ((0.5, 0.03, 9), (0.41, 0.01, 3000))]:
        mine = change(est(p1, se1, df1), est(p0, se0, df0))
        engine = period_change(p0, se0, df0, p1, se1, df1)
        assert (mine.diff, mine.se, mine.df) == pytest.approx((engine.estimate, engine.se, engine.df), rel=1e-12)
        assert (mine.low, mine.high, mine.significant) == pytest.approx((engine.ci_low, engine.ci_high,
                                                                        engine.significant), rel=1e-12)
