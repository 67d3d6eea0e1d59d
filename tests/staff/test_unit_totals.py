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
