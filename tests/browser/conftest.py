"""Browser-test fixtures: the app served over real HTTP, Debian's Chromium via Playwright.

``playwright install`` cannot download browsers here; the test command installs
the ``chromium`` package and we launch that binary.
"""
from __future__ import annotations

import os
import secrets
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from survey import create_app
from survey import db as database

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "kiosk": {"width": 1080, "height": 1920}}


class LiveServer:
    def __init__(self, app, server):
        self.app = app
        self.url = f"http://127.0.0.1:{server.server_port}"

    def rows(self, sql: str = "SELECT * FROM responses ORDER BY id", params=()) -> list[dict]:
        db = database.connect(self.app.config["DATABASE"])
        try:
            return list(db.query(sql, params))
        finally:
            db.close()

    def response(self, submission_id: str) -> dict | None:
        rows = self.rows("SELECT r.*, u.slug AS unit_slug FROM responses r JOIN units u ON u.id = r.unit_id "
                         "WHERE r.uuid = ?", [submission_id])
        return rows[0] if rows else None


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, database_preparer):
    """The real app (CSRF on) on 127.0.0.1 and a free port, on a database of its own."""
    folder = tmp_path_factory.mktemp("live")
    app = create_app({"DATABASE": str(folder / "survey.sqlite3"), "SECRET_KEY": secrets.token_hex(32)},
                     instance_path=str(folder))
    database_preparer(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(app, server)
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(executable):
        pytest.fail("Debian's chromium is not installed: run scripts/test (it installs it) "
                    "or `apt-get install -y chromium`")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium, live_server):
    """``open_page(viewport="phone", javascript=True)``: a new page in a fresh browser context."""
    contexts = []

    def open_(viewport: str = "phone", javascript: bool = True, width: int | None = None):
        size = dict(VIEWPORTS[viewport])
        if width:
            size["width"] = width
        # bypass_csp lets the test inject axe-core; the app's own pages never need it.
        context = chromium.new_context(viewport=size, java_script_enabled=javascript, bypass_csp=True,
                                       base_url=live_server.url, locale="vi-VN")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def axe_source():
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (scripts/test does)")
    return AXE


@pytest.fixture
def axe(axe_source):
    """``axe(page)``: the WCAG 2.0/2.1/2.2 A and AA violations axe-core finds on the page."""
    def run(page):
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(path=str(axe_source))
        result = page.evaluate("""async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
        }""")
        return result
    return run
