"""The report with --sae: direct and small-area estimates side by side, ranked by the small-area
estimate with rank ranges, a plain explanation; and the method says which variance was used."""
from __future__ import annotations

import html as html_lib
import re

import pytest

from analysis.report.cli import main as report_main


def sections(page: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r'<section id="([^"]+)">(.*?)</section>', page, re.S)}


def test_report_shows_direct_and_small_area_estimates_side_by_side(survey_db, tmp_path, capsys):
    covariates = tmp_path / "wards.csv"
    import sqlite3
    slugs = [r[0] for r in sqlite3.connect(survey_db).execute(
        "SELECT slug FROM units WHERE id IN (SELECT DISTINCT unit_id FROM responses) ORDER BY slug")]
    covariates.write_text("slug,kind\n" + "".join(
        f"{s},{'rural' if s.startswith('huyen') else 'urban'}\n" for s in slugs), encoding="utf-8")
    out = tmp_path / "report"
    assert report_main(["--db", str(survey_db), "--from", "2024-01-01", "--to", "2024-06-30", "--lang", "en",
                        "--weights", "rake", "--drop-incomplete", "--sae", "--sae-covariates", str(covariates),
                        "--out", str(out), "--quiet"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    parts = sections(page)
    assert "small-areas" in parts
    sae = parts["small-areas"]
    assert "Small-area estimates (Fay–Herriot model)" in sae
    assert "the more responses a unit has, the more it keeps its own result" in html_lib.unescape(sae)
    header = re.search(r"<thead>(.*?)</thead>", sae, re.S).group(1)
    for title in ("Rank", "Rank range", "Direct (%)", "Small-area (%)", "Small-area interval",
                  "Weight of the direct result (%)", "Use"):
        assert f">{html_lib.escape(title)}<" in header, title
    body = re.search(r"<tbody>(.*?)</tbody>", sae, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    assert len(rows) == len(slugs)
    ranks = [int(re.findall(r"<td[^>]*>(.*?)</td>", r)[0]) for r in rows]
    assert ranks == sorted(ranks) and ranks[0] == 1
    for r in rows:
        cells = [html_lib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
        best, worst = (int(x) for x in cells[1].split("–"))
        assert best <= int(cells[0]) <= worst
        assert cells[-1] in ("direct", "small-area")
    # the smallest unit (Can Gio, 20 usable responses) leans most on the model: its direct result weighs least
    def number(text):
        return float(text.replace(",", "").replace("%", "").strip())
    table = [[html_lib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)] for r in rows]
    n = [number(c[3]) for c in table]
    weight = [number(c[-2]) for c in table]
    assert min(n) == 20 and weight[n.index(min(n))] == min(weight)
    method = html_lib.unescape(parts["methodology"])
    assert "calibration (g-weight residual) variance" in method
    assert "small-area estimates (INDEX:ITEM_AVG): Fay-Herriot, REML" in method      # the computation log


def test_without_sae_there_is_no_small_area_section(survey_db, tmp_path):
    out = tmp_path / "report"
    assert report_main(["--db", str(survey_db), "--from", "2024-01-01", "--to", "2024-06-30", "--lang", "vi",
                        "--out", str(out), "--quiet"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="small-areas"' not in page
    assert "Trọng số được coi là cố định khi tính phương sai" in html_lib.unescape(page)


# ------------------------------------------------------------------ PDF and workbook, 168 wards

def _pdftext(path, *pages) -> str:
    import subprocess

    from .conftest import require
    args = [require("pdftotext"), "-layout"]
    if pages:
        args += ["-f", str(pages[0]), "-l", str(pages[-1])]
    return subprocess.run(args + [str(path), "-"], check=True, capture_output=True, text=True).stdout


def _pages(path) -> list[str]:
    return _pdftext(path).split("\f")


def _number(text: str) -> float:
    return float(text.replace(",", ".").replace("\u202f", "").replace("%", "").strip())


@pytest.fixture(scope="module")
def ward_db(tmp_path_factory):
    """The city after the 2025 reform: 168 wards and communes, 3,500 simulated responses (Jul-Dec 2025)."""
    from datetime import date

    from survey import catalog, units
    from survey.db import connect
    from survey.migrations import migrate
    from survey.simulate import simulate

    path = tmp_path_factory.mktemp("wards") / "survey.sqlite3"
    db = connect(path)
    migrate(db)
    catalog.register_shipped(db)
    units.load_demo(db, reform=True)
    simulate(db, catalog.latest(db, "sipas-hcm-26"), 3500, 11, date(2025, 7, 1), date(2025, 12, 31))
    with db.conn:  # these simulated responses stand in for real ones (reports leave simulated ones out)
        db.execute("UPDATE responses SET simulated = 0")
    db.close()
    return path


def test_pdf_and_workbook_show_the_small_area_estimates_of_168_wards(ward_db, tmp_path):
    out = tmp_path / "report"
    assert report_main(["--db", str(ward_db), "--from", "2025-07-01", "--to", "2025-12-31", "--lang", "en",
                        "--weights", "none", "--sae", "--out", str(out), "--quiet"]) == 0
    _check_168(out)


def _check_168(out):
    import csv

    import openpyxl

    title = "Small-area estimates (Fay–Herriot model)"
    pages = _pages(out / "report.pdf")
    sae_pages = [p for p in pages if p.strip() and title in p.splitlines()[0]]
    # 168 rows do not fit on one page: the table continues, its header repeated on every page
    assert len(sae_pages) >= 3
    first = sae_pages[0]
    assert "the more responses a unit has, the more it keeps its own result" in " ".join(first.split())
    assert "All 168 units, by small-area rank (a long table runs over the following pages" in " ".join(first.split())
    rows = []
    for page in sae_pages:
        text = " ".join(page.split())
        for head in ("Rank", "range", "Unit", "Direct", "95 % CI", "Small-area", "interval", "Use"):   # headers wrap
            assert head in text, head
        rows += [line for line in page.splitlines() if re.search(r"\d\s+(small-area|direct)\s*$", line)]
    assert len(rows) == 168
    ranked = [re.match(r"\s*(\d+)\s+(\d+)–(\d+)\s+(.*?)\s{2,}(\d+)\s+([\d.]+)\s+([\d.]+) – ([\d.]+)\s+([\d.]+)\s+"
                       r"([\d.]+) – ([\d.]+)\s+([\d.]+)\s+(small-area|direct)\s*$", r) for r in rows]
    ranked = [m for m in ranked if m]
    assert len(ranked) >= 160
    ranks = [int(m.group(1)) for m in ranked]
    assert ranks == list(range(1, len(ranked) + 1))                 # by small-area rank, none left out
    for m in ranked:
        rank, best, worst = int(m.group(1)), int(m.group(2)), int(m.group(3))
        assert best <= rank <= worst
        assert float(m.group(10)) <= float(m.group(9)) <= float(m.group(11))      # estimate inside its interval
    assert all(float(a.group(9)) >= float(b.group(9)) for a, b in zip(ranked, ranked[1:]))

    # the workbook: a sheet with every unit, the engine's numbers unrounded, equal to indices.csv
    wb = openpyxl.load_workbook(out / "indices.xlsx")
    assert "Small areas" in wb.sheetnames
    ws = wb["Small areas"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["Rank", "Rank range", "Unit", "Code", "n"]
    assert {"Direct (%)", "Small-area (%)", "Weight of the direct result (%)", "Use"} <= set(header)
    sheet = [dict(zip(header, [c.value for c in r])) for r in ws.iter_rows(min_row=2)]
    assert len(sheet) == 168
    with open(out / "indices.csv", encoding="utf-8") as handle:
        csv_rows = {r["district"]: r for r in csv.DictReader(handle)
                    if r["level"] == "district" and r["measure"] == "INDEX:ITEM_AVG"}
    assert len(csv_rows) == 168 and "sae_benchmarked" in next(iter(csv_rows.values()))
    col = {h: i for i, h in enumerate(header)}
    for r in ws.iter_rows(min_row=2, values_only=True):
        engine = csv_rows[r[col["Code"]]]
        # unrounded: equal to the 16 significant digits an XLSX cell holds
        assert r[col["Small-area (%)"]] == pytest.approx(float(engine["sae_benchmarked"]), rel=1e-15)
        assert r[col["Direct (%)"]] == pytest.approx(float(engine["p"]), rel=1e-15)
        assert r[col["Weight of the direct result (%)"]] == pytest.approx(float(engine["sae_direct_weight"]), rel=1e-15)
        assert r[col["Use"]] == ("direct" if engine["sae_direct_preferred"] == "TRUE" else "small-area")
        if r[col["Rank"]] is not None:
            assert r[col["Rank"]] == int(engine["sae_rank"])
            assert r[col["Rank range"]] == f"{engine['sae_rank_best']}–{engine['sae_rank_worst']}"
    assert ws.cell(row=2, column=col["Small-area (%)"] + 1).number_format == "0.0%"
    # the PDF's first row is the workbook's rank 1, rounded to one decimal
    top = next(r for r in sheet if r["Rank"] == 1)
    assert ranked[0].group(4).strip() == top["Unit"].strip()
    assert _number(ranked[0].group(9)) == round(100 * top["Small-area (%)"], 1)
    assert _number(ranked[0].group(6)) == round(100 * top["Direct (%)"], 1)


def test_vietnamese_report_method_names_lonely_strata_and_units_over_fewer_criteria(survey_db, tmp_path):
    """One district with a single usable response (a lonely stratum), another where nobody answered
    the first criterion: the method section of the PDF says both, in Vietnamese, and the small-area
    table and sheet are in Vietnamese too."""
    import shutil
    import sqlite3

    import openpyxl

    db = tmp_path / "survey.sqlite3"
    shutil.copy(survey_db, db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE responses SET excluded_at = '2024-07-01T00:00:00Z', excluded_by = 'staff', "
                     "excluded_reason = 'test' WHERE excluded_at IS NULL AND unit_id = "
                     "(SELECT id FROM units WHERE slug = 'quan-4') AND id NOT IN (SELECT id FROM responses "
                     "WHERE unit_id = (SELECT id FROM units WHERE slug = 'quan-4') AND excluded_at IS NULL "
                     "ORDER BY id LIMIT 1)")
        conn.execute("UPDATE responses SET answers = '-' || substr(answers, 2) WHERE unit_id = "
                     "(SELECT id FROM units WHERE slug = 'quan-5')")
    names = dict(conn.execute("SELECT slug, name_vi FROM units WHERE slug IN ('quan-4', 'quan-5')"))
    conn.close()
    out = tmp_path / "report"
    assert report_main(["--db", str(db), "--from", "2024-01-01", "--to", "2024-06-30", "--lang", "vi",
                        "--sae", "--out", str(out), "--quiet"]) == 0
    pages = _pages(out / "report.pdf")
    method = " ".join(" ".join(p.split()) for p in pages if p.strip() and "Phương pháp" in p.splitlines()[0])
    assert "Tầng chỉ có một PSU" in method
    assert f"1 tầng chỉ có một PSU (đơn vị mẫu bậc một), nên không ước lượng được phương sai trong tầng: " \
           f"{names['quan-4']}." in method
    assert "Đơn vị thiếu tiêu chí" in method
    assert "Trong kỳ này có 2 đơn vị như vậy:" in method          # the lonely district misses criteria too
    assert f"{names['quan-5']} (25/26 tiêu chí)" in method
    sae = " ".join(" ".join(p.split()) for p in pages if p.strip() and "Ước lượng vùng nhỏ" in p.splitlines()[0])
    for head in ("Hạng", "Khoảng", "Đơn vị", "Trực tiếp", "KTC 95 %", "Vùng", "Nên"):     # headers wrap
        assert head in sae, head
    assert "Đủ 22 đơn vị, theo hạng vùng nhỏ" in sae
    wb = openpyxl.load_workbook(out / "indices.xlsx")
    ws = wb["Ước lượng vùng nhỏ"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["Hạng", "Khoảng hạng", "Đơn vị", "Mã"]
    rows = {r[3]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert len(rows) == 22
    assert rows["quan-5"][0] is None                # over fewer criteria: not ranked
    assert all(r[-1] in ("trực tiếp", "vùng nhỏ") for r in rows.values())
