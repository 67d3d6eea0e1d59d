"""The CSV export reads its rows on a second thread (``exports._BatchReader``), a batch or two
ahead of the writer. What a user of the download must not notice: the same bytes as the row
writer, over real HTTP, with rows the row code writes between the others; one snapshot for the
whole file even when citizens submit and staff exclude responses while it downloads; an error
while reading breaks the download instead of ending it early as if complete; and a download
abandoned half-way leaves no thread and no read transaction behind."""
from __future__ import annotations

import http.cookiejar
import re
import sqlite3
import threading
import time
import urllib.request
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from survey import responses
from survey.staff import exports

from .conftest import PASSWORD, add_kiosk, local, make_response, unit_id
from .test_export_writer import PERIOD, reference

READER = "csv-export-reader"


@pytest.fixture
def many(db, clock):
    """240 responses over two units; every 7th has a comment with a comma or a quote and a respondent
    field with a comma, every 11th is excluded with a reason with a comma (these two kinds the row code
    writes, between the others); ids in storage order."""
    quan1, quan3 = unit_id(db, "quan-1"), unit_id(db, "quan-3")
    kiosk = add_kiosk(db, "quan-3", "Quầy 1")
    rows = []
    for i in range(240):
        comment = (f'Góp ý {i}, "rõ"' if i % 14 == 0 else f"Chờ lâu, lần {i}") if i % 7 == 0 else \
            (f"ok {i}" if i % 3 == 0 else None)
        rows.append(make_response(quan3 if i % 2 else quan1, local("2025-03-03 08:00") + timedelta(minutes=37 * i),
                                  channel="kiosk" if i % 2 else "web", kiosk_id=kiosk if i % 2 else None,
                                  comment=comment, answers="12345n-12345" if i % 5 else "453453453453",
                                  duration=30.0 + i))
    responses.save_many(db, rows)
    ids = [r[0] for r in db.execute("SELECT id FROM responses ORDER BY id")]
    for rid in ids[::7]:
        db.execute("UPDATE responses SET gender = 'nam, nữ' WHERE id = ?", [rid])
    for rid in ids[::11]:
        responses.exclude(db, rid, by="lan", reason="thử, lại")
    return ids


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == READER]


def no_reader_left(seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while reader_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not reader_threads()


def checkpoint_busy(db_path) -> int:
    """1 while some connection holds a read transaction on the write-ahead log (a TRUNCATE checkpoint
    cannot finish), else 0."""
    other = sqlite3.connect(db_path, timeout=0)
    try:
        return other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    finally:
        other.close()


@pytest.fixture
def server(app):
    live = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=live.serve_forever, name="export-live", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{live.server_port}"
    live.shutdown()
    thread.join(5)


def signed_in_opener(base: str):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/staff/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": "analyst-user", "password": PASSWORD, "csrf_token": token}).encode()
    opener.open(f"{base}/staff/login", data=body).read()
    return opener


@pytest.mark.parametrize("batch", [16, exports.CSV_BATCH])
def test_a_download_over_http_has_the_bytes_of_the_row_writer(app, db, staff, many, server, monkeypatch, batch):
    monkeypatch.setattr(exports, "CSV_BATCH", batch)
    staff.create("analyst-user", "analyst")
    with signed_in_opener(server).open(f"{server}/staff/exports/responses.csv?{PERIOD}") as download:
        assert download.status == 200 and download.headers["Content-Type"] == "text/csv; charset=utf-8"
        body = download.read()
    assert body == reference(app, db, PERIOD)
    lines = body.decode("utf-8-sig").split("\r\n")
    assert len(lines) == 1 + 240 + 1 and lines[-1] == ""       # header, 240 rows (no line breaks in them), end
    text = body.decode("utf-8")
    assert ',"nam, nữ",' in text and ',"thử, lại",' in text
    assert ',"Góp ý 14, ""rõ""",0,' in text and ',"Chờ lâu, lần 7",0,' in text and ',"Góp ý 0, ""rõ""",1,' in text
    assert no_reader_left()


def test_the_whole_file_is_one_snapshot_while_responses_change(app, client, db, db_path, staff, many, monkeypatch):
    """A citizen submits and staff exclude, restore and rewrite responses while the file downloads:
    the file is the database as it was when the download began, rows the row code writes included."""
    monkeypatch.setattr(exports, "CSV_BATCH", 8)
    staff.as_role("analyst")
    before = reference(app, db, PERIOD)
    response = client.get(f"/staff/exports/responses.csv?{PERIOD}", buffered=False)
    chunks = iter(response.response)
    received = [next(chunks), next(chunks)]           # the header and the first 8 rows
    assert reader_threads()
    # Rows 220-239, far beyond what the reader has read yet (it is at most a few batches ahead).
    responses.save(db, make_response(unit_id(db, "quan-1"), local("2025-03-10 10:00"), comment="mới, vừa gửi"))
    responses.exclude(db, many[221], by="lan", reason="giữa chừng")
    responses.restore(db, many[231], by="lan")                                 # excluded (231 = 21 x 11)
    db.execute("UPDATE responses SET comment = 'sửa, sau' WHERE id = ?", [many[223]])   # now needs quotes
    db.execute("UPDATE responses SET gender = NULL WHERE id = ?", [many[224]])  # had a comma: the row code's
    received += list(chunks)
    response.close()
    assert b"".join(received) == before
    after = reference(app, db, PERIOD)
    assert after != before and after.count(b"\r\n") == before.count(b"\r\n") + 1
    assert no_reader_left()


def test_a_download_abandoned_half_way_stops_the_reader_and_ends_the_read(app, client, db, db_path, staff, many,
                                                                          monkeypatch):
    monkeypatch.setattr(exports, "CSV_BATCH", 4)
    staff.as_role("analyst")
    response = client.get(f"/staff/exports/responses.csv?{PERIOD}", buffered=False)
    chunks = iter(response.response)
    next(chunks), next(chunks)
    assert len(reader_threads()) == 1
    assert checkpoint_busy(db_path) == 1              # the download's read transaction holds the log
    response.close()                                  # what the server does when the client goes away
    assert no_reader_left(seconds=0.5)
    assert checkpoint_busy(db_path) == 0


def test_an_error_while_reading_breaks_the_download(app, client, db, staff, many, monkeypatch):
    """SQLite fails on the reader thread (here: the statement is interrupted, as a corrupt page or an
    I/O error would fail it): the error reaches the response instead of a shorter file that looks whole."""
    monkeypatch.setattr(exports, "CSV_BATCH", 4)
    connections = []
    opened = exports._export_connection

    def keep(spec):
        connections.append(opened(spec))
        return connections[-1]

    monkeypatch.setattr(exports, "_export_connection", keep)
    db.execute("UPDATE responses SET comment = NULL")      # no row for the row code: only the reader reads
    staff.as_role("analyst")
    response = client.get(f"/staff/exports/responses.csv?{PERIOD}", buffered=False)
    chunks = iter(response.response)
    received = [next(chunks), next(chunks)]
    connections[0].conn.interrupt()
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        for chunk in chunks:
            received.append(chunk)
    assert b"".join(received).count(b"\r\n") < 1 + 240
    response.close()
    assert no_reader_left()
