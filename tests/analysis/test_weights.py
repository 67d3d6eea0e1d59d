"""Design weights, post-stratification and raking: they hit their margins, agree with R's survey
package, and refuse what cannot be weighted."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from analysis.weights import Margin, design_weights, kish_deff, poststratify, rake

from .conftest import FIXTURES

RAKING = FIXTURES / "extra" / "raking"


def load_raking_case():
    sample = list(csv.DictReader(open(RAKING / "sample.csv")))
    base = np.array([float(r["base_weight"]) for r in sample])
    cells = [(r["unit"], r["age_band"]) for r in sample]
    gender = np.array([r["gender"] for r in sample])
    unit_age = {(r["unit"], r["age_band"]): float(r["population"])
                for r in csv.DictReader(open(RAKING / "margins_unit_age.csv"))}
    genders = {r["gender"]: float(r["population"]) for r in csv.DictReader(open(RAKING / "margins_gender.csv"))}
    r_weights = {k: np.array([float(r[k]) for r in csv.DictReader(open(RAKING / "r_weights.csv"))])
                 for k in ("poststratified", "raked")}
    return base, cells, gender, unit_age, genders, r_weights


def margin_totals(w, cells, keys):
    return np.array([w[[c == k for c in cells]].sum() for k in keys])


def test_design_weights_add_up_to_each_stratum_population():
    stratum = np.array(["a", "a", "b", "b", "b"])
    w = design_weights(stratum, {"a": 1000, "b": 300, "c": 50})
    assert w.tolist() == [500, 500, 100, 100, 100]


def test_design_weights_refuse_stratum_without_population():
    with pytest.raises(ValueError, match="stratum 'b' has respondents but no population"):
        design_weights(np.array(["a", "b"]), {"a": 10})


def test_poststratification_matches_r_and_hits_every_cell():
    base, cells, _, unit_age, _, r = load_raking_case()
    w = poststratify(base, cells, unit_age)
    # R survey 4.1: postStratify(des, ~cell, ...), tests/fixtures/reference/extra/raking/r_weights.csv
    np.testing.assert_allclose(w, r["poststratified"], rtol=1e-12)
    np.testing.assert_allclose(margin_totals(w, cells, list(unit_age)), list(unit_age.values()), rtol=1e-12)


def test_raking_reproduces_both_margins_and_r_weights():
    base, cells, gender, unit_age, genders, r = load_raking_case()
    result = rake(base, [Margin("unit x age", cells, unit_age), Margin("gender", gender, genders)], tol=1e-10)
    assert result.converged and result.max_rel_error <= 1e-10
    np.testing.assert_allclose(margin_totals(result.weights, cells, list(unit_age)), list(unit_age.values()),
                               rtol=1e-6)
    np.testing.assert_allclose(margin_totals(result.weights, list(gender), list(genders)), list(genders.values()),
                               rtol=1e-6)
    # R survey 4.1: rake(des, list(~cell, ~gender), ..., control = list(maxit = 1000, epsilon = 1e-13))
    np.testing.assert_allclose(result.weights, r["raked"], rtol=1e-8)
    # the fit report lists every cell of every margin with its target and achieved total
    assert len(result.fit) == len(unit_age) + len(genders)
    male = next(f for f in result.fit if f.margin == "gender" and f.cell == "male")
    assert male.target == genders["male"] and abs(male.achieved - male.target) / male.target < 1e-10


def test_raking_reports_non_convergence_with_the_fit_achieved():
    base, cells, gender, unit_age, genders, _ = load_raking_case()
    result = rake(base, [Margin("unit x age", cells, unit_age), Margin("gender", gender, genders)],
                  tol=1e-12, max_iter=1)
    assert not result.converged and result.iterations == 1
    assert result.max_rel_error > 1e-12
    assert "did NOT converge" in result.report() and "unit x age" in result.report()


def test_trimming_keeps_weight_ratios_within_bounds():
    base, cells, gender, unit_age, genders, _ = load_raking_case()
    untrimmed = rake(base, [Margin("unit x age", cells, unit_age), Margin("gender", gender, genders)])
    g = untrimmed.weights / base
    lo, hi = 0.95 * g.min() + 0.05 * g.mean(), 0.95 * g.max() + 0.05 * g.mean()   # bind at both ends
    trimmed = rake(base, [Margin("unit x age", cells, unit_age), Margin("gender", gender, genders)],
                   trim=(min(lo, 0.99), max(hi, 1.01)), max_iter=500)
    ratio = trimmed.weights / base
    assert ratio.min() >= min(lo, 0.99) - 1e-12 and ratio.max() <= max(hi, 1.01) + 1e-12
    assert trimmed.trimmed > 0
    assert trimmed.max_rel_error < 0.05     # margins still close


def test_empty_cell_is_refused_naming_it():
    w = np.ones(3)
    with pytest.raises(ValueError, match=r"cell\(s\) have a population but no respondent: 'c' \(population 5\)"):
        poststratify(w, np.array(["a", "b", "b"]), {"a": 10, "b": 20, "c": 5})


def test_respondent_outside_every_cell_is_refused():
    with pytest.raises(ValueError, match=r"1 respondent\(s\) fall outside every cell, e.g. respondent 2 in 'x'"):
        poststratify(np.ones(3), np.array(["a", "b", "x"]), {"a": 10, "b": 20})


@pytest.mark.parametrize("bad", [0, -5, float("nan"), None, "many"])
def test_missing_or_non_positive_margin_is_refused(bad):
    with pytest.raises(ValueError, match=r"cell 'b': population must be a number > 0"):
        rake(np.ones(2), [Margin("m", np.array(["a", "b"]), {"a": 1, "b": bad})])


def test_margins_of_different_populations_need_rescale():
    cells = np.array(["a", "b", "a", "b"])
    sex = np.array(["m", "m", "f", "f"])
    margins = [Margin("unit", cells, {"a": 60, "b": 40}), Margin("sex", sex, {"m": 500, "f": 500})]
    with pytest.raises(ValueError, match="margin 'sex' adds up to 1000 but 'unit' to 100"):
        rake(np.ones(4), margins)
    result = rake(np.ones(4), margins, rescale=True)
    assert result.converged and abs(result.weights[sex == "m"].sum() - 50) < 1e-6
    assert any("used as shares" in n for n in result.notes)


def test_kish_deff_of_equal_weights_is_one():
    assert kish_deff(np.full(10, 3.0)) == pytest.approx(1.0)
    assert kish_deff(np.array([1.0, 3.0])) == pytest.approx(2 * 10 / 16)
