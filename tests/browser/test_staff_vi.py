"""The staff pages as a Vietnamese civil servant uses them, in a real browser (Debian's Chromium):
Vietnamese by default, English one click away and remembered, every page free of axe violations
at a desktop and at a phone viewport, and nothing wider than the phone's screen."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.serving import make_server

from survey import catalog, create_app, responses
from survey import db as database
from survey import migrations, units
from survey.kiosk import kiosks
from survey.staff import targets, users

pytestmark = pytest.mark.browser

PASSWORD = "mật khẩu dài của Lan"
PAGES = ["/staff/", "/staff/comments", "/staff/quality", "/staff/exports", "/staff/reports/",
         "/staff/admin/targets", "/staff/admin/kiosks", "/staff/admin/users", "/staff/account/password",
         "/staff/responses/1", "/posters/", "/staff/held", "/staff/former", "/staff/samples",
         "/staff/?unit_q=phuong"]
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("staff-vi")
    path = folder / "survey.sqlite3"
    db = database.connect(path)
    migrations.migrate(db)
    units.load_demo(db, reform=True)      # as init-db --demo: 168 wards today, the 22 districts before
    catalog.register_shipped(db)
    q = catalog.latest(db, "sipas-hcm-26")
    kiosks.register(db, "phuong-sai-gon", "Quầy 1")
    ids = [u["id"] for u in units.leaf_units(db)][:6]
    now = datetime.now(timezone.utc)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    rows = []
    for i in range(120):
        submitted = now - timedelta(hours=3 * i + 1)
        rows.append(responses.Response(
            uuid=str(uuid.uuid4()), questionnaire_id=q.id, questionnaire_version=q.version, unit_id=ids[i % 6],
            channel=("qr", "web", "kiosk", "paper")[i % 4], lang="vi",
            started_at=(submitted - timedelta(minutes=6)).strftime(stamp), submitted_at=submitted.strftime(stamp),
            answers="4" * len(q.criteria), comment="Phải chờ khá lâu ở quầy tiếp nhận." if i % 10 == 0 else None))
    responses.save_many(db, rows)
    # Three held for review (origins recorded as the web form records them), for /staff/held.
    from survey import integrity

    held = [r[0] for r in db.execute("SELECT id FROM responses ORDER BY id LIMIT 3")]
    db.execute("INSERT INTO integrity_origin (response_id, unit_id, channel, kiosk_id, received_at, served_at, "
               "client_key, address_key, answers) SELECT id, unit_id, channel, kiosk_id, submitted_at, started_at, "
               "'k1', 'a1', answers FROM responses WHERE id IN (?, ?, ?)", held)
    integrity.hold(db, held, "pattern", "Asia/Ho_Chi_Minh")
    db.conn.commit()
    for unit_id in ids[:4]:
        targets.set_target(db, unit_id, 400, method="manual", by="lan")
    users.create(db, "lan", PASSWORD, "admin")
    # A probability sample with answered invitations (tests/frames/case.py): /staff/samples shows its
    # response rates, the index and how the sample was weighted.
    from tests.frames.case import build

    build(str(path), folder)
    app = create_app({"TESTING": True, "DATABASE": str(path), "SECRET_KEY": "browser-test-secret",
                      "PUBLIC_BASE_URL": "https://khaosat.example.gov.vn"}, instance_path=str(folder))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    db.close()


def _sign_in(page, base):
    page.goto(f"{base}/staff/")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.get_by_label("Tên đăng nhập").fill("lan")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base}/staff/")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_staff_page_in_vietnamese_passes_axe_and_fits_the_screen(live, chromium, axe, size):
    context = chromium.new_context(viewport=SIZES[size], bypass_csp=True, locale="vi-VN")
    try:
        page = context.new_page()
        _sign_in(page, live)
        for path in PAGES:
            page.goto(f"{live}{path}")
            assert page.locator("html").get_attribute("lang") == "vi", path
            assert axe(page) == [], path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= SIZES[size]["width"], f"{path} is {width} px wide at {SIZES[size]['width']} px"
        page.goto(f"{live}/staff/")
        from playwright.sync_api import expect

        expect(page.get_by_role("heading", name="Tiến độ khảo sát")).to_be_visible()
        expect(page.get_by_role("link", name="Góp ý", exact=True)).to_be_visible()
    finally:
        context.close()


def test_english_is_one_click_away_and_remembered_after_signing_in_again(live, chromium):
    from playwright.sync_api import expect

    context = chromium.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    try:
        page = context.new_page()
        _sign_in(page, live)
        page.goto(f"{live}/staff/comments")
        page.get_by_role("button", name="English").click()
        page.wait_for_url(f"{live}/staff/comments")
        expect(page.get_by_role("heading", name="Comments")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Đăng nhập cán bộ")).to_be_visible()  # a signed-out visitor
    finally:
        context.close()
    fresh = chromium.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    try:
        page = fresh.new_page()
        _sign_in(page, live)
        expect(page.get_by_role("heading", name="Fieldwork dashboard")).to_be_visible()
        page.get_by_role("button", name="Tiếng Việt").click()
        expect(page.get_by_role("heading", name="Tiến độ khảo sát")).to_be_visible()
    finally:
        fresh.close()


def test_the_weighting_notes_and_the_calculator_speak_the_staff_members_language(live, chromium):
    """Issue 11: the analysis engine's notes on /staff/samples were English; the calculator wrote
    2,304.9 on a Vietnamese page. A staff member reads both in Vietnamese, then in English."""
    from playwright.sync_api import expect

    context = chromium.new_context(viewport=SIZES["desktop"], locale="vi-VN")
    try:
        page = context.new_page()
        _sign_in(page, live)
        page.goto(f"{live}/staff/samples")
        page.get_by_text("Cách gia quyền mẫu").click()
        notes = page.locator("#weighting-notes")
        expect(notes.get_by_text("Ô gia quyền đã gộp", exact=False).first).to_be_visible()
        expect(notes).to_contain_text("Sổ hồ sơ: N = 2.400 hồ sơ")
        assert "respondents" not in notes.inner_text()

        page.goto(f"{live}/staff/admin/targets")
        page.get_by_label("± điểm (e)").fill("2")
        page.get_by_label("Hệ số thiết kế").fill("1,5")
        page.get_by_label("Tỷ lệ giả định % (p)").fill("80")
        page.get_by_role("button", name="Tính", exact=True).click()
        result = page.locator("p.result")
        expect(result).to_contain_text("n0 = 1,5 × 1,960² × 0,8 × 0,2 / 0,02² = 2.304,9; n = 2.305")

        page.get_by_role("button", name="English").click()
        expect(page.locator("p.result")).to_contain_text("n0 = 1.5 × 1.960² × 0.8 × 0.2 / 0.02² = 2,304.9; n = 2,305")
        page.goto(f"{live}/staff/samples")
        page.get_by_text("How the sample was weighted").click()
        expect(page.locator("#weighting-notes")).to_contain_text("Register: N = 2,400 dossiers")
        page.get_by_role("button", name="Tiếng Việt").click()      # leave lan in Vietnamese for the other tests
        expect(page.get_by_role("heading", name="Mẫu xác suất")).to_be_visible()
    finally:
        context.close()
