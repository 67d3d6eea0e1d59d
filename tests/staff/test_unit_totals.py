"""Period counts from the unit totals (migration 0006b, issue 14) and the kiosk table's pages.

At 3,321 communes the daily counts hold most of a row per response; the dashboard reads a period from
the totals per unit (less the days outside it) or from its own days, whichever reads fewer rows.
Whatever the way, the numbers must be those of the responses themselves.
"""
import re
from datetime import date, timedelta

import pytest

from survey import responses
from survey.staff import periods, queries, summary
from survey.settings import defaults

from .conftest import add_kiosk, local, make_response, unit_id

SLUGS = ("quan-1", "quan-3", "quan-5", "huyen-can-gio")


@pytest.fixture
def spread(db):
    """Responses on 60 days (Jan-Feb 2025) in four units, four channels, two fields; some excluded."""
    ids = [unit_id(db, s) for s in SLUGS]
    kiosk = add_kiosk(db, "quan-1", "Kiosk Q1")
    channels = ["kiosk", "phone", "web", "paper"]
    rows = []
    for day in range(60):
        for k in range(day % 5 + 1):
            ch = channels[(day + k) % 4]
            rows.append(make_response(ids[(day * 3 + k) % 4], local("2025-01-01 08:00") + timedelta(days=day, minutes=7 * k),
                                      channel=ch, kiosk_id=kiosk if ch == "kiosk" else None,
                                      field=("land", "civil", None)[(day + k) % 3]))
    responses.save_many(db, rows)
    for rid in [r[0] for r in db.execute("SELECT id FROM responses WHERE id % 7 = 0")]:
        responses.exclude(db, rid, by="test", reason="test")
    return ids


def direct(db, start: str, end: str, key: str) -> dict:
    """{key: (counted, excluded)} counted from the responses themselves (local days, UTC+7)."""
    return {(r[0],): (r[1], r[2]) for r in db.execute(
        f"SELECT {key}, sum(excluded_at IS NULL), sum(excluded_at IS NOT NULL) FROM responses "
        f"WHERE date(submitted_at, '+420 minutes') BETWEEN ? AND ? GROUP BY {key}", [start, end])}


PERIODS = [("2025-01-01", "2025-02-28"),     # every day with responses: the totals alone
           ("2024-12-01", "2025-03-31"),     # more than every day
           ("2025-01-04", "2025-02-25"),     # most days: totals less the days outside
           ("2025-01-10", "2025-01-20"),     # a few days: those days
           ("2025-03-01", "2025-03-31")]     # none


@pytest.mark.parametrize("start,end", PERIODS)
def test_period_counts_equal_the_responses_counted_one_by_one(db, spread, start, end):
    period = periods.Period(date.fromisoformat(start), date.fromisoformat(end))
    units = {k[0]: v for k, v in direct(db, start, end, "unit_id").items() if v != (0, 0)}
    assert queries.counts_by_unit(db, period, None) == units
    channels = {k[0]: v[0] for k, v in direct(db, start, end, "channel").items() if v[0]}
    assert {c: n for c, n in queries.counts_by_channel(db, period, None).items() if n} == channels
    fields = {k[0] or "": v[0] for k, v in direct(db, start, end, "field").items() if v[0]}
    assert queries.counts_by_field(db, period, None) == fields
    scope = [spread[0], spread[2]]
    assert queries.counts_by_unit(db, period, scope) == {u: v for u, v in units.items() if u in scope}


def test_totals_follow_exclusions_restores_and_a_rebuild(db, spread):
    period = periods.Period(date(2025, 1, 4), date(2025, 2, 25))
    before = queries.counts_by_unit(db, period, None)
    rid = db.execute("SELECT id FROM responses WHERE excluded_at IS NULL AND unit_id = ? AND "
                     "submitted_at > '2025-01-10' LIMIT 1", [spread[1]]).fetchone()[0]
    responses.exclude(db, rid, by="test", reason="late check")
    after = queries.counts_by_unit(db, period, None)
    assert after[spread[1]] == (before[spread[1]][0] - 1, before[spread[1]][1] + 1)
    responses.restore(db, rid, by="test")
    assert queries.counts_by_unit(db, period, None) == before
    summary.refresh(db, summary.rules_from_config(defaults()), force=True)
    assert queries.counts_by_unit(db, period, None) == before
    totals = {r[0]: r[1] for r in db.execute("SELECT unit_id, sum(n) FROM unit_channel_totals GROUP BY unit_id")}
    assert totals == {r[0]: r[1] for r in db.execute("SELECT unit_id, count(*) FROM responses GROUP BY unit_id")}


def test_the_kiosk_table_shows_fifty_kiosks_a_page(db, staff, clock):
    for i in range(62):
        add_kiosk(db, SLUGS[i % 4], f"Kiosk {i:02d}")
    staff.as_role("admin")
    first = staff.client.get("/staff/").get_data(as_text=True)
    assert len(re.findall(r'<tr data-kiosk="\d+">', first)) == 50
    assert "Kiosks 1–50 of 62, by unit." in first and "Kiosk page 1 of 2" in first
    link = re.search(r'href="([^"]*kiosks_page=2[^"]*)"', first).group(1).replace("&amp;", "&")
    second = staff.client.get(link).get_data(as_text=True)
    assert len(re.findall(r'<tr data-kiosk="\d+">', second)) == 12
    assert "Kiosks 51–62 of 62, by unit." in second and "More kiosks" not in second
    shown = set(re.findall(r'<tr data-kiosk="(\d+)">', first)) | set(re.findall(r'<tr data-kiosk="(\d+)">', second))
    assert len(shown) == 62


def direct_days(db, start: str, end: str, units) -> dict[str, int]:
    """{day: counted responses} of ``units`` counted from the responses themselves (local days, UTC+7)."""
    marks = ", ".join("?" * len(units))
    return {r[0]: r[1] for r in db.execute(
        f"SELECT date(submitted_at, '+420 minutes') AS d, count(*) FROM responses WHERE excluded_at IS NULL "
        f"AND unit_id IN ({marks}) AND d BETWEEN ? AND ? GROUP BY d", [*units, start, end])}


@pytest.mark.parametrize("start,end", PERIODS)
def test_responses_per_day_of_the_units_asked_for_equal_the_responses_counted_one_by_one(db, spread, start, end):
    """The pace chart's days (migration 0006c): every unit, most units (the day totals less the others),
    few units (their own days), and within a scope -- the same as counting the responses."""
    for units, scope in [(spread, None), (spread[:3], None), (spread[:1], None),
                         ([spread[0], spread[2]], [spread[0], spread[2], spread[3]])]:
        assert queries.daily_counted(db, start, end, units, scope) == direct_days(db, start, end, units), units


def test_the_day_totals_follow_exclusions_restores_and_a_rebuild(db, spread):
    every = ("2025-01-01", "2025-02-28")
    before = queries.daily_counted(db, *every, spread, None)
    rid, day = db.execute("SELECT id, date(submitted_at, '+420 minutes') FROM responses WHERE excluded_at IS NULL "
                          "ORDER BY id LIMIT 1").fetchone()
    responses.exclude(db, rid, by="test", reason="late check")
    after = queries.daily_counted(db, *every, spread, None)
    assert after.get(day, 0) == before[day] - 1
    assert after == direct_days(db, *every, spread)
    responses.restore(db, rid, by="test")
    summary.refresh(db, summary.rules_from_config(defaults()), force=True)
    assert queries.daily_counted(db, *every, spread, None) == before
    assert dict(db.execute("SELECT day, n FROM daily_totals WHERE n > 0").fetchall()) == {
        r[0]: r[1] for r in db.execute("SELECT day, sum(n) FROM daily_counts GROUP BY day HAVING sum(n) > 0")}


@pytest.fixture
def timed(db):
    """Responses of two questionnaire versions over four channels and five kiosks with durations spread
    so that each (version, channel) has its own speeder limit -- version 2's paper answers too few to
    have one -- some straight-lined, some excluded."""
    from .conftest import register_questionnaire

    register_questionnaire(db, version=2)
    ids = [unit_id(db, s) for s in SLUGS]
    kiosks = [add_kiosk(db, SLUGS[i % 4], f"Kiosk {i}") for i in range(5)]
    median = {("kiosk", 1): 100, ("web", 1): 240, ("qr", 1): 60, ("paper", 1): 400,
              ("kiosk", 2): 150, ("web", 2): 90, ("qr", 2): 300, ("paper", 2): 50}
    rows = []
    for i in range(700):
        channel, version = ("kiosk", "web", "qr", "paper")[i % 4], 1 + (i // 4) % 2
        if (channel, version) == ("paper", 2) and i > 200:
            version = 1
        duration = median[(channel, version)] * (0.1 + (i * 37 % 100) / 50)       # 0.1 .. 2.08 x the median
        rows.append(make_response(ids[i % 3 + (i % 7 == 0)], local("2025-01-01 08:00") + timedelta(hours=2 * i + i % 5),
                                  channel=channel, version=version, duration=round(duration, 1),
                                  kiosk_id=kiosks[i % 5] if channel == "kiosk" else None,
                                  answers="555555555555" if i % 9 == 0 else "453453453453"))
    responses.save_many(db, rows)
    for rid in [r[0] for r in db.execute("SELECT id FROM responses WHERE id % 6 = 0")]:
        responses.exclude(db, rid, by="test", reason="test")
    return ids, kiosks


def speeders_one_by_one(db, period, limits, scope=None) -> tuple[int, dict[int, int]]:
    """(speeders, {kiosk: speeders}) of the period counted a response at a time in Python."""
    limit = {(lim.questionnaire_id, lim.questionnaire_version, lim.channel): lim.limit_seconds for lim in limits}
    first, last = period.utc_bounds(420)
    total, by_kiosk = 0, {}
    for qid, version, channel, duration, kiosk, unit, submitted in db.execute(
            "SELECT questionnaire_id, questionnaire_version, channel, duration_s, kiosk_id, unit_id, submitted_at "
            "FROM responses"):
        if not first <= submitted < last or (scope is not None and unit not in scope):
            continue
        cut = limit.get((qid, version, channel))
        if cut is not None and duration is not None and duration < cut:
            total += 1
            by_kiosk[kiosk] = by_kiosk.get(kiosk, 0) + 1
    return total, by_kiosk


@pytest.mark.parametrize("start,end", [("2025-01-01", "2025-03-31"), ("2025-01-20", "2025-02-10"),
                                       ("2025-06-01", "2025-06-30")])
def test_speeders_and_flags_equal_the_responses_counted_one_by_one(db, timed, start, end):
    """The quality figures: the totals over every kiosk and none, and each kiosk's asked for, with limits
    that differ by questionnaire version and channel (and a group without one), in a scope or not."""
    ids, kiosks = timed
    period = periods.Period(date.fromisoformat(start), date.fromisoformat(end))
    limits = queries.speeder_limits(db, 0.5)
    assert len({lim.limit_seconds for lim in limits}) == 7 and len(limits) == 7      # paper v2: too few
    for scope in (None, ids[:2]):
        total, by_kiosk = speeders_one_by_one(db, period, limits, scope)
        where = "" if scope is None else f" AND r.unit_id IN ({', '.join(map(str, scope))})"
        flags = {r[0]: (r[1], r[2]) for r in db.execute(
            "SELECT f.kiosk_id, sum(f.straightline), sum(f.burst) FROM response_flags f JOIN responses r "
            f"ON r.id = f.response_id WHERE f.day BETWEEN ? AND ?{where} GROUP BY f.kiosk_id", [start, end])}
        assert queries.flag_totals(db, period, 420, scope, limits) == {
            "straightline": sum(s for s, _b in flags.values()), "burst": sum(b for _s, b in flags.values()),
            "speeder": total}
        assert queries.flag_counts(db, period, 420, scope, limits, kiosks[1:4]) == {
            k: {"straightline": flags.get(k, (0, 0))[0], "burst": flags.get(k, (0, 0))[1],
                "speeder": by_kiosk.get(k, 0)} for k in kiosks[1:4]}
        if start == "2025-01-01":
            assert total > 50 and sum(by_kiosk.get(k, 0) for k in kiosks) > 10
            assert sum(s for s, _b in flags.values()) > 10


def test_the_dashboard_shows_the_speeders_of_every_kiosk_page(db, timed, staff, clock, monkeypatch):
    from survey.staff import monitor

    monkeypatch.setattr(monitor, "KIOSKS_PER_PAGE", 2)
    clock.set(clock.now.replace(year=2025, month=3, day=31))
    staff.as_role("staff")
    query = "from=2025-01-01&to=2025-03-31"
    period = periods.Period(date(2025, 1, 1), date(2025, 3, 31))
    total, by_kiosk = speeders_one_by_one(db, period, queries.speeder_limits(db, float(defaults()["QUALITY_SPEEDER_RATIO"])))
    seen = {}
    for page in (1, 2, 3):
        html = staff.client.get(f"/staff/?{query}&kiosks_page={page}").get_data(as_text=True)
        assert int(re.search(r'data-count="speeder">([\d,]+)<', html).group(1).replace(",", "")) == total
        for kiosk, row in re.findall(r'<tr data-kiosk="(\d+)">(.*?)</tr>', html, re.S):
            seen[int(kiosk)] = int(re.findall(r'<td class="n">(\d+)</td>', row)[-2])
    assert seen == {k: by_kiosk.get(k, 0) for k in timed[1]} and sum(seen.values()) > 0


def test_speeder_limits_are_the_lower_medians_of_the_durations(db, timed):
    """Each group's bins are read only up to its median: the limits are still those of every duration."""
    groups: dict[tuple, list[int]] = {}
    for qid, version, channel, duration in db.execute(
            "SELECT questionnaire_id, questionnaire_version, channel, duration_s FROM responses "
            "WHERE duration_s IS NOT NULL AND simulated = 0"):
        groups.setdefault((qid, version, channel), []).append(int(min(duration, 86400)))
    expected = {}
    for key, seconds in groups.items():
        if len(seconds) >= queries.MIN_RESPONSES_FOR_MEDIAN:
            median = sorted(seconds)[(len(seconds) + 1) // 2 - 1]
            expected[key] = (median, len(seconds), 0.4 * median)
    assert len(expected) == 7 and len(groups) == 8
    assert {(lim.questionnaire_id, lim.questionnaire_version, lim.channel):
            (lim.median_seconds, lim.responses, lim.limit_seconds) for lim in queries.speeder_limits(db, 0.4)} == expected
