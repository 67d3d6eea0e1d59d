"""Index reports from the dashboard in a real browser: an analyst fills in the form, watches the
progress page refresh itself until the report is ready, and downloads the PDF; the pages pass axe."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.serving import make_server

from survey import catalog, create_app, responses
from survey import db as database
from survey import migrations, units
from survey.staff import users

pytestmark = pytest.mark.browser

PASSWORD = "a long browser password"


@pytest.fixture
def live(tmp_path):
    path = tmp_path / "reports.sqlite3"
    db = database.connect(path)
    migrations.migrate(db)
    catalog.register_shipped(db)
    units.load_demo(db)
    q = catalog.latest(db, "sipas-hcm-26")
    ids = [r["id"] for r in db.query("SELECT id FROM units WHERE slug IN ('quan-1', 'quan-3', 'quan-5')")]
    start = datetime(2025, 3, 3, 2, 0, tzinfo=timezone.utc)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    batch = [responses.Response(
        uuid=str(uuid.uuid4()), questionnaire_id=q.id, questionnaire_version=q.version, unit_id=ids[i % 3],
        channel=("kiosk", "web", "qr")[i % 3], lang="vi",
        started_at=(start + timedelta(hours=i) - timedelta(minutes=4)).strftime(stamp),
        submitted_at=(start + timedelta(hours=i)).strftime(stamp),
        answers="".join("12345"[(i * 7 + j * 3) % 5 if (i + j) % 4 else 3] for j in range(26)),
        respondent={"field": ("land", "civil_status")[i % 2], "respondent_type": "individual"}) for i in range(240)]
    responses.save_many(db, batch)
    users.create(db, "minh", PASSWORD, "analyst")
    app = create_app({"TESTING": True, "DATABASE": str(path), "SECRET_KEY": "browser-test-secret",
                      "STAFF_DEFAULT_LANGUAGE": "en",  # this test reads English; test_staff_vi.py reads Vietnamese
                      "REPORTS_FOLDER": str(tmp_path / "reports")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    db.close()


def test_an_analyst_makes_and_downloads_a_report_in_the_browser(live, chromium, axe, tmp_path):
    from playwright.sync_api import expect

    base = live
    context = chromium.new_context(bypass_csp=True, accept_downloads=True)   # (bypass_csp: to inject axe)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base}/staff/reports/")
    page.get_by_label("User name").fill("minh")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/staff/reports/")
    assert axe(page) == [], "/staff/reports/"
    page.get_by_label("From").first.fill("2025-03-01")
    page.get_by_label("To").first.fill("2025-03-31")
    page.get_by_label("Language of the report").select_option("en")
    page.get_by_role("button", name="Make the report").click()
    page.wait_for_url(f"{base}/staff/reports/1")
    expect(page.get_by_text("The report is ready")).to_be_visible(timeout=120_000)   # the page refreshed itself
    assert axe(page) == [], "/staff/reports/1"
    with page.expect_download() as download_info:
        page.get_by_role("link", name="PDF").click()
    download = download_info.value
    assert download.suggested_filename == "sipas-report-2025-03-01-2025-03-31-en.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    assert problems == []
    context.close()
