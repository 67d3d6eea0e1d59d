"""From the survey database: export-parquet, summarize --db, and merging units summarised apart."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest

import analysis
from analysis.__main__ import main
from analysis.indices import IndexTable
from analysis.summary import read_summary

from .conftest import assert_tables_equal


@pytest.fixture
def db(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db", "--demo"]).exit_code == 0
    # before the 2025 reform: the 22 districts, which have census margins for design weights
    result = runner.invoke(args=["simulate", "--responses", "1500", "--seed", "7", "--period", "2025-02-01:2025-05-31"])
    assert result.exit_code == 0, result.output
    path = app.config["DATABASE"]
    with sqlite3.connect(path) as conn:        # an analyst excluded two responses
        conn.execute("UPDATE responses SET excluded_at = '2025-06-01T00:00:00Z' WHERE id IN (3, 4)")
        # simulated responses standing in for real ones (simulate marks its rows, left out unless asked)
        conn.execute("UPDATE responses SET simulated = 0")
    return app, path


def test_simulated_responses_stay_out_of_parquet_and_summaries_unless_asked(app, tmp_path):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db", "--demo"]).exit_code == 0
    assert runner.invoke(args=["simulate", "--responses", "300", "--seed", "3", "--period",
                               "2025-02-01:2025-03-31"]).exit_code == 0
    path = app.config["DATABASE"]
    left_out = runner.invoke(args=["export-parquet", str(tmp_path / "a")])
    assert left_out.exit_code == 1 and "no responses to export" in left_out.output
    assert not (tmp_path / "a").exists()
    asked = runner.invoke(args=["export-parquet", str(tmp_path / "b"), "--include-simulated"])
    assert asked.exit_code == 0 and "Wrote 300 responses" in asked.output, asked.output
    assert main(["summarize", "--db", path, "--out", str(tmp_path / "x.sipas"), "--quiet"]) == 2
    assert main(["summarize", "--db", path, "--out", str(tmp_path / "y.sipas"), "--quiet", "--include-simulated"]) == 0
    assert read_summary(tmp_path / "y.sipas").to_arrow().num_rows > 0


def test_export_parquet_writes_quarters_equal_to_the_database(db, tmp_path):
    app, path = db
    out = tmp_path / "export"
    result = app.test_cli_runner().invoke(args=["export-parquet", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 1498 responses in 2 file(s)" in result.output
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert files == ["province=tp-ho-chi-minh/period=2025q1/part-0.parquet",
                     "province=tp-ho-chi-minh/period=2025q2/part-0.parquet"]
    # a quarter read from Parquet gives exactly the table of that quarter from the database
    q3 = out / "province=tp-ho-chi-minh" / "period=2025q2"
    assert main(["indices", "--parquet", str(q3), "--out", str(tmp_path / "pq.csv"), "--quiet"]) == 0
    assert main(["indices", "--db", path, "--from", "2025-04-01", "--to", "2025-06-30", "--out",
                 str(tmp_path / "db.csv"), "--quiet"]) == 0
    assert_tables_equal(IndexTable.read_csv(tmp_path / "pq.csv"), IndexTable.read_csv(tmp_path / "db.csv"))
    # and the Parquet file carries the questionnaire and the unit tree for summaries
    s_out = tmp_path / "q3.sipas"
    assert main(["summarize", "--parquet", str(q3), "--out", str(s_out), "--quiet"]) == 0
    s = read_summary(s_out)
    assert s.province == "tp-ho-chi-minh" and s.header["questionnaire"]["id"] == "sipas-hcm-26"
    assert any(u["slug"] == "quan-1" and u["parent"] == "tp-ho-chi-minh" for u in s.header["units"])


@pytest.mark.parametrize("weights", ["design", "poststratify"])
def test_units_summarised_apart_merge_to_the_pooled_database_table(db, tmp_path, weights):
    app, path = db
    data = analysis.load_db(path, date_from="2025-02-01", date_to="2025-05-31", weights=weights)
    units = list(data.districts)
    east, west = units[::2], units[1::2]
    files = []
    for name, part in (("east", east), ("west", west)):
        f = tmp_path / f"{name}.sipas"
        assert main(["summarize", "--db", path, "--period", "2025-02-01:2025-05-31", "--units", ",".join(part),
                     "--weights", weights, "--province", name, "--out", str(f), "--quiet"]) == 0
        files.append(str(f))
    assert main(["merge", *files, "--out", str(tmp_path / "national.csv"), "--quiet"]) == 0
    merged = IndexTable.read_csv(tmp_path / "national.csv")
    merged.columns["level"] = np.array(merged.columns["level"], dtype=object)
    # summaries and merges treat the weights as fixed (the calibration variance is compute_table's own)
    pooled = analysis.compute_table(data, calibrated=False)
    assert_tables_equal(merged, pooled)
    s = read_summary(files[0])
    assert s.header["weighting"]["scheme"] == weights and s.header["questionnaire"] == {"id": "sipas-hcm-26",
                                                                                         "versions": [1]}


def test_summarize_db_defaults_to_the_top_unit_and_refuses_an_empty_period(db, tmp_path, capsys):
    _, path = db
    out = tmp_path / "hcm.sipas"
    assert main(["summarize", "--db", path, "--out", str(out), "--quiet"]) == 0
    assert read_summary(out).province == "tp-ho-chi-minh"
    assert main(["summarize", "--db", path, "--period", "2020-01-01:2020-01-31", "--out",
                 str(tmp_path / "none.sipas")]) == 2
    assert "no responses" in capsys.readouterr().err and not (tmp_path / "none.sipas").exists()
