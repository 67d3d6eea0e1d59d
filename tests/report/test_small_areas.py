"""The report with --sae: direct and small-area estimates side by side, ranked by the small-area
estimate with rank ranges, a plain explanation; and the method says which variance was used."""
from __future__ import annotations

import html as html_lib
import re

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
