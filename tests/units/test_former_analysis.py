"""`python -m analysis former`: a former district's index beside its area's index after the reform,
through the real command line, on a database made with the real CLI."""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import as_real

ROOT = Path(__file__).resolve().parents[2]


def analysis(*args):
    return subprocess.run([sys.executable, "-m", "analysis", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def spanning_db(tmp_path_factory):
    """HCMC demo with 6,000 responses from 2025-05-01 to 2025-08-31: districts, then wards."""
    from survey import create_app

    folder = tmp_path_factory.mktemp("former")
    app = create_app({"TESTING": True, "DATABASE": str(folder / "survey.sqlite3"), "SECRET_KEY": "f" * 40},
                     instance_path=str(folder / "instance"))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db", "--demo"]).exit_code == 0
    result = runner.invoke(args=["simulate", "--responses", "6000", "--seed", "11", "--period", "2025-05-01:2025-08-31"])
    assert result.exit_code == 0, result.output
    as_real(folder / "survey.sqlite3")
    return folder / "survey.sqlite3"


def read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return {r["former_unit"]: r for r in csv.DictReader(handle)}


def test_each_former_district_beside_its_area_with_the_partial_transfer_caveat(spanning_db, tmp_path):
    out = tmp_path / "former.csv"
    done = analysis("former", "--db", spanning_db, "--from", "2025-07-01", "--to", "2025-08-31",
                    "--compare-from", "2025-05-01", "--compare-to", "2025-06-30", "--weights", "none", "--out", out)
    assert done.returncode == 0, done.stderr
    rows = read(out)
    assert len(rows) == 22 + 16
    assert "38 former units" in done.stderr and "12 with the partial-transfer caveat" in done.stderr
    q1 = rows["quan-1"]
    assert q1["former_name_vi"] == "Quận 1" and q1["new_units"] == "4" and q1["caveat"] == ""
    import sqlite3
    conn = sqlite3.connect(spanning_db)
    wards = [r[0] for r in conn.execute(
        "SELECT u.slug FROM unit_crosswalk x JOIN units u ON u.id = x.new_unit_id WHERE x.old_slug = 'quan-1' AND main = 1")]
    n_wards = conn.execute(f"SELECT count(*) FROM responses r JOIN units u ON u.id = r.unit_id WHERE u.slug IN "
                           f"({','.join('?' * len(wards))})", wards).fetchone()[0]
    n_district = conn.execute("SELECT count(*) FROM responses r JOIN units u ON u.id = r.unit_id "
                              "WHERE u.slug = 'quan-1'").fetchone()[0]
    conn.close()
    assert int(q1["n_now"]) == n_wards > 0 and int(q1["n_before"]) == n_district > 0
    # the area's index is the index of those four wards together, as `indices` computes it on its own
    own = tmp_path / "own.csv"
    assert analysis("indices", "--db", spanning_db, "--from", "2025-07-01", "--to", "2025-08-31", "--units",
                    ",".join(wards), "--weights", "none", "--quiet", "--out", own).returncode == 0
    with open(own, encoding="utf-8", newline="") as handle:
        overall = next(r for r in csv.DictReader(handle) if r["district"] == "ALL" and r["measure"] == "INDEX:ITEM_AVG")
    assert float(q1["index_now"]) == pytest.approx(float(overall["p"]), abs=1e-12)
    assert float(q1["ci_low_now"]) == pytest.approx(float(overall["ci_logit_l"]), abs=1e-9)
    assert float(q1["change"]) == pytest.approx(float(q1["index_now"]) - float(q1["index_before"]), abs=1e-12)
    assert float(q1["change_ci_low"]) < float(q1["change"]) < float(q1["change_ci_high"])
    # District 8: four of its units straddle (the caveat says so and names them)
    q8 = rows["quan-8"]
    assert set(q8["straddling"].split(";")) == {"phuong-binh-phu", "phuong-binh-dong", "xa-binh-hung", "xa-tan-nhut"}
    assert "took only part of their area from District 8" in q8["caveat"] and "Binh Phu Ward" in q8["caveat"]
    # districts of Bình Dương had no units here before: their area is shown, with nothing to set beside it
    td = rows["binh-duong/thanh-pho-thu-dau-mot"]
    assert td["former_name_vi"] == "Thành phố Thủ Dầu Một (Bình Dương)" and td["n_before"] == "0"
    assert td["index_before"] == "" and td["change"] == "" and float(td["index_now"]) > 0


def test_a_period_spanning_the_reform_compares_within_itself(spanning_db, tmp_path):
    out = tmp_path / "span.csv"
    done = analysis("former", "--db", spanning_db, "--from", "2025-05-01", "--to", "2025-08-31", "--weights", "none",
                    "--lang", "vi", "--out", out)
    assert done.returncode == 0, done.stderr
    rows = read(out)
    assert int(rows["quan-1"]["n_now"]) > 0 and int(rows["quan-1"]["n_before"]) > 0
    assert "đơn vị mới chỉ nhận một phần địa bàn từ Quận 8" in rows["quan-8"]["caveat"]


def test_refusals_are_clear(spanning_db, tmp_path):
    done = analysis("former", "--db", spanning_db, "--from", "2025-07-01", "--to", "2025-08-31", "--out", tmp_path / "x.csv")
    assert done.returncode == 2
    assert "168 unit(s) have no population, which design weights need" in done.stderr
    assert "import-margins" in done.stderr and not (tmp_path / "x.csv").exists()
    done = analysis("former", "--db", spanning_db, "--compare-from", "2025-05-01", "--out", "-")
    assert done.returncode == 2 and "give both --compare-from and --compare-to" in done.stderr


def test_weighting_uses_imported_margins_and_refuses_units_they_do_not_cover(spanning_db, tmp_path):
    """No population is published per new ward: counts come from a file the city has; a unit the
    margins do not cover is refused by name, never given invented margins."""
    from survey import create_app

    copy = tmp_path / "copy.sqlite3"
    shutil.copy(spanning_db, copy)
    margins = tmp_path / "margins.csv"
    margins.write_text("unit,dimension,category,population\nphuong-sai-gon,total,all,47000\n"
                       + "".join(f"phuong-sai-gon,age_band,{band},{n}\n" for band, n in
                                 zip(("18-24", "25-34", "35-49", "50-59", "60+"), (6000, 9000, 11000, 6000, 7000))),
                       encoding="utf-8")
    app = create_app({"TESTING": True, "DATABASE": str(copy), "SECRET_KEY": "m" * 40},
                     instance_path=str(tmp_path / "instance"))
    result = app.test_cli_runner().invoke(args=["import-margins", str(margins)])
    assert result.exit_code == 0, result.output
    covered = analysis("indices", "--db", copy, "--from", "2025-07-01", "--to", "2025-08-31", "--units",
                       "phuong-sai-gon", "--weights", "poststratify", "--drop-incomplete", "--quiet",
                       "--out", tmp_path / "ok.csv")
    assert covered.returncode == 0, covered.stderr
    refused = analysis("indices", "--db", copy, "--from", "2025-07-01", "--to", "2025-08-31", "--units",
                       "phuong-sai-gon,phuong-tan-dinh", "--weights", "design", "--out", tmp_path / "no.csv")
    assert refused.returncode == 2 and "1 unit(s) have no population" in refused.stderr
    assert "phuong-tan-dinh" in refused.stderr and not (tmp_path / "no.csv").exists()
    margins.write_text("unit,dimension,category,population\nphuong-tan-dinh,total,all,30000\n", encoding="utf-8")
    assert app.test_cli_runner().invoke(args=["import-margins", str(margins)]).exit_code == 0
    refused = analysis("indices", "--db", copy, "--from", "2025-07-01", "--to", "2025-08-31", "--units",
                       "phuong-sai-gon,phuong-tan-dinh", "--weights", "poststratify", "--drop-incomplete",
                       "--out", tmp_path / "no.csv")
    assert refused.returncode == 2
    assert "1 unit(s) have no age_band population margins" in refused.stderr and "phuong-tan-dinh" in refused.stderr
