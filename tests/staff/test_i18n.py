"""Staff pages in Vietnamese by default, English one click away and remembered per user, with
local dates and numbers -- and every text a staff page shows comes from the gettext catalog.

The catalog check renders every staff page with a *pseudo* Vietnamese catalog in which each
message is wrapped in ⟦…⟧: whatever text is left outside brackets must be data (unit names,
user names, numbers, dates), so a text typed into a template or a view without _() fails it."""
from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from survey import create_app, responses
from survey.i18n import TRANSLATIONS
from survey.staff import users

from .conftest import PASSWORD, QID, Staff, csrf_token
from .test_dashboard import fieldwork, known  # noqa: F401  (fixtures)

CATALOG = Path(TRANSLATIONS)


def _po(lang: str):
    with open(CATALOG / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def test_every_message_has_a_vietnamese_translation_with_the_same_placeholders():
    pot_ids = {m.id if isinstance(m.id, str) else tuple(m.id)
               for m in read_po(open(CATALOG / "messages.pot", "rb")) if m.id}
    vi = _po("vi")
    assert pot_ids, "the template catalog is empty"
    seen = set()
    for message in vi:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else tuple(message.id)
        seen.add(key)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert all(s.strip() for s in strings), f"no Vietnamese for {message.id!r}"
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        wanted = set(re.findall(r"%\(\w+\)s", " ".join(ids)))
        for s in strings:
            assert set(re.findall(r"%\(\w+\)s", s)) <= wanted | {"%(num)s"}, (message.id, s)
            assert s.count("%%") == ids[0].count("%%"), (message.id, s)
    assert pot_ids <= seen, f"run scripts/translations: not in vi: {sorted(map(str, pot_ids - seen))[:5]}"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_compiled_catalogs_match_their_po_files(lang):
    po = _po(lang)
    with open(CATALOG / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
        mo = read_mo(f)
    def pairs(cat):
        return {(m.id if isinstance(m.id, str) else tuple(m.id)): (m.string if isinstance(m.string, str)
                                                                     else tuple(m.string)) for m in cat if m.id and
                (m.string if isinstance(m.string, str) else any(m.string))}
    assert pairs(mo) == pairs(po), "run scripts/translations (pybabel compile) and commit the .mo files"


# --- Vietnamese by default, English one click away -------------------------------------------

@pytest.fixture
def vi_app(db, db_path):
    return create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "test-secret",
                       "DEFAULT_QUESTIONNAIRE": QID})


def _switch(client, lang: str, back: str = "/staff/"):
    return client.post("/staff/language", data={"lang": lang, "back": back,
                                                "csrf_token": csrf_token(client, back)})


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_staff_pages_are_vietnamese_by_default_and_english_is_remembered_per_user(vi_app, db, known, clock):
    first = vi_app.test_client()
    login = first.get("/staff/login").get_data(as_text=True)
    assert '<html lang="vi">' in login and "Đăng nhập cán bộ" in login and "Tên đăng nhập" in login
    staff = Staff(first, db)
    staff.as_role("admin")
    users.create(db, "hoa", PASSWORD, "staff")
    page = first.get("/staff/").get_data(as_text=True)
    text = _text(page)
    assert '<html lang="vi">' in page and "Tiến độ khảo sát" in text and "Chỉ tiêu mẫu theo đơn vị" in text
    assert "Sample targets" not in text and "Dashboard" not in text
    # Local formats: dates dd/mm/yyyy, thousands with a dot, decimals with a comma.
    assert "01/03/2025 – 31/03/2025" in text
    assert re.search(r"Số liệu lúc \d\d/\d\d/\d{4} \d\d:\d\d:\d\d", text)
    # The statuses are words in Vietnamese.
    assert "chậm tiến độ" in text and "đúng tiến độ" in text and "đã đạt" in text

    switched = _switch(first, "en", "/staff/comments")
    assert switched.status_code == 302 and switched.headers["Location"].endswith("/staff/comments")
    english = _text(first.get("/staff/").get_data(as_text=True))
    assert "Fieldwork dashboard" in english and "1 Mar 2025 – 31 Mar 2025" in english

    # The choice belongs to the person: it follows them to a new browser ...
    second = vi_app.test_client()
    Staff(second, db).login("admin-user")
    assert "Fieldwork dashboard" in _text(second.get("/staff/").get_data(as_text=True))
    # ... and nobody else is affected.
    third = vi_app.test_client()
    Staff(third, db).login("hoa")
    assert "Tiến độ khảo sát" in _text(third.get("/staff/").get_data(as_text=True))
    assert _switch(second, "vi").status_code == 302
    assert "Tiến độ khảo sát" in _text(first.get("/staff/").get_data(as_text=True))


def test_a_language_chosen_on_the_sign_in_page_is_kept_after_signing_in(vi_app, db):
    client = vi_app.test_client()
    users.create(db, "minh", PASSWORD, "staff")
    _switch(client, "en", "/staff/login")
    assert "Staff sign-in" in client.get("/staff/login").get_data(as_text=True)
    Staff(client, db).login("minh")
    assert '<html lang="en">' in client.get("/staff/").get_data(as_text=True)


def test_no_raw_utc_time_on_the_users_page(vi_app, db, clock):
    from datetime import datetime, timezone

    clock.set(datetime(2026, 12, 3, 7, 31, tzinfo=timezone.utc))
    client = vi_app.test_client()
    Staff(client, db).as_role("admin")
    page = client.get("/staff/admin/users").get_data(as_text=True)
    assert "2026-12-03T07:31" not in page and "UTC" not in page
    assert "03/12/2026 14:31" in page  # the sign-in just made, in Ho Chi Minh City time


# --- Every text node of every staff page is in the catalog ------------------------------------

OPEN, CLOSE = "⟦", "⟧"
# Words that are the same in any language (file formats, the product's name, units of measure).
SAME_IN_EVERY_LANGUAGE = {"HTML", "PDF", "CSV", "XLSX", "Excel", "SIPAS", "QR", "KB", "English", "Tiếng", "Việt",
                          "flask", "app", "survey", "import", "units", "create", "user", "init", "db", "NA",
                          "RR"}  # (AAPOR response rates RR1, RR3)


@pytest.fixture
def pseudo_app(db, db_path, tmp_path):
    """The app with a pseudo Vietnamese catalog: every message is ⟦message⟧."""
    template = read_po(open(CATALOG / "messages.pot", "rb"))
    pseudo = Catalog(locale="vi")
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, str):
            pseudo.add(message.id, OPEN + message.id + CLOSE, flags=message.flags)
        else:
            pseudo.add(message.id, tuple(OPEN + s + CLOSE for s in (message.id[0], message.id[1])),
                       flags=message.flags)
    folder = tmp_path / "pseudo" / "vi" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as f:
        write_mo(f, pseudo)
    return create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "test-secret",
                       "DEFAULT_QUESTIONNAIRE": QID, "BABEL_TRANSLATION_DIRECTORIES": str(tmp_path / "pseudo")})


class _Texts(HTMLParser):
    """Text nodes and the human-readable attributes of a page, outside <script>, <style>,
    <code> and elements marked translate="no"."""

    SKIP = {"script", "style", "code"}
    VOID = {"input", "meta", "link", "br", "img", "hr", "source", "option"}

    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skip = (self.stack and self.stack[-1]) or tag in self.SKIP or attrs.get("translate") == "no" \
            or "comment-text" in (attrs.get("class") or "")
        if not skip:
            for name in ("aria-label", "title", "placeholder", "alt"):
                if attrs.get(name):
                    self.found.append(attrs[name])
        if tag not in self.VOID - {"option"}:
            self.stack.append(bool(skip))

    def handle_endtag(self, tag):
        if tag not in self.VOID - {"option"} and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if data.strip() and not (self.stack and self.stack[-1]):
            self.found.append(data)


def _outside_catalog(text: str, data: list[str]) -> list[str]:
    """The words of ``text`` that come neither from the catalog nor from the data."""
    previous = None
    while previous != text:  # innermost brackets first (a translated text inside another)
        previous = text
        text = re.sub(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}", " ", text)
    for value in data:
        text = text.replace(value, " ")
    return [w for w in re.findall(r"[^\W\d_]{2,}", text) if w not in SAME_IN_EVERY_LANGUAGE]


def _data_strings(db) -> list[str]:
    values = set()
    for row in db.query("SELECT slug, name_vi, name_en FROM units"):
        values.update(row.values())
    values.update(r["username"] for r in db.query("SELECT username FROM users"))
    values.update(r["name"] for r in db.query("SELECT name FROM kiosks"))
    values.update(r["id"] for r in db.query("SELECT id FROM questionnaires"))
    for r in db.query("SELECT definition FROM questionnaires"):
        def walk(node):
            if isinstance(node, dict):
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
            elif isinstance(node, str):
                values.add(node)
        walk(json.loads(r["definition"]))
    values.update(r["excluded_reason"] for r in db.query("SELECT excluded_reason FROM responses "
                                                         "WHERE excluded_reason IS NOT NULL"))
    for row in db.query("SELECT old_name_vi, old_name_en FROM unit_crosswalk"):
        values.update(row.values())
    return sorted((v for v in values if v), key=len, reverse=True)


def test_every_text_on_every_staff_page_is_in_the_catalog(pseudo_app, db, known, clock):
    client = pseudo_app.test_client()
    pages = {"/staff/login": client.get("/staff/login").get_data(as_text=True)}
    staff = Staff(client, db)
    staff.as_role("admin")
    first = db.execute("SELECT id FROM responses ORDER BY id LIMIT 1").fetchone()[0]
    staff.post(f"/staff/responses/{first}/exclusion", {"action": "exclude", "reason": "phiếu thử"})
    responses.set_comment = None  # noqa: B010  (nothing to patch: comments come from the fixture data)
    _hold_and_crosswalk(db)
    paths = ["/staff/", "/staff/dashboard/live", "/staff/comments", "/staff/comments?q=zzzz", "/staff/quality",
             "/staff/quality?kind=speeder&state=excluded", f"/staff/responses/{first}", "/staff/exports",
             "/staff/reports/", "/staff/admin/targets", "/staff/admin/targets?calculate=1&half_width=5",
             "/staff/admin/targets?calculate=1&half_width=abc", "/staff/admin/kiosks", "/staff/admin/users",
             "/staff/account/password", "/staff/?from=2025-13-01", "/staff/responses/999999", "/posters/",
             "/posters/?q=zzzz", "/staff/held", "/staff/held?state=accepted", "/staff/held?reason=pattern",
             "/staff/held?reason=nonsense", "/staff/former", "/staff/?unit_q=quan", "/staff/?unit_q=zzzz",
             "/staff/admin/targets?unit_q=quan"]
    for path in paths:
        response = client.get(path)
        assert response.status_code in (200, 400, 404), path
        pages[path] = response.get_data(as_text=True)
    # Pages that only answer a form: a refused user, a refused report, a flash message.
    pages["users: refused"] = staff.post("/staff/admin/users", {"username": "bad name!", "role": "staff",
                                                                 "password": "x", "confirm_password": "y"}
                                         ).get_data(as_text=True)
    pages["reports: refused"] = staff.post("/staff/reports/", {"from": "2025-03-10", "to": "2025-03-01",
                                                                "compare_from": "2025-01-01", "target": "120"}
                                           ).get_data(as_text=True)
    pages["targets: flash"] = staff.post("/staff/admin/targets", {}, follow_redirects=True).get_data(as_text=True)
    held = [r[0] for r in db.execute("SELECT response_id FROM integrity_holds WHERE state = 'held'")]
    pages["held: accepted"] = staff.post("/staff/held/review", {"action": "accept", "ids": held[0], "back": "/staff/held"},
                                         follow_redirects=True).get_data(as_text=True)
    pages["held: nothing ticked"] = staff.post("/staff/held/review", {"action": "exclude", "back": "/staff/held"}
                                               ).get_data(as_text=True)
    pages["held: bad action"] = staff.post("/staff/held/review", {"action": "zap", "ids": held[1],
                                                                   "back": "/staff/held"}).get_data(as_text=True)
    # The pages show the rows the check must cover: held responses, the former district's group.
    assert pages["/staff/held"].count("<tr data-response=") == 3
    assert 'data-former="tinh-cu/huyen-cu"' in pages["/staff/former"]
    assert "<tr data-unit=" in pages["/staff/?unit_q=quan"]
    data = _data_strings(db)
    problems = {}
    for name, page in pages.items():
        parser = _Texts()
        parser.feed(page)
        assert parser.found, name
        for text in parser.found:
            words = _outside_catalog(text, data)
            if words:
                problems.setdefault(name, []).append(" ".join(text.split())[:120])
    assert not problems, "texts not in the catalog (wrap them in _()):\n" + json.dumps(problems, ensure_ascii=False,
                                                                                       indent=1)


def _hold_and_crosswalk(db):
    """Three responses held as identical answers (origins recorded as the web form records them), and
    a crosswalk: Quận 1 and Quận 3 of this fixture took over a former district, one partly."""
    from survey import integrity

    rows = list(db.query("SELECT id, unit_id, channel, kiosk_id, submitted_at, answers FROM responses "
                         "ORDER BY id LIMIT 3"))
    for r in rows:
        db.execute("INSERT INTO integrity_origin (response_id, unit_id, channel, kiosk_id, received_at, served_at, "
                   "client_key, address_key, answers) VALUES (?, ?, ?, ?, ?, ?, 'k1', 'a1', ?)",
                   [r["id"], r["unit_id"], r["channel"], r["kiosk_id"], r["submitted_at"], r["submitted_at"],
                    r["answers"]])
    integrity.hold(db, [r["id"] for r in rows], "pattern", "Asia/Ho_Chi_Minh")
    units = {r["slug"]: r["id"] for r in db.query("SELECT slug, id FROM units")}
    db.execute("INSERT INTO unit_crosswalk (old_slug, old_name_vi, old_name_en, new_unit_id, relation, main) "
               "VALUES ('tinh-cu/huyen-cu', 'Huyện Cũ', 'Old District', ?, 'full', 1), "
               "('tinh-cu/huyen-cu', 'Huyện Cũ', 'Old District', ?, 'partial', 0)", [units["quan-1"], units["quan-3"]])
    db.conn.commit()


def test_the_catalog_check_finds_a_text_typed_into_a_page(pseudo_app, db, known, clock):
    """The check above can fail: an English word outside _() is reported."""
    data = _data_strings(db)
    assert _outside_catalog(f"{OPEN}Ngày{CLOSE} Status", data) == ["Status"]
    assert _outside_catalog(f"Quận 1 · {OPEN}behind{CLOSE} 12/03/2025", data) == []


def test_the_probability_samples_page_is_in_the_catalog(pseudo_app, db, db_path, tmp_path, clock):
    """/staff/samples with a frame, a drawn sample and answered invitations (issue 15's test case)."""
    from survey import catalog
    from tests.frames.case import build

    catalog.register_shipped(db)
    build(str(db_path), tmp_path)
    client = pseudo_app.test_client()
    Staff(client, db).as_role("staff")
    data = _data_strings(db)
    problems = {}
    for path in ("/staff/samples", "/staff/samples?by=stratum"):
        page = client.get(path).get_data(as_text=True)
        assert 'id="rr1-all"' in page and 'id="sample-index"' in page, path
        parser = _Texts()
        parser.feed(page)
        for text in parser.found:
            if _outside_catalog(text, data):
                problems.setdefault(path, []).append(" ".join(text.split())[:120])
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)


# --- The analysis engine's notes and errors, the calculator's numbers: in the staff member's language --

def _frame_case(db, db_path, tmp_path):
    """The probability-sample case of tests/frames (3 units x 4 fields, 2 weighting cells merged) and its
    design as the analysis computes it: (merged cells, population, sampled, respondents)."""
    import sqlite3

    from analysis.frame import frame_weights
    from survey import catalog
    from tests.frames.case import build

    catalog.register_shipped(db)
    frame_id, _answered, _ineligible = build(str(db_path), tmp_path)
    conn = sqlite3.connect(db_path)
    try:
        fw = frame_weights(conn, frame_id)
    finally:
        conn.close()
    merged = [c for c in fw.cells if len(c.strata) > 1]
    assert merged, "the case must merge a weighting cell (it did when this test was written)"
    return merged, int(fw.population.sum()), int(fw.sampled.sum()), int(fw.respondents.sum())


def _vi_number(value, digits: int = 0) -> str:
    """20006 -> '20.006', 1.2345 -> '1,2345': written out here, not by the app's formatter."""
    return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def test_the_samples_page_says_how_the_sample_was_weighted_in_vietnamese_then_in_english(
        vi_app, db, db_path, tmp_path, clock):
    merged, population, sampled, respondents = _frame_case(db, db_path, tmp_path)
    client = vi_app.test_client()
    Staff(client, db).as_role("staff")
    page = client.get("/staff/samples").get_data(as_text=True)
    notes = _text(page.split('id="weighting-notes"')[1].split("</details>")[0])
    assert "Cách gia quyền mẫu" in notes
    assert f"Sổ hồ sơ: N = {_vi_number(population)} hồ sơ, {_vi_number(sampled)} được chọn vào mẫu" in notes
    assert f"{_vi_number(respondents)} người trả lời" in notes
    for cell in merged:
        assert (f"Ô gia quyền đã gộp {cell.name}: {cell.respondents} người trả lời, hệ số hiệu chỉnh không trả "
                f"lời {_vi_number(cell.factor, 4)}.") in notes
    # No English left: the engine's own wording ("non-response adjusted", "respondents") is not shown.
    assert "respondents" not in notes and "frame sample" not in notes
    assert 'lang="en"' not in page.split('id="sample-index"')[1]

    assert _switch(client, "en", "/staff/samples").status_code == 302
    english = _text(client.get("/staff/samples").get_data(as_text=True).split('id="weighting-notes"')[1])
    assert "How the sample was weighted" in english
    assert f"Register: N = {population:,} dossiers, {sampled:,} sampled" in english
    cell = merged[0]
    assert (f"Merged weighting cell {cell.name}: {cell.respondents} respondents, non-response factor "
            f"{cell.factor:.4f}.") in english


def test_an_error_of_the_analysis_engine_on_the_samples_page_is_in_vietnamese_then_in_english(
        vi_app, db, db_path, tmp_path, clock):
    """A response of the sample whose field no longer matches a sampled stratum stops the index: the page
    says which response, in the staff member's language (the engine's English stays on its command line)."""
    _frame_case(db, db_path, tmp_path)
    stray = db.execute("SELECT id FROM responses WHERE frame_id IS NOT NULL ORDER BY id LIMIT 1").fetchone()[0]
    db.execute("UPDATE responses SET field = 'no-such-field' WHERE id = ?", [stray])
    db.conn.commit()
    client = vi_app.test_client()
    Staff(client, db).as_role("staff")
    page = client.get("/staff/samples").get_data(as_text=True)
    problem = _text(page.split('id="index-problem"')[1].split("</p>")[0])
    assert (f"Phiếu số {stray} trả lời một lời mời của mẫu này nhưng đơn vị (mã số") in problem
    assert "lĩnh vực “no-such-field” của phiếu không phải là một tầng đã chọn mẫu" in problem
    assert "sampled stratum" not in problem and 'lang="en"' not in page.split('id="index-problem"')[1][:600]

    _switch(client, "en", "/staff/samples")
    english = _text(client.get("/staff/samples").get_data(as_text=True).split('id="index-problem"')[1])
    assert f"Response no. {stray} answers an invitation of this sample" in english
    assert "field “no-such-field” are not a sampled stratum" in english


def test_the_target_calculator_writes_its_numbers_in_the_staff_members_language(vi_app, db, known, clock):
    client = vi_app.test_client()
    Staff(client, db).as_role("admin")
    ask = "/staff/admin/targets?calculate=1&half_width=2&confidence=95&share=80&deff=1.5"
    page = _text(client.get(ask).get_data(as_text=True))
    # n0 = 1.5 x 1.96^2 x 0.8 x 0.2 / 0.02^2 = 2,304.9 -> 2,305 responses
    assert "±2 điểm" in page
    assert "n0 = 1,5 × 1,960² × 0,8 × 0,2 / 0,02² = 2.304,9; n = 2.305" in page
    assert "với quy mô tổng thể N:" in page and "with population" not in page
    assert "2,304.9" not in page and "1.5 ×" not in page

    _switch(client, "en", "/staff/admin/targets")
    english = _text(client.get(ask).get_data(as_text=True))
    assert "n0 = 1.5 × 1.960² × 0.8 × 0.2 / 0.02² = 2,304.9; n = 2,305" in english
    assert "with population N:" in english


def test_a_target_set_by_the_calculator_is_described_in_local_numbers(vi_app, db, known, clock):
    client = vi_app.test_client()
    staff = Staff(client, db)
    staff.as_role("admin")
    staff.post("/staff/admin/targets/calculated", {"calculate": "1", "half_width": "5", "confidence": "95",
                                                   "share": "80", "deff": "1.5", "fpc": "1", "unit": "huyen-can-gio"})
    population = db.execute("SELECT population FROM units WHERE slug = 'huyen-can-gio'").fetchone()[0]
    assert population >= 10_000
    page = _text(client.get("/staff/admin/targets").get_data(as_text=True))
    assert f"N = {_vi_number(population)}: n = n0 / (1 + (n0 − 1) / N)" in page
    assert f"N = {population:,}" not in page


def test_every_refusal_of_a_bad_input_on_a_staff_form_is_in_the_catalog(pseudo_app, db, known, clock):
    """What a staff member sees after typing something wrong into each staff form (and a few tampered
    values a stale page or a double click sends): every sentence comes from the catalog."""
    from survey.staff import users as user_store

    client = pseudo_app.test_client()
    staff = Staff(client, db)
    admin = staff.as_role("admin")
    other = user_store.create(db, "hoa", PASSWORD, "staff")
    kiosk = db.execute("SELECT id FROM kiosks ORDER BY id LIMIT 1").fetchone()[0]
    first = db.execute("SELECT id FROM responses ORDER BY id LIMIT 1").fetchone()[0]
    pseudo_app.config["PUBLIC_BASE_URL"] = "https://khaosat.example.gov.vn"
    forms = {
        "users: taken": ("/staff/admin/users", {"username": "hoa", "role": "staff", "password": PASSWORD,
                                                "confirm_password": PASSWORD}),
        "users: short password": ("/staff/admin/users", {"username": "minh", "role": "staff", "password": "short",
                                                         "confirm_password": "short"}),
        "users: bad role": ("/staff/admin/users", {"username": "minh", "role": "wizard", "password": PASSWORD,
                                                   "confirm_password": PASSWORD}),
        "user: bad role": (f"/staff/admin/users/{other.id}", {"action": "role", "role": "wizard"}),
        "user: own role": (f"/staff/admin/users/{admin.id}", {"action": "role", "role": "staff"}),
        "user: short password": (f"/staff/admin/users/{other.id}", {"action": "password", "password": "x"}),
        "user: bad action": (f"/staff/admin/users/{other.id}", {"action": "zap"}),
        "user: none": ("/staff/admin/users/99999", {"action": "unlock"}),
        "targets: bad numbers": ("/staff/admin/targets", {f"target-{first}": "0", "target-1": "lots",
                                                          "target-2": "99999999999"}),
        "calculator: too narrow": ("/staff/admin/targets/calculated", {"calculate": "1", "half_width": "0.05"}),
        "calculator: too precise": ("/staff/admin/targets/calculated", {"calculate": "1", "half_width": "0.1", "deff": "5",
                                                                        "confidence": "99.9", "share": "50"}),
        "calculator: bad share": ("/staff/admin/targets/calculated", {"calculate": "1", "share": "100",
                                                                      "confidence": "100.5", "deff": "0.5"}),
        "calculator: bad unit": ("/staff/admin/targets/calculated", {"calculate": "1", "unit": "zzz"}),
        "fieldwork: bad dates": ("/staff/admin/fieldwork", {"from": "2025-13-01", "to": "1800-01-01"}),
        "fieldwork: reversed": ("/staff/admin/fieldwork", {"from": "2025-04-01", "to": "2025-03-01"}),
        "kiosks: unknown unit": ("/staff/admin/kiosks", {"unit": "zzz", "name": "Quầy 9", "field": ""}),
        "kiosks: parent unit": ("/staff/admin/kiosks", {"unit": "ho-chi-minh", "name": "Quầy 9", "field": ""}),
        "kiosks: name taken": ("/staff/admin/kiosks", {"unit": "quan-1", "name": "Kiosk Q1", "field": ""}),
        "kiosks: long name": ("/staff/admin/kiosks", {"unit": "quan-1", "name": "x" * 81, "field": ""}),
        "kiosks: bad field": ("/staff/admin/kiosks", {"unit": "quan-1", "name": "Quầy 9", "field": "zzz"}),
        "kiosk: empty name": (f"/staff/admin/kiosks/{kiosk}", {"action": "save", "name": " "}),
        "kiosk: bad action": (f"/staff/admin/kiosks/{kiosk}", {"action": "zap"}),
        "kiosk: none": ("/staff/admin/kiosks/99999", {"action": "revoke"}),
        "password: wrong current": ("/staff/account/password", {"current_password": "wrong one", "new_password": "x",
                                                                "confirm_password": "x"}),
        "password: too short": ("/staff/account/password", {"current_password": PASSWORD, "new_password": "short",
                                                            "confirm_password": "short"}),
        "password: differ": ("/staff/account/password", {"current_password": PASSWORD, "new_password": "a" * 12,
                                                         "confirm_password": "b" * 12}),
        "exclusion: no reason": (f"/staff/responses/{first}/exclusion", {"action": "exclude", "reason": " "}),
        "exclusion: bad action": (f"/staff/responses/{first}/exclusion", {"action": "zap"}),
        "exclusion: none": ("/staff/responses/99999/exclusion", {"action": "exclude", "reason": "x"}),
        "handled: none": ("/staff/comments/99999/handled", {}),
        "reports: bad": ("/staff/reports/", {"from": "2025-02-30", "to": "xx", "target": "abc", "unit": "zzz",
                                            "compare_from": "2025-01-01", "compare_to": "2024-01-01"}),
        "reports: empty period": ("/staff/reports/", {"from": "2030-01-01", "to": "2030-01-31"}),
        "language: bad": ("/staff/language", {"lang": "fr", "back": "/staff/"}),
    }
    pages = {}
    for name, (path, data) in forms.items():
        response = staff.post(path, data, follow_redirects=True)
        assert response.status_code < 500, name
        pages[name] = response.get_data(as_text=True)
    # a kiosk revoked twice (a double click)
    staff.post(f"/staff/admin/kiosks/{kiosk}", {"action": "revoke"})
    pages["kiosk: revoked twice"] = staff.post(f"/staff/admin/kiosks/{kiosk}", {"action": "revoke"},
                                               follow_redirects=True).get_data(as_text=True)
    for path in ("/staff/?from=2025-03-10&to=2025-03-01", "/staff/?unit=zzz", "/staff/?from=x&to=y",
                 "/staff/comments?from=2025-13-01", "/staff/comments?unit=zzz&page=x",
                 "/staff/quality?kind=nonsense&state=zz", "/staff/exports/responses.csv?from=bad",
                 "/staff/exports/responses.xlsx?unit=zzz", "/staff/samples?frame=99", "/posters/?unit=zzz",
                 "/staff/admin/targets?calculate=1&half_width=0.01&deff=99&share=-1&confidence=1e999",
                 "/staff/reports/99999", "/staff/admin/targets?calculate=1&half_width=9999999999999998951424"):
        response = client.get(path)
        assert response.status_code < 500, path
        pages[path] = response.get_data(as_text=True)
    data = _data_strings(db) + ["zzz", "wizard", "zap", "Kiosk Q1", "Quầy 9"]
    problems = {}
    for name, page in pages.items():
        parser = _Texts()
        parser.feed(page)
        for text in parser.found:
            if _outside_catalog(text, data):
                problems.setdefault(name, []).append(" ".join(text.split())[:160])
    assert not problems, "texts not in the catalog:\n" + json.dumps(problems, ensure_ascii=False, indent=1)


def test_counts_in_sentences_are_in_local_format(vi_app, db, fieldwork, clock):
    """'1.200 góp ý trong kỳ …', not '1200': ngettext's %(num)s is a number like every other."""
    from datetime import timedelta

    from .conftest import local, make_response, unit_id

    quan1 = unit_id(db, "quan-1")
    responses.save_many(db, [make_response(quan1, local("2025-03-05 08:00") + timedelta(seconds=30 * i),
                                           comment=f"Góp ý số {i}") for i in range(1200)])
    client = vi_app.test_client()
    Staff(client, db).as_role("staff")
    page = _text(client.get("/staff/comments").get_data(as_text=True))
    assert "1.200 góp ý trong kỳ 01/03/2025 – 31/03/2025." in page and "1200 góp ý" not in page
    _switch(client, "en", "/staff/comments")
    assert "1,200 comments in 1 Mar 2025 – 31 Mar 2025." in _text(client.get("/staff/comments").get_data(as_text=True))
