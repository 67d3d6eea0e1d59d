"""The vectorised table engine against the direct, one-estimate-at-a-time functions of
analysis.design (an independent implementation of the same formulas), and its invariances."""
from __future__ import annotations

import io

import numpy as np
import pytest

import analysis
from analysis import Design, SurveyData, compute_table
from analysis.indices import IndexTable


def make_data(seed=3, n=900, J=6, clustered=True, crossing=True, lonely=True, weights=None):
    rng = np.random.default_rng(seed)
    district = rng.integers(0, 4, n)
    stratum = rng.integers(0, 3, n) if crossing else district * 3 + rng.integers(0, 3, n)
    psu = rng.integers(0, 12, n) if clustered else None
    if lonely:  # a stratum with one PSU (and, unclustered, one respondent)
        stratum[:5] = 99
        if psu is not None:
            psu[:5] = 0
        else:
            stratum[:1], stratum[1:5] = 99, stratum[5:9]
    latent = rng.normal(0, 1, n)[:, None] + rng.normal(0, 0.8, (n, J)) + district[:, None] * 0.2
    answers = np.clip(np.rint(3.3 + latent), 1, 5)
    answers[rng.random((n, J)) < 0.1] = np.nan
    answers[7] = np.nan                                   # a respondent with no answer at all
    w = rng.uniform(0.5, 3.0, n) if weights is None else weights
    factor_of = {f"q{j + 1:02d}": ("A" if j < 3 else "B") for j in range(J - 1)}   # last item: no factor
    return SurveyData.from_arrays(answers, w, district.astype(str), stratum=stratum.astype(str), psu=psu,
                                  factor_of=factor_of), answers, w, district, stratum, psu


@pytest.fixture(scope="module")
def case():
    data, answers, w, district, stratum, psu = make_data()
    return data, compute_table(data), answers, w, district, stratum, psu


def test_criterion_rows_equal_the_direct_estimates(case):
    data, table, answers, w, district, stratum, psu = case
    design = Design.from_columns(w, strata=stratum, psu=psu)
    for d in ("0", "2", None):
        dom = None if d is None else district == int(d)
        for j, item in enumerate(data.items):
            row = table.row("ALL" if d is None else d, item)
            y = np.where(np.isnan(answers[:, j]), np.nan, answers[:, j] >= 4)
            est = analysis.proportion(y, design, domain=dom)
            assert row["p"] == pytest.approx(est.estimate, rel=1e-12)
            assert row["se"] == pytest.approx(est.se, rel=1e-10)
            assert row["df"] == est.df and row["n"] == est.n
            assert row["deff"] == pytest.approx(est.deff, rel=1e-10)
            assert (row["ci_logit_l"], row["ci_logit_u"]) == pytest.approx((est.ci.low, est.ci.high), rel=1e-10)
            m = analysis.mean(answers[:, j], design, domain=dom)
            assert row["mean_score"] == pytest.approx(m.estimate, rel=1e-12)
            assert row["se_mean"] == pytest.approx(m.se, rel=1e-10)
            nd = analysis.proportion(np.where(np.isnan(answers[:, j]), np.nan, answers[:, j] >= 3), design,
                                     domain=dom)
            assert row["p_nd"] == pytest.approx(nd.estimate, rel=1e-12)
            assert row["se_nd"] == pytest.approx(nd.se, rel=1e-10)


def test_pooled_and_respondent_indices_equal_the_direct_estimates(case):
    data, table, answers, w, district, stratum, psu = case
    design = Design.from_columns(w, strata=stratum, psu=psu)
    sat = np.where(np.isnan(answers), 0, answers >= 4).sum(axis=1)
    valid = (~np.isnan(answers)).sum(axis=1)
    for d in ("1", "3", None):
        dom = None if d is None else district == int(d)
        row = table.row("ALL" if d is None else d, "INDEX:POOLED")
        r = analysis.ratio(sat, valid, design, domain=dom)
        assert row["p"] == pytest.approx(r.estimate, rel=1e-12) and row["se"] == pytest.approx(r.se, rel=1e-10)
        assert row["deff"] == pytest.approx(r.deff, rel=1e-10) and row["df"] == r.df
        row = table.row("ALL" if d is None else d, "INDEX:RESP")
        share = np.where(valid > 0, sat / np.maximum(valid, 1), np.nan)
        m = analysis.mean(share, design, domain=dom)
        assert row["p"] == pytest.approx(m.estimate, rel=1e-12) and row["se"] == pytest.approx(m.se, rel=1e-10)
        assert row["n"] == m.n and row["deff"] == pytest.approx(m.deff, rel=1e-10)


def test_item_average_is_the_mean_of_criteria_with_its_linearised_variance(case):
    data, table, answers, w, district, stratum, psu = case
    design = Design.from_columns(w, strata=stratum, psu=psu)
    items = [0, 1, 2]                                   # factor A
    for d in ("0", None):
        dom = np.ones(len(w), bool) if d is None else district == int(d)
        z = np.zeros(len(w))
        ps = []
        for j in items:
            r = dom & ~np.isnan(answers[:, j])
            W = w[r].sum()
            y = answers[r, j] >= 4
            p = (w[r] * y).sum() / W
            ps.append(p)
            z[r] += (y - p) / W / len(items)
        keep = dom & (~np.isnan(answers[:, items])).any(axis=1)
        row = table.row("ALL" if d is None else d, "FACTOR:A:ITEM_AVG")
        assert row["p"] == pytest.approx(np.mean(ps), rel=1e-12)
        assert row["se"] == pytest.approx(np.sqrt(design.total_variance(z, domain=keep)), rel=1e-10)
        assert row["n"] == keep.sum() and row["df"] == design.degrees_of_freedom(domain=keep)


def test_shuffled_rows_and_tiny_blocks_give_the_same_table(case):
    data, table, answers, w, district, stratum, psu = case
    perm = np.random.default_rng(0).permutation(len(w))
    shuffled = SurveyData.from_arrays(answers[perm], w[perm], district[perm].astype(str),
                                      stratum=stratum[perm].astype(str), psu=psu[perm], factor_of=data.factor_of)
    for other in (compute_table(shuffled), compute_table(data, chunk_rows=7)):
        assert len(other) == len(table)
        for a, b in zip(table.rows(), other.rows()):
            assert (a["district"], a["measure"]) == (b["district"], b["measure"])
            for k, v in a.items():
                if isinstance(v, float):
                    assert b[k] == pytest.approx(v, rel=1e-9, abs=1e-12), (a["district"], a["measure"], k)


def test_lonely_psu_options(case):
    data, table, answers, w, district, stratum, psu = case
    removed = compute_table(data, lonely_psu="remove")
    design = Design.from_columns(w, strata=stratum, psu=psu, lonely_psu="remove")
    y = np.where(np.isnan(answers[:, 0]), np.nan, answers[:, 0] >= 4)
    assert removed.row("ALL", "q01")["se"] == pytest.approx(analysis.proportion(y, design).se, rel=1e-10)
    assert removed.row("ALL", "q01")["se"] < table.row("ALL", "q01")["se"]
    with pytest.raises(ValueError, match="stratum '99' has a single PSU"):
        compute_table(data, lonely_psu="fail")


def test_unclustered_design_equals_direct_estimates_with_a_lonely_respondent():
    data, answers, w, district, stratum, _ = make_data(seed=5, clustered=False, crossing=False)
    table = compute_table(data)
    design = Design.from_columns(w, strata=stratum)
    for d in ("0", None):
        dom = None if d is None else district == 0
        y = np.where(np.isnan(answers[:, 1]), np.nan, answers[:, 1] >= 4)
        est = analysis.proportion(y, design, domain=dom)
        row = table.row("ALL" if d is None else d, "q02")
        assert row["se"] == pytest.approx(est.se, rel=1e-10) and row["df"] == est.df


def test_item_nobody_answered_in_a_district_is_left_out_of_its_index():
    data, answers, w, district, stratum, psu = make_data(seed=8)
    answers = answers.copy()
    answers[district == 1, 0] = np.nan                  # nobody in district 1 answered q01
    data = SurveyData.from_arrays(answers, w, district.astype(str), stratum=stratum.astype(str), psu=psu,
                                  factor_of=data.factor_of)
    table = compute_table(data)
    with pytest.raises(KeyError):
        table.row("1", "q01")
    others = [table.row("1", f"q0{j}")["p"] for j in (2, 3)]
    assert table.row("1", "FACTOR:A:ITEM_AVG")["p"] == pytest.approx(np.mean(others), rel=1e-12)


def test_shares_add_up_and_agree_with_the_other_columns(case):
    table = case[1]
    for r in table.rows():
        shares = [r[f"share_{k}"] for k in range(1, 6)]
        assert sum(shares) == pytest.approx(1.0, abs=1e-12)
        assert r["share_4"] + r["share_5"] == pytest.approx(r["p"], abs=1e-12)
        assert r["share_3"] + r["share_4"] + r["share_5"] == pytest.approx(r["p_nd"], abs=1e-12)
        if r["measure_type"] in ("item", "index_pooled", "factor_pooled", "index_item_avg", "factor_item_avg"):
            assert sum(k * s for k, s in zip(range(1, 6), shares)) == pytest.approx(r["mean_score"], abs=1e-12)


def test_unassigned_criterion_counts_in_the_index_only(case):
    data, table = case[0], case[1]
    assert "q06" not in data.factor_of
    ps = [table.row("ALL", f"q0{j}")["p"] for j in range(1, 7)]
    assert table.row("ALL", "INDEX:ITEM_AVG")["p"] == pytest.approx(np.mean(ps), rel=1e-12)
    fa = np.mean([table.row("ALL", f"FACTOR:{f}:POOLED")["p"] for f in ("A", "B")])
    assert table.row("ALL", "INDEX:FACTOR_AVG")["p"] == pytest.approx(fa, rel=1e-12)


def test_csv_round_trip_keeps_every_number(case, tmp_path):
    table = case[1]
    table.to_csv(tmp_path / "t.csv")
    back = IndexTable.read_csv(tmp_path / "t.csv")
    for a, b in zip(table.rows(), back.rows()):
        assert a == b


def test_bad_options_are_refused(case):
    data = case[0]
    for kwargs, fragment in [({"level": 1.5}, "level"), ({"lonely_psu": "x"}, "lonely_psu"),
                             ({"ci_method": "wald"}, "ci_method"), ({"target": 80}, "target")]:
        with pytest.raises(ValueError, match=fragment):
            compute_table(data, **kwargs)


def test_everyone_very_satisfied_gives_exact_ones_and_zero_errors():
    answers = np.full((5, 2), 5.0)
    table = compute_table(SurveyData.from_arrays(answers, np.arange(1, 6.0), ["a"] * 5,
                                                 factor_of={"q01": "F", "q02": "F"}))
    for measure in table.measures:
        r = table.row("a", measure)
        assert (r["p"], r["se"], r["mean_score"], r["se_mean"], r["share_5"]) == (1.0, 0.0, 5.0, 0.0, 1.0)
        # R: deff 0/0 is NA, no logit interval at p = 1, Korn-Graubard [ (alpha/2)^(1/n), 1 ]
        assert r["deff"] is None and r["ci_logit_l"] is None
        assert r["ci_kg_l"] == pytest.approx(0.025 ** (1 / 5), rel=1e-14) and r["ci_kg_u"] == 1.0
        assert r["nchs_review"] and r["nchs_suppress"]


@pytest.mark.parametrize("shape", ["no factors", "one criterion", "one unit", "one respondent",
                                   "unit without answers"])
def test_small_and_odd_surveys_give_a_table(shape):
    rng = np.random.default_rng(0)
    answers = rng.integers(1, 6, (50, 3)).astype(float)
    district = np.repeat(["a", "b"], 25)
    w = rng.uniform(1, 2, 50)
    factors = {"q01": "F", "q02": "F", "q03": "G"}
    if shape == "no factors":
        factors = {}
    elif shape == "one criterion":
        answers, factors = answers[:, :1], {"q01": "F"}
    elif shape == "one unit":
        district = np.repeat(["a"], 50)
    elif shape == "one respondent":
        answers, w, district = answers[:1], w[:1], district[:1]
    else:
        answers[:25] = np.nan
    table = compute_table(SurveyData.from_arrays(answers, w, district, factor_of=factors))
    measures = set(table.measures)
    assert "INDEX:ITEM_AVG" in measures and "q01" in measures
    assert ("INDEX:FACTOR_AVG" in measures) == bool(factors)
    if shape == "unit without answers":
        assert table.districts == ["b"]
    for r in table.rows():
        assert 0 <= r["p"] <= 1 and r["se"] >= 0


def test_threads_do_not_change_a_single_bit(case):
    data = case[0]
    one, two = compute_table(data, threads=1, chunk_rows=50), compute_table(data, threads=3, chunk_rows=50)
    for a, b in zip(one.rows(), two.rows()):
        assert a == b
