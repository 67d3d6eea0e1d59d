"""Kiosk mode in a real browser (Debian's Chromium via Playwright), against the app served by a real
server process on a real SQLite file.

The browser is tests/browser/conftest.py's ``chromium``. The server runs in its own process so that a test can stop it (the kiosk is
then truly offline: nothing answers on the port) and start it again, with the
same or a new secret key, the way a city's server restarts overnight.
"""
from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from survey import catalog, create_app
from survey import db as database
from survey import units
from survey.i18n import MESSAGES

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
KIOSK_VIEWPORT = {"width": 1080, "height": 1920}
PHONE_VIEWPORT = {"width": 390, "height": 844}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVE = ("import os; from survey import create_app; from werkzeug.serving import make_server; "
         "app = create_app(instance_path=os.environ['KIOSK_TEST_INSTANCE']); "
         "make_server('127.0.0.1', int(os.environ['KIOSK_TEST_PORT']), app, threaded=True).serve_forever()")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``survey`` served by its own process; settings come from SURVEY_* variables, as in production."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = str(folder / "survey.sqlite3")
        self.secret = secrets.token_hex(32)
        self.process: subprocess.Popen | None = None
        self.app = create_app({"TESTING": True, "DATABASE": self.database, "SECRET_KEY": self.secret},
                              instance_path=str(folder / "instance"))
        database.init_db(self.app)
        db = database.connect(self.database)
        try:
            catalog.register_shipped(db)
            units.load_demo(db)
        finally:
            db.close()

    def start(self, *, new_secret: bool = False) -> None:
        if new_secret:
            self.secret = secrets.token_hex(32)
        env = {**os.environ, "KIOSK_TEST_INSTANCE": str(self.folder / "instance"), "KIOSK_TEST_PORT": str(self.port),
               "SURVEY_DATABASE": self.database, "SURVEY_SECRET_KEY": self.secret,
               "SURVEY_KIOSK_IDLE_SECONDS": "2", "SURVEY_KIOSK_STILL_THERE_SECONDS": "2",
               "SURVEY_KIOSK_THANKS_SECONDS": "1", "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, "-c", SERVE], env=env, cwd=ROOT,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.process.stderr.read().decode())
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def cli(self, *args: str) -> str:
        result = self.app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.output

    def add_kiosk(self, unit: str = "quan-1", name: str | None = None) -> str:
        """Register a kiosk with the CLI; return its device URL."""
        output = self.cli("add-kiosk", "--unit", unit, "--base-url", self.url, "--force",  # a local test server
                          *(["--name", name] if name else []))
        return re.search(r"^(http://\S+/k/\S+)$", output, re.M).group(1)

    def rows(self, sql: str = "SELECT * FROM responses ORDER BY id", params=()) -> list[dict]:
        db = database.connect(self.database)
        try:
            return list(db.query(sql, params))
        finally:
            db.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("kiosk-live"))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def running(server):
    """The server, started again if a test stopped it."""
    if server.process is None:
        server.start()
    yield server
    if server.process is None:
        server.start()


@pytest.fixture
def context(chromium):
    contexts = []

    def new(viewport=KIOSK_VIEWPORT, javascript=True, bypass_csp=False):
        # bypass_csp only where axe-core is injected; otherwise the app's CSP is enforced as in production
        ctx = chromium.new_context(viewport=viewport, java_script_enabled=javascript, locale="vi-VN",
                                   bypass_csp=bypass_csp)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx

    yield new
    for ctx in contexts:
        ctx.close()


# ------------------------------------------------------------------ helpers

def criteria(server) -> list[str]:
    db = database.connect(server.database)
    try:
        return list(catalog.latest(db, "sipas-hcm-26").criterion_codes)
    finally:
        db.close()


def answer(page, codes, score: int, *, comment: str | None = None, upto: int | None = None) -> None:
    for code in codes[:upto]:
        page.click(f"label[for={code}-{score}]")
    if upto is None:
        for question in ("respondent_type", "gender", "age_band", "field"):
            page.click(f"label[for={question}-1]")
    if comment:
        page.fill("#comment", comment)


def ready(page) -> None:
    page.wait_for_selector("#kiosk[data-ready='1']", state="attached")


def warm(page) -> None:
    """Wait until the service worker controls the page and holds a copy of it for offline use."""
    page.wait_for_function("() => document.getElementById('kiosk').dataset.warm === '1' "
                           "&& navigator.serviceWorker.controller !== null")


def chosen(page) -> dict:
    return page.evaluate("""() => ({
        checked: Array.from(document.querySelectorAll('input:checked')).map(i => i.name + '=' + i.value),
        comment: (document.querySelector('#comment') || {value: ''}).value})""")


def send_and_wait_for_fresh_form(page) -> None:
    page.click("#survey button[type=submit]")
    page.wait_for_selector("#kiosk-thanks", state="visible")
    page.wait_for_selector("#survey", state="visible", timeout=15_000)
    ready(page)


def waiting(page) -> int:
    return int(page.get_attribute("#kiosk", "data-waiting") or 0)


# ------------------------------------------------------------------ tests

def test_a_cli_kiosk_serves_respondents_in_a_row_with_nothing_left_from_the_one_before(running, context):
    url = running.add_kiosk(name="Quầy 1")
    before = len(running.rows())
    codes = criteria(running)
    page = context().new_page()
    page.goto(url)
    ready(page)
    assert page.url == running.url + "/k/", "the token should leave the address bar"
    assert page.locator("html").get_attribute("lang") == "vi"
    scores = [5, 2, 3, 4]
    for n, score in enumerate(scores):
        assert chosen(page) == {"checked": [], "comment": ""}, f"respondent {n + 1} saw answers"
        answer(page, codes, score, comment=f"Người thứ {n + 1}")
        page.click("#survey button[type=submit]")
        thanks = page.locator("#kiosk-thanks")
        thanks.wait_for(state="visible")
        assert MESSAGES["thanks.heading"]["vi"] in thanks.inner_text()
        page.wait_for_selector("#survey", state="visible")
        ready(page)
    page.wait_for_function("() => document.getElementById('kiosk').dataset.waiting === '0'")
    rows = running.rows()[before:]
    assert [r["answers"] for r in rows] == [str(s) * 26 for s in scores]
    assert [r["comment"] for r in rows] == [f"Người thứ {n + 1}" for n in range(4)]
    assert {r["channel"] for r in rows} == {"kiosk"} and len({r["kiosk_id"] for r in rows}) == 1
    assert len({r["uuid"] for r in rows}) == 4


def test_the_back_button_after_a_submission_never_shows_the_previous_answers(running, context):
    url = running.add_kiosk()
    codes = criteria(running)
    page = context().new_page()
    page.goto(running.url + "/k/")          # something to go back to
    page.goto(url)
    ready(page)
    answer(page, codes, 5, comment="riêng tư")
    send_and_wait_for_fresh_form(page)
    page.go_back()
    page.wait_for_load_state()
    assert chosen(page) == {"checked": [], "comment": ""}
    page.go_forward()
    page.wait_for_load_state()
    assert chosen(page)["checked"] == [] and chosen(page)["comment"] == ""


def test_without_javascript_the_plain_form_thanks_then_back_shows_an_empty_form(running, context):
    url = running.add_kiosk()
    before = len(running.rows())
    codes = criteria(running)
    page = context(javascript=False).new_page()
    page.goto(url)
    answer(page, codes, 1, comment="không có JavaScript")
    page.click("#survey button[type=submit]")
    expect(page.locator("main")).to_contain_text(MESSAGES["thanks.heading"]["vi"])
    page.wait_for_selector("#survey", timeout=10_000)            # the Refresh header brings the form back
    assert chosen(page) == {"checked": [], "comment": ""}
    page.go_back()
    page.wait_for_load_state()
    assert chosen(page) == {"checked": [], "comment": ""}
    rows = running.rows()[before:]
    assert len(rows) == 1 and rows[0]["answers"] == "1" * 26 and rows[0]["channel"] == "kiosk"


def test_an_idle_half_filled_form_asks_are_you_still_there_then_clears_itself(running, context):
    url = running.add_kiosk()
    before = len(running.rows())
    codes = criteria(running)
    page = context().new_page()
    page.goto(url)
    ready(page)
    # an untouched form is left alone
    page.wait_for_timeout(2600)
    assert not page.locator("#kiosk-idle").is_visible()
    answer(page, codes, 4, upto=5)
    dialog = page.locator("#kiosk-idle")
    dialog.wait_for(state="visible", timeout=5000)
    assert "Ông/Bà vẫn đang ở đây chứ?" in dialog.inner_text()
    assert page.get_attribute("#kiosk-idle", "aria-labelledby") == "kiosk-idle-h"
    page.click("#kiosk-stay")                                 # still here: the answers stay
    assert not dialog.is_visible() and len(chosen(page)["checked"]) == 5
    dialog.wait_for(state="visible", timeout=5000)            # then walks away
    page.wait_for_function("() => document.querySelectorAll('input:checked').length === 0", timeout=8000)
    ready(page)
    assert not page.locator("#kiosk-idle").is_visible()
    assert chosen(page) == {"checked": [], "comment": ""}
    assert len(running.rows()) == before                      # nothing half-filled was stored


def test_offline_three_responses_survive_a_reload_and_arrive_exactly_once(running, context):
    url = running.add_kiosk(name="Offline")
    before = len(running.rows())
    codes = criteria(running)
    ctx = context()
    page = ctx.new_page()
    page.goto(url)
    ready(page)
    warm(page)
    ctx.set_offline(True)
    for score in (1, 3, 5):
        answer(page, codes, score)
        send_and_wait_for_fresh_form(page)
    assert waiting(page) == 3
    assert page.inner_text("#kiosk-waiting") == "3 phiếu đang chờ gửi"
    assert len(running.rows()) == before                      # nothing got through
    page.reload()                                             # served by the service worker
    ready(page)
    page.wait_for_function("() => document.getElementById('kiosk').dataset.waiting === '3'")
    assert page.locator("#kiosk-waiting").is_visible()
    ctx.set_offline(False)
    page.wait_for_function("() => document.getElementById('kiosk').dataset.waiting === '0'", timeout=30_000)
    rows = running.rows()[before:]
    assert sorted(r["answers"] for r in rows) == ["1" * 26, "3" * 26, "5" * 26]
    assert not page.locator("#kiosk-queue").is_visible()


def test_with_the_server_down_responses_survive_a_browser_restart_and_are_sent_when_it_is_back(
        running, chromium, tmp_path):
    url = running.add_kiosk(name="Restart")
    before = len(running.rows())
    codes = criteria(running)
    profile = tmp_path / "profile"

    def launch():
        return chromium.browser_type.launch_persistent_context(
            str(profile), executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, viewport=KIOSK_VIEWPORT,
            locale="vi-VN")

    ctx = launch()
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.goto(url)
        ready(page)
        warm(page)
        running.stop()                                        # the server is gone, not just the network
        for score in (2, 4):
            answer(page, codes, score)
            send_and_wait_for_fresh_form(page)
        assert waiting(page) == 2
    finally:
        ctx.close()                                           # the browser is closed
    ctx = launch()                                            # and opened again, still without a server
    try:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.goto(running.url + "/k/")
        ready(page)
        page.wait_for_function("() => document.getElementById('kiosk').dataset.waiting === '2'")
        running.start(new_secret=True)                        # back, with a new secret key
        page.wait_for_function("() => document.getElementById('kiosk').dataset.waiting === '0'", timeout=40_000)
        # and the kiosk takes the next respondent straight away, nothing to re-enter
        answer(page, codes, 5)
        send_and_wait_for_fresh_form(page)
        page.wait_for_function("() => document.getElementById('kiosk').dataset.waiting === '0'", timeout=20_000)
    finally:
        ctx.close()
    rows = running.rows()[before:]
    assert [r["answers"] for r in rows] == ["2" * 26, "4" * 26, "5" * 26]


def test_a_revoked_kiosk_keeps_its_refused_responses_visible_with_the_reason(running, context):
    url = running.add_kiosk(name="Revoked")
    kiosk_id = running.rows("SELECT id FROM kiosks WHERE name = 'Revoked'")[0]["id"]
    before = len(running.rows())
    codes = criteria(running)
    ctx = context()
    page = ctx.new_page()
    page.goto(url)
    ready(page)
    warm(page)
    ctx.set_offline(True)
    answer(page, codes, 4)
    send_and_wait_for_fresh_form(page)
    running.cli("revoke-kiosk", str(kiosk_id))
    ctx.set_offline(False)
    page.wait_for_function("() => document.getElementById('kiosk').dataset.refused === '1'", timeout=30_000)
    refused = page.inner_text("#kiosk-refused")
    assert refused.startswith("1 phiếu không gửi được: máy khảo sát này đã bị thu hồi.")
    assert page.locator("#kiosk-download").is_visible()
    page.reload()                                             # now the kiosk's own page is refused too
    page.wait_for_selector("text=Máy khảo sát này không nhận phiếu")
    page.wait_for_function("() => document.getElementById('kiosk').dataset.refused === '1'")
    assert page.locator("#kiosk-refused").is_visible()
    with page.expect_download() as download:
        page.click("#kiosk-download")
    kept = Path(download.value.path()).read_text()
    assert '"reason": "revoked"' in kept and '"answers"' in kept
    assert len(running.rows()) == before


def test_a_foreign_token_gets_a_refusal_not_a_form(running, context):
    page = context().new_page()
    response = page.goto(running.url + "/k/" + secrets.token_urlsafe(32))
    assert response.status == 401
    assert "Máy khảo sát này không nhận phiếu" in page.inner_text("main")
    assert page.locator("#survey").count() == 0


def test_an_expired_session_recovers_by_itself(running, context):
    url = running.add_kiosk(name="Overnight")
    before = len(running.rows())
    codes = criteria(running)
    page = context().new_page()
    page.goto(url)
    ready(page)
    # overnight: the server restarts with a new secret key, so every session and CSRF token is void
    running.stop()
    running.start(new_secret=True)
    answer(page, codes, 3)
    send_and_wait_for_fresh_form(page)
    page.wait_for_function("() => document.getElementById('kiosk').dataset.waiting === '0'", timeout=20_000)
    # and without JavaScript the plain form gives the answers back with a fresh token
    plain = context(javascript=False).new_page()
    plain.goto(url)
    running.stop()
    running.start(new_secret=True)
    answer(plain, codes, 2)
    plain.click("#survey button[type=submit]")
    button = MESSAGES["form.submit"]["vi"]
    expect(plain.locator("main")).to_contain_text(f"vui lòng bấm “{button}” một lần nữa")
    assert len(chosen(plain)["checked"]) == 30
    plain.click("#survey button[type=submit]")
    expect(plain.locator("main")).to_contain_text(MESSAGES["thanks.heading"]["vi"])
    rows = running.rows()[before:]
    assert [r["answers"] for r in rows] == ["3" * 26, "2" * 26]


def test_the_qr_poster_opens_the_units_survey_on_a_phone(running, context, tmp_path):
    import zxingcpp
    from PIL import Image

    from survey.staff import users

    db = database.connect(running.database)
    try:
        if users.by_name(db, "printer") is None:
            users.create(db, "printer", "a long password", "staff")
    finally:
        db.close()
    page = context().new_page()
    # posters are staff pages: sign in first (in Vietnamese, the staff pages' default); force=1: the test
    # server is on 127.0.0.1, which a real poster refuses to point to
    page.goto(running.url + "/posters/quan-3?counter=Quầy 5&force=1")
    page.get_by_label("Tên đăng nhập").fill("printer")
    page.get_by_label("Mật khẩu").fill("a long password")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/posters/quan-3?counter=*")
    assert "Quận 3" in page.inner_text("main") and "District 3" in page.inner_text("main")
    page.locator("svg.qr").screenshot(path=str(tmp_path / "qr.png"))
    links = [r.text for r in zxingcpp.read_barcodes(Image.open(tmp_path / "qr.png"))]
    assert links == [running.url + "/u/quan-3"]
    phone = context(viewport=PHONE_VIEWPORT).new_page()
    phone.goto(links[0])
    assert "Quận 3" in phone.inner_text("header")
    assert phone.locator("#survey").is_visible()


def test_the_kiosk_form_idle_question_and_thank_you_have_no_wcag_violations(running, context, axe):
    url = running.add_kiosk()
    codes = criteria(running)
    page = context(bypass_csp=True).new_page()

    def slow_screens(route):
        # a question and a thank-you screen that stay while axe looks at them (1-2 s on this server)
        response = route.fetch()
        body = response.text().replace('data-thanks="1"', 'data-thanks="30"')
        route.fulfill(response=response, body=body.replace('data-still-there="2"', 'data-still-there="30"'))

    page.route(url, slow_screens)
    page.goto(url)
    ready(page)
    assert axe(page) == [], "kiosk form"
    answer(page, codes, 4, upto=2)
    page.wait_for_selector("#kiosk-idle", state="visible", timeout=5000)
    assert axe(page) == [], "'Are you still there?' dialog"
    assert page.locator("#kiosk-idle").is_visible()
    page.click("#kiosk-stay")
    answer(page, codes, 4)
    page.click("#survey button[type=submit]")
    page.wait_for_selector("#kiosk-thanks", state="visible")
    assert axe(page) == [], "thank-you screen"
    assert page.locator("#kiosk-thanks").is_visible()      # still the screen axe looked at
