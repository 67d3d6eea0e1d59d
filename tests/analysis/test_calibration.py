"""Variance after post-stratification and raking: the calibration (g-weight residual) variance equals
R's postStratify() and calibrate(calfun = "raking") designs (frozen: tests/fixtures/reference/extra/
calibration, made by make_calibration.R there), and the database path uses it."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import analysis
from analysis.inputs import Calibration
from analysis.intervals import korn_graubard_ci
from analysis.weights import Margin, poststratify, rake

CASE = Path(__file__).resolve().parent.parent / "fixtures" / "reference" / "extra" / "calibration"
ITEMS = [f"q{j:02d}" for j in range(1, 9)]
LABELS = ("level", "district", "measure", "measure_type", "factor")
SVYCIPROP_ROWS = ("item", "index_resp", "factor_resp")


def survey():
    rows = list(csv.DictReader(open(CASE / "survey.csv", encoding="utf-8")))
    answers = np.array([[float(r[i]) if r[i] not in ("", "NA") else np.nan for i in ITEMS] for r in rows])
    d0 = np.array([float(r["weight"]) for r in rows])
    cells, cell = np.unique([r["cal_cell"] for r in rows], return_inverse=True)
    genders, gender = np.unique([r["cal_gender"] for r in rows], return_inverse=True)
    totals = list(csv.DictReader(open(CASE / "totals.csv", encoding="utf-8")))
    cell_t = {int(np.flatnonzero(cells == t["cell"])[0]): float(t["N"]) for t in totals if t["margin"] == "cell"}
    gender_t = {int(np.flatnonzero(genders == t["cell"])[0]): float(t["N"]) for t in totals
                if t["margin"] == "gender"}
    return rows, answers, d0, cell, gender, cell_t, gender_t


def calibrated_data(how):
    rows, answers, d0, cell, gender, cell_t, gender_t = survey()
    if how == "poststratify":
        w = poststratify(d0, cell, cell_t)
        cal = Calibration("poststratify", (cell,))
    else:
        w = rake(d0, [Margin("cell", cell, cell_t), Margin("gender", gender, gender_t)], tol=1e-14,
                 max_iter=1000).weights
        cal = Calibration("calibrate", (cell, gender), d0)
    factor_of = {i: ("A" if k < 4 else "B") for k, i in enumerate(ITEMS)}
    data = analysis.SurveyData.from_arrays(answers, w, [r["district"] for r in rows], items=ITEMS,
                                           factor_of=factor_of, calibration=cal)
    return data, len(rows)


@pytest.mark.parametrize("how", ["poststratify", "raking"])
def test_calibration_variance_equals_r(how):
    data, n_rows = calibrated_data(how)
    r_weights = np.array([float(r["weight"]) for r in csv.DictReader(open(CASE / f"{how}_output.csv.weights.csv"))])
    np.testing.assert_allclose(data.weights, r_weights, rtol=1e-12)
    table = analysis.compute_table(data)
    checked = 0
    for r in csv.DictReader(open(CASE / f"{how}_output.csv", encoding="utf-8")):
        mine = table.row(r["district"], r["measure"])
        for col, value in r.items():
            if col in LABELS or value in ("TRUE", "FALSE"):
                continue
            if value in ("", "NA"):
                assert mine[col] is None, (r["district"], r["measure"], col)
                continue
            expected, got = float(value), mine[col]
            where = (r["district"], r["measure"], col, expected, got)
            if r["measure_type"] in SVYCIPROP_ROWS and col.startswith("ci_kg"):
                # R's svyciprop(method = "beta") on a calibrated domain counts the rows of weight 0 that
                # calibrated designs keep (nrow = the whole sample) in its df adjustment: with that n our
                # Korn-Graubard formula gives R's bound; the table uses the domain's respondents
                lo, hi, _ = korn_graubard_ci(np.array([mine["p"]]), np.array([mine["se"]]),
                                             np.array([float(n_rows)]), np.array([mine["df"]]))
                assert (lo[0] if col == "ci_kg_l" else hi[0]) == pytest.approx(expected, abs=1e-9), where
                continue
            if r["measure_type"] in SVYCIPROP_ROWS and col.startswith("ci_logit"):
                assert got == pytest.approx(expected, abs=3e-9), where    # svyciprop's IRLS tolerance
                continue
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-9), where
            checked += 1
    assert checked > 1500


def test_calibrated_se_is_below_the_fixed_weight_se_and_close_to_rake():
    data, _ = calibrated_data("raking")
    calibrated = analysis.compute_table(data).select(measure="INDEX:ITEM_AVG", level="district")
    fixed = analysis.compute_table(data, calibrated=False).select(measure="INDEX:ITEM_AVG", level="district")
    ratio = fixed.columns["se"] / calibrated.columns["se"]
    assert np.all(ratio > 1.0) and np.all(ratio < 1.2)
    # R's rake() reaches the same weights but takes its variance from iterated post-stratification:
    # its SEs of the unit index (mean of the respondents' shares) are within 2 % of calibrate()'s
    ref = {r["district"]: r for r in csv.DictReader(open(CASE / "rake_vs_calibrate.csv", encoding="utf-8"))}
    resp = analysis.compute_table(data).select(measure="INDEX:RESP", level="district")
    for unit, se in zip(resp.columns["district"], resp.columns["se"]):
        assert se == pytest.approx(float(ref[unit]["se_calibrate"]), rel=1e-9)
        assert abs(float(ref[unit]["se_rake"]) / se - 1) < 0.02
