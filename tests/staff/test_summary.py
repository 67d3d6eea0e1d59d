"""The summary tables behind the dashboard are exact: checked against brute-force
counts over ``responses`` after inserts in any order, exclusions, restorations,
edits, deletions, a migration of an existing database and a change of settings."""
from __future__ import annotations

import random
import statistics
from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from survey import catalog, migrations, responses
from survey import db as database
from survey import units as unit_store
from survey.simulate import simulate
from survey.staff import summary

from .conftest import CRITERIA, add_kiosk, make_response, register_questionnaire, unit_id

DEFAULT = summary.SummaryRules(420, 10, 5, 10)


def brute_daily(db, offset_minutes=420):
    return {tuple(r[:4]): (r[4], r[5]) for r in db.execute(
        f"SELECT date(submitted_at, '{offset_minutes:+d} minutes'), unit_id, channel, coalesce(kiosk_id, 0), "
        f"count(*), count(excluded_at) FROM responses GROUP BY 1, 2, 3, 4")}


def summary_daily(db):
    return {tuple(r[:4]): (r[4], r[5]) for r in db.execute(
        "SELECT day, unit_id, channel, kiosk_id, n, n_excluded FROM daily_counts WHERE n > 0")}


def brute_fields(db, offset_minutes=420):
    return {tuple(r[:3]): (r[3], r[4]) for r in db.execute(
        f"SELECT date(submitted_at, '{offset_minutes:+d} minutes'), unit_id, coalesce(field, ''), count(*), "
        f"count(excluded_at) FROM responses GROUP BY 1, 2, 3")}


def summary_fields(db):
    return {tuple(r[:3]): (r[3], r[4]) for r in db.execute(
        "SELECT day, unit_id, field, n, n_excluded FROM daily_field_counts WHERE n > 0")}


def brute_histogram(db):
    return {tuple(r[:4]): r[4] for r in db.execute(
        "SELECT questionnaire_id, questionnaire_version, channel, CAST(min(duration_s, 86400) AS INTEGER), count(*) "
        "FROM responses GROUP BY 1, 2, 3, 4")}


def summary_histogram(db):
    return {tuple(r[:4]): r[4] for r in db.execute(
        "SELECT questionnaire_id, questionnaire_version, channel, seconds, n FROM duration_histogram WHERE n > 0")}


def reference_bursts(times: list[tuple[int, int]], count: int, minutes: int) -> set[int]:
    """Ids of one kiosk's submissions lying in a span of <= ``minutes`` that holds more than ``count``.

    Deliberately naive: every (first, last) pair of submissions is a candidate span.
    """
    members = set()
    for _, first in times:
        for _, last in times:
            if 0 <= last - first <= minutes * 60:
                inside = [i for i, t in times if first <= t <= last]
                if len(inside) > count:
                    members.update(inside)
    return members


def flags(db):
    return {r[0]: (r[1], r[2]) for r in db.execute(
        "SELECT response_id, straightline, burst FROM response_flags WHERE straightline OR burst")}


def reference_flags(db, rules=DEFAULT):
    out = {}
    for rid, answers in db.execute("SELECT id, answers FROM responses"):
        scores = [c for c in answers if c in "12345"]
        if len(scores) >= rules.straightline_min and len(set(scores)) == 1:
            out[rid] = (1, 0)
    by_kiosk = {}
    for rid, kiosk, ts in db.execute("SELECT id, kiosk_id, CAST(strftime('%s', submitted_at) AS INTEGER) "
                                     "FROM responses WHERE kiosk_id IS NOT NULL"):
        by_kiosk.setdefault(kiosk, []).append((rid, ts))
    for times in by_kiosk.values():
        for rid in reference_bursts(times, rules.burst_count, rules.burst_minutes):
            out[rid] = (out.get(rid, (0, 0))[0], 1)
    return out


def assert_exact(db, offset_minutes=420):
    assert summary_daily(db) == brute_daily(db, offset_minutes)
    assert summary_fields(db) == brute_fields(db, offset_minutes)
    assert summary_histogram(db) == brute_histogram(db)


def random_responses(db, rng: random.Random, n: int, kiosks: list[int]) -> list[responses.Response]:
    unit_ids = [unit_id(db, s) for s in ("quan-1", "quan-3", "huyen-can-gio")]
    start = datetime(2025, 3, 9, 16, 0, tzinfo=timezone.utc)  # local midnight +- a few hours matters
    out = []
    for _ in range(n):
        channel = rng.choice(["kiosk", "kiosk", "phone", "web", "paper"])
        moment = start + timedelta(seconds=rng.randrange(0, 3 * 86400))
        if rng.random() < 0.1:  # right at local midnight (17:00 UTC)
            moment = moment.replace(hour=16 + rng.randrange(2), minute=59 if moment.hour == 16 else 0,
                                    second=59 if moment.hour == 16 else 0)
        answers = ("".join(rng.choice("12345n-") for _ in CRITERIA) if rng.random() < 0.8
                   else rng.choice("12345") * len(CRITERIA))
        out.append(make_response(rng.choice(unit_ids), moment, channel=channel,
                                 kiosk_id=rng.choice(kiosks) if channel == "kiosk" else None,
                                 answers=answers, duration=rng.choice([5.0, 30.5, 200.0, 201.7, 99999.0]),
                                 comment=rng.choice([None, None, "Chờ lâu quá", "=cmd|' /C calc'!A0"]),
                                 field=rng.choice(["land", "civil", None])))
    return out


def test_counts_stay_exact_through_inserts_exclusions_restorations_edits_and_deletions(db):
    rng = random.Random(7)
    kiosks = [add_kiosk(db, "quan-1", "K1"), add_kiosk(db, "quan-3", "K3")]
    batch = random_responses(db, rng, 400, kiosks)
    responses.save_many(db, batch[:300])
    for r in batch[300:]:
        responses.save(db, r)
    assert_exact(db)
    ids = [r[0] for r in db.execute("SELECT id FROM responses")]
    excluded = rng.sample(ids, 60)
    for rid in excluded:
        assert responses.exclude(db, rid, by="lan", reason="test")
    assert not responses.exclude(db, excluded[0], by="lan", reason="again")  # already excluded
    assert_exact(db)
    for rid in excluded[:25]:
        assert responses.restore(db, rid, by="minh")
    assert_exact(db)
    # Edits and deletions never happen through the app, but the counts follow them anyway.
    db.execute("UPDATE responses SET unit_id = ?, submitted_at = '2025-03-10T16:59:59Z', channel = 'web', "
               "kiosk_id = NULL, field = 'civil', duration_s = 12 WHERE id IN (1, 2, 3)", [unit_id(db, "quan-5")])
    never_excluded = [rid for rid in ids if rid not in excluded][-10:]
    db.execute(f"DELETE FROM responses WHERE id IN ({', '.join(map(str, never_excluded))})")
    assert_exact(db)
    assert db.execute("SELECT count(*) FROM response_flags WHERE response_id IN "
                      f"({', '.join(map(str, never_excluded))})").fetchone()[0] == 0


def test_a_response_counts_on_its_local_day(db):
    quan1 = unit_id(db, "quan-1")
    responses.save(db, make_response(quan1, datetime(2025, 3, 11, 16, 59, 59, tzinfo=timezone.utc)))
    responses.save(db, make_response(quan1, datetime(2025, 3, 11, 17, 0, 0, tzinfo=timezone.utc)))
    days = {r["day"]: r["n"] for r in db.query("SELECT day, n FROM daily_counts")}
    assert days == {"2025-03-11": 1, "2025-03-12": 1}   # 23:59:59 and 00:00:00 in Ho Chi Minh City


def test_flags_from_the_trigger_match_a_naive_reference(db):
    rng = random.Random(11)
    kiosks = [add_kiosk(db, "quan-1", "K1"), add_kiosk(db, "quan-3", "K3")]
    batch = random_responses(db, rng, 300, kiosks)
    # Crowd one kiosk into bursts, inserted out of time order.
    base = datetime(2025, 3, 10, 2, 0, tzinfo=timezone.utc)
    crowd = [make_response(unit_id(db, "quan-1"), base + timedelta(minutes=rng.randrange(0, 40)), channel="kiosk",
                           kiosk_id=kiosks[0]) for _ in range(40)]
    all_rows = batch + crowd
    rng.shuffle(all_rows)
    for r in all_rows:
        responses.save(db, r)
    assert flags(db) == reference_flags(db)
    assert any(b for _, b in flags(db).values()) and any(s for s, _ in flags(db).values())


@settings(max_examples=40, deadline=None)
@given(minutes=st.lists(st.integers(0, 120), min_size=1, max_size=30), order=st.randoms(use_true_random=False),
       count=st.integers(1, 4), window=st.integers(1, 15))
def test_burst_flags_do_not_depend_on_insertion_order(tmp_path_factory, minutes, order, count, window):
    path = tmp_path_factory.mktemp("burst") / "b.sqlite3"
    db = database.connect(path)
    migrations.migrate(db)
    unit_store.load_demo(db)
    register_questionnaire(db)
    rules = summary.SummaryRules(420, 10, count, window)
    summary.refresh(db, rules)
    kiosk = add_kiosk(db, "quan-1")
    base = datetime(2025, 3, 10, 1, 0, tzinfo=timezone.utc)
    rows = [make_response(unit_id(db, "quan-1"), base + timedelta(minutes=m, seconds=7 * i), channel="kiosk",
                          kiosk_id=kiosk) for i, m in enumerate(minutes)]
    order.shuffle(rows)
    for r in rows:
        responses.save(db, r)
    expected = reference_flags(db, rules)
    assert flags(db) == expected
    summary.refresh(db, rules, force=True)     # the Python rebuild agrees with the triggers
    assert flags(db) == expected
    db.close()


def test_straight_lining_needs_enough_equal_scores(db):
    quan1 = unit_id(db, "quan-1")
    moment = datetime(2025, 3, 10, 2, 0, tzinfo=timezone.utc)
    cases = {"5555555555nn": 1, "555555555nnn": 0, "444444444443": 0, "------------": 0, "1111111111-1": 1}
    for i, answers in enumerate(cases):
        responses.save(db, make_response(quan1, moment + timedelta(hours=i), answers=answers))
    got = {r["answers"]: r["straightline"] for r in db.query(
        "SELECT r.answers, coalesce(f.straightline, 0) AS straightline FROM responses r "
        "LEFT JOIN response_flags f ON f.response_id = r.id")}
    assert got == cases


def test_migrating_an_existing_database_backfills_every_summary(tmp_path):
    db = database.connect(tmp_path / "old.sqlite3")
    name, first = migrations.MIGRATIONS[0]
    with db.atomic():
        first(db)
        db.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        db.execute("INSERT INTO schema_migrations VALUES (?, '2025-01-01T00:00:00Z')", [name])
    unit_store.load_demo(db)
    register_questionnaire(db)
    db.execute("INSERT INTO kiosks (unit_id, name, token_hash, created_at) VALUES (?, 'K', 'x', '2025-01-01')",
               [unit_id(db, "quan-1")])
    rng = random.Random(3)
    rows = random_responses(db, rng, 300, [1])
    columns = [c for c in responses._COLUMNS if c != "simulated"]   # the columns of that time
    with db.conn:
        db.conn.executemany(f"INSERT INTO responses ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            [r.row()[:len(columns)] for r in rows])
    db.execute("UPDATE responses SET excluded_at = '2025-03-10T00:00:00Z', excluded_by = 'x' WHERE id % 7 = 0")
    assert "0002_staff" in migrations.migrate(db)
    assert_exact(db)
    assert flags(db) == reference_flags(db)
    hits = db.execute("SELECT count(*) FROM comment_search WHERE comment_search MATCH 'cho'").fetchone()[0]
    assert hits == db.execute("SELECT count(*) FROM responses WHERE comment = 'Chờ lâu quá'").fetchone()[0] > 0


def test_refresh_rebuilds_days_for_a_new_time_zone_and_flags_for_new_thresholds(db):
    rng = random.Random(5)
    kiosk = add_kiosk(db, "quan-1")
    responses.save_many(db, random_responses(db, rng, 200, [kiosk]))
    assert summary.refresh(db, DEFAULT) == []           # nothing changed
    utc = summary.SummaryRules(0, 10, 5, 10)
    done = summary.refresh(db, utc)
    assert "daily counts" in done
    assert_exact(db, offset_minutes=0)
    responses.save_many(db, random_responses(db, rng, 50, [kiosk]))   # the new triggers use UTC days
    assert_exact(db, offset_minutes=0)
    strict = summary.SummaryRules(0, 4, 1, 30)
    assert summary.refresh(db, strict) == ["triggers", "quality flags"]
    assert flags(db) == reference_flags(db, strict)
    assert summary.in_effect(db) == strict


def test_rules_come_from_the_settings_and_bad_settings_are_named(app):
    config = dict(app.config)
    assert summary.rules_from_config(config) == DEFAULT
    for name, value, message in [("TIMEZONE", "Mars/Base", "not a known time zone"),
                                 ("TIMEZONE", "Europe/Paris", "daylight saving"),
                                 ("QUALITY_BURST_COUNT", 0, "QUALITY_BURST_COUNT must be a whole number >= 1"),
                                 ("QUALITY_STRAIGHTLINE_MIN_ANSWERS", "ten", "QUALITY_STRAIGHTLINE_MIN_ANSWERS")]:
        try:
            summary.rules_from_config({**config, name: value})
        except ValueError as exc:
            assert message in str(exc)
        else:
            raise AssertionError(f"{name}={value!r} was accepted")


def test_median_duration_from_the_histogram_is_the_lower_median_in_whole_seconds(db):
    from survey.staff import queries

    rng = random.Random(9)
    quan1 = unit_id(db, "quan-1")
    durations = [rng.uniform(20, 900) for _ in range(101)]
    moment = datetime(2025, 3, 10, 2, 0, tzinfo=timezone.utc)
    responses.save_many(db, [make_response(quan1, moment + timedelta(minutes=i), duration=d, channel="phone")
                             for i, d in enumerate(durations)])
    stored = [r[0] for r in db.execute("SELECT duration_s FROM responses")]
    (limit,) = queries.speeder_limits(db, 0.33)
    assert limit.median_seconds == statistics.median_low(int(d) for d in stored)
    assert limit.limit_seconds == 0.33 * limit.median_seconds and limit.responses == 101


def test_simulated_responses_are_counted_exactly(db):
    catalog.register_shipped(db)
    q = catalog.latest(db, "sipas-hcm-26")
    written = simulate(db, q, 3000, 5, date(2025, 2, 20), date(2025, 3, 12))
    assert written == 3000 == db.execute("SELECT count(*) FROM responses").fetchone()[0]
    # Simulated responses stay out of the dashboard's summaries ...
    assert db.execute("SELECT coalesce(sum(n), 0) FROM daily_counts").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM response_flags").fetchone()[0] == 0
    # ... here they stand in for real ones: counted exactly once they are.
    with db.conn:
        db.execute("UPDATE responses SET simulated = 0")
    summary.rebuild_in_place(db)
    assert_exact(db)
    assert flags(db) == reference_flags(db)
