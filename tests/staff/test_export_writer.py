"""The CSV export's column writer (pyarrow, a batch at a time) against the row writer it replaced:
the same bytes for awkward text -- commas, quotes, line breaks, formulas, Vietnamese, NULLs, odd
times -- in batches that mix the rows it writes with those it leaves to the row writer."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from survey import responses
from survey.staff import exports

from .conftest import CRITERIA, add_kiosk, local, make_response, unit_id

PERIOD = "from=2025-03-01&to=2025-03-31"


@pytest.fixture
def awkward(db, clock):
    """Twelve responses, most with one awkward value each, between plain ones."""
    quan1, quan3 = unit_id(db, "quan-1"), unit_id(db, "quan-3")
    db.execute("UPDATE units SET name_vi = ? WHERE id = ?", ['=Phường, "Bến Nghé"', quan3])
    kiosk = add_kiosk(db, "quan-3", 'Quầy "A", tầng 1')
    plain = add_kiosk(db, "quan-1", "Quầy B")
    comments = [None, "Cán bộ tận tình, chu đáo", 'Nói "rõ"', "Dòng 1\r\nDòng 2", "Dòng 1\nDòng 2", "=SUM(A1:A2)",
                "+84 90", "-", "@admin", "\tTab", "\rCR", None]
    rows = []
    for i, comment in enumerate(comments):
        rows.append(make_response(quan3 if i % 3 else quan1, local("2025-03-10 09:00") + timedelta(minutes=7 * i),
                                  channel="kiosk" if i % 2 else "web", kiosk_id=(kiosk if i % 4 == 1 else plain)
                                  if i % 2 else None, comment=comment, lang="en" if i % 5 == 0 else "vi",
                                  answers="12345n-12345" if i % 2 else "n-n-n-n-n-n-"))
    responses.save_many(db, rows)
    ids = [r[0] for r in db.execute("SELECT id FROM responses ORDER BY id")]
    updates = [("gender", "a,b"), ("occupation", "@x"), ("education", '"q"'), ("ethnicity", "-1"),
               ("respondent_type", None), ("age_band", "Tuổi 30–39"), ("field", "=cmd")]
    for rid, (column, value) in zip(ids[1::2], updates):
        db.execute(f"UPDATE responses SET {column} = ? WHERE id = ?", [value, rid])
    db.execute("UPDATE responses SET uuid = '=1+1' WHERE id = ?", [ids[2]])
    db.execute("UPDATE responses SET uuid = 'a,b' WHERE id = ?", [ids[4]])
    db.execute("UPDATE responses SET started_at = '2025-03-10T01:00:00+00:00' WHERE id = ?", [ids[6]])
    db.execute("UPDATE responses SET duration_s = 12.345 WHERE id = ?", [ids[8]])
    responses.exclude(db, ids[3], by="Lan, Nguyễn", reason="=1+2")
    responses.exclude(db, ids[10], by="lan", reason="thử lại")
    return ids


def reference(app, db, query: str) -> bytes:
    """The CSV as the row writer (ExportSpec.rows) writes it: the header, then a line per row."""
    with app.test_request_context(f"/staff/exports/responses.csv?{query}"):
        spec, refusal = exports._spec()
        assert refusal is None
        lines = "".join(spec.rows(db, "csv"))
        header = "\ufeff" + ",".join(map(exports.csv_text, spec.header)) + "\r\n"
    return (header + lines).encode("utf-8")


@pytest.mark.parametrize("batch", [3, exports.CSV_BATCH])
def test_the_column_writer_writes_the_bytes_of_the_row_writer(app, client, db, staff, awkward, monkeypatch, batch):
    monkeypatch.setattr(exports, "CSV_BATCH", batch)
    staff.as_role("analyst")
    body = client.get(f"/staff/exports/responses.csv?{PERIOD}").get_data()
    assert body == reference(app, db, PERIOD)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert len(rows) == 1 + len(awkward)
    header, *rows = rows
    by_id = {int(r[1]): dict(zip(header, r)) for r in rows}
    first, second, third = by_id[awkward[0]], by_id[awkward[1]], by_id[awkward[2]]
    assert first["comment"] == "" and first["gender"] == "" and first["kiosk"] == ""
    assert second["comment"] == "Cán bộ tận tình, chu đáo" and second["gender"] == "a,b"
    assert second["unit_name"] == "'=Phường, \"Bến Nghé\"" and second["kiosk"] == 'Quầy "A", tầng 1'
    assert third["uuid"] == "'=1+1" and third["comment"] == 'Nói "rõ"'
    assert by_id[awkward[3]]["comment"] == "Dòng 1\r\nDòng 2" and by_id[awkward[3]]["occupation"] == "'@x"
    assert by_id[awkward[3]]["excluded_by"] == "Lan, Nguyễn" and by_id[awkward[3]]["excluded_reason"] == "'=1+2"
    assert by_id[awkward[4]]["uuid"] == "a,b" and by_id[awkward[5]]["comment"] == "'=SUM(A1:A2)"
    assert by_id[awkward[6]]["started_at_utc"] == "2025-03-10T01:00:00+00:00"
    assert by_id[awkward[7]]["comment"] == "'-" and by_id[awkward[7]]["ethnicity"] == "'-1"
    assert by_id[awkward[8]]["duration_s"] == "12.3" and by_id[awkward[8]]["comment"] == "'@admin"
    assert by_id[awkward[9]]["respondent_type"] == "" and by_id[awkward[9]]["comment"] == "'\tTab"
    assert by_id[awkward[11]]["age_band"] == "Tuổi 30–39"
    assert [by_id[awkward[0]][c] for c in CRITERIA] == ["NA", ""] * 6
    assert [by_id[awkward[1]][c] for c in CRITERIA] == ["1", "2", "3", "4", "5", "NA", "", "1", "2", "3", "4", "5"]
    # Raw bytes: quoted only where needed, quotes doubled, the apostrophe inside the quotes.
    assert b',"\'=Ph\xc6\xb0\xe1\xbb\x9dng, ""B\xe1\xba\xbfn Ngh\xc3\xa9""",' in body
    assert b',"a,b",' in body and b',"""q""",' in body


def test_a_plain_row_is_written_exactly(app, client, db, staff, clock):
    """One ordinary response, its line written out by hand."""
    quan1 = unit_id(db, "quan-1")
    kiosk = add_kiosk(db, "quan-1", "Quầy số 2")
    record = make_response(quan1, local("2025-03-10 23:30"), channel="kiosk", kiosk_id=kiosk, comment=None,
                           answers="45n-12345543", duration=95.0)
    record.uuid = "0b7c6e1e-1d2a-4c55-9a43-5d8a3e0f9c11"
    responses.save(db, record)
    rid = db.execute("SELECT id FROM responses").fetchone()[0]
    name = db.execute("SELECT name_vi FROM units WHERE id = ?", [quan1]).fetchone()[0]
    staff.as_role("analyst")
    body = client.get(f"/staff/exports/responses.csv?{PERIOD}").get_data().decode("utf-8-sig")
    line = body.split("\r\n")[1]
    assert line == (f"0b7c6e1e-1d2a-4c55-9a43-5d8a3e0f9c11,{rid},test-q,1,quan-1,{name},kiosk,Kiosk at the counter,"
                    f"Quầy số 2,vi,2025-03-10T16:28:25Z,2025-03-10 23:28:25,2025-03-10T16:30:00Z,2025-03-10 23:30:00,"
                    f"95.0,4,5,NA,,1,2,3,4,5,5,4,3,,,,,,,land,,0,,,,0,0,0")
