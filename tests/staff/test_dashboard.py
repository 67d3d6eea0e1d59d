"""The dashboard on known data: counts, pace, kiosk status, comments, flags,
exclusion and its reversal, targets, and clear messages for bad input."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from survey import responses
from survey.staff import monitor, periods, targets

from .conftest import add_kiosk, local, make_response, unit_id


def text(page: str) -> str:
    """What a reader sees: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def figure(page: str, name: str) -> int:
    match = re.search(rf'data-count="{name}">([\d,]+)<', page)
    assert match, f"no figure {name}"
    return int(match.group(1).replace(",", ""))


def unit_row(page: str, slug: str) -> dict:
    row = re.search(rf'<tr data-unit="{slug}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {slug}"
    cells = [re.sub(r"<[^>]+>", " ", c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(1), re.S)]
    cells = [" ".join(html.unescape(c).split()) for c in cells]
    return {"target": cells[1], "collected": cells[2].split(" ")[0], "percent": cells[3], "expected": cells[4],
            "status": cells[5]}


@pytest.fixture
def fieldwork(db):
    targets.set_fieldwork(db, periods.Period(*map(lambda s: datetime.strptime(s, "%Y-%m-%d").date(),
                                                   ("2025-03-01", "2025-03-31"))), by="test")


@pytest.fixture
def known(db, clock, fieldwork):
    """170 responses in the period (31 days, now on day 12), 5 outside it, and targets.

    quan-1: target 310, expected by today 310 * 12 / 31 = 120; 110 collected -> on track (>= 108)
    quan-3: target 100, expected 38.7; 30 collected -> behind (< 34.8)
    quan-5: target 20; 25 collected -> done
    huyen-can-gio: no target; 5 collected
    """
    ids = {s: unit_id(db, s) for s in ("quan-1", "quan-3", "quan-5", "huyen-can-gio")}
    kiosk = add_kiosk(db, "quan-1", "Kiosk Q1")
    channels = ["kiosk", "phone", "web", "paper"]
    rows = []
    for i in range(100):
        ch = channels[i % 4]
        rows.append(make_response(ids["quan-1"], local("2025-03-05 08:00") + timedelta(minutes=3 * i), channel=ch,
                                  kiosk_id=kiosk if ch == "kiosk" else None, field="land" if i < 60 else "civil"))
    rows += [make_response(ids["quan-1"], local("2025-03-10 09:00") + timedelta(minutes=10 * i)) for i in range(7)]
    rows += [make_response(ids["quan-1"], local("2025-03-12 08:00") + timedelta(minutes=10 * i), channel="kiosk",
                           kiosk_id=kiosk) for i in range(3)]
    rows += [make_response(ids["quan-3"], local("2025-03-03 09:00") + timedelta(minutes=5 * i)) for i in range(30)]
    rows += [make_response(ids["quan-5"], local("2025-03-11 09:00") + timedelta(minutes=5 * i), channel="phone")
             for i in range(25)]
    rows += [make_response(ids["huyen-can-gio"], local("2025-03-12 07:40") + timedelta(minutes=i), field=None)
             for i in range(5)]
    # Outside the period: the evening before it starts, the first minutes after it ends (local time).
    rows += [make_response(ids["quan-1"], local("2025-02-28 23:50")) for _ in range(4)]
    rows += [make_response(ids["quan-1"], local("2025-04-01 00:05"))]
    responses.save_many(db, rows)
    for slug, target in (("quan-1", 310), ("quan-3", 100), ("quan-5", 20)):
        targets.set_target(db, ids[slug], target, method="manual", by="test")
    return ids


def test_counts_today_this_week_and_this_period(client, staff, known):
    staff.as_role("staff")
    page = client.get("/staff/").get_data(as_text=True)
    assert figure(page, "today") == 3 + 5
    assert figure(page, "week") == 7 + 3 + 25 + 5      # Monday 10 March to today
    assert figure(page, "period") == 170
    assert "day 12 of 31" in page


def test_pace_and_status_per_unit(client, staff, known):
    staff.as_role("staff")
    page = client.get("/staff/").get_data(as_text=True)
    assert unit_row(page, "quan-1") == {"target": "310", "collected": "110", "percent": "35 %", "expected": "120",
                                        "status": "on track"}
    assert unit_row(page, "quan-3") == {"target": "100", "collected": "30", "percent": "30 %", "expected": "39",
                                        "status": "behind"}
    assert unit_row(page, "quan-5")["status"] == "done"
    assert unit_row(page, "huyen-can-gio") == {"target": "—", "collected": "5", "percent": "—", "expected": "—",
                                               "status": "no target"}
    # Units that are behind come first.
    assert page.index('data-unit="quan-3"') < page.index('data-unit="quan-1"') < page.index('data-unit="quan-5"')
    assert "1 behind" in page and "1 on track" in page and "1 done" in page


def test_counts_per_channel_and_field(client, staff, known):
    staff.as_role("staff")
    page = client.get("/staff/").get_data(as_text=True)
    channels = dict(re.findall(r'<tr data-channel="(\w+)"><th scope="row">[^<]+</th><td class="n">([\d,]+)<', page))
    assert channels == {"qr": "0", "kiosk": "28", "phone": "50", "web": "67", "paper": "25", "invitation": "0"}
    fields = {code: n for code, _, n in re.findall(
        r'<tr data-field="(\w*)"><th scope="row">([^<]+)</th><td class="n">([\d,]+)<', page)}
    assert fields == {"land": "125", "civil": "40", "": "5"}
    assert "Civil status" in page and "(not given)" in page


def test_filters_by_unit_and_dates(client, staff, known):
    staff.as_role("staff")
    page = client.get("/staff/?unit=quan-3").get_data(as_text=True)
    assert figure(page, "period") == 30 and figure(page, "today") == 0
    assert 'data-unit="quan-1"' not in page
    city = client.get("/staff/?unit=tp-ho-chi-minh").get_data(as_text=True)
    assert figure(city, "period") == 170                  # a parent unit covers its children
    march_first_week = client.get("/staff/?from=2025-03-01&to=2025-03-07").get_data(as_text=True)
    assert figure(march_first_week, "period") == 130
    whole = client.get("/staff/?from=2025-02-28&to=2025-04-01").get_data(as_text=True)
    assert figure(whole, "period") == 175


def test_pace_rule_and_its_tolerance():
    period = periods.Period(datetime(2025, 3, 1).date(), datetime(2025, 3, 31).date())
    today = datetime(2025, 3, 12).date()
    assert monitor.pace(310, 108, period, today).status == "on track"   # exactly 90 % of 120
    assert monitor.pace(310, 107, period, today).status == "behind"
    assert monitor.pace(310, 310, period, today).status == "done"
    assert monitor.pace(310, 0, period, datetime(2025, 2, 27).date()).expected == 0
    assert monitor.pace(310, 0, period, datetime(2025, 2, 27).date()).status == "on track"
    assert monitor.pace(310, 300, period, datetime(2025, 4, 5).date()).expected == 310
    assert monitor.pace(None, 5, period, today).status == "no target"


def test_excluding_a_response_takes_it_out_of_the_counts_and_restoring_puts_it_back(client, db, staff, known):
    user = staff.as_role("staff")
    rid = db.execute("SELECT id FROM responses WHERE unit_id = ? ORDER BY id LIMIT 1",
                     [known["quan-1"]]).fetchone()[0]
    for n in range(2):
        staff.post(f"/staff/responses/{rid + n}/exclusion", {"action": "exclude", "reason": "test submission"})
    page = client.get("/staff/").get_data(as_text=True)
    assert unit_row(page, "quan-1")["collected"] == "108" and unit_row(page, "quan-1")["status"] == "on track"
    assert figure(page, "excluded") == 2
    staff.post(f"/staff/responses/{rid + 2}/exclusion", {"action": "exclude", "reason": "test submission"})
    page = client.get("/staff/").get_data(as_text=True)
    assert unit_row(page, "quan-1")["status"] == "behind"
    row = db.execute("SELECT excluded_at, excluded_by, excluded_reason FROM responses WHERE id = ?", [rid]).fetchone()
    assert row[0] and row[1] == user.username and row[2] == "test submission"
    response = staff.post(f"/staff/responses/{rid}/exclusion", {"action": "restore"})
    assert response.status_code == 302
    assert db.execute("SELECT excluded_at, excluded_by FROM responses WHERE id = ?", [rid]).fetchone() == (None, None)
    page = client.get("/staff/").get_data(as_text=True)
    assert unit_row(page, "quan-1")["collected"] == "108"
    detail = client.get(f"/staff/responses/{rid}").get_data(as_text=True)
    assert "Counted in analysis." in detail
    history = [(r["action"], r["acted_by"]) for r in db.query(
        "SELECT action, acted_by FROM exclusion_log WHERE response_id = ? ORDER BY id", [rid])]
    assert history == [("excluded", user.username), ("restored", user.username)]
    assert detail.count("staff-user") >= 2 and "restored" in detail and "excluded" in detail


def test_exclusion_needs_a_reason_an_existing_response_and_a_known_action(client, staff, known):
    staff.as_role("staff")
    no_reason = staff.post("/staff/responses/1/exclusion", {"action": "exclude", "reason": "  "})
    assert no_reason.status_code == 400 and "say why the response is excluded" in no_reason.get_data(as_text=True)
    missing = staff.post("/staff/responses/999999/exclusion", {"action": "exclude", "reason": "x"})
    assert missing.status_code == 404 and "no response with id 999999" in missing.get_data(as_text=True)
    odd = staff.post("/staff/responses/1/exclusion", {"action": "delete"})
    assert odd.status_code == 400 and "Action “delete” is not exclude or restore" in html.unescape(
        odd.get_data(as_text=True))
    assert client.get("/staff/responses/999999").status_code == 404


# --- Kiosks ----------------------------------------------------------------------------------

HOURS = monitor.OpeningHours(frozenset(range(5)), ((datetime.strptime("07:30", "%H:%M").time(),
                                                   datetime.strptime("11:30", "%H:%M").time()),
                                                  (datetime.strptime("13:00", "%H:%M").time(),
                                                   datetime.strptime("17:00", "%H:%M").time())))


@pytest.mark.parametrize("now, last, expected", [
    ("2025-03-12 10:00", "2025-03-12 09:30", "active"),     # 30 open minutes since
    ("2025-03-12 10:00", "2025-03-12 08:30", "silent"),     # 90 open minutes
    ("2025-03-12 10:00", None, "silent"),                   # never used; open since 07:30
    ("2025-03-12 07:50", "2025-03-11 16:59", "active"),     # yesterday's evening does not count
    ("2025-03-12 12:30", "2025-03-12 11:00", "closed"),     # lunch: 30 open minutes, desks closed
    ("2025-03-12 13:40", "2025-03-12 11:00", "silent"),     # 30 + 40 open minutes
    ("2025-03-15 10:00", "2025-03-14 16:00", "closed"),     # Saturday
])
def test_kiosk_goes_silent_only_during_opening_hours(now, last, expected):
    now_local = datetime.strptime(now, "%Y-%m-%d %H:%M")
    last_utc = (datetime.strptime(last, "%Y-%m-%d %H:%M") - timedelta(hours=7)).strftime(
        "%Y-%m-%dT%H:%M:%SZ") if last else None
    status, _ = monitor.kiosk_status({"last_submission": last_utc}, now_local, HOURS, 60, 420)
    assert status == expected


def test_opening_hours_setting_is_parsed_and_bad_values_named():
    hours = monitor.opening_hours({"OPENING_DAYS": "mon,tue,wed,thu,fri", "OPENING_HOURS": "07:30-11:30,13:00-17:00"})
    assert hours == HOURS
    with pytest.raises(ValueError, match="OPENING_DAYS: 'funday'"):
        monitor.opening_hours({"OPENING_DAYS": "mon,funday", "OPENING_HOURS": "07:30-11:30"})
    with pytest.raises(ValueError, match="OPENING_HOURS: '17:00-07:30'"):
        monitor.opening_hours({"OPENING_DAYS": "mon", "OPENING_HOURS": "17:00-07:30"})


def test_kiosk_table_shows_last_submission_responses_today_and_status(client, db, staff, known, clock):
    quiet = add_kiosk(db, "quan-3", "Kiosk Q3")
    revoked = add_kiosk(db, "quan-5", "Old kiosk")
    db.execute("UPDATE kiosks SET revoked_at = '2025-03-01T00:00:00Z' WHERE id = ?", [revoked])
    staff.as_role("staff")
    page = client.get("/staff/").get_data(as_text=True)
    row = re.search(r'<tr data-kiosk="1">(.*?)</tr>', page, re.S).group(1)
    # Last submission 08:20 today, 3 today, and at 10:00 that is 100 open minutes ago.
    assert "12 Mar 2025, 08:20" in row and '<td class="n">3</td>' in row and ">silent<" in row
    assert ">silent<" in re.search(rf'<tr data-kiosk="{quiet}">(.*?)</tr>', page, re.S).group(1)
    assert f'data-kiosk="{revoked}"' not in page
    clock.set(datetime(2025, 3, 12, 1, 30, tzinfo=timezone.utc))        # 08:30 local
    page = client.get("/staff/").get_data(as_text=True)
    assert ">active<" in re.search(r'<tr data-kiosk="1">(.*?)</tr>', page, re.S).group(1)


# --- Quality flags ---------------------------------------------------------------------------

def test_flags_per_kiosk_and_the_flagged_list(client, db, staff, known):
    quan1, kiosk = known["quan-1"], 1
    # A straight-liner and a burst of 6 within 4 minutes at the kiosk, and a speeder on the web.
    burst = [make_response(quan1, local("2025-03-11 14:00") + timedelta(seconds=40 * i), channel="kiosk",
                           kiosk_id=kiosk, answers="555555555555" if i == 0 else "453453453453") for i in range(6)]
    speeder = make_response(quan1, local("2025-03-11 15:00"), channel="web", duration=20.0)
    responses.save_many(db, burst + [speeder])
    staff.as_role("staff")
    page = client.get("/staff/").get_data(as_text=True)
    assert figure(page, "straightline") == 1 and figure(page, "burst") == 6 and figure(page, "speeder") == 1
    kiosk_row = re.search(r'<tr data-kiosk="1">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="n">(\d+)</td>', kiosk_row)[-3:] == ["1", "0", "6"]
    listing = client.get("/staff/quality").get_data(as_text=True)
    assert "7 flagged responses" in listing
    assert listing.count("straight-lining</span>") == 1 and listing.count(">speeder</span>") == 1
    only_speeders = client.get("/staff/quality?kind=speeder").get_data(as_text=True)
    assert "1 flagged response in" in only_speeders
    rid = db.execute("SELECT id FROM responses WHERE duration_s = 20").fetchone()[0]
    staff.post(f"/staff/responses/{rid}/exclusion", {"action": "exclude", "reason": "speeder"})
    assert "0 flagged responses" in client.get("/staff/quality?kind=speeder&state=included").get_data(as_text=True)
    assert "1 flagged response in" in client.get("/staff/quality?kind=speeder&state=excluded").get_data(as_text=True)


def test_flag_list_is_paginated(client, db, staff, known):
    quan1 = known["quan-1"]
    responses.save_many(db, [make_response(quan1, local("2025-03-11 10:00") + timedelta(minutes=i),
                                           answers="111111111111") for i in range(30)])
    staff.as_role("staff")
    first = client.get("/staff/quality").get_data(as_text=True)
    second = client.get("/staff/quality?page=2").get_data(as_text=True)
    assert "30 flagged responses" in first and "Page 1 of 2" in first
    assert first.count("<tr data-response=") == 25 and second.count("<tr data-response=") == 5
    assert "No flagged responses" in client.get("/staff/quality?unit=quan-3").get_data(as_text=True)


# --- Comments --------------------------------------------------------------------------------

@pytest.fixture
def commented(db, known):
    quan1 = known["quan-1"]
    texts = ["<script>alert('x')</script> Phải chờ lâu", "Đất đai: thủ tục nhanh", "Friendly staff",
             *[f"Góp ý số {i}" for i in range(27)]]
    responses.save_many(db, [make_response(quan1, local("2025-03-11 09:00") + timedelta(minutes=i), comment=t)
                             for i, t in enumerate(texts)])
    return texts


def test_comments_are_shown_escaped_latest_first_and_paginated(client, staff, commented):
    staff.as_role("staff")
    page = client.get("/staff/comments").get_data(as_text=True)
    assert "30 comments" in page and "Page 1 of 2" in page
    assert page.index("Góp ý số 26") < page.index("Góp ý số 25")
    oldest = client.get("/staff/comments?page=2").get_data(as_text=True)
    assert oldest.count('class="comment-text"') == 5
    assert "<script>alert" not in oldest
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Phải chờ lâu" in oldest


@pytest.mark.parametrize("query, expected", [("cho lau", "Phải chờ lâu"), ("CHỜ", "Phải chờ lâu"),
                                             ("dat dai", "Đất đai"), ("thu tuc", "Đất đai"),
                                             ("friend", "Friendly staff")])
def test_comment_search_ignores_case_and_vietnamese_accents(client, staff, commented, query, expected):
    staff.as_role("staff")
    page = client.get("/staff/comments", query_string={"q": query}).get_data(as_text=True)
    assert "1 comment in" in page and expected in page


def test_comment_search_explains_empty_and_unusable_searches(client, staff, commented):
    staff.as_role("staff")
    none = client.get("/staff/comments?q=xyzzy").get_data(as_text=True)
    assert "No comment matches “xyzzy”" in none
    bad = client.get("/staff/comments", query_string={"q": '"*)(:'})
    assert bad.status_code == 400 and "has no letters or digits" in bad.get_data(as_text=True)


def test_marking_a_comment_handled_and_back(client, db, staff, commented):
    user = staff.as_role("staff")
    rid = db.execute("SELECT id FROM responses WHERE comment = 'Friendly staff'").fetchone()[0]
    staff.post(f"/staff/comments/{rid}/handled", {"handled": "1"})
    assert db.execute("SELECT handled_by FROM comment_reviews WHERE response_id = ?", [rid]).fetchone()[0] == \
        user.username
    open_page = client.get("/staff/comments?state=open").get_data(as_text=True)
    assert "29 comments" in open_page and "Friendly staff" not in open_page
    assert "Friendly staff" in client.get("/staff/comments?state=handled").get_data(as_text=True)
    dashboard = client.get("/staff/").get_data(as_text=True)
    assert "(29 in this period)" in dashboard
    staff.post(f"/staff/comments/{rid}/handled", {"handled": "0"})
    assert "30 comments" in client.get("/staff/comments?state=open").get_data(as_text=True)
    missing = staff.post("/staff/comments/1/handled", {"handled": "1"})    # response 1 has no comment
    assert missing.status_code == 404


def test_empty_states_say_so(client, staff, fieldwork, clock):
    staff.as_role("staff")
    page = client.get("/staff/").get_data(as_text=True)
    assert figure(page, "period") == 0
    assert "No responses in this period yet." in page and "No kiosks." in page
    assert "No comment waiting in this period." in page
    assert "No comments in this period." in client.get("/staff/comments").get_data(as_text=True)


# --- Live refresh ------------------------------------------------------------------------------

def test_live_fragment_has_the_figures_without_the_page_around_them(client, db, staff, known):
    staff.as_role("staff")
    fragment = client.get("/staff/dashboard/live").get_data(as_text=True)
    assert "<html" not in fragment and figure(fragment, "period") == 170
    responses.save(db, make_response(known["quan-3"], local("2025-03-12 09:50")))
    assert figure(client.get("/staff/dashboard/live").get_data(as_text=True), "today") == 9
    page = client.get("/staff/?unit=quan-3").get_data(as_text=True)
    assert 'data-live-url="/staff/dashboard/live?unit=quan-3"' in page
    assert "Refresh now" in page


def test_pages_use_no_inline_script_or_style(client, staff, known, commented):
    staff.as_role("admin")
    for path in ("/staff/", "/staff/comments", "/staff/quality", "/staff/responses/1", "/staff/exports",
                 "/staff/admin/users", "/staff/admin/targets", "/staff/admin/kiosks", "/staff/login"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert not re.search(r"\s(style|on[a-z]+)=", page), path


# --- Bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("query, message", [
    ("from=2025-13-01", "From: “2025-13-01” is not a date"),
    ("to=yesterday", "To: “yesterday” is not a date"),
    ("from=2025-03-10&to=2025-03-01", "The end of the period (1 Mar 2025) is before its start (10 Mar 2025)"),
    ("from=9999-12-31", "outside the years"),
    ("unit=nowhere", "Unit: there is no unit “nowhere”"),
    ("from=2025-3-1", "write it as YYYY-MM-DD"),
])
def test_bad_filters_get_a_clear_message(client, staff, fieldwork, clock, query, message):
    staff.as_role("staff")
    for path in ("/staff/", "/staff/dashboard/live", "/staff/comments", "/staff/quality"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, path
        assert message in html.unescape(response.get_data(as_text=True)), path


@pytest.mark.parametrize("path, message", [("/staff/comments?page=0", "Page: “0” is not a page number"),
                                           ("/staff/comments?page=two", "Page: “two”"),
                                           ("/staff/quality?kind=odd", "Flag: “odd” is not one of the choices"),
                                           ("/staff/comments?state=x", "Show: “x” is not one of the choices")])
def test_bad_page_and_choice_arguments_get_a_clear_message(client, staff, clock, path, message):
    staff.as_role("staff")
    response = client.get(path)
    assert response.status_code == 400 and message in html.unescape(response.get_data(as_text=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.dictionaries(st.sampled_from(["from", "to", "unit", "page", "q", "state", "kind", "questionnaire"]),
                            st.text(max_size=12), max_size=4),
       path=st.sampled_from(["/staff/", "/staff/dashboard/live", "/staff/comments", "/staff/quality",
                             "/staff/exports/responses.csv", "/staff/admin/targets"]))
def test_no_query_string_makes_a_server_error(client, staff, known, args, path):
    if not client.get_cookie("session"):
        staff.as_role("admin")
    response = client.get(path, query_string=args)
    response.get_data()
    assert response.status_code < 500, (path, args)


# --- Targets and fieldwork period ------------------------------------------------------------

def test_sample_size_matches_textbook_values():
    assert targets.sample_size(half_width_points=5, share_percent=50).n == 385
    assert targets.sample_size(half_width_points=5, share_percent=50, population=1000).n == 278  # Krejcie-Morgan
    size = targets.sample_size(half_width_points=5, share_percent=80, design_effect=1.5)
    assert size.n == 369 and round(size.n0, 1) == 368.8
    assert targets.sample_size(half_width_points=3, confidence_percent=99, share_percent=50).n == 1844
    with pytest.raises(ValueError, match="design effect must be between 1 and 20, not 0.5"):
        targets.sample_size(half_width_points=5, design_effect=0.5)


def test_admin_sets_targets_by_hand_and_bad_values_change_nothing(client, db, staff, fieldwork, clock):
    staff.as_role("admin")
    quan1, quan3 = unit_id(db, "quan-1"), unit_id(db, "quan-3")
    bad = staff.post("/staff/admin/targets", {f"target-{quan1}": "400", f"target-{quan3}": "lots"})
    assert bad.status_code == 400 and "Target of District 3: “lots” is not a whole number" in html.unescape(
        bad.get_data(as_text=True))
    assert targets.all_targets(db) == {}
    staff.post("/staff/admin/targets", {f"target-{quan1}": "1,200", f"target-{quan3}": ""})
    saved = targets.all_targets(db)
    assert saved[quan1]["target"] == 1200 and saved[quan1]["method"] == "manual" and quan3 not in saved
    assert unit_row(client.get("/staff/").get_data(as_text=True), "quan-1")["target"] == "1,200"


def test_admin_sets_targets_from_the_confidence_interval_with_the_formula_shown(client, db, staff, fieldwork, clock):
    staff.as_role("admin")
    preview = client.get("/staff/admin/targets?calculate=1&half_width=5&confidence=95&share=80&deff=1.5&fpc=1")
    text = html.unescape(preview.get_data(as_text=True))
    assert "n0 = deff × z² × p(1 − p) / e²" in text and "n0 = 1.5 × 1.960² × 0.8 × 0.2 / 0.05² = 368.8" in text
    staff.post("/staff/admin/targets/calculated", {"calculate": "1", "half_width": "5", "confidence": "95",
                                                   "share": "80", "deff": "1.5", "fpc": "1"})
    saved = targets.all_targets(db)
    can_gio = unit_id(db, "huyen-can-gio")   # population 71,526: n = 368.8 / (1 + 367.8 / 71526) -> 367
    assert len(saved) == 22 and saved[can_gio]["target"] == 367
    assert "N = 71,526" in targets.describe_method(saved[can_gio]["method"])
    page = html.unescape(client.get("/staff/admin/targets").get_data(as_text=True))
    assert "from the CI calculator: ±5 points at 95 %" in page
    wrong = client.get("/staff/admin/targets?calculate=1&half_width=abc&confidence=95&share=80&deff=1.5")
    assert wrong.status_code == 400 and "± points: “abc” is not a number" in html.unescape(
        wrong.get_data(as_text=True))


def test_admin_sets_the_fieldwork_period_and_it_defaults_to_the_quarter(client, db, staff, clock):
    staff.as_role("admin")
    assert "1 Jan 2025 – 31 Mar 2025 (fieldwork period)" in text(client.get("/staff/").get_data(as_text=True))
    bad = staff.post("/staff/admin/fieldwork", {"from": "2025-04-01", "to": "2025-03-01"})
    assert bad.status_code == 400 and "is before its start" in bad.get_data(as_text=True)
    staff.post("/staff/admin/fieldwork", {"from": "2025-03-01", "to": "2025-04-15"})
    assert "1 Mar 2025 – 15 Apr 2025 (fieldwork period)" in text(client.get("/staff/").get_data(as_text=True))
    staff.post("/staff/admin/fieldwork", {"action": "clear"})
    assert targets.fieldwork(db) is None


def test_admin_adds_renames_and_revokes_a_kiosk(client, db, staff, clock):
    from survey.kiosk import kiosks

    staff.as_role("admin")
    page = staff.post("/staff/admin/kiosks", {"unit": "quan-1", "name": "Quầy 2", "field": "land"})
    text = page.get_data(as_text=True)
    url = re.search(r'<code class="device-url">(http://localhost/k/[^<]+)</code>', text).group(1)
    kiosk = kiosks.authenticate(db, url.rsplit("/", 1)[1])             # the address shown is the kiosk's key
    assert (kiosk.name, kiosk.unit_slug) == ("Quầy 2", "quan-1")
    assert url.rsplit("/", 1)[1] not in "\n".join(db.conn.iterdump())  # only its hash is stored
    again = staff.post("/staff/admin/kiosks", {"unit": "quan-1", "name": "Quầy 2"})
    assert again.status_code == 400 and "already has an active kiosk named" in html.unescape(
        again.get_data(as_text=True))
    wrong_field = staff.post("/staff/admin/kiosks", {"unit": "quan-1", "name": "Quầy 3", "field": "space"})
    assert wrong_field.status_code == 400 and "Field “space” is not a field of procedure" in html.unescape(
        wrong_field.get_data(as_text=True))
    staff.post(f"/staff/admin/kiosks/{kiosk.id}", {"action": "save", "name": "  Counter   2 ", "field": "civil"})
    assert db.execute("SELECT name, field FROM kiosks WHERE id = ?", [kiosk.id]).fetchone() == ("Counter 2", "civil")
    assert staff.post(f"/staff/admin/kiosks/{kiosk.id}", {"action": "save", "name": " "}).status_code == 400
    staff.post(f"/staff/admin/kiosks/{kiosk.id}", {"action": "revoke"})
    assert db.execute("SELECT revoked_at FROM kiosks WHERE id = ?", [kiosk.id]).fetchone()[0]
    twice = staff.post(f"/staff/admin/kiosks/{kiosk.id}", {"action": "revoke"})
    assert twice.status_code == 400 and "already revoked" in twice.get_data(as_text=True)
    assert staff.post("/staff/admin/kiosks/999", {"action": "revoke"}).status_code == 404


def test_changed_settings_are_announced_until_the_summaries_are_refreshed(app, client, staff, known):
    app.config["QUALITY_BURST_COUNT"] = 3
    staff.as_role("staff")
    page = html.unescape(client.get("/staff/").get_data(as_text=True))
    assert "The settings changed" in page and "refresh-summaries" in page
    result = app.test_cli_runner().invoke(args=["refresh-summaries"])
    assert result.exit_code == 0 and "Rebuilt: triggers, quality flags" in result.output
    assert "The settings changed" not in client.get("/staff/").get_data(as_text=True)


def test_pages_say_when_the_summaries_must_be_rebuilt(client, db, staff, clock):
    staff.as_role("admin")
    db.execute("UPDATE summary_config SET version = version - 1")      # as after an upgrade of the trigger code
    for path in ("/staff/", "/staff/quality", "/staff/exports", "/staff/admin/targets"):
        response = client.get(path)
        assert response.status_code == 503 and "refresh-summaries" in response.get_data(as_text=True), path
