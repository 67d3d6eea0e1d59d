"""Small-area (Fay–Herriot) estimates: the ML fit equals nlme::lme, REML maximises the closed-form
restricted likelihood, the MSE is honest in simulation, and `indices --sae` adds what an analyst reads.

The frozen R output is in tests/fixtures/sae (script make_sae.R there); R is not needed to run this.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from analysis import sae
from analysis.__main__ import main

SAE = Path(__file__).resolve().parent.parent / "fixtures" / "sae"
REFERENCE = Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "basic"
CASES = {"small": ["x"], "wards": ["kind", "former", "last", "online"]}


def load_case(case):
    rows = list(csv.DictReader(open(SAE / f"{case}_input.csv", encoding="utf-8")))
    expected = {(e["what"], e["name"]): float(e["value"])
                for e in csv.DictReader(open(SAE / f"{case}_expected.csv", encoding="utf-8"))}
    areas = [r["area"] for r in rows]
    X, names = sae.design_matrix(areas, {r["area"]: r for r in rows}, CASES[case])
    y = np.array([float(r["y"]) for r in rows])
    D = np.array([float(r["D"]) for r in rows])
    return areas, y, D, X, names, expected


@pytest.mark.parametrize("case", sorted(CASES))
def test_ml_fit_equals_nlme_lme(case):
    areas, y, D, X, names, exp = load_case(case)
    fit = sae.fit(y, D, X, method="ML", names=areas)
    assert fit.A == pytest.approx(exp[("A", "ML_lme")], rel=1e-5)
    beta = np.array([exp[("beta", n.replace("=", ""))] for n in names])     # R names kindward, ours kind=ward
    np.testing.assert_allclose(fit.beta, beta, rtol=0, atol=1e-6)
    eblup = np.array([exp[("eblup", a)] for a in areas])
    np.testing.assert_allclose(fit.eblup, eblup, rtol=0, atol=1e-6)
    assert fit.loglik == pytest.approx(exp[("loglik", "ML_lme")], abs=1e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_reml_maximises_the_closed_form_restricted_likelihood(case):
    areas, y, D, X, names, exp = load_case(case)
    fit = sae.fit(y, D, X, method="REML")
    # the likelihood function itself is R's, to rounding
    for (what, at), value in exp.items():
        if what == "reml_loglik_at":
            assert sae.loglik(float(at), y, X, D, method="REML") == pytest.approx(value, abs=1e-9)
    assert fit.A == pytest.approx(exp[("A", "REML_closed_form")], rel=1e-6)
    assert fit.loglik == pytest.approx(exp[("loglik", "REML_at_max")], abs=1e-9)
    for step in (0.999, 1.001):     # a maximum, not just a stationary point
        assert sae.loglik(fit.A * step, y, X, D) < fit.loglik
    # ML and REML differ (REML corrects the downward bias of ML for the coefficients estimated)
    assert fit.A > sae.fit(y, D, X, method="ML").A


def test_eblup_is_between_direct_and_synthetic_and_no_less_precise_on_average():
    areas, y, D, X, names, _ = load_case("wards")
    fit = sae.fit(y, D, X)
    lo, hi = np.minimum(y, fit.synthetic), np.maximum(y, fit.synthetic)
    assert np.all((fit.eblup >= lo - 1e-15) & (fit.eblup <= hi + 1e-15))
    assert np.all((fit.gamma > 0) & (fit.gamma < 1))
    assert np.median(fit.mse / D) < 0.7          # 168 small wards: borrowing strength pays
    assert np.array_equal(fit.direct_preferred, D <= fit.mse)


def test_benchmarked_wards_add_up_to_the_city():
    areas, y, D, X, names, _ = load_case("wards")
    fit = sae.fit(y, D, X)
    shares = np.linspace(1, 3, y.size)
    b = sae.benchmark(fit.eblup, shares, 0.75)
    assert float(shares @ b / shares.sum()) == pytest.approx(0.75, abs=1e-14)
    assert np.all(np.diff(b) - np.diff(fit.eblup) == pytest.approx(0, abs=1e-14))   # order and gaps kept


def test_areas_without_a_usable_direct_variance_get_the_synthetic_estimate():
    areas, y, D, X, names, _ = load_case("small")
    D2, y2 = D.copy(), y.copy()
    D2[0] = 0.0           # e.g. everyone satisfied: SE 0 is not a credible known variance
    y2[1] = np.nan        # no respondents
    fit = sae.fit(y2, D2, X)
    assert not fit.in_model[0] and not fit.in_model[1] and fit.in_model[2:].all()
    assert fit.eblup[:2] == pytest.approx(fit.synthetic[:2])
    assert np.all(fit.mse[:2] > fit.A)


def test_too_few_areas_or_collinear_covariates_are_refused():
    with pytest.raises(ValueError, match="too few"):
        sae.fit([0.5, 0.6], [0.01, 0.01])
    X = np.column_stack([np.ones(5), np.arange(5), 2 * np.arange(5)])
    with pytest.raises(ValueError, match="collinear"):
        sae.fit(np.linspace(0.4, 0.6, 5), np.full(5, 0.01), X)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_mse_estimate_agrees_with_the_empirical_mse_in_simulation(method):
    """1,000 replicates of a 30-area population: the average estimated MSE (Prasad-Rao for REML,
    Datta-Lahiri for ML) is within 10 % of the empirical MSE of the EBLUP (bench/sae_mse.py: 168 areas)."""
    rng = np.random.default_rng(20251203)
    m, reps, A = 30, 1000, 0.004
    x = rng.uniform(0.4, 0.9, m)
    X = np.column_stack([np.ones(m), x])
    D = rng.uniform(0.001, 0.012, m)
    mean = X @ np.array([0.2, 0.6])
    err2 = np.zeros(m)
    est = np.zeros(m)
    for _ in range(reps):
        theta = mean + rng.normal(0, np.sqrt(A), m)
        y = theta + rng.normal(0, np.sqrt(D))
        fit = sae.fit(y, D, X, method=method)
        err2 += (fit.eblup - theta) ** 2
        est += fit.mse
    ratio = est.sum() / err2.sum()
    assert 0.9 < ratio < 1.1, ratio
    # and what is gained: the EBLUP's error is well below the direct estimate's
    assert err2.sum() / reps < 0.8 * D.sum()


def test_cli_adds_small_area_columns_with_covariates_from_a_file(tmp_path, capsys):
    cov = tmp_path / "units.csv"
    cov.write_text("ward,kind,last_index\nD1,ward,0.30\nD2,ward,0.40\nD3,commune,0.48\nD4,commune,0.50\n"
                   "D5,ward,0.65\nD6,commune,0.66\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    code = main(["indices", str(REFERENCE / "survey.csv"), "--factors", str(REFERENCE / "factors.csv"), "--sae",
                 "--sae-covariates", str(cov), "--sae-columns", "last_index", "--out", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert "small-area estimates (INDEX:ITEM_AVG): Fay-Herriot, REML, 6 unit(s)" in err
    assert "(Intercept), last_index" in err
    rows = [r for r in csv.DictReader(open(out, encoding="utf-8")) if r["measure"] == "INDEX:ITEM_AVG"]
    units = [r for r in rows if r["level"] == "district"]
    assert len(units) == 6
    for r in units:
        # with 6 units and 2 coefficients the model's own uncertainty can outweigh the gain: then the
        # direct estimate is the one to use, and the flag says so
        assert (r["sae_direct_preferred"] == "TRUE") == (float(r["sae_se"]) ** 2 >= float(r["se"]) ** 2)
        assert float(r["sae_ci_l"]) < float(r["sae_benchmarked"]) < float(r["sae_ci_u"])
        assert r["sae_direct_preferred"] in ("TRUE", "FALSE")
        assert 1 <= int(r["sae_rank_best"]) <= int(r["sae_rank"]) <= int(r["sae_rank_worst"]) <= 6
    city = next(r for r in rows if r["level"] == "overall")
    assert city["sae_est"] == ""
    pop = np.array([float(r["sum_w"]) for r in units])
    bench = np.array([float(r["sae_benchmarked"]) for r in units])
    assert float(pop @ bench / pop.sum()) == pytest.approx(float(city["p"]), abs=1e-12)
    other = [r for r in csv.DictReader(open(out, encoding="utf-8")) if r["measure"] == "INDEX:POOLED"]
    assert all(r["sae_est"] == "" for r in other)


def test_cli_refuses_covariates_missing_a_unit_and_writes_nothing(tmp_path, capsys):
    cov = tmp_path / "units.csv"
    cov.write_text("ward,kind\nD1,ward\nD2,ward\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    code = main(["indices", str(REFERENCE / "survey.csv"), "--factors", str(REFERENCE / "factors.csv"), "--sae",
                 "--sae-covariates", str(cov), "--out", str(out)])
    assert code == 2
    assert "no covariates for 4 area(s): D3, D4, D5, D6" in capsys.readouterr().err
    assert not out.exists()
    code = main(["indices", str(REFERENCE / "survey.csv"), "--sae-columns", "kind", "--out", str(out)])
    assert code == 2 and not out.exists()


def test_covariate_keys_are_nfc_normalised(tmp_path):
    import unicodedata
    name = "Thủ Đức"
    cov = tmp_path / "c.csv"
    cov.write_text(f"unit,x\n{unicodedata.normalize('NFD', name)},1\n", encoding="utf-8")
    data, cols = sae.read_covariates(cov)
    assert list(data) == [unicodedata.normalize("NFC", name)] and cols == ["x"]
