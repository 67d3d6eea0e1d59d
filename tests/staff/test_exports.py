"""Exports: what a spreadsheet user gets in CSV and XLSX, and that formulas stay inert."""
from __future__ import annotations

import csv
import html
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from survey import responses
from survey.staff import xlsx

from .conftest import CRITERIA, add_kiosk, local, make_response, register_questionnaire, unit_id

DANGEROUS = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1"]


@pytest.fixture
def exported(db, clock):
    quan1, quan3 = unit_id(db, "quan-1"), unit_id(db, "quan-3")
    kiosk = add_kiosk(db, "quan-1", "=Kiosk")
    rows = [make_response(quan1, local("2025-03-10 09:00") + timedelta(minutes=i), comment=c,
                          answers="12345n-12345") for i, c in enumerate(DANGEROUS)]
    rows.append(make_response(quan3, local("2025-03-11 08:15"), channel="kiosk", kiosk_id=kiosk,
                              comment="Cán bộ hướng dẫn tận tình", answers="555555555555"))
    rows.append(make_response(quan3, local("2025-02-10 08:15"), comment="outside the period"))
    responses.save_many(db, rows)
    responses.exclude(db, 1, by="lan", reason="-test-")
    return rows


def get_csv(client, query="from=2025-03-01&to=2025-03-31"):
    response = client.get(f"/staff/exports/responses.csv?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_streamed
    return response


def test_csv_is_utf8_with_bom_and_has_one_column_per_criterion(client, staff, exported):
    staff.as_role("analyst")
    response = get_csv(client)
    assert response.mimetype == "text/csv"
    assert 'attachment; filename="responses-test-q-2025-03-01-2025-03-31.csv"' == \
        response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == len(DANGEROUS) + 1
    first = rows[0]
    assert [first[c] for c in CRITERIA] == ["1", "2", "3", "4", "5", "NA", "", "1", "2", "3", "4", "5"]
    assert first["unit_slug"] == "quan-1" and first["unit_name"] == "Quận 1"
    assert first["submitted_at_utc"] == "2025-03-10T02:00:00Z" and first["submitted_at_local"] == "2025-03-10 09:00:00"
    assert first["started_at_local"] == "2025-03-10 08:56:40" and first["duration_s"] == "200.0"
    assert first["excluded"] == "1" and first["excluded_by"] == "lan" and first["excluded_reason"] == "'-test-"
    last = rows[-1]
    assert last["comment"] == "Cán bộ hướng dẫn tận tình" and last["channel"] == "kiosk"
    assert last["channel_label"] == "Kiosk at the counter"  # the label table of survey/labels.py
    assert last["kiosk"] == "'=Kiosk" and last["flag_straightline"] == "1" and last["excluded"] == "0"


def test_csv_neutralises_formulas_but_leaves_dates_and_numbers_alone(client, staff, exported):
    staff.as_role("analyst")
    rows = list(csv.reader(io.StringIO(get_csv(client).get_data().decode("utf-8-sig"))))
    header, data = rows[0], rows[1:]
    comments = [r[header.index("comment")] for r in data[:len(DANGEROUS)]]
    assert comments == ["'" + c for c in DANGEROUS]
    for row in data:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
        assert row[header.index("submitted_at_utc")].startswith("2025-03-")


def test_csv_filters_by_unit_and_period(client, staff, exported):
    staff.as_role("analyst")
    unit = list(csv.DictReader(io.StringIO(get_csv(client, "from=2025-03-01&to=2025-03-31&unit=quan-3")
                                           .get_data().decode("utf-8-sig"))))
    assert [r["unit_slug"] for r in unit] == ["quan-3"]
    february = list(csv.DictReader(io.StringIO(get_csv(client, "from=2025-02-01&to=2025-02-28")
                                               .get_data().decode("utf-8-sig"))))
    assert [r["comment"] for r in february] == ["outside the period"]
    one_day = list(csv.DictReader(io.StringIO(get_csv(client, "from=2025-03-11&to=2025-03-11")
                                              .get_data().decode("utf-8-sig"))))
    assert len(one_day) == 1


def test_xlsx_holds_the_same_rows_with_numbers_as_numbers(client, staff, exported, tmp_path):
    staff.as_role("analyst")
    response = client.get("/staff/exports/responses.xlsx?from=2025-03-01&to=2025-03-31")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    path = tmp_path / "x.xlsx"
    path.write_bytes(response.get_data())
    sheet = load_workbook(path, read_only=True)["responses"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = rows[0]
    first = dict(zip(header, rows[1]))
    assert [first[c] for c in CRITERIA] == [1, 2, 3, 4, 5, "NA", None, 1, 2, 3, 4, 5]
    assert first["duration_s"] == 200.0 and first["questionnaire_version"] == 1
    assert first["comment"] == "'" + DANGEROUS[0] and first["unit_name"] == "Quận 1"
    assert first["submitted_at_utc"] == "2025-03-10T02:00:00Z"
    assert [dict(zip(header, r))["comment"] for r in rows[1:len(DANGEROUS) + 1]] == ["'" + c for c in DANGEROUS]
    assert dict(zip(header, rows[-1]))["comment"] == "Cán bộ hướng dẫn tận tình"
    assert len(rows) == len(DANGEROUS) + 2


def test_xlsx_moves_on_to_a_new_sheet_past_the_row_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)            # header + 3 rows per sheet
    rows = [[i, f"row {i}", "x\x00y <&>"] for i in range(8)]
    path = tmp_path / "split.xlsx"
    path.write_bytes(b"".join(xlsx.stream(["n", "text", "odd"], rows, len(rows))))
    book = load_workbook(path)
    assert book.sheetnames == ["responses", "responses 2", "responses 3"]
    values = [r for ws in book for r in ws.iter_rows(min_row=2, values_only=True)]
    assert values == [(i, f"row {i}", "xy <&>") for i in range(8)]
    assert book["responses 2"]["A1"].value == "n" and book["responses"]["A1"].font.b


def test_export_decodes_each_questionnaire_version_by_its_own_criteria(client, db, staff, clock):
    register_questionnaire(db, version=2, criteria=["q01", "q13", "q02"])
    quan1 = unit_id(db, "quan-1")
    responses.save_many(db, [make_response(quan1, local("2025-03-10 09:00"), answers="123412341234"),
                             make_response(quan1, local("2025-03-10 10:00"), answers="5n-", version=2)])
    staff.as_role("analyst")
    rows = list(csv.DictReader(io.StringIO(get_csv(client).get_data().decode("utf-8-sig"))))
    assert list(rows[0])[15:18] == ["q01", "q13", "q02"]          # the latest version's order first
    v1, v2 = rows
    assert (v1["q01"], v1["q02"], v1["q13"], v1["q12"]) == ("1", "2", "", "4")
    assert (v2["q01"], v2["q13"], v2["q02"], v2["q12"]) == ("5", "NA", "", "")


@pytest.mark.parametrize("query, message", [
    ("from=2025-02-30", "From: “2025-02-30” is not a date"),
    ("questionnaire=nope", "Questionnaire: “nope” is not a questionnaire in this database (there are: test-q)"),
    ("unit=quan-99", "Unit: there is no unit “quan-99”"),
])
def test_bad_export_filters_get_a_clear_message(client, staff, clock, query, message):
    staff.as_role("analyst")
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/staff/exports/responses.{fmt}?{query}")
        assert response.status_code == 400
        assert message in html.unescape(response.get_data(as_text=True))


def test_an_empty_export_still_has_its_header(client, staff, clock, tmp_path):
    staff.as_role("analyst")
    rows = list(csv.reader(io.StringIO(get_csv(client).get_data().decode("utf-8-sig"))))
    assert len(rows) == 1 and rows[0][0] == "uuid"
    path = tmp_path / "e.xlsx"
    path.write_bytes(client.get("/staff/exports/responses.xlsx").get_data())
    assert list(load_workbook(path)["responses"].iter_rows(values_only=True))[0][0] == "uuid"


def test_exports_page_offers_both_formats(client, staff, clock):
    staff.as_role("analyst")
    page = client.get("/staff/exports").get_data(as_text=True)
    assert 'formaction="/staff/exports/responses.csv"' in page and 'formaction="/staff/exports/responses.xlsx"' in page


def test_local_times_follow_the_offset_even_when_it_is_not_whole_hours():
    from survey.staff.exports import LocalTime

    assert LocalTime(420)("2025-03-10T19:59:58Z") == "2025-03-11 02:59:58"
    assert LocalTime(330)("2025-12-31T18:30:00Z") == "2026-01-01 00:00:00"
    assert LocalTime(-300)("2025-03-10T02:00:07Z") == "2025-03-09 21:00:07"


def test_csv_and_xlsx_hold_the_same_cells_even_for_awkward_text(client, db, staff, exported, tmp_path):
    quan1 = unit_id(db, "quan-1")
    awkward = make_response(quan1, local("2025-03-12 08:00"), comment='Nói "rõ", ngắn gọn\r\nDòng 2, hết',
                            answers="n-n-n-n-n-n-", duration=12.345)
    awkward.uuid = "=1+1"          # a submission id comes from the client: it is text like any other
    responses.save(db, awkward)
    db.execute("UPDATE responses SET gender = 'a,b', occupation = '@x', duration_s = 12.345 WHERE uuid = '=1+1'")
    staff.as_role("analyst")
    text = get_csv(client).get_data().decode("utf-8-sig")
    from_csv = list(csv.reader(io.StringIO(text, newline="")))
    path = tmp_path / "same.xlsx"
    path.write_bytes(client.get("/staff/exports/responses.xlsx?from=2025-03-01&to=2025-03-31").get_data())
    from_xlsx = [["" if v is None else str(v) for v in row]
                 for row in load_workbook(path, read_only=True)["responses"].iter_rows(values_only=True)]
    assert from_csv == from_xlsx
    row = dict(zip(from_csv[0], from_csv[-1]))
    assert row["uuid"] == "'=1+1" and row["comment"] == 'Nói "rõ", ngắn gọn\r\nDòng 2, hết'
    assert row["gender"] == "a,b" and row["occupation"] == "'@x" and row["duration_s"] == "12.3"
    assert [row[c] for c in CRITERIA] == ["NA", ""] * 6


def test_xlsx_keeps_leading_and_trailing_spaces(tmp_path):
    path = tmp_path / "spaces.xlsx"
    path.write_bytes(b"".join(xlsx.stream(["a", "b"], [["  two spaces", "tail "]], 1)))
    assert next(load_workbook(path)["responses"].iter_rows(min_row=2, values_only=True)) == ("  two spaces", "tail ")


def test_wide_and_narrow_exports_read_the_same_rows_in_storage_order(app, client, db, staff, clock, monkeypatch):
    from survey.staff import queries

    quan1 = unit_id(db, "quan-1")
    # Stored out of time order, as an offline kiosk syncing late would.
    times = ["2025-03-10 09:00", "2025-03-05 10:00", "2025-03-20 08:00", "2025-03-01 07:45"]
    responses.save_many(db, [make_response(quan1, local(t)) for t in times])
    staff.as_role("analyst")
    monkeypatch.setattr(queries, "FULL_SCAN_SHARE", 0.0)        # always the table scan
    wide = get_csv(client, "from=2025-03-02&to=2025-03-31").get_data()
    monkeypatch.setattr(queries, "FULL_SCAN_SHARE", 2.0)        # always the index
    narrow = get_csv(client, "from=2025-03-02&to=2025-03-31").get_data()
    assert wide == narrow
    rows = list(csv.DictReader(io.StringIO(wide.decode("utf-8-sig"))))
    assert [r["submitted_at_local"][:16] for r in rows] == ["2025-03-10 09:00", "2025-03-05 10:00",
                                                            "2025-03-20 08:00"]
