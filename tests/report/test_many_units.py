"""The report at the scale of today's units (issue 14): several provinces' communes, most with few
responses, some with none, no population margins for any new unit (so ``--weights none``).

The benchmark's whole country (3,321 communes, 1,000,000 responses) once crashed at the PDF stage with
"max() arg is an empty sequence": the margins table had no column to draw. Here the same shape on a
small database: more than 400 units (beyond the report's caps on charts and tables), 1,200 responses.
"""
import csv
from datetime import date

import pytest
from openpyxl import load_workbook

from analysis.report.build import FILES
from analysis.report.cli import main as report_main

PROVINCES = ("01", "79", "31", "48")          # Hà Nội, Hồ Chí Minh City, Hải Phòng, Đà Nẵng


@pytest.fixture(scope="module")
def many_units_db(tmp_path_factory):
    from survey import catalog, units
    from survey.db import connect
    from survey.migrations import migrate
    from survey.simulate import simulate

    path = tmp_path_factory.mktemp("many-units") / "survey.sqlite3"
    db = connect(path)
    migrate(db)
    catalog.register_shipped(db)
    for code in PROVINCES:
        units.load_province(db, code)
    written = simulate(db, catalog.latest(db, "sipas-hcm-26"), 1200, 14, date(2026, 1, 1), date(2026, 2, 28))
    leaves = len(units.leaf_units(db, date(2026, 1, 1)))
    with_responses = db.execute("SELECT count(DISTINCT unit_id) FROM responses").fetchone()[0]
    with db.conn:   # stand-ins for real responses: reports leave simulated ones out (issue 11)
        db.execute("UPDATE responses SET simulated = 0")
    db.close()
    assert written == 1200 and leaves > 400 and with_responses < leaves   # some units have no response
    return path, leaves, with_responses


def test_report_on_hundreds_of_units_with_few_responses_and_no_margins(many_units_db, tmp_path, capsys):
    path, leaves, with_responses = many_units_db
    out = tmp_path / "report"
    code = report_main(["--db", str(path), "--from", "2026-01-01", "--to", "2026-02-28", "--weights", "none",
                        "--lang", "vi", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "error" not in err
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    pdf = (out / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") > 3
    # Every unit that received a response has its index row; the summary counts all 1,200 responses.
    with open(out / "indices.csv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["level"] == "district" and r["measure"] == "INDEX:ITEM_AVG"]
    assert len(rows) == with_responses
    book = load_workbook(out / "indices.xlsx", read_only=True)
    assert len(book.sheetnames) >= 3
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "1.200" in html or "1,200" in html or "1 200" in html
