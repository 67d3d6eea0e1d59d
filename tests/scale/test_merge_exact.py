"""Summaries of parts merge to exactly what the pooled responses give: the frozen R cases and random splits.

"Pooled" is `analysis.compute_table` on all the rows (levels overall and district); a province's rows are
checked against the pooled rows with each unit relabelled by its province (the province is then a domain
of the national design, as in the merged table).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import analysis
from analysis.merge import merge_summaries
from analysis.summary import from_bytes, summarize, to_bytes

from ..analysis.conftest import compare_with_r
from .conftest import FIXTURES, assert_tables_equal, components, load_case, subset

ORACLES = {"basic": "basic/oracle_output.csv", "clustered": "clustered/oracle_output.csv",
           "edge": "extra/edge/oracle_output.csv", "crossing": "extra/crossing/oracle_output.csv"}


def split_and_merge(data, part_of_row, province_of_part, *, lonely_psu="adjust", roundtrip=True, **merge_opts):
    summaries = []
    for k in np.unique(part_of_row):
        s = summarize(subset(data, part_of_row == k), province=province_of_part[k], lonely_psu=lonely_psu)
        summaries.append(from_bytes(to_bytes(s), name=f"part {k}") if roundtrip else s)
    return merge_summaries(summaries, **merge_opts)


def check_against_pooled(data, part_of_row, province_of_part, *, lonely_psu="adjust", **opts):
    merged = split_and_merge(data, part_of_row, province_of_part, lonely_psu=lonely_psu, **opts)
    pooled = analysis.compute_table(data, lonely_psu=lonely_psu, **opts)
    worst = assert_tables_equal(merged, pooled)
    # provinces: the pooled sample with every unit relabelled by its province
    prov_labels = np.array([province_of_part[k] for k in part_of_row], dtype=object)
    by_province = analysis.compute_table(subset(data, np.arange(data.n), district=prov_labels),
                                         lonely_psu=lonely_psu, **opts)
    worst = max(worst, assert_tables_equal(merged, by_province.select(level="district"),
                                           level_of={"district": "province"}))
    return merged, worst


@pytest.mark.parametrize("case", ["basic", "clustered", "edge"])
def test_provinces_of_a_frozen_r_case_merge_to_the_pooled_table_and_to_r(case):
    data = load_case(case)
    comp = components(data)
    assert comp.max() >= 2, "the case must split into several provinces"
    provinces = {k: f"P{k % 3}" for k in range(comp.max() + 1)}   # several summaries per province too
    merged, worst = check_against_pooled(data, comp, provinces)
    assert worst < 1e-13
    # and the merged national table still reproduces R's numbers
    compare_with_r(merged, FIXTURES / ORACLES[case])
    assert set(merged.columns["level"]) == {"overall", "province", "district"}
    assert sorted(merged.select(level="province").districts) == []   # provinces are not districts
    assert sorted(set(merged.select(level="province").columns["district"])) == ["P0", "P1", "P2"]


def test_psus_crossing_units_one_summary_equals_the_engine_and_r():
    # strata R/U cross every unit, so this case cannot be split; one summary must still be exact
    data = load_case("crossing")
    assert components(data).max() == 0
    merged, _ = check_against_pooled(data, np.zeros(data.n, dtype=int), {0: "P"})
    compare_with_r(merged, FIXTURES / ORACLES["crossing"])


@pytest.mark.parametrize("lonely", ["remove", "certainty", "average"])
def test_other_lonely_psu_treatments_merge_exactly(lonely):
    data = load_case("edge")        # has a one-PSU stratum
    comp = components(data)
    check_against_pooled(data, comp, {k: f"P{k}" for k in range(comp.max() + 1)}, lonely_psu=lonely)


def test_lonely_psu_average_merges_exactly_and_equals_r():
    # R's survey.lonely.psu = "average" gives a domain's variance (lonely strata left out) times (strata behind the
    # estimate) / (those with more than one PSU). Over the nation those are the strata of every province: each
    # summary carries its own two counts per criterion and set, the merge sums them (exact: integer counts)
    data = load_case("edge_average")
    comp = components(data)
    lonely = [data.strata[h] for h in range(len(data.strata))
              if np.unique(data.psu[data.stratum == h]).size == 1] if data.psu is not None else \
        [data.strata[h] for h in range(len(data.strata)) if np.count_nonzero(data.stratum == h) == 1]
    assert lonely == ["D1_solo"] and comp.max() >= 2
    provinces = {k: f"P{k % 2}" for k in range(comp.max() + 1)}
    merged, worst = check_against_pooled(data, comp, provinces, lonely_psu="average")
    assert worst < 1e-13
    compare_with_r(merged, FIXTURES / "extra/edge_average/oracle_output.csv")
    # the scaling matters at every level (before the fix the unit rows lacked it: se off by up to 0.011)
    adjust = split_and_merge(data, comp, provinces, lonely_psu="adjust")
    for lv, name in (("district", "D1"), ("overall", "ALL"), ("province", provinces[comp[data.district ==
                                                                           data.districts.index("D1")][0]])):
        a = merged.columns["se"][(merged.columns["level"] == lv) & (merged.columns["district"] == name)
                                 & (merged.columns["measure"] == "INDEX:ITEM_AVG")]
        b = adjust.columns["se"][(adjust.columns["level"] == lv) & (adjust.columns["district"] == name)
                                 & (adjust.columns["measure"] == "INDEX:ITEM_AVG")]
        assert a.size == 1 and abs(a[0] - b[0]) > 1e-6, (lv, name)


def test_average_summaries_of_an_older_version_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.ipc as ipc

    from analysis.summary import SummaryError, read_summary

    s = summarize(load_case("edge_average"), province="A", lonely_psu="average")
    table = s.to_arrow()
    old = table.filter(pc.invert(pc.is_in(table.column("name"), pa.array(["strata_item", "strata_set"]))))
    with ipc.new_file(tmp_path / "old.sipas", old.schema) as writer:
        writer.write_table(old)
    with pytest.raises(SummaryError, match="older version.*re-summarize"):
        read_summary(tmp_path / "old.sipas")
    s = summarize(load_case("edge"), province="A", lonely_psu="adjust")    # other treatments do not need them
    table = s.to_arrow()
    old = table.filter(pc.invert(pc.is_in(table.column("name"), pa.array(["strata_item", "strata_set"]))))
    with ipc.new_file(tmp_path / "old2.sipas", old.schema) as writer:
        writer.write_table(old)
    assert_tables_equal(merge_summaries([read_summary(tmp_path / "old2.sipas")]), merge_summaries([s]))


def test_level_and_target_are_chosen_at_merge_time():
    data = load_case("clustered")
    comp = components(data)
    check_against_pooled(data, comp, {k: f"P{k}" for k in range(comp.max() + 1)}, level=0.90, target=0.6)


@st.composite
def surveys(draw):
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    D = draw(st.integers(2, 6))
    J = draw(st.integers(1, 6))
    clustered = draw(st.booleans())
    shared_strata = draw(st.booleans())       # strata crossing units (fewer, larger components)
    n = draw(st.integers(D * 3, 160))
    district = np.concatenate([np.arange(D), rng.integers(0, D, n - D)])
    stratum_of = rng.integers(0, 3, n)
    stratum = np.where(shared_strata & (rng.random(n) < 0.3), (district // 2) * 10 + 9, district * 10 + stratum_of)
    psu = stratum * 100 + rng.integers(0, draw(st.integers(1, 5)), n) if clustered else None
    p_missing = draw(st.floats(0, 0.7))
    skew = rng.random(J) * 2
    answers = np.minimum(5, 1 + rng.binomial(4, rng.random((n, 1)) ** (1 / (1 + skew)))).astype(float)
    answers[rng.random((n, J)) < p_missing] = np.nan
    answers[:D, 0] = rng.integers(1, 6, D)     # every unit has an answer
    weights = rng.gamma(2.0, 50.0, n) + 1
    items = [f"q{j}" for j in range(J)]
    n_factors = draw(st.integers(0, min(3, J)))
    factor_of = {items[j]: f"F{rng.integers(0, n_factors)}" for j in range(J)
                 if n_factors and rng.random() < 0.8}
    item_weights = rng.choice([1.0, 1.0, 2.0, 0.5], J)
    data = analysis.SurveyData.from_arrays(
        answers, weights, np.array([f"u{d}" for d in district]), stratum=stratum.astype(str),
        psu=None if psu is None else psu.astype(str), items=items, factor_of=factor_of, item_weights=item_weights,
        satisfied_from=draw(st.integers(3, 5)))
    comp = components(data)
    parts = rng.integers(0, draw(st.integers(1, 5)), comp.max() + 1)[comp]
    provinces = {k: draw(st.sampled_from(["A", "B", "C"])) for k in np.unique(parts)}
    lonely = draw(st.sampled_from(["adjust", "remove", "certainty", "average"]))
    return data, parts, provinces, lonely


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(surveys())
def test_random_splits_merge_to_the_pooled_table(case):
    data, parts, provinces, lonely = case
    check_against_pooled(data, parts, provinces, lonely_psu=lonely)


def test_a_criterion_without_variation_has_no_design_effect_in_either_path():
    # found by hypothesis: every answer to q0 is 3, so its SRS variance is 0 and the design effect 0/0;
    # the pooled and the merged paths once returned different rounding noise (-2e15 vs inf)
    answers = np.array([[3, 0, 5], [3, 5, 5], [0, 2, 5], [0, 5, 0], [0, 0, 5], [0, 4, 0]], dtype=float)
    answers[answers == 0] = np.nan
    data = analysis.SurveyData.from_arrays(
        answers, [100.01760709, 137.29004723, 16.9957634, 36.30700929, 139.04074455, 8.23531593],
        np.array(["u0", "u1", "u1", "u0", "u0", "u0"]), stratum=np.array(["0", "12", "12", "1", "0", "0"]),
        items=["q0", "q1", "q2"], factor_of={"q0": "F1", "q1": "F0", "q2": "F0"}, item_weights=[1.0, 2.0, 1.0],
        satisfied_from=3)
    merged, _ = check_against_pooled(data, np.zeros(data.n, dtype=int), {0: "A"})
    assert merged.row("ALL", "FACTOR:F1:ITEM_AVG")["deff_mean"] is None
