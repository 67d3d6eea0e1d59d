"""Issue 12 items 11, 12 and 14 against gunicorn: client input never produces a 5xx, staff
responses are never cached, and a forged Host header never reaches a poster.

Each named attack of the review is replayed first; then hypothesis sends hostile numbers, dates
and ids (Unicode digits, thousands of digits, values past SQLite's range, deep JSON nesting) to
every integer, date and id the app parses, and every answer must be a 4xx (or a 2xx/3xx where the
value happens to be acceptable) with our own page, never a 5xx."""
from __future__ import annotations

import json
import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import PASSWORD, add_kiosk, kiosk_body, kiosk_post

pytestmark = pytest.mark.timeout(600)

HUGE_ID = "9999999999999999999999999"


@pytest.fixture(scope="module")
def admin(server):
    browser = server.browser()
    assert browser.login("boss").status == 302
    return browser


@pytest.fixture(scope="module")
def kiosk(server):
    token = add_kiosk(server)
    assert server.browser().get(f"/k/{token}").status == 200
    return token


def citizen_form(server, slug: str = "phuong-sai-gon"):
    browser = server.browser()
    page = browser.get(f"/u/{slug}")
    assert page.status == 200, page.text[:300]
    hidden = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', page.text))
    return browser, hidden


def assert_clear_refusal(answer, *statuses: int):
    assert answer.status < 500, (answer.status, answer.text[:1500])
    if statuses:
        assert answer.status in statuses, (answer.status, answer.text[:500])
    # (414: gunicorn's own limit on the request line, 4,094 bytes, answers before the app)
    if answer.status >= 400 and answer.status != 414 and "json" not in (answer.header("content-type") or ""):
        assert "<!doctype html>" in answer.text.lower()      # our page with a message, not a bare one


def server_errors(server) -> list[str]:
    return [line for line in server.log.read_text(errors="replace").splitlines()
            if "Traceback" in line or "RecursionError" in line or "OverflowError" in line]


# --- item 11: the review's attacks, one by one ----------------------------------------------------

@pytest.mark.parametrize("version", ["²", "9" * 20, "9" * 4400, "٣", "１"])
def test_a_hostile_version_on_the_citizen_form_is_a_400(server, version):
    browser, hidden = citizen_form(server)
    answer = browser.post("/u/phuong-sai-gon", {**hidden, "version": version, "q01": "4"})
    assert_clear_refusal(answer, 400)
    assert server.rows("SELECT count(*) AS n FROM responses")[0]["n"] == 0


def test_deeply_nested_json_to_the_kiosk_api_is_a_400_without_a_traceback(server, kiosk):
    before = len(server_errors(server))
    body = "[" * 30_000 + "]" * 30_000
    answer = kiosk_post(server.browser(), kiosk, body)
    assert answer.status == 400, answer.text[:300]
    assert json.loads(answer.text)["reason"] == "bad_request"
    nested = json.dumps(kiosk_body())[:-1] + ', "comment": ' + "[" * 30_000 + "]" * 30_000 + "}"
    assert kiosk_post(server.browser(), kiosk, nested).status == 400
    assert len(server_errors(server)) == before


@pytest.mark.parametrize("path", [f"/staff/responses/{HUGE_ID}", f"/staff/reports/{HUGE_ID}",
                                  f"/staff/reports/{HUGE_ID}/report.pdf", "/staff/responses/9223372036854775808"])
def test_huge_ids_in_staff_addresses_are_a_404(admin, path):
    assert_clear_refusal(admin.get(path), 404)


@pytest.mark.parametrize("path", [f"/staff/admin/users/{HUGE_ID}", f"/staff/admin/kiosks/{HUGE_ID}",
                                  f"/staff/comments/{HUGE_ID}/handled", f"/staff/responses/{HUGE_ID}/exclusion"])
def test_huge_ids_in_admin_and_comment_posts_are_a_404(admin, path):
    assert_clear_refusal(admin.post_form(path, {"action": "disable", "reason": "x"}), 404)


@pytest.mark.parametrize("half_width", ["1e-300", "0.001", "0", "-1", "1e400", "nan", "²"])
def test_extreme_half_widths_on_the_targets_page_are_explained(admin, half_width):
    from urllib.parse import quote

    answer = admin.get(f"/staff/admin/targets?half_width={quote(half_width)}&calculate=1")
    assert_clear_refusal(answer, 400)
    problems = answer.text.split('class="problems"')[1].split("</div>")[0]    # (staff pages: Vietnamese)
    assert "± điểm" in problems or "Sai số ±" in problems, problems


# --- item 11: every integer, date and id, by hypothesis ------------------------------------------

UNICODE_DIGITS = "²³¹٣۴५৬੭௮໙１０߀᠑"
hostile_text = st.one_of(
    st.sampled_from(["²", "٣", "１２", "9" * 20, "9" * 4400, HUGE_ID, "-1", "0", "00", "1e-300", "0.001",
                     "nan", "inf", "-inf", "1e400", "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01",
                     "0000-00-00", "+99999-01-01", "2026-01-01T25:00", "", " ", "%00", "\x00", "1_000"]),
    st.text(alphabet=UNICODE_DIGITS + "0123456789-.e+", min_size=1, max_size=30),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str),
    st.integers(min_value=1, max_value=5000).map(lambda n: "9" * n),
)
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))

STAFF_QUERIES = {
    "/staff/": ("from", "to", "page", "units_page", "unit"),
    "/staff/dashboard/live": ("from", "to", "units_page"),
    "/staff/comments": ("from", "to", "page"),
    "/staff/quality": ("from", "to", "page"),
    "/staff/former": ("from", "to"),
    "/staff/held": ("page", "from", "to"),
    "/staff/exports/responses.csv": ("from", "to", "questionnaire"),
    "/staff/admin/targets": ("half_width", "confidence", "share", "deff", "units_page"),
    "/staff/admin/kiosks": ("page",),
    "/posters/": ("page",),
    "/staff/samples": ("frame", "by"),
    "/": ("page",),
}


@PROPERTY
@given(path=st.sampled_from(sorted(STAFF_QUERIES)), values=st.lists(hostile_text, min_size=1, max_size=3),
       data=st.data())
def test_no_hostile_query_value_gives_a_5xx(server, admin, path, values, data):
    names = data.draw(st.lists(st.sampled_from(STAFF_QUERIES[path]), min_size=len(values), max_size=len(values)))
    from urllib.parse import urlencode

    query = urlencode(dict(zip(names, values)) | ({"calculate": "1"} if "targets" in path else {}))
    assert_clear_refusal(admin.get(f"{path}?{query}"))


ID_ROUTES = ["/staff/responses/{}", "/staff/reports/{}", "/staff/reports/{}/indices.csv", "/thanks/{}",
             "/posters/{}", "/posters/{}.pdf", "/u/{}", "/i/{}"]
ID_POSTS = ["/staff/admin/users/{}", "/staff/admin/kiosks/{}", "/staff/comments/{}/handled",
            "/staff/responses/{}/exclusion"]


@PROPERTY
@given(template=st.sampled_from(ID_ROUTES + ID_POSTS), value=hostile_text)
def test_no_hostile_id_in_an_address_gives_a_5xx(admin, template, value):
    from urllib.parse import quote

    path = template.format(quote(value, safe="") or "x")
    answer = admin.post_form(path, {"action": "save", "name": "x"}) if template in ID_POSTS else admin.get(path)
    assert_clear_refusal(answer)


@PROPERTY
@given(fields=st.dictionaries(st.sampled_from(["ids", "target", "starts_on", "ends_on", "from", "to", "target-1",
                                               "half_width", "confidence", "share", "deff", "population"]),
                              hostile_text, min_size=1, max_size=4),
       path=st.sampled_from(["/staff/held/review", "/staff/admin/targets", "/staff/admin/fieldwork",
                             "/staff/admin/targets/calculated", "/staff/reports/"]))
def test_no_hostile_number_or_date_in_a_staff_form_gives_a_5xx(admin, fields, path):
    extra = {"action": "accept"} if "held" in path else {"action": "save"} if "fieldwork" in path else {}
    answer = admin.post_form(path, {**extra, **fields})
    assert_clear_refusal(answer)
    assert answer.status != 303 or "reports" not in path     # no report job from a hostile date


@PROPERTY
@given(version=st.one_of(hostile_text, st.integers(min_value=-(10 ** 40), max_value=10 ** 40), st.floats()),
       started=hostile_text, depth=st.integers(min_value=0, max_value=40_000))
def test_no_hostile_version_time_or_nesting_to_the_kiosk_api_gives_a_5xx(server, kiosk, version, started, depth):
    body = json.dumps(kiosk_body(version=version, started_at=started, submission_id=str(uuid.uuid4())))
    if depth:
        body = body[:-1] + ', "respondent": ' + "[" * depth + "]" * depth + "}"
    answer = kiosk_post(server.browser(), kiosk, body)
    assert answer.status < 500, (answer.status, answer.text[:500])
    assert answer.status in (400, 413, 422), answer.status


@PROPERTY
@given(version=hostile_text, page=hostile_text)
def test_no_hostile_version_or_page_on_citizen_and_kiosk_forms_gives_a_5xx(server, kiosk, version, page):
    browser, hidden = citizen_form(server)
    valid = version == "1"     # the current version: then the missing answers are what is refused
    assert_clear_refusal(browser.post("/u/phuong-sai-gon", {**hidden, "version": version}), 422 if valid else 400)
    kiosk_browser = server.browser()
    kiosk_page = kiosk_browser.get(f"/k/{kiosk}")
    fields = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', kiosk_page.text))
    assert_clear_refusal(kiosk_browser.post(f"/k/{kiosk}", {**fields, "version": version}), 422 if valid else 400)
    from urllib.parse import quote

    assert_clear_refusal(server.browser().get(f"/?page={quote(page)}"), 200, 414)


def test_the_property_runs_left_no_traceback_in_the_server_log(server):
    assert server_errors(server) == [], "\n".join(server_errors(server)[:5])


# --- item 12: staff responses are never stored or revalidated -------------------------------------

def test_staff_pages_posters_and_downloads_are_no_store_and_never_304(server, admin):
    paths = ["/staff/", "/staff/exports/responses.csv", "/staff/exports/responses.xlsx", "/posters/",
             # (force=1: this test server's own loopback address, refused for a poster otherwise -- issue 11)
             "/posters/phuong-sai-gon?force=1", "/posters/phuong-sai-gon.pdf?force=1", "/staff/admin/users",
             "/staff/reports/"]
    assert server.browser().get("/staff/login").header("cache-control") == "no-store"
    for path in paths:
        answer = admin.get(path)
        assert answer.status == 200, (path, answer.status)
        assert answer.header("cache-control") == "no-store", (path, answer.header("cache-control"))
        assert answer.header("etag") is None and answer.header("last-modified") is None, path
        again = admin.get(path, headers={"If-None-Match": "*", "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
        assert again.status == 200, (path, again.status)
    # A report's files: made by the real background job, downloaded twice.
    form = {"from": "2020-01-01", "to": "2030-12-31", "target": "80", "lang": "en", "weights": "none"}
    _submit_some(server, 3)
    started = admin.post_form("/staff/reports/", form, token_page="/staff/reports/")
    assert started.status == 303, started.text[:1000]
    job = started.header("location")
    import time

    deadline = time.time() + 240
    while "indices.csv" not in admin.get(job).text:
        assert time.time() < deadline, admin.get(job).text[-1500:]
        time.sleep(1)
    for name in ("report.html", "report.pdf", "indices.xlsx", "indices.csv"):
        first = admin.get(f"{job}/{name}")
        assert first.status == 200, (name, first.status)
        assert first.header("cache-control") == "no-store", (name, first.header("cache-control"))
        assert first.header("etag") is None and first.header("last-modified") is None, name
        again = admin.get(f"{job}/{name}", headers={"If-None-Match": "*",
                                                   "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
        assert again.status == 200 and again.body == first.body, (name, again.status)


def _submit_some(server, n: int, slug: str = "phuong-sai-gon") -> None:
    for _ in range(n):
        browser, hidden = citizen_form(server, slug)
        answers = {f"q{k:02d}": "4" for k in range(1, 40)}
        page = browser.get(f"/u/{slug}").text
        codes = set(re.findall(r'name="(q\d\d)"', page))
        required = dict(re.findall(r'name="(respondent_type|gender|age_band|field)"[^>]*value="([^"]+)"', page))
        answer = browser.post(f"/u/{slug}", {**hidden, **{c: answers[c] for c in codes}, **required})
        assert answer.status == 303, answer.text[:2000]


# --- item 14: the Host header, HEAD, the export's Content-Type -------------------------------------

def test_a_forged_host_never_reaches_a_poster_or_a_kiosk_link(server, admin):
    for path in ("/posters/phuong-sai-gon", "/posters/phuong-sai-gon.pdf", "/posters/phuong-sai-gon?force=1"):
        answer = admin.get(path, headers={"Host": "evil.example"})
        assert answer.status == 409, (path, answer.status)
        assert b"evil.example/u/" not in answer.body and "PUBLIC_BASE_URL" in answer.text
    kiosks_before = server.rows("SELECT count(*) AS n FROM kiosks")[0]["n"]
    csrf = admin.csrf("/staff/admin/kiosks")
    answer = admin.post("/staff/admin/kiosks", {"unit": "phuong-sai-gon", "name": "Quầy giả", "csrf_token": csrf},
                        headers={"Host": "evil.example"})
    assert answer.status == 409 and "evil.example/k/" not in answer.text and "PUBLIC_BASE_URL" in answer.text
    assert server.rows("SELECT count(*) AS n FROM kiosks")[0]["n"] == kiosks_before   # nothing registered
    # This machine's own address: a loopback address citizens' phones cannot reach, so refused (issue 11)
    # unless forced, e.g. to try the poster out.
    own = admin.get("/posters/phuong-sai-gon")
    assert own.status == 409 and "PUBLIC_BASE_URL" in own.text and "force=1" in own.text
    own = admin.get("/posters/phuong-sai-gon?force=1")
    assert own.status == 200 and f"http://127.0.0.1:{server.port}/u/phuong-sai-gon" in own.text


def test_a_configured_public_address_is_used_whatever_the_host(make_server):
    server = make_server(workers=2, env={"SURVEY_PUBLIC_BASE_URL": "https://khaosat.example.gov.vn"}).init()
    server.create_user("boss", "admin")
    server.start()
    browser = server.browser()
    assert browser.login("boss").status == 302
    answer = browser.get("/posters/phuong-sai-gon", headers={"Host": "evil.example"})
    assert answer.status == 200
    assert "https://khaosat.example.gov.vn/u/phuong-sai-gon" in answer.text and "evil.example" not in answer.text


@pytest.mark.parametrize("path", ["/", "/u/phuong-sai-gon", "/u/phuong-sai-gon?ch=web", "/staff/login", "/k/",
                                  "/k/sw.js", "/k/api/ping"])
def test_head_on_citizen_routes_answers_like_get(server, path):
    get = server.browser().get(path)
    head = server.browser().request("HEAD", path)
    assert head.status == get.status, (path, head.status, get.status)
    assert head.body == b""


def test_the_csv_export_names_its_charset_once(admin):
    answer = admin.get("/staff/exports/responses.csv")
    assert answer.status == 200
    assert answer.header("content-type") == "text/csv; charset=utf-8"
    assert answer.header("content-type").count("charset") == 1
