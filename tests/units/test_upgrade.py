"""An installation of the release before the reform (commit 1c4b4bb: 22 districts, 750 responses of
May-July 2025, a kiosk) upgrades in place: nothing lost or moved, new responses go to the new units."""
from __future__ import annotations

import gzip
import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from survey import create_app
from survey.db import connect

from tests.citizen.conftest import FormReader

from .conftest import text

RELEASE = Path(__file__).resolve().parents[1] / "fixtures" / "release-1c4b4bb" / "survey.sqlite3.gz"


# The responses table's columns in the release (later migrations may add columns, never change these).
RELEASE_COLUMNS = ("id", "uuid", "questionnaire_id", "questionnaire_version", "unit_id", "channel", "kiosk_id", "lang",
                   "started_at", "submitted_at", "duration_s", "answers", "respondent_type", "gender", "age_band",
                   "education", "occupation", "ethnicity", "field", "comment", "excluded_at", "excluded_by",
                   "excluded_reason")


def fingerprint(path) -> tuple[int, str]:
    """The responses' release columns. The one change an upgrade makes: the release stored a scan of the
    counter's QR code as channel 'phone', which migration 0005b_channels renames 'qr' (issue 11)."""
    conn = sqlite3.connect(path)
    columns = ", ".join("CASE r.channel WHEN 'phone' THEN 'qr' ELSE r.channel END" if c == "channel" else f"r.{c}"
                        for c in RELEASE_COLUMNS)
    rows = conn.execute(f"SELECT {columns}, u.slug FROM responses r JOIN units u ON u.id = r.unit_id "
                        "ORDER BY r.id").fetchall()
    conn.close()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture
def release_copy(tmp_path):
    target = tmp_path / "survey.sqlite3"
    with gzip.open(RELEASE) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return target


def test_a_release_database_upgrades_in_place_and_keeps_every_response(release_copy, tmp_path):
    before = fingerprint(release_copy)
    assert before[0] == 750
    old = sqlite3.connect(release_copy)
    assert [r[0] for r in old.execute("SELECT name FROM schema_migrations ORDER BY name")] == \
        ["0001_initial", "0002_staff", "0003_report_jobs"]
    # The release's responses were written by its simulator, which attributed the kiosk channel's to kiosks
    # it made up ('simulated kiosk quan-1', ...): migration 0005c_simulated marks those as simulated, so the
    # dashboard's counts lose them and keep every other response (issue 11; the rest left no trace).
    made_up = "SELECT id FROM kiosks WHERE token_hash LIKE 'simulated:%'"
    daily_before = old.execute(f"SELECT day, unit_id, sum(n) FROM daily_counts WHERE kiosk_id NOT IN ({made_up}) "
                               "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    at_made_up = old.execute(f"SELECT count(*) FROM responses WHERE kiosk_id IN ({made_up})").fetchone()[0]
    channels_before = dict(old.execute("SELECT channel, count(*) FROM responses GROUP BY 1").fetchall())
    old.close()

    app = create_app({"TESTING": True, "DATABASE": str(release_copy), "SECRET_KEY": "u" * 40,
                      "WTF_CSRF_ENABLED": False}, instance_path=str(tmp_path / "instance"))
    runner = app.test_cli_runner()
    migrated = runner.invoke(args=["init-db"])
    assert migrated.exit_code == 0, migrated.output
    assert "0006_unit_periods" in migrated.output
    assert fingerprint(release_copy) == before               # migrating alone changes no response ...
    renamed = sqlite3.connect(release_copy)                   # ... but the QR scans' channel name
    channels_after = dict(renamed.execute("SELECT channel, count(*) FROM responses GROUP BY 1").fetchall())
    renamed.close()
    assert channels_before.get("phone") and "phone" not in channels_after
    assert channels_after == {("qr" if c == "phone" else c): n for c, n in channels_before.items()}
    reform = runner.invoke(args=["init-db", "--demo"])
    assert reform.exit_code == 0, reform.output
    assert "Demo units: 168 added, 23 already present" in reform.output
    # the 150 district responses of July 2025 (collected before the upgrade) are kept where they were
    assert "Note: 150 response(s) are dated after their unit's end; they are kept under that unit" in reform.output
    assert fingerprint(release_copy) == before
    db = connect(release_copy)
    try:
        assert db.execute("SELECT count(*) FROM units WHERE period = '2021-2025' AND valid_to = '2025-06-30'"
                          ).fetchone()[0] == 22
        daily_after = db.execute("SELECT day, unit_id, sum(n) FROM daily_counts GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
        assert daily_after == daily_before
        assert db.execute("SELECT count(*) FROM responses WHERE simulated = 1").fetchone()[0] == at_made_up > 0
        kiosk_unit = db.execute("SELECT u.slug FROM kiosks k JOIN units u ON u.id = k.unit_id").fetchone()[0]
        assert kiosk_unit == "quan-1"
    finally:
        db.close()

    client = app.test_client()
    assert client.get("/u/quan-1").status_code == 410       # the old poster explains
    form = FormReader()
    form.feed(client.get("/u/phuong-ben-thanh").get_data(as_text=True))
    answers = {name: ("4" if "4" in values else values[0]) for name, values in form.radios.items()}
    stored = client.post("/u/phuong-ben-thanh", data={**form.hidden, **answers})
    assert stored.status_code == 303, text(stored)[:400]
    assert "Phường Bến Thành" in text(client.get(stored.headers["Location"]))
    db = connect(release_copy)
    try:
        rows = db.execute("SELECT u.period, count(*) FROM responses r JOIN units u ON u.id = r.unit_id "
                          "GROUP BY u.period ORDER BY u.period").fetchall()
        assert [tuple(r) for r in rows] == [("2021-2025", 750), ("2025", 1)]
        newest = db.execute("SELECT u.slug FROM responses r JOIN units u ON u.id = r.unit_id "
                            "ORDER BY r.id DESC LIMIT 1").fetchone()[0]
        assert newest == "phuong-ben-thanh"
    finally:
        db.close()
    again = runner.invoke(args=["init-db", "--demo"])
    assert again.exit_code == 0 and "0 added, 191 already present" in again.output
    assert fingerprint(release_copy)[0] == 751
