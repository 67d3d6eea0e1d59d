"""Citizens and kiosks as people really use them (issue 10), in Debian's Chromium over real HTTP on a
real SQLite file: each test does what a person does, in the order a person does it.

The kiosk tests reuse test_kiosk_browser's server (its own process, short idle timers); the phone
tests reuse conftest's ``live_server``.
"""
from __future__ import annotations

import resource
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


# ------------------------------------------------------------------ 5. switching language keeps the answers

def test_phone_switching_language_mid_form_keeps_the_answers(running, context):
    codes = criteria(running)
    before = len(running.rows())
    page = context(viewport=PHONE_VIEWPORT).new_page()
    page.goto(running.url + "/u/quan-10")
    answer(page, codes, 2, upto=5)
    page.fill("#comment", "Chờ hơi lâu")
    submission_id = page.input_value("input[name=submission_id]")
    page.click("a.lang")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert sorted(chosen(page)["checked"]) == sorted(f"{c}=2" for c in codes[:5])
    assert chosen(page)["comment"] == "Chờ hơi lâu"
    expect(page.locator("#count")).to_have_text("5 of 30 answered")
    answer(page, codes[5:], 4)
    page.click("#survey button[type=submit]")
    expect(page.locator("h1")).to_have_text(MESSAGES["thanks.heading"]["en"])
    rows = running.rows()[before:]
    assert [(r["uuid"], r["answers"], r["lang"], r["comment"]) for r in rows] == [
        (submission_id, "2" * 5 + "4" * 21, "en", "Chờ hơi lâu")]
    page.go_back()                          # and nothing of it comes back for the next person
    page.wait_for_load_state()
    assert chosen(page) == {"checked": [], "comment": ""}


def test_kiosk_switching_language_mid_form_keeps_the_answers(running, context):
    url = running.add_kiosk()
    codes = criteria(running)
    before = len(running.rows())
    page = context().new_page()
    page.goto(url)
    ready(page)
    answer(page, codes, 5, upto=3)
    page.click("header a[hreflang=en]")
    page.wait_for_selector("html[lang=en] #kiosk[data-ready='1']", state="attached")
    assert sorted(chosen(page)["checked"]) == sorted(f"{c}=5" for c in codes[:3])
    answer(page, codes[3:], 1)
    page.click("#survey button[type=submit]")
    expect(page.locator("#kiosk-thanks")).to_be_visible()
    rows = rows_after(running, before, 1)
    assert [(r["answers"], r["lang"]) for r in rows] == [("5" * 3 + "1" * 23, "en")]


def test_kiosk_answers_carried_over_a_language_switch_are_still_cleared_when_left_idle(running, context):
    url = running.add_kiosk()
    codes = criteria(running)
    page = context().new_page()
    page.goto(url)
    ready(page)
    answer(page, codes, 5, upto=2)
    page.click("header a[hreflang=en]")
    page.wait_for_selector("html[lang=en] #kiosk[data-ready='1']", state="attached")
    assert len(chosen(page)["checked"]) == 2
    # nobody touches it: "Are you still there?", then an empty form for the next person
    page.wait_for_selector("#kiosk-idle", state="visible", timeout=10_000)
    page.wait_for_function("() => document.querySelectorAll('#survey input:checked').length === 0",
                           timeout=15_000)


# ------------------------------------------------------------------ 6. a lost session cookie keeps the answers

@pytest.mark.parametrize("javascript", [True, False])
def test_phone_a_lost_session_cookie_keeps_the_answers_and_sending_again_works(running, context, javascript):
    codes = criteria(running)
    before = len(running.rows())
    ctx = context(viewport=PHONE_VIEWPORT, javascript=javascript)
    page = ctx.new_page()
    page.goto(running.url + "/u/quan-11")
    answer(page, codes, 3, comment="Mất cookie")
    submission_id = page.input_value("input[name=submission_id]")
    ctx.clear_cookies()                     # the phone dropped its cookie while the citizen was answering
    page.click("#survey button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("Câu trả lời của Ông/Bà vẫn được giữ nguyên")
    assert len(chosen(page)["checked"]) == 30 and chosen(page)["comment"] == "Mất cookie"
    assert running.rows()[before:] == []
    page.click("#survey button[type=submit]")
    expect(page.locator("h1")).to_have_text(MESSAGES["thanks.heading"]["vi"])
    rows = running.rows()[before:]
    assert [(r["uuid"], r["answers"]) for r in rows] == [(submission_id, "3" * 26)]


# ------------------------------------------------------------------ 7. Back after an error, then success

def test_phone_back_after_an_error_then_success_lands_on_a_fresh_empty_form(running, context):
    codes = criteria(running)
    before = len(running.rows())
    page = context(viewport=PHONE_VIEWPORT).new_page()
    page.goto(running.url + "/u/quan-12")
    answer(page, codes, 4, upto=20)
    page.click("#survey button[type=submit]")
    expect(page.locator("#errsum")).to_be_visible()
    answer(page, codes[20:], 4)
    first_id = page.input_value("input[name=submission_id]")
    page.click("#survey button[type=submit]")
    expect(page.locator("h1")).to_have_text(MESSAGES["thanks.heading"]["vi"])
    page.go_back()
    page.wait_for_load_state()
    expect(page.locator("#survey")).to_be_visible()
    assert chosen(page) == {"checked": [], "comment": ""}
    assert page.locator("#errsum").count() == 0
    assert page.input_value("input[name=submission_id]") != first_id
    assert [r["uuid"] for r in running.rows()[before:]] == [first_id]


# ------------------------------------------------------------------ 10. the waiting bar stays off the header
# ------------------------------------------------------------------ 11. a failed write keeps the answers

class DiskFull:
    """The server process may not write past ``limit`` bytes into any file (RLIMIT_FSIZE, set from outside
    with prlimit): SQLite's next transaction fails on its write-ahead log, as on a full disk. Python
    ignores SIGXFSZ, so the server lives on and gets the error from the write."""

    LIMIT = 40_000          # the 32 KB shared-memory index fits; one response's log frames (~45 KB) do not

    def __init__(self, server):
        self.pid = server.process.pid

    def __enter__(self):
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (self.LIMIT, resource.RLIM_INFINITY))
        return self

    def __exit__(self, *exc):
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def integrity(server) -> str:
    return server.rows("PRAGMA integrity_check")[0]["integrity_check"]


@pytest.mark.parametrize("javascript", [True, False])
def test_phone_disk_full_shows_the_form_again_with_the_answers_then_sending_again_stores_once(
        running, context, javascript):
    codes = criteria(running)
    before = len(running.rows())
    page = context(viewport=PHONE_VIEWPORT, javascript=javascript).new_page()
    page.goto(running.url + "/u/quan-8")
    answer(page, codes, 5, comment="Ổ đĩa đầy")
    submission_id = page.input_value("input[name=submission_id]")
    with DiskFull(running):
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.click("#survey button[type=submit]")
        assert sent.value.status == 503
        expect(page.locator("#notice")).to_contain_text("chưa có gì được lưu")
        assert len(chosen(page)["checked"]) == 30 and chosen(page)["comment"] == "Ổ đĩa đầy"
        assert page.input_value("input[name=submission_id]") == submission_id
    assert running.rows()[before:] == [], "nothing partial"
    assert integrity(running) == "ok"
    page.click("#survey button[type=submit]")           # space again: the citizen taps send once more
    expect(page.locator("h1")).to_have_text(MESSAGES["thanks.heading"]["vi"])
    rows = running.rows()[before:]
    assert [(r["uuid"], r["answers"], r["comment"]) for r in rows] == [(submission_id, "5" * 26, "Ổ đĩa đầy")]


def test_kiosk_without_javascript_disk_full_keeps_the_answers(running, context):
    url = running.add_kiosk()
    codes = criteria(running)
    before = len(running.rows())
    page = context(javascript=False).new_page()
    page.goto(url)
    answer(page, codes, 2)
    with DiskFull(running):
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.click("#survey button[type=submit]")
        assert sent.value.status == 503
        expect(page.locator("#notice")).to_contain_text("chưa có gì được lưu")
        assert len(chosen(page)["checked"]) == 30
    assert running.rows()[before:] == []
    page.click("#survey button[type=submit]")
    expect(page.locator("main")).to_contain_text(MESSAGES["thanks.heading"]["vi"])
    assert [r["answers"] for r in running.rows()[before:]] == ["2" * 26]


def test_kiosk_disk_full_queues_the_response_under_the_header_and_sends_it_once_later(running, context):
    url = running.add_kiosk()
    codes = criteria(running)
    before = len(running.rows())
    page = context().new_page()
    page.goto(url)
    ready(page)
    with DiskFull(running):
        answer(page, codes, 4, comment="chờ gửi")
        with page.expect_response(lambda r: r.url.endswith("/k/api/responses")) as sent:
            page.click("#survey button[type=submit]")
        assert sent.value.status == 503
        expect(page.locator("#kiosk-thanks")).to_be_visible()       # it is safe on the device
        page.wait_for_selector("#survey", state="visible", timeout=15_000)
        waiting_bar = page.locator("#kiosk-waiting")
        expect(waiting_bar).to_have_text("1 phiếu đang chờ gửi")
        header = page.locator("header.top").bounding_box()
        bar = page.locator("#kiosk-queue").bounding_box()
        assert bar["y"] >= header["y"] + header["height"], f"the bar {bar} covers the header {header}"
        page.locator("header a.lang").click(trial=True)   # the language switch is not covered
        assert running.rows()[before:] == []
    rows = rows_after(running, before, 1, timeout=20)
    assert [(r["answers"], r["comment"]) for r in rows] == [("4" * 26, "chờ gửi")]
    expect(page.locator("#kiosk-queue")).to_be_hidden()


# ------------------------------------------------------------------ 9. finding one's office

@pytest.mark.parametrize("javascript", [True, False])
def test_phone_finds_its_office_by_typing_without_accents(running, context, javascript):
    page = context(viewport=PHONE_VIEWPORT, javascript=javascript).new_page()
    page.goto(running.url + "/")
    links = page.locator("ul.units a")
    assert links.nth(5).inner_text() == "Quận 7"            # Quận 1, 3, 4, 5, 6, 7: natural order
    page.get_by_label("Tìm theo tên").fill("tan binh")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=tan+binh")
    assert links.first.inner_text() == "Quận Tân Bình"
    expect(page.locator(".found")).to_contain_text("khớp với “tan binh”")
    links.first.click()
    assert "Quận Tân Bình" in page.inner_text("header")
    assert page.locator("#survey").is_visible()


# ------------------------------------------------------------------ 3, 4. a phone form that fits

def screens(page) -> float:
    return page.evaluate("document.documentElement.scrollHeight") / page.viewport_size["height"]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_phone_form_one_part_per_screen_at_most_six_screen_heights_and_sent_once(running, context, lang):
    codes = criteria(running)
    before = len(running.rows())
    page = context(viewport=PHONE_VIEWPORT).new_page()
    page.goto(running.url + f"/u/quan-5?lang={lang}")
    progress = page.locator("#progress-t")
    next_part = MESSAGES["form.next"][lang]
    heights = []
    for part in range(1, 8):
        expect(progress).to_have_text(MESSAGES["form.step"][lang].format(n=part, total=7))
        heights.append(screens(page))
        current = page.locator("#steps > .part").nth(part - 1)
        # what a person sees: the part's questions, nothing of the next part
        assert current.locator("h2").is_visible()
        assert current.bounding_box()["x"] >= 0 and current.bounding_box()["x"] < 30
        for label in current.locator(".scale label:nth-of-type(4)").all():
            label.click()
        if part < 7:
            current.get_by_role("button", name=next_part).click()
    about_you(page)
    assert max(heights) <= 6, f"screen heights per part: {heights}"
    expect(page.locator("#count")).to_have_text(MESSAGES["form.answered"][lang].format(done=30, total=30))
    page.click("#survey button[type=submit]")
    expect(page.locator("h1")).to_have_text(MESSAGES["thanks.heading"][lang])
    assert [r["answers"] for r in running.rows()[before:]] == ["4" * 26]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_phone_blank_send_a_short_error_summary_and_the_first_part_to_fix(running, context, lang):
    page = context(viewport=PHONE_VIEWPORT).new_page()
    page.goto(running.url + f"/u/quan-5?lang={lang}")
    page.click("#survey button[type=submit]")
    summary = page.locator("#errsum")
    expect(summary).to_be_visible()
    assert summary.locator("a").count() == 30
    assert summary.bounding_box()["height"] < 30 * 24, "the summary must not take a line per error"
    assert screens(page) <= 6
    expect(page.locator("#progress-t")).to_have_text(MESSAGES["form.step"][lang].format(n=1, total=7))
    # a link to a question in another part brings that part into view
    page.click(f"#errsum a[href='#{criteria(running)[20]}-1']")
    expect(page.locator("#progress-t")).not_to_have_text(MESSAGES["form.step"][lang].format(n=1, total=7))
    assert page.locator(f"label[for={criteria(running)[20]}-1]").is_visible()


@pytest.mark.parametrize("width,lang", [(360, "en"), (360, "vi"), (390, "en")])
def test_phone_sizes_scale_on_one_row_readable_text_and_44px_targets(running, context, width, lang):
    page = context(viewport={"width": width, "height": 740}).new_page()
    page.goto(running.url + f"/u/quan-5?lang={lang}")
    facts = page.evaluate("""() => {
        const px = e => parseFloat(getComputedStyle(e).fontSize);
        const scales = [...document.querySelectorAll('.scale')];
        return {
          rows: scales.map(s => new Set([...s.querySelectorAll('label')].slice(0, 5)
                               .map(l => Math.round(l.getBoundingClientRect().top))).size),
          legend: Math.min(...[...document.querySelectorAll('legend')].map(px)),
          ends: Math.min(...[...document.querySelectorAll('.scale label:nth-of-type(1) .w, .scale label:nth-of-type(5) .w')]
                 .filter(e => e.getBoundingClientRect().width > 20).map(px)),
          ends_text: [...document.querySelectorAll('.scale')][0].innerText,
          small: [...document.querySelectorAll('.scale label, .opts label, button, a.lang, textarea')]
                 .map(e => e.getBoundingClientRect()).filter(r => r.width < 44 || r.height < 44).length,
          wide: document.documentElement.scrollWidth};
    }""")
    assert set(facts["rows"]) == {1}, "every 1-5 scale on one row"
    assert facts["legend"] >= 16 and facts["ends"] >= 14
    assert MESSAGES["form.submit"][lang] and ("Rất không hài lòng" if lang == "vi" else "Very dissatisfied") in facts["ends_text"]
    assert facts["small"] == 0 and facts["wide"] <= width
    # each button still says its word to a screen reader
    name = page.get_by_role("radio", name="2 " + ("Không hài lòng" if lang == "vi" else "Dissatisfied")).first
    assert name.count() == 1


def test_phone_without_javascript_every_part_is_on_the_page(running, context):
    page = context(viewport=PHONE_VIEWPORT, javascript=False).new_page()
    page.goto(running.url + "/u/quan-5")
    assert all(part.is_visible() for part in page.locator("#steps > .part").all())
    assert page.locator(".step-nav").first.is_hidden()


# ------------------------------------------------------------------ axe on every citizen and kiosk page, both sizes

@pytest.mark.parametrize("viewport", [PHONE_VIEWPORT, {"width": 1080, "height": 1920}])
def test_no_wcag_violations_on_any_citizen_or_kiosk_page(running, context, axe, viewport):
    codes = criteria(running)
    page = context(viewport=viewport, bypass_csp=True).new_page()
    found = {}
    for path in ("/", "/?q=tan", "/?q=khong+co", "/?lang=en", "/u/quan-1", "/u/quan-1?lang=en", "/u/nowhere"):
        page.goto(running.url + path)
        found[path] = axe(page)
    page.goto(running.url + "/u/quan-3")
    page.click("#survey button[type=submit]")                        # every error shown
    found["errors"] = axe(page)
    if page.locator(".step-nav button").first.is_visible():
        page.locator(".step-nav button").first.click()               # another part of the paged form
        found["part 2"] = axe(page)
    answer(page, codes, 4)
    page.click("#survey button[type=submit]")
    page.wait_for_url("**/thanks/*")                                 # (in English: the session chose it above)
    found["thanks"] = axe(page)
    url = running.add_kiosk()
    page.goto(url)
    ready(page)
    page.click("#survey button[type=submit]")                        # the kiosk's banner
    found["kiosk incomplete"] = axe(page)
    assert {where: v for where, v in found.items() if v} == {}
