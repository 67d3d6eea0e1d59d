"""The frame design (N_h/n_h, non-response cells, fpc) gives R's numbers on frozen cases.

tests/fixtures/frame/<case>/oracle_output.csv were computed by R 4.2.2 / survey 4.1.1 with
svydesign(ids = ~1, strata = ~stratum, fpc = ~fpc, weights = ~weight) on survey.csv, which
make_case.py wrote from the same deterministic case (tests/fixtures/frame/README.md).
R is not needed to run these tests.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import analysis
from analysis.__main__ import main
from analysis.indices import IndexTable
from tests.analysis.conftest import compare_with_r

from .case import PERIOD, load_case

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "frame"


def _frozen(case: str) -> dict[int, tuple[str, float, float]]:
    with open(FIXTURES / case / "survey.csv", encoding="utf-8") as handle:
        return {int(r["respondent_id"]): (r["stratum"], float(r["weight"]), float(r["fpc"]))
                for r in csv.DictReader(handle)}


@pytest.mark.parametrize("case", ["main", "sparse"])
def test_frame_design_equals_r_svydesign_with_fpc(case, tmp_path):
    db_path, data = load_case(case, tmp_path)
    frozen = _frozen(case)
    # the same respondents, strata, weights and population sizes as the case R was given
    assert sorted(frozen) == sorted(int(i) for i in data.respondent_id)
    for i, rid in enumerate(data.respondent_id.tolist()):
        stratum, weight, fpc = frozen[rid]
        assert data.strata[data.stratum[i]] == stratum
        assert data.weights[i] == pytest.approx(weight, rel=1e-15)
        assert data.fpc[data.stratum[i]] == fpc
    table = analysis.compute_table(data)
    worst = compare_with_r(table, FIXTURES / case / "oracle_output.csv")
    assert worst["p"] < 1e-12 and worst["se"] < 1e-12


def test_fpc_makes_a_difference(tmp_path):
    # the same data without the correction must give larger standard errors (the test can fail)
    _, data = load_case("main", tmp_path)
    with_fpc = analysis.compute_table(data).row("ALL", "INDEX:ITEM_AVG")
    from dataclasses import replace
    without = analysis.compute_table(replace(data, fpc=None)).row("ALL", "INDEX:ITEM_AVG")
    assert with_fpc["p"] == without["p"]
    assert with_fpc["se"] < without["se"] * 0.95


def test_cli_indices_on_the_database_uses_the_frame_design(tmp_path, capsys):
    db_path, _ = load_case("main", tmp_path)
    out = tmp_path / "indices.csv"
    assert main(["indices", "--db", db_path, "--from", PERIOD[0], "--to", PERIOD[1], "--min-cell", "10",
                 "--out", str(out), "--quiet"]) == 0
    compare_with_r(IndexTable.read_csv(out), FIXTURES / "main" / "oracle_output.csv")


def test_weights_carry_the_eligible_sample_of_each_cell(tmp_path):
    import sqlite3

    from analysis.frame import frame_weights

    db_path, _ = load_case("main", tmp_path)
    conn = sqlite3.connect(db_path)
    try:
        fw = frame_weights(conn, 1, min_respondents=10)
    finally:
        conn.close()
    # base weights are N_h / n_h
    assert np.allclose(fw.base, (fw.population / fw.sampled)[fw.stratum], rtol=1e-15)
    # each cell's respondents carry exactly its eligible sampled dossiers' base weights
    for cell in fw.cells:
        rows = np.isin(fw.stratum, cell.strata)
        h = np.array(cell.strata)
        expected = np.sum(fw.population[h] / fw.sampled[h] * (fw.sampled[h] - fw.ineligible[h]))
        assert fw.weights[rows].sum() == pytest.approx(expected, rel=1e-12)
        assert cell.respondents >= 10
    # the whole frame minus the estimated ineligible share
    assert fw.weights.sum() < fw.population.sum()
