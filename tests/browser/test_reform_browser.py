"""In a real browser, after the reform of 1 July 2025: a citizen with an old District 1 poster finds
the ward that took over, answers there; the picker groups the 168 wards by former district."""
from __future__ import annotations

import secrets
import threading

import pytest
from werkzeug.serving import make_server

from survey import catalog, create_app
from survey.db import connect

from .conftest import VIEWPORTS


@pytest.fixture(scope="module")
def reform_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reform-live")
    app = create_app({"DATABASE": str(folder / "survey.sqlite3"), "SECRET_KEY": secrets.token_hex(32)},
                     instance_path=str(folder))
    assert app.test_cli_runner().invoke(args=["init-db", "--demo"]).exit_code == 0
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="reform-live", daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page(chromium, reform_server):
    context = chromium.new_context(viewport=dict(VIEWPORTS["phone"]), base_url=reform_server[1], locale="vi-VN",
                                   bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_an_old_district_poster_leads_to_the_ward_that_took_over(page, reform_server, axe):
    app, _ = reform_server
    response = page.goto("/u/quan-1")
    assert response.status == 410
    assert page.get_by_role("heading", level=1).inner_text() == "Quận 1 không còn tồn tại"
    assert "Từ ngày 1/7/2025" in page.locator(".lead").inner_text()
    assert axe(page) == []
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", level=1).inner_text() == "District 1 no longer exists"
    page.get_by_role("link", name="Sai Gon Ward").click()
    assert page.url.endswith("/u/phuong-sai-gon")
    assert "Sai Gon Ward" in page.locator("body").inner_text()
    # the citizen answers every question and sends: stored under the ward, today
    db = connect(app.config["DATABASE"])
    try:
        q = catalog.latest(db, app.config["DEFAULT_QUESTIONNAIRE"])
    finally:
        db.close()
    for c in q.criteria:
        page.click(f"label[for={c.code}-4]")
    for r in q.respondent:
        if r.required:
            page.click(f"label[for={r.code}-1]")
    page.get_by_role("button", name="Send answers").click()
    page.wait_for_url("**/thanks/**")
    db = connect(app.config["DATABASE"])
    try:
        rows = db.execute("SELECT u.slug FROM responses r JOIN units u ON u.id = r.unit_id").fetchall()
    finally:
        db.close()
    assert [r[0] for r in rows] == ["phuong-sai-gon"]


def test_the_picker_groups_the_168_wards_by_former_district(page, axe):
    page.goto("/")
    nav = page.get_by_role("navigation", name="Đi nhanh đến nhóm")
    assert nav.get_by_role("link").count() == 38
    nav.get_by_role("link", name="Khu vực Quận 1 cũ (4)").click()
    assert page.url.endswith("#g-former-quan-1")
    group = page.locator("section[aria-labelledby='g-former-quan-1']")
    assert sorted(group.get_by_role("link").all_inner_texts()) == ["Phường Bến Thành", "Phường Cầu Ông Lãnh",
                                                                   "Phường Sài Gòn", "Phường Tân Định"]
    assert page.locator("ul.units a").count() == 168
    assert axe(page) == []


def test_a_citizen_finds_a_ward_among_168_by_typing_part_of_its_name_without_accents(page):
    page.goto("/")
    assert page.locator("ul.units a").count() == 168
    page.get_by_label("Tìm theo tên (gõ không dấu cũng được)").fill("tan dinh")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=tan+dinh")
    found = page.locator("ul.units a").all_inner_texts()
    assert found[0] == "Phường Tân Định" and len(found) < 10
    page.get_by_role("link", name="Phường Tân Định").click()
    assert "/u/phuong-tan-dinh" in page.url
    assert "Phường Tân Định" in page.locator("body").inner_text()
