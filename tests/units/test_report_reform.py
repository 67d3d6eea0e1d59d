"""The report on a period spanning 1 July 2025: both unit sets, each marked with when it is valid, and
the new units grouped by former district beside the districts, with the partial-transfer caveat
(HTML, workbook and PDF through `python -m analysis report`, on a database made with the real CLI)."""
from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from .conftest import as_real

ROOT = Path(__file__).resolve().parents[2]
# District 1 and District 8 and the wards grouped under each (all of them: the groups are whole)
UNITS = ("quan-1", "phuong-ben-thanh", "phuong-cau-ong-lanh", "phuong-sai-gon", "phuong-tan-dinh",
         "quan-8", "phuong-chanh-hung", "phuong-phu-dinh", "phuong-binh-dong")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from survey import create_app

    folder = tmp_path_factory.mktemp("report-reform")
    app = create_app({"TESTING": True, "DATABASE": str(folder / "survey.sqlite3"), "SECRET_KEY": "r" * 40},
                     instance_path=str(folder / "instance"))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db", "--demo"]).exit_code == 0
    assert runner.invoke(args=["simulate", "--responses", "2500", "--seed", "21", "--period",
                               "2025-06-01:2025-07-31"]).exit_code == 0
    as_real(folder / "survey.sqlite3")
    out = folder / "report"
    done = subprocess.run([sys.executable, "-m", "analysis", "report", "--db", str(folder / "survey.sqlite3"),
                           "--from", "2025-06-01", "--to", "2025-07-31", "--units", ",".join(UNITS),
                           "--weights", "none", "--lang", "en", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    former = folder / "former.csv"
    assert subprocess.run([sys.executable, "-m", "analysis", "former", "--db", str(folder / "survey.sqlite3"),
                           "--from", "2025-06-01", "--to", "2025-07-31", "--weights", "none", "--out", str(former)],
                          cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    with open(former, encoding="utf-8", newline="") as handle:
        rows = {r["former_unit"]: r for r in csv.DictReader(handle)}
    return out, rows


def visible(html: str) -> str:
    html = re.sub(r"<svg.*?</svg>|<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_html_lists_both_unit_sets_each_with_its_validity(made):
    out, _ = made
    html = (out / "report.html").read_text(encoding="utf-8")
    units = html.split('id="t-units"')[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", units, flags=re.S)[1:]
    assert len(rows) == 9
    text_rows = [visible(r) for r in rows]
    assert sum("2021-01-01 to 2025-06-30" in r for r in text_rows) == 2
    assert sum("from 2025-07-01" in r for r in text_rows) == 7
    assert any("District 1 " in r and "2025-06-30" in r for r in text_rows)
    assert any("Sai Gon Ward" in r and "from 2025-07-01" in r for r in text_rows)
    assert "The period spans a change of units: 2 units 2021-01-01 to 2025-06-30; 7 units from 2025-07-01" \
        in visible(html)


def test_unit_charts_are_split_so_that_168_or_3321_units_stay_legible():
    from analysis.report.figures import unit_parts

    assert unit_parts(22) == [(0, 22)]
    parts = unit_parts(168)
    assert len(parts) == 5 and parts[0][0] == 0 and parts[-1][1] == 168
    assert all(b == c for (_, b), (c, _) in zip(parts, parts[1:])) and max(b - a for a, b in parts) <= 40
    assert unit_parts(3321) == [(0, 30), (3291, 3321)]


def test_html_sets_each_district_beside_its_area_with_the_caveat(made):
    out, former = made
    html = (out / "report.html").read_text(encoding="utf-8")
    section = visible(html.split('<section id="former">')[1].split("</section>")[0])
    assert "New units by former unit" in section
    q1 = former["quan-1"]
    pct = lambda v: f"{100 * float(v):.1f}"
    table = html.split('<section id="former">')[1].split("</table>")[0]
    rows = [[visible(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, flags=re.S)]
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)]
    by_name = {r[0]: r for r in rows[1:]}
    assert set(by_name) == {"District 1", "District 8 *"}, rows
    d1 = by_name["District 1"]
    assert d1[1:7] == ["4", pct(q1["index_now"]), pct(q1["ci_low_now"]), pct(q1["ci_high_now"]),
                       f"{int(q1['n_now']):,}", pct(q1["index_before"])], d1
    assert "District 8 *" in section
    assert "* 4 new unit(s) took only part of their area from District 8 (Binh Phu Ward, Binh Dong Ward, " \
           "Binh Hung Commune, Tan Nhut Commune)" in section or \
           "took only part of their area from District 8" in section
    assert "District 1 *" not in section


def test_workbook_has_the_former_units_sheet_with_the_engines_numbers(made):
    out, former = made
    book = load_workbook(out / "indices.xlsx", read_only=True)
    assert "Former units" in book.sheetnames
    rows = list(book["Former units"].iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r and "Former unit" in r)
    columns = rows[header]
    body = {r[columns.index("Code")]: r for r in rows[header + 1:] if r and r[columns.index("Code")]}
    q8 = body["quan-8"]
    assert q8[columns.index("Its area now (%)")] == pytest.approx(float(former["quan-8"]["index_now"]), abs=1e-12)
    assert "took only part of their area" in q8[columns.index("Caveat")]
    assert set(body) == {"quan-1", "quan-8"}


def test_pdf_has_the_former_units_page(made):
    out, _ = made
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(out / "report.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "New units by former unit" in text and "took only part of their area from District 8" in text
