"""Simulated data never passes for real: `flask --app survey simulate` marks every row, never uses a
registered kiosk, never dates a response in the future, refuses a database holding real responses
without --alongside-real, and --remove takes them all away; the dashboard, exports and reports
leave them out unless asked. Also: `init-db --demo` gives every unit a usable target."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

from survey import catalog, responses
from survey import db as database
from survey.kiosk import kiosks
from survey.staff import users

PASSWORD = "a long test password"


def _db(app):
    return database.connect(app.config["DATABASE"])


def _real_response(db, minutes_ago: int = 30) -> None:
    q = catalog.latest(db, "sipas-hcm-26")
    unit = db.execute("SELECT id FROM units WHERE slug = 'quan-1'").fetchone()[0]
    moment = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    responses.save(db, responses.Response(
        uuid=f"00000000-0000-4000-8000-{minutes_ago:012d}", questionnaire_id=q.id, questionnaire_version=q.version,
        unit_id=unit, channel="qr", lang="vi", started_at=(moment - timedelta(minutes=5)).strftime(stamp),
        submitted_at=moment.strftime(stamp), answers="4" * len(q.criteria)))


def _sign_in(client, db, role="analyst"):
    users.create(db, f"{role}1", PASSWORD, role)
    client.post("/staff/login", data={"username": f"{role}1", "password": PASSWORD})


def test_simulated_rows_are_marked_never_at_a_kiosk_never_in_the_future(app, runner):
    db = _db(app)
    kiosk, _token = kiosks.register(db, "quan-1", "Quầy 1")
    kiosks_before = db.execute("SELECT count(*) FROM kiosks").fetchone()[0]
    today = date.today()
    result = runner.invoke(args=["simulate", "--responses", "400", "--period",
                                 f"{today - timedelta(days=3)}:{today + timedelta(days=5)}"])
    assert result.exit_code == 0, result.output
    assert "marked as simulated" in result.output and "simulate --remove" in result.output
    rows = list(db.query("SELECT simulated, kiosk_id, channel, submitted_at FROM responses"))
    assert len(rows) == 400 and all(r["simulated"] == 1 for r in rows)
    assert all(r["kiosk_id"] is None for r in rows)              # never a registered kiosk
    assert db.execute("SELECT count(*) FROM kiosks").fetchone()[0] == kiosks_before  # nor a made-up one
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert max(r["submitted_at"] for r in rows) <= now              # never in the future
    assert {r["channel"] for r in rows} <= {"qr", "web", "kiosk", "paper"}
    assert db.execute("SELECT count(*) FROM responses WHERE kiosk_id = ?", [kiosk.id]).fetchone()[0] == 0


def test_a_period_in_the_future_is_refused(app, runner):
    later = date.today() + timedelta(days=10)
    result = runner.invoke(args=["simulate", "--responses", "10", "--period", f"{later}:{later}"])
    assert result.exit_code == 1 and "never dated in the future" in result.output
    assert _db(app).execute("SELECT count(*) FROM responses").fetchone()[0] == 0


def test_a_database_with_real_responses_is_refused_without_the_flag(app, runner):
    db = _db(app)
    _real_response(db)
    refused = runner.invoke(args=["simulate", "--responses", "50"])
    assert refused.exit_code == 1 and "refused" in refused.output and "1 real responses" in refused.output
    assert "--alongside-real" in refused.output
    assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 1          # nothing written
    allowed = runner.invoke(args=["simulate", "--responses", "50", "--alongside-real"])
    assert allowed.exit_code == 0, allowed.output
    assert db.execute("SELECT count(*) FROM responses WHERE simulated = 1").fetchone()[0] == 50


def test_remove_takes_every_simulated_response_and_nothing_else(app, runner):
    db = _db(app)
    _real_response(db)
    assert runner.invoke(args=["simulate", "--responses", "120", "--alongside-real"]).exit_code == 0
    counts_before = db.execute("SELECT sum(n) FROM daily_counts").fetchone()[0]
    result = runner.invoke(args=["simulate", "--remove"])
    assert result.exit_code == 0 and "Removed 120 simulated responses" in result.output
    assert db.execute("SELECT count(*), sum(simulated) FROM responses").fetchone() == (1, 0)
    assert db.execute("SELECT sum(n) FROM daily_counts").fetchone()[0] == counts_before == 1
    assert "--remove" in runner.invoke(args=["simulate", "--help"]).output


def _minutes_into_the_city_day() -> int:
    """Minutes since midnight in Ho Chi Minh City (the dashboard's "today"), at least 1."""
    from zoneinfo import ZoneInfo

    local = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    return max(1, local.hour * 60 + local.minute)


def test_dashboard_exports_and_reports_leave_simulated_responses_out_unless_asked(app, runner, client):
    from zoneinfo import ZoneInfo

    db = _db(app)
    city_today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()      # the dashboard's "today"
    # 30 minutes ago, or less just after the city's midnight (00:00-00:30 there is 17:00-17:30 UTC)
    _real_response(db, minutes_ago=min(30, _minutes_into_the_city_day() - 1) or 0)
    assert runner.invoke(args=["simulate", "--responses", "200", "--alongside-real", "--period",
                               f"{city_today}:{city_today}"]).exit_code == 0
    _sign_in(client, db)
    page = client.get("/staff/").get_data(as_text=True)
    assert 'data-count="today">1<' in page                       # only the real response
    assert "200 simulated responses (demo data) are in this database" in page
    today = city_today.isoformat()
    plain = client.get(f"/staff/exports/responses.csv?from={today}&to={today}").get_data().decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(plain)))) == 1
    asked = client.get(f"/staff/exports/responses.csv?from={today}&to={today}&simulated=1")
    assert len(list(csv.DictReader(io.StringIO(asked.get_data().decode("utf-8-sig"))))) == 201
    from analysis import load_db

    assert len(load_db(app.config["DATABASE"], date_from=today, date_to=today).district) == 1
    assert len(load_db(app.config["DATABASE"], date_from=today, date_to=today,
                       include_simulated=True).district) == 201


def test_init_db_demo_sets_targets_from_the_calculator_and_keeps_an_admins(app, runner, client):
    db = _db(app)
    unit = db.execute("SELECT id FROM units WHERE slug = 'quan-1'").fetchone()[0]
    from survey.staff import targets

    targets.set_target(db, unit, 999, method="manual", by="admin")
    result = runner.invoke(args=["init-db", "--demo"])
    assert result.exit_code == 0 and "Demo targets:" in result.output
    saved = targets.all_targets(db)
    assert saved[unit]["target"] == 999                                   # an admin's target is kept
    from survey.staff import queries

    reporting = queries.reporting_units(db, None)
    assert len(saved) == len(reporting)
    assert all(row["method"].startswith("ci:") for u, row in saved.items() if u != unit)
    _sign_in(client, db, "admin")
    assert "without target" not in client.get("/staff/").get_data(as_text=True)
