"""The report model picks, judges, compares and sorts the analysis rows; it never changes a number.

Expected numbers come from tests/report/data/*/oracle_output.csv (R 4.2, survey 4.1).
"""
import math
from dataclasses import replace

import pytest
from scipy import stats

from analysis.report.model import Estimate, build_model, change, judge, ReportError
from questionnaires.loader import Text

from . import oracle_inputs


def oracle_row(district, measure, kind="basic"):
    return next(r for r in oracle_inputs.read(kind, "oracle_output.csv")
                if r["district"] == district and r["measure"] == measure)


def test_overall_index_is_the_engines_item_average_row_unchanged(report):
    row = oracle_row("ALL", "INDEX:ITEM_AVG")
    o = report.overall
    assert o.p == float(row["p"])
    assert (o.low, o.high) == (float(row["ci_logit_l"]), float(row["ci_logit_u"]))
    assert o.n == int(row["n"]) and o.n_eff == float(row["n_eff_kish"])  # one effective n: Kish's


def test_units_are_ranked_highest_first_and_the_unit_with_too_few_responses_comes_last_unranked(report):
    ranked = [u for u in report.units if u.rank is not None]
    assert [u.rank for u in ranked] == list(range(1, len(ranked) + 1))
    assert [u.estimate.p for u in ranked] == sorted((u.estimate.p for u in ranked), reverse=True)
    last = report.units[-1]
    assert last.rank is None and last.estimate.key == "huyen-nha-be"
    assert last.estimate.few and last.estimate.judgement == "unreliable"
    assert {"flag_n_lt_30", "nchs_suppress"} <= set(last.estimate.flags)


def test_a_unit_whose_estimate_is_0_or_100_percent_gets_the_korn_graubard_interval(report):
    # D6_tiny answered q01 all satisfied: R gives no logit interval, a KG one
    row = oracle_row("D6_tiny", "q01", "clustered")
    est = Estimate.from_row(row, "x", Text("x", "x"), 0.8)
    assert est.p == 1.0 and est.interval == "kg"
    assert (est.low, est.high) == (float(row["ci_kg_l"]), 1.0)


def test_criteria_come_lowest_first(report):
    ps = [e.p for e in report.criteria]
    assert ps == sorted(ps) and len(ps) == 26
    assert report.criteria[0].key == "q19"      # lowest in the reference data


def make(p, low, high, n=500, flags=()):
    row = {"p": p, "ci_logit_l": low, "ci_logit_u": high, "n": n, "se": 0.01, "df": n - 1,
           **{f: f in flags for f in ("flag_n_lt_30", "flag_neff_lt_30", "nchs_suppress")}}
    return Estimate.from_row(row, "u", Text("u", "u"), None)


@pytest.mark.parametrize("low, high, expected", [
    (0.81, 0.86, "above"), (0.70, 0.79, "below"), (0.78, 0.83, "inconclusive"), (0.80, 0.85, "inconclusive"),
])
def test_a_unit_meets_the_target_only_when_its_whole_interval_is_above_it(low, high, expected):
    assert judge(make((low + high) / 2, low, high), 0.80) == expected


def test_too_few_responses_is_never_judged_even_with_a_narrow_interval():
    assert judge(make(0.95, 0.90, 0.99, n=12, flags=("flag_n_lt_30",)), 0.80) == "unreliable"


def test_the_engines_own_judgement_column_is_used_when_present():
    est = make(0.85, 0.81, 0.89)
    engine_says = Estimate.from_row({**est.row, "vs_target": "not distinguishable", "target": 0.8}, "u",
                                    Text("u", "u"), 0.8)
    assert engine_says.judgement == "inconclusive"


def test_period_change_uses_independent_samples_and_welch_degrees_of_freedom():
    now = make(0.84, 0.80, 0.88)
    now = replace(now, se=0.02, df=100.0)
    before = replace(make(0.80, 0.77, 0.83), se=0.015, df=50.0)
    ch = change(now, before)
    v1, v0 = 0.02 ** 2, 0.015 ** 2
    df = (v1 + v0) ** 2 / (v1 ** 2 / 100 + v0 ** 2 / 50)
    q = stats.t.ppf(0.975, df)
    assert ch.diff == pytest.approx(0.04)
    assert ch.se == pytest.approx(math.sqrt(v1 + v0))
    assert (ch.low, ch.high) == pytest.approx((0.04 - q * ch.se, 0.04 + q * ch.se))
    assert not ch.significant          # the interval contains 0


def test_the_comparison_period_gives_a_change_for_the_overall_index_and_for_units_in_both_periods(report):
    assert report.overall_change is not None
    prev = float(oracle_row("ALL", "INDEX:ITEM_AVG", "clustered")["p"])
    assert report.overall_change.previous.p == prev
    assert report.overall_change.diff == pytest.approx(report.overall.p - prev)
    in_both = {"quan-binh-thanh", "quan-go-vap", "huyen-can-gio", "quan-phu-nhuan"}
    assert {u.estimate.key for u in report.units if u.change} == in_both


def test_satisfied_shares_of_the_1_to_5_distribution_add_up_to_the_factor_index(report):
    for d in report.distributions:
        assert sum(d.shares) == pytest.approx(1.0)
        measure = "INDEX:ITEM_AVG" if d.key == "ALL" else f"FACTOR:{d.key}:ITEM_AVG"
        assert d.shares[3] + d.shares[4] == pytest.approx(float(oracle_row("ALL", measure)["p"]), abs=1e-12)


def test_breakdowns_list_categories_in_questionnaire_order_with_their_labels(report):
    channels = report.breakdowns["channel"]
    assert [e.key for e in channels][:4] == ["web", "kiosk", "paper", "phone"]   # the order of survey/labels.py
    fields = [e.key for e in report.breakdowns["field"]]
    assert fields == ["land", "construction", "business", "civil_status", "justice", "other"]
    assert report.breakdowns["field"][0].label.vi == "Đất đai"


def test_a_table_without_an_overall_index_is_refused_with_a_reason(inputs):
    empty = replace(inputs, table=[r for r in inputs.table if r["measure"] != "INDEX:ITEM_AVG"])
    with pytest.raises(ReportError, match="no usable answers"):
        build_model(empty)
