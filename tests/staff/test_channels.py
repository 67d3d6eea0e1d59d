"""Channels say what they are: the stored channel names how the citizen reached the form, old
databases are migrated, and one label table names them on the dashboard, in exports and reports."""
from __future__ import annotations

import re
from datetime import timedelta

from survey import migrations, responses, units
from survey.db import connect
from survey.labels import CHANNELS, channel_label

from .conftest import build_db, local, make_response, register_questionnaire, unit_id


def _old_database(path):
    """A database as it was before 0005b: every migration up to 0005, QR scans stored as 'phone'."""
    db = connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, fn in migrations.MIGRATIONS:
        if name >= "0005b":  # 0005b_channels and everything after it
            continue
        with db.atomic():
            fn(db)
            db.execute("INSERT INTO schema_migrations VALUES (?, '2025-01-01T00:00:00Z')", [name])
    units.load_demo(db)
    register_questionnaire(db)
    quan1 = unit_id(db, "quan-1")
    start = local("2025-03-05 08:00")
    # Stored as the code of that time did (its columns: no 'simulated' yet).
    columns = [c for c in responses._COLUMNS if c != "simulated"]
    with db.conn:
        db.conn.executemany(
            f"INSERT INTO responses ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [make_response(quan1, start + timedelta(minutes=i), channel=ch).row()[:len(columns)]
             for i, ch in enumerate(["phone"] * 7 + ["web"] * 3 + ["kiosk"] * 2 + ["paper"])])
    return db


def test_the_migration_renames_old_qr_scans_and_keeps_every_response(tmp_path):
    db = _old_database(tmp_path / "old.sqlite3")
    before = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    assert db.execute("SELECT count(*) FROM daily_counts WHERE channel = 'phone'").fetchone()[0] > 0
    assert migrations.migrate(db) == [n for n, _ in migrations.MIGRATIONS if n >= "0005b"]
    counts = dict(db.execute("SELECT channel, count(*) FROM responses GROUP BY channel").fetchall())
    assert counts == {"qr": 7, "web": 3, "kiosk": 2, "paper": 1}
    assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == before == 13
    # The dashboard's summaries followed (their triggers saw the UPDATE).
    summary = dict(db.execute("SELECT channel, sum(n) FROM daily_counts GROUP BY channel HAVING sum(n) > 0").fetchall())
    assert summary == {"qr": 7, "web": 3, "kiosk": 2, "paper": 1}
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # The new constraint holds, on this connection and on a new one.
    quan1 = unit_id(db, "quan-1")
    responses.save(db, make_response(quan1, local("2025-03-06 09:00"), channel="qr"))
    again = connect(tmp_path / "old.sqlite3")
    try:
        responses.save(again, make_response(quan1, local("2025-03-06 09:01"), channel="telepathy"))
    except Exception as exc:  # noqa: BLE001
        assert "CHECK" in str(exc)
    else:
        raise AssertionError("an unknown channel was stored")
    assert migrations.migrate(again) == []


def test_one_label_table_names_the_channels_and_the_picker_links_say_web(tmp_path):
    from survey import create_app

    db = build_db(tmp_path / "survey.sqlite3")
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "survey.sqlite3"), "SECRET_KEY": "x",
                      "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    assert CHANNELS == ("qr", "web", "kiosk", "paper", "phone")
    assert channel_label("qr", "vi") == "Quét mã QR tại cơ quan"
    assert channel_label("web", "vi") == "Trang web (danh sách cơ quan)"
    assert channel_label("phone", "vi") == "Phỏng vấn qua điện thoại"
    # The report's channel names come from the same table.
    from analysis.report.model import CHANNEL_LABELS

    assert {c: (t.vi, t.en) for c, t in CHANNEL_LABELS.items()} == \
        {c: (channel_label(c, "vi"), channel_label(c, "en")) for c in CHANNELS}
    picker = client.get("/").get_data(as_text=True)
    assert re.search(r'href="/u/quan-1\?ch=web"', picker)
