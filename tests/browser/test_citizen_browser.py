"""The citizen flow in a real browser (Debian's Chromium), over real HTTP, against a real SQLite file."""
from __future__ import annotations

import pytest

from survey import catalog
from survey import db as database

pytestmark = pytest.mark.browser

WCAG = "WCAG 2.0/2.1/2.2 A and AA"


def questionnaire(live_server):
    db = database.connect(live_server.app.config["DATABASE"])
    try:
        return catalog.latest(db, live_server.app.config["DEFAULT_QUESTIONNAIRE"])
    finally:
        db.close()


def answer_everything(page, q, *, score_of=lambda i: 4 + i % 2, skip=()):
    """Tap a rating for each criterion and the first option of each required profile question."""
    for i, c in enumerate(q.criteria):
        if c.code not in skip:
            page.click(f"label[for={c.code}-{score_of(i)}]")
    for r in q.respondent:
        if r.required and r.code not in skip:
            page.click(f"label[for={r.code}-1]")


def assert_no_violations(axe, page, where):
    violations = axe(page)
    assert violations == [], f"{WCAG} violations on the {where}: {violations}"


@pytest.mark.parametrize("viewport,lang", [("phone", "vi"), ("kiosk", "vi"), ("phone", "en")])
def test_citizen_completes_the_questionnaire_and_the_response_is_stored(open_page, live_server, axe, viewport, lang):
    q = questionnaire(live_server)
    page = open_page(viewport)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) and not r.url.startswith("data:") else None)
    page.goto("/")
    if lang == "en":
        page.click("a.lang")  # the visible switch
        assert page.locator("h1").inner_text() == "Choose the office you have just dealt with"
    page.click("text=Quận 3" if lang == "vi" else "text=District 3")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.url.endswith("/u/quan-3?ch=web")
    assert_no_violations(axe, page, "questionnaire page")

    # Send with two ratings and the gender missing: the errors come back next to their items.
    missing = (q.criteria[2].code, q.criteria[-1].code, "gender")
    answer_everything(page, q, skip=missing)
    page.fill("#comment", "Nhân viên rất nhiệt tình" if lang == "vi" else "Very helpful staff")
    submission_id = page.input_value("input[name=submission_id]")
    page.click("button[type=submit]")
    assert page.locator("#errsum").is_visible()
    assert page.title().startswith("Lỗi" if lang == "vi" else "Error")
    expected = "Vui lòng chọn một mức đánh giá cho câu 3." if lang == "vi" else "Please choose a rating for question 3."
    assert page.locator(f"#{missing[0]}-e").inner_text().endswith(expected)
    assert page.evaluate("document.activeElement.id") == "errsum"
    assert page.is_checked(f"#{q.criteria[0].code}-4")  # answers kept
    assert page.input_value("#comment").startswith("Nhân viên" if lang == "vi" else "Very")
    assert_no_violations(axe, page, "page returned with errors")

    # The error summary link takes the keyboard to the item.
    page.click(f"#errsum a[href='#{missing[0]}-1']")
    assert page.evaluate("document.activeElement.id") == f"{missing[0]}-1"

    page.click(f"label[for={missing[0]}-3]")
    page.click(f"label[for={missing[1]}-5]")
    page.click("label[for=gender-2]")
    page.click("button[type=submit]")
    page.wait_for_url("**/thanks/*")
    assert ("Cảm ơn Ông/Bà đã đánh giá!" if lang == "vi" else "Thank you for your answers!") in page.inner_text("h1")
    assert_no_violations(axe, page, "thank-you page")
    again = page.locator("a.btn")
    assert again.inner_text() == ("Bắt đầu phiếu mới" if lang == "vi" else "Start again")
    assert again.get_attribute("href") == "/u/quan-3?ch=web"

    row = live_server.response(submission_id)
    assert row is not None, "the thank-you was shown, so the response must be committed"
    assert row["unit_slug"] == "quan-3" and row["channel"] == "web" and row["lang"] == lang
    assert row["answers"][2] == "3" and row["answers"][-1] == "5" and row["answers"][0] == "4"
    assert row["gender"] == q.respondent_question("gender").options[1].code
    assert row["comment"] in ("Nhân viên rất nhiệt tình", "Very helpful staff")
    assert outside == [], f"assets fetched from elsewhere: {outside}"


def test_qr_link_at_the_kiosk_size_and_start_again(open_page, live_server):
    q = questionnaire(live_server)
    page = open_page("kiosk")
    page.goto("/u/quan-5")
    assert "Quận 5" in page.inner_text("header")
    answer_everything(page, q)
    submission_id = page.input_value("input[name=submission_id]")
    page.click("button[type=submit]")
    page.wait_for_url("**/thanks/*")
    row = live_server.response(submission_id)
    assert row["channel"] == "qr" and row["unit_slug"] == "quan-5"  # a QR scan of /u/<slug>
    page.click("text=Bắt đầu phiếu mới")
    assert page.url.endswith("/u/quan-5")
    assert page.locator("input[type=radio]:checked").count() == 0
    assert page.input_value("input[name=submission_id]") != submission_id


def test_back_after_thank_you_shows_a_blank_form_and_resubmitting_it_stores_nothing_twice(open_page, live_server):
    q = questionnaire(live_server)
    page = open_page("phone")
    page.goto("/u/quan-7")
    answer_everything(page, q)
    first_id = page.input_value("input[name=submission_id]")
    page.click("button[type=submit]")
    page.wait_for_url("**/thanks/*")
    page.go_back()
    page.wait_for_load_state()
    # Whether the browser re-fetched or restored the page, the previous person's answers are gone
    # or, if still shown, belong to the same submission id and cannot be stored twice.
    if page.input_value("input[name=submission_id]") == first_id:
        page.click("button[type=submit]")
        page.wait_for_url("**/thanks/*")
    else:
        assert page.locator("input[type=radio]:checked").count() == 0
    assert len(live_server.rows("SELECT id FROM responses WHERE uuid = ?", [first_id])) == 1


def test_double_tap_on_send_stores_one_response(open_page, live_server):
    q = questionnaire(live_server)
    page = open_page("phone")
    page.goto("/u/quan-8")
    answer_everything(page, q)
    submission_id = page.input_value("input[name=submission_id]")
    before = len(live_server.rows())
    # two submissions of the same form in flight, as a double tap without the script's guard would do
    page.evaluate("""() => { const f = document.getElementById('survey');
        const body = new URLSearchParams(new FormData(f));
        return Promise.all([fetch(f.action, {method: 'POST', body}), fetch(f.action, {method: 'POST', body})])
            .then(rs => rs.map(r => r.status)); }""")
    page.dblclick("button[type=submit]")
    page.wait_for_url("**/thanks/*")
    assert len(live_server.rows()) == before + 1
    assert live_server.response(submission_id) is not None


def test_questionnaire_works_without_javascript(open_page, live_server):
    q = questionnaire(live_server)
    page = open_page("phone", javascript=False)
    page.goto("/")
    page.click("text=Huyện Cần Giờ")
    page.click("button[type=submit]")  # nothing answered: the server lists what is missing
    assert page.locator(".err").count() >= len(q.criteria)
    answer_everything(page, q)
    submission_id = page.input_value("input[name=submission_id]")
    page.click("button[type=submit]")
    page.wait_for_url("**/thanks/*")
    assert live_server.response(submission_id)["unit_slug"] == "huyen-can-gio"


def test_language_choice_is_kept_for_the_session(open_page):
    page = open_page("phone")
    page.goto("/u/quan-1?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto("/u/quan-1")
    assert "Citizen satisfaction survey" in page.inner_text("header")
    page.click("a.lang")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.goto("/")
    assert page.inner_text("h1") == "Chọn cơ quan Ông/Bà vừa làm thủ tục"


@pytest.mark.parametrize("path", ["/", "/u/quan-1", "/u/quan-1?lang=en", "/u/no-such-unit"])
def test_pages_fit_a_360px_screen_without_sideways_scrolling(open_page, path):
    page = open_page("phone", width=360)
    page.goto(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    if path.startswith("/u/quan"):
        page.click("button[type=submit]")  # the page with every error shown
        assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_every_touch_target_is_at_least_44px(open_page):
    page = open_page("phone", width=360)
    page.goto("/u/quan-1")
    targets = page.evaluate("""() => [...document.querySelectorAll(
            '.scale label, .opts label, button, a.lang, textarea')]
        .map(e => { const r = e.getBoundingClientRect();
                    return {what: e.getAttribute('for') || e.className || e.tagName, w: r.width, h: r.height}; })""")
    assert len(targets) > 150
    small = [t for t in targets if t["w"] < 44 or t["h"] < 44]
    assert small == []
    page.goto("/")
    links = page.evaluate("[...document.querySelectorAll('.units a')].map(e => e.getBoundingClientRect().height)")
    assert len(links) == 22 and min(links) >= 44


def test_keyboard_alone_can_answer_with_a_visible_focus(open_page, live_server):
    q = questionnaire(live_server)
    page = open_page("phone")
    page.goto("/u/quan-1")
    first = q.criteria[0].code
    page.focus(f"#{first}-1")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # arrive by keyboard so :focus-visible applies
    assert page.evaluate("document.activeElement.id") == f"{first}-1"
    outline = page.evaluate(f"getComputedStyle(document.querySelector('label[for={first}-1]')).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.is_checked(f"#{first}-3")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == q.criteria[1].code


def test_the_accessibility_check_does_find_violations_when_there_are_some(open_page, axe):
    page = open_page("phone")
    page.goto("/u/quan-1")
    page.evaluate("""() => { document.querySelector('label[for=q01-1]').remove();
        const p = document.createElement('p'); p.textContent = 'faint'; p.style.color = '#ddd';
        document.querySelector('main').append(p); }""")
    found = {v["id"] for v in axe(page)}
    assert {"label", "color-contrast"} <= found
