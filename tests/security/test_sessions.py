"""Item 1 of issue 12: signing out ends every copy of a session, and sessions end at an absolute
limit from sign-in and after a time without a request a person made -- against a real gunicorn
with several workers, with cookies copied between clients as a thief would."""
from __future__ import annotations

import re
import time

import pytest

from .conftest import Browser

pytestmark = pytest.mark.timeout(240)


def _server(make_server, **settings):
    env = {f"SURVEY_{k}": str(v) for k, v in settings.items()}
    server = make_server(workers=3, env=env).init(demo=False)
    server.create_user("boss", "admin")
    return server.start()


def _copy(browser: Browser) -> Browser:
    thief = Browser(browser.port)
    thief.cookies = dict(browser.cookies)
    return thief


def _signed_out(answer) -> bool:
    return answer.status == 302 and "/staff/login" in (answer.header("location") or "")


def test_signing_out_ends_every_copy_of_the_session(make_server):
    server = _server(make_server)
    boss = server.browser()
    assert boss.login("boss").status == 302
    stolen = _copy(boss)
    assert stolen.get("/staff/admin/users").status == 200            # the copy works while boss is in

    token = re.search(r'name="csrf_token" value="([^"]+)"', boss.get("/staff/").text).group(1)
    assert _signed_out(boss.post("/staff/logout", {"csrf_token": token}))

    assert _signed_out(stolen.get("/staff/admin/users"))               # the copy made before is dead too
    assert _signed_out(stolen.get("/staff/dashboard/live"))
    # and so is a replay of the very cookie boss had before signing out (the logout answer cleared it)
    replay = Browser(server.port)
    replay.cookies = dict(stolen.cookies)
    assert _signed_out(replay.get("/staff/"))
    rows = server.rows("SELECT ended_at, end_reason FROM staff_sessions")
    assert [r["end_reason"] for r in rows] == ["signed out"]


def test_a_session_used_all_the_time_still_ends_at_its_absolute_limit(make_server):
    lifetime = 12
    server = _server(make_server, PERMANENT_SESSION_LIFETIME=lifetime, STAFF_IDLE_SECONDS=0)
    boss = server.browser()
    signed_in = time.monotonic()
    assert boss.login("boss").status == 302
    stolen = _copy(boss)
    while time.monotonic() - signed_in < lifetime - 3:                 # refreshed every 2 s, by both
        assert boss.get("/staff/").status == 200
        assert stolen.get("/staff/admin/users").status == 200
        time.sleep(2)
    while time.monotonic() - signed_in < lifetime + 1:
        time.sleep(0.5)
    assert _signed_out(stolen.get("/staff/admin/users"))
    ended = boss.get("/staff/")
    assert _signed_out(ended)
    login = boss.get(ended.header("location"))
    assert "Phiên làm việc đã kết thúc" in login.text                  # the person is told why (in Vietnamese)
    assert boss.login("boss").status == 302                            # and can sign in again
    assert boss.get("/staff/").status == 200


def test_a_session_left_alone_ends_after_the_idle_limit(make_server):
    idle = 4
    server = _server(make_server, STAFF_IDLE_SECONDS=idle)
    boss = server.browser()
    assert boss.login("boss").status == 302
    start = time.monotonic()
    while time.monotonic() - start < idle + 3:                         # a person clicking every second
        assert boss.get("/staff/").status == 200
        time.sleep(1)
    stolen = _copy(boss)
    time.sleep(idle + 1)                                               # then nobody for longer than the limit
    assert _signed_out(stolen.get("/staff/admin/users"))
    ended = boss.get("/staff/")
    assert _signed_out(ended)
    assert "đăng xuất do không thao tác trong một thời gian" in boss.get(ended.header("location")).text


def test_the_dashboards_automatic_refresh_does_not_keep_a_session_alive(make_server):
    idle = 4
    server = _server(make_server, STAFF_IDLE_SECONDS=idle, STAFF_REFRESH_SECONDS=1)
    boss = server.browser()
    assert boss.login("boss").status == 302
    page = boss.get("/staff/")
    live = re.search(r'data-live-url="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    start = time.monotonic()
    answers = []
    while time.monotonic() - start < idle + 2:                         # the open dashboard, unattended
        answers.append(boss.get(live, headers={"Accept": "text/html"}))
        time.sleep(1)
    assert answers[0].status == 200
    assert _signed_out(answers[-1])                                    # the refresh itself is sent to sign in
    assert _signed_out(boss.get("/staff/"))
