"""Citizens and kiosks as people really use them (issue 10), in Debian's Chromium over real HTTP on a
real SQLite file: each test does what a person does, in the order a person does it.

The kiosk tests reuse test_kiosk_browser's server (its own process, short idle timers); the phone
tests reuse conftest's ``live_server``.
"""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from survey.i18n import MESSAGES

from .test_kiosk_browser import (PHONE_VIEWPORT, answer, chosen, context, criteria,  # noqa: F401 (fixtures)
                                 ready, running, server)

pytestmark = pytest.mark.browser

REQUIRED_ABOUT_YOU = ("respondent_type", "gender", "age_band", "field")


def rows_after(server, before: int, expected: int, timeout: float = 15.0) -> list[dict]:
    """The rows stored after the first ``before``, once there are ``expected`` of them (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = server.rows()[before:]
        if len(rows) >= expected or time.monotonic() > deadline:
            time.sleep(0.5)          # and nothing more arrives a moment later
            return server.rows()[before:]
        time.sleep(0.1)


def about_you(page, skip=()) -> None:
    for question in REQUIRED_ABOUT_YOU:
        if question not in skip:
            page.click(f"label[for={question}-1]")


# ------------------------------------------------------------------ 1. the send button never sticks

def test_kiosk_send_incomplete_then_complete_then_send_stores_it_once(running, context):
    url = running.add_kiosk(name="Quầy thử")
    before = len(running.rows())
    codes = criteria(running)
    page = context().new_page()
    page.goto(url)
    ready(page)
    # The citizen rates everything but the last criterion and skips "about you", then taps send.
    answer(page, codes, 4, upto=len(codes) - 1)
    page.click("#survey button[type=submit]")
    banner = page.locator("#kiosk-error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Còn 5 câu chưa trả lời")
    # They answer what was missing: the banner counts down, then goes away.
    page.click(f"label[for={codes[-1]}-2]")
    expect(banner).to_contain_text("Còn 4 câu chưa trả lời")
    about_you(page)
    expect(banner).to_be_hidden()
    button = page.locator("#survey button[type=submit]")
    expect(button).to_be_enabled()
    button.click()
    expect(page.locator("#kiosk-thanks")).to_be_visible()
    page.wait_for_selector("#survey", state="visible", timeout=15_000)
    ready(page)
    rows = rows_after(running, before, 1)
    assert [r["answers"] for r in rows] == ["4" * 25 + "2"], "stored exactly once, with every answer"
    assert chosen(page) == {"checked": [], "comment": ""}, "the next person gets an empty form"


def test_kiosk_a_second_incomplete_send_still_leaves_the_button_working(running, context):
    url = running.add_kiosk()
    before = len(running.rows())
    codes = criteria(running)
    page = context().new_page()
    page.goto(url)
    ready(page)
    page.click("#survey button[type=submit]")          # nothing answered at all
    expect(page.locator("#kiosk-error")).to_contain_text("Còn 30 câu chưa trả lời")
    answer(page, codes, 3, upto=10)
    page.click("#survey button[type=submit]")          # still incomplete
    expect(page.locator("#kiosk-error")).to_contain_text("Còn 20 câu chưa trả lời")
    answer(page, codes, 3)
    page.click("#survey button[type=submit]")
    expect(page.locator("#kiosk-thanks")).to_be_visible()
    assert [r["answers"] for r in rows_after(running, before, 1)] == ["3" * 26]


def test_phone_send_incomplete_then_complete_then_send_stores_it_once(running, context):
    codes = criteria(running)
    before = len(running.rows())
    page = context(viewport=PHONE_VIEWPORT).new_page()
    page.goto(running.url + "/u/quan-4")
    answer(page, codes, 5, upto=len(codes) - 2)
    page.click("#survey button[type=submit]")
    expect(page.locator("#errsum")).to_be_visible()
    submission_id = page.input_value("input[name=submission_id]")
    page.click(f"label[for={codes[-2]}-1]")
    page.click(f"label[for={codes[-1]}-1]")
    about_you(page)
    button = page.locator("#survey button[type=submit]")
    expect(button).to_be_enabled()
    button.click()
    expect(page.locator("h1")).to_have_text(MESSAGES["thanks.heading"]["vi"])
    rows = running.rows()[before:]
    assert [(r["uuid"], r["answers"]) for r in rows] == [(submission_id, "5" * 24 + "11")]


# ------------------------------------------------------------------ 2. the counter counts every required question

@pytest.mark.parametrize("lang,intro,counted", [
    ("vi", "Phiếu có 30 câu bắt buộc: 26 câu đánh giá (6 phần) và 4 câu thông tin chung", "Đã trả lời {n}/30"),
    ("en", "30 questions to answer: 26 ratings (6 parts) and 4 about you", "{n} of 30 answered")])
def test_phone_counter_and_intro_count_every_required_question(running, context, lang, intro, counted):
    codes = criteria(running)
    page = context(viewport=PHONE_VIEWPORT).new_page()
    page.goto(running.url + f"/u/quan-6?lang={lang}")
    expect(page.locator(".facts")).to_contain_text(intro)
    count = page.locator("#count")
    expect(count).to_have_text(counted.format(n=0))
    answer(page, codes, 4)                       # every rating and the four required "about you"
    expect(count).to_have_text(counted.format(n=30))
    page.click("label[for=education-1]")         # an optional question does not count
    expect(count).to_have_text(counted.format(n=30))


def test_kiosk_counter_agrees_with_the_banner(running, context):
    url = running.add_kiosk()
    codes = criteria(running)
    page = context().new_page()
    page.goto(url)
    ready(page)
    answer(page, codes, 4, upto=26)
    expect(page.locator("#count")).to_have_text("Đã trả lời 26/30")
    page.click("#survey button[type=submit]")
    expect(page.locator("#kiosk-error")).to_contain_text("Còn 4 câu chưa trả lời")


# ------------------------------------------------------------------ 8. "(optional)" once

@pytest.mark.parametrize("lang,optional", [("vi", "(không bắt buộc)"), ("en", "(optional)")])
def test_the_comment_label_says_optional_once(running, context, lang, optional):
    page = context(viewport=PHONE_VIEWPORT).new_page()
    page.goto(running.url + f"/u/quan-1?lang={lang}")
    label = page.locator("label[for=comment]").inner_text()
    assert label.count(optional) == 1 and label.endswith(optional), label
