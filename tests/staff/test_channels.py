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
    assert CHANNELS == ("qr", "web", "kiosk", "paper", "phone", "invitation")
    assert channel_label("qr", "vi") == "Quét mã QR tại cơ quan"
    assert channel_label("web", "vi") == "Trang web (danh sách cơ quan)"
    assert channel_label("phone", "vi") == "Phỏng vấn qua điện thoại"
    assert channel_label("invitation", "vi") == "Thư mời cá nhân (mẫu xác suất)"
    # The report's channel names come from the same table.
    from analysis.report.model import CHANNEL_LABELS

    assert {c: (t.vi, t.en) for c, t in CHANNEL_LABELS.items()} == \
        {c: (channel_label(c, "vi"), channel_label(c, "en")) for c in CHANNELS}
    picker = client.get("/").get_data(as_text=True)
    assert re.search(r'href="/u/quan-1\?ch=web"', picker)


def test_the_migration_on_an_installation_that_went_through_the_later_migrations_first(tmp_path):
    """An installation of main before issue 11 landed: 0004c, 0006 (unit periods), 0007 (integrity) and
    0008 (invitations) applied, none of 0005*. QR scans were 'phone', and so were the answers to an
    invitation's link ('web' for a typed code); the integrity origins said the same."""
    db = connect(tmp_path / "main.sqlite3")
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    later = [name for name, _ in migrations.MIGRATIONS if not name.startswith("0005")]
    assert {"0004c_staff_sessions", "0006_unit_periods", "0007_integrity", "0007b_flag_counts", "0008_frames"} <= set(later)
    for name, fn in migrations.MIGRATIONS:
        if name in later:
            with db.atomic():
                fn(db)
                db.execute("INSERT INTO schema_migrations VALUES (?, '2025-01-01T00:00:00Z')", [name])
    units.load_demo(db)
    register_questionnaire(db)
    quan1 = unit_id(db, "quan-1")
    start = local("2025-03-05 08:00")
    columns = [c for c in responses._COLUMNS if c != "simulated"] + ["frame_id"]
    with db.conn:
        frame = db.execute("INSERT INTO frames (period_from, period_to, source, imported_at, dossiers) "
                           "VALUES ('2025-03-01', '2025-03-31', 'test', '2025-04-01T00:00:00Z', 10)").lastrowid
        rows = [(ch, frame_id) for ch, frame_id in
                [("phone", None)] * 5 + [("web", None)] * 2 + [("kiosk", None)] + [("phone", frame)] * 3 +
                [("web", frame)] * 2]
        db.conn.executemany(
            f"INSERT INTO responses ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [make_response(quan1, start + timedelta(minutes=i), channel=ch).row()[:len(columns) - 1] + (frame_id,)
             for i, (ch, frame_id) in enumerate(rows)])
        db.execute("INSERT INTO integrity_origin (response_id, unit_id, channel, kiosk_id, received_at, answers) "
                   "SELECT id, unit_id, channel, kiosk_id, submitted_at, answers FROM responses")
    assert migrations.migrate(db) == ["0005_staff_language", "0005b_channels", "0005c_simulated"]
    by_kind = dict(db.execute("SELECT channel || CASE WHEN frame_id IS NULL THEN '' ELSE '+frame' END, count(*) "
                              "FROM responses GROUP BY 1").fetchall())
    assert by_kind == {"qr": 5, "web": 2, "kiosk": 1, "invitation+frame": 5}
    assert db.execute("SELECT count(*) FROM integrity_origin o JOIN responses r ON r.id = o.response_id "
                      "WHERE o.channel <> r.channel").fetchone()[0] == 0
    summary = dict(db.execute("SELECT channel, sum(n) FROM daily_counts GROUP BY channel HAVING sum(n) > 0").fetchall())
    assert summary == {"qr": 5, "web": 2, "kiosk": 1, "invitation": 5}
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM responses WHERE simulated = 1").fetchone()[0] == 0
    assert migrations.migrate(db) == []
