"""The staff dashboard in a real browser (Debian's Chromium driven by Playwright):
sign in through the form, see the figures, and watch them refresh by themselves
without a page reload; without JavaScript the page is still complete. The
``chromium`` fixture is in tests/browser/conftest.py; the server here has its
own database and refreshes every second."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.serving import make_server

from survey import create_app, responses
from survey import db as database
from survey import migrations, units
from survey.staff import users

pytestmark = pytest.mark.browser

PASSWORD = "a long browser password"


def _definition() -> str:
    import json

    text = {"vi": "Câu hỏi", "en": "Question"}
    return json.dumps({
        "id": "browser-q", "version": 1, "title": text,
        "scale": {"min": 1, "max": 5, "satisfied_from": 4, "labels": {}, "not_applicable": text},
        "factors": [{"code": "f1", "text": text, "part": "services"}],
        "criteria": [{"code": f"q{i}", "factor": "f1", "text": text, "weight": 1, "not_applicable": False,
                      "source": "test"} for i in range(1, 6)],
        "respondent": [], "comment": {"max_length": 1200, "text": text}})


def _response(unit_id: int, minutes_ago: int) -> responses.Response:
    submitted = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return responses.Response(uuid=str(uuid.uuid4()), questionnaire_id="browser-q", questionnaire_version=1,
                              unit_id=unit_id, channel="web", lang="vi",
                              started_at=(submitted - timedelta(minutes=3)).strftime(stamp),
                              submitted_at=submitted.strftime(stamp), answers="45345")


@pytest.fixture
def live(tmp_path):
    path = tmp_path / "browser.sqlite3"
    db = database.connect(path)
    migrations.migrate(db)
    units.load_demo(db)
    db.execute("INSERT INTO questionnaires VALUES ('browser-q', 1, ?, 'x', '2025-01-01T00:00:00Z')", [_definition()])
    quan1 = db.execute("SELECT id FROM units WHERE slug = 'quan-1'").fetchone()[0]
    responses.save_many(db, [_response(quan1, m) for m in (1, 2, 3)])
    users.create(db, "lan", PASSWORD, "staff")
    app = create_app({"TESTING": True, "DATABASE": str(path), "SECRET_KEY": "browser-test-secret",
                      "STAFF_DEFAULT_LANGUAGE": "en",  # this test reads English; test_staff_vi.py reads Vietnamese
                      "DEFAULT_QUESTIONNAIRE": "browser-q", "STAFF_REFRESH_SECONDS": 1})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", db, quan1
    server.shutdown()
    thread.join(5)
    db.close()


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/staff/")
    assert "/staff/login" in page.url
    page.get_by_label("User name").fill("lan")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/staff/")


def test_dashboard_refreshes_itself_without_reloading(live, chromium):
    from playwright.sync_api import expect

    base, db, quan1 = live
    context = chromium.new_context()
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, base)
    today = page.locator('[data-count="today"]')
    expect(today).to_have_text("3")
    expect(page.locator('tr[data-unit="quan-1"] [data-col="collected"]')).to_contain_text("3")
    page.evaluate("window.notReloaded = true")
    responses.save_many(db, [_response(quan1, 0), _response(quan1, 0)])
    expect(today).to_have_text("5", timeout=10_000)
    expect(page.locator("#live-status")).to_contain_text("Updated at")
    assert page.evaluate("window.notReloaded") is True
    assert problems == []
    context.close()


def test_dashboard_is_complete_without_javascript(live, chromium):
    from playwright.sync_api import expect

    base, db, quan1 = live
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, base)
    expect(page.locator('[data-count="today"]')).to_have_text("3")
    expect(page.get_by_role("heading", name="Sample targets by unit")).to_be_visible()
    responses.save(db, _response(quan1, 0))
    page.get_by_role("link", name="Refresh now").click()
    expect(page.locator('[data-count="today"]')).to_have_text("4")
    context.close()


def test_session_end_stops_the_refresh_and_says_so(live, chromium):
    from playwright.sync_api import expect

    base, db, _ = live
    context = chromium.new_context()
    page = context.new_page()
    sign_in(page, base)
    context.clear_cookies()
    expect(page.locator("#live-status")).to_contain_text("session has ended", timeout=10_000)
    context.close()


def test_staff_pages_have_no_accessibility_violations(live, chromium, axe):
    base, db, quan1 = live
    users.create(db, "boss", PASSWORD, "admin")
    db.execute("INSERT INTO kiosks (unit_id, name, token_hash, created_at) VALUES (?, 'Quầy 1', 'x', "
               "'2025-01-01T00:00:00Z')", [quan1])
    responses.save(db, _response(quan1, 0))
    db.execute("UPDATE responses SET comment = 'Phải chờ lâu' WHERE id = 1")
    # bypass_csp lets the test inject axe-core; the pages themselves need no exception.
    context = chromium.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base}/staff/login")
    assert axe(page) == [], "/staff/login"
    page.get_by_label("User name").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/staff/")
    for path in ("/staff/", "/staff/comments", "/staff/quality", "/staff/responses/1", "/staff/exports",
                 "/staff/admin/targets", "/staff/admin/users", "/staff/admin/kiosks", "/staff/account/password",
                 "/staff/?from=nonsense"):
        page.goto(f"{base}{path}")
        assert axe(page) == [], path
    context.close()
