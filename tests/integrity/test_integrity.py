"""The integrity checks on their own (survey/integrity.py): keys, windows, holds, review, counts.

The attacks themselves are replayed over HTTP in test_attacks.py.
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from survey import catalog, integrity, responses
from survey import db as database

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)      # 09:00 in Ho Chi Minh City


@pytest.fixture
def db(app):
    conn = database.connect(app.config["DATABASE"])
    yield conn
    conn.close()


@pytest.fixture
def store(db):
    q = catalog.latest(db, "sipas-hcm-26")
    unit_ids = {r["slug"]: r["id"] for r in db.query("SELECT id, slug FROM units")}
    rules = integrity.Rules()
    rng = random.Random(5)

    def save(slug="quan-1", *, at, served=None, address="10.0.0.1", cookie="c1", answers=None, channel="qr",
             kiosk_id=None):
        answers = answers or "".join(rng.choice("2345") for _ in q.criterion_codes)   # nobody repeats anyone
        r = responses.Response(uuid=str(uuid.uuid4()), questionnaire_id=q.id, questionnaire_version=q.version,
                               unit_id=unit_ids[slug], channel=channel, kiosk_id=kiosk_id, lang="vi",
                               started_at=responses.utc_timestamp(served or at - timedelta(minutes=4)),
                               submitted_at=responses.utc_timestamp(at), answers=answers)
        keys = integrity.keys(db, integrity.local_day(at, rules.timezone), address, cookie)
        assert integrity.save(db, r, responses.save, received=at, served=served or at - timedelta(minutes=4),
                              keys=keys, rules=rules)
        return db.execute("SELECT id FROM responses WHERE uuid = ?", [r.uuid]).fetchone()[0]
    return save


def held(db) -> set[int]:
    return {r[0] for r in db.execute("SELECT response_id FROM integrity_holds WHERE state = 'held'")}


def test_keys_are_keyed_hashes_that_change_every_day_and_never_hold_the_address(db):
    a = integrity.keys(db, "2026-03-02", "203.0.113.7", "cookie")
    assert a == integrity.keys(db, "2026-03-02", "203.0.113.7", "cookie")
    assert a.client != integrity.keys(db, "2026-03-02", "203.0.113.7", "other").client
    assert a.address == integrity.keys(db, "2026-03-02", "203.0.113.7", "other").address
    assert a != integrity.keys(db, "2026-03-03", "203.0.113.7", "cookie")
    assert "203.0.113.7" not in a.client + a.address
    # A phone's IPv6 addresses within its /64 are one address; an IPv4-mapped one is the IPv4 address.
    assert integrity.address_of("2001:db8:1:2::5") == integrity.address_of("2001:db8:1:2:aaaa::9")
    assert integrity.address_of("2001:db8:1:3::5") != integrity.address_of("2001:db8:1:2::5")
    assert integrity.address_of("::ffff:203.0.113.7") == "203.0.113.7"
    # Salts older than yesterday are deleted: old keys can no longer be recomputed from an address.
    integrity.keys(db, "2026-03-05", "203.0.113.7", "cookie")
    assert [r[0] for r in db.execute("SELECT day FROM integrity_salts ORDER BY day")] == ["2026-03-05"]


def test_a_client_burst_holds_every_response_of_the_window_and_no_one_elses(db, store):
    honest = [store(at=T0 + timedelta(minutes=i), address="10.0.0.1", cookie=f"person-{i}") for i in range(10)]
    mine = [store(at=T0 + timedelta(minutes=i, seconds=30), address="10.0.0.1", cookie="attacker") for i in range(4)]
    assert held(db) == set(mine)          # the first three too, once the fourth arrived
    assert not held(db) & set(honest)
    reasons = {r[0] for r in db.execute("SELECT reason FROM integrity_flags")}
    assert reasons == {"client_burst"}
    # A day later the same client starts afresh (its key changed with the salt).
    later = store(at=T0 + timedelta(days=1), address="10.0.0.1", cookie="attacker")
    assert later not in held(db)


def test_forms_served_together_and_posted_together_are_held(db, store):
    honest = store(at=T0 + timedelta(seconds=75), served=T0 - timedelta(minutes=5), cookie="h", address="10.9.9.9")
    bulk = [store(at=T0 + timedelta(seconds=70 + i), served=T0 + timedelta(seconds=i * 0.5), cookie=f"k{i}",
                  address=f"203.0.113.{i}") for i in range(6)]
    assert held(db) == set(bulk)
    assert honest not in held(db)
    assert {r[0] for r in db.execute("SELECT DISTINCT reason FROM integrity_flags")} == {"bulk_forms"}


def test_repeated_answers_and_kiosk_bursts_in_server_time(db, store):
    same = "5" * 26
    ids = [store(at=T0 + timedelta(minutes=2 * i), cookie=f"p{i}", address=f"10.1.0.{i}", answers=same)
           for i in range(9)]
    assert held(db) == set(ids)
    db.execute("INSERT INTO kiosks (unit_id, name, token_hash, created_at) SELECT id, 'K', 'x', '2026-01-01T00:00:00Z' "
               "FROM units WHERE slug = 'quan-5'")
    kiosk_id = db.execute("SELECT id FROM kiosks").fetchone()[0]
    quick = [store("quan-5", at=T0 + timedelta(seconds=i), channel="kiosk", kiosk_id=kiosk_id,
                   cookie=None, answers="3" * 26) for i in range(6)]
    assert set(quick) <= held(db)
    kinds = {r[0] for r in db.execute("SELECT reason FROM integrity_flags WHERE response_id IN (%s)"
                                      % ",".join(map(str, quick)))}
    assert "kiosk_burst" in kinds


def test_review_is_logged_reversible_and_kept_in_the_counts(db, store):
    ids = [store(at=T0 + timedelta(minutes=i), cookie="same") for i in range(4)]

    def counts():
        return integrity.counts(db, "2026-03-02", "2026-03-02", None)

    assert counts()["any"] == {"held": 4, "accepted": 0, "excluded": 0}
    assert counts()["client_burst"]["held"] == 4
    assert integrity.review(db, ids[:2], "exclude", by="lan", note="same phone, same minute") == 2
    assert integrity.review(db, ids[:1], "exclude", by="lan") == 0        # already excluded: nothing changes
    assert integrity.review(db, ids[2:3], "accept", by="lan") == 1
    assert counts()["any"] == {"held": 1, "accepted": 1, "excluded": 2}
    row = db.execute("SELECT excluded_by, excluded_reason FROM responses WHERE id = ?", [ids[0]]).fetchone()
    assert row[0] == "lan" and "client_burst" in row[1] and "same phone" in row[1]
    assert integrity.review(db, ids[:1], "accept", by="minh") == 1          # changed mind: counted again
    assert db.execute("SELECT excluded_at FROM responses WHERE id = ?", [ids[0]]).fetchone()[0] is None
    assert [(r["action"], r["acted_by"]) for r in integrity.review_log(db, ids[0])] == \
        [("excluded", "lan"), ("accepted", "minh")]
    assert counts()["any"] == {"held": 1, "accepted": 2, "excluded": 1}
    assert counts()["client_burst"] == {"held": 1, "accepted": 2, "excluded": 1}
    with pytest.raises(ValueError):
        integrity.review(db, ids, "delete", by="lan")
    assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 4    # nothing is ever deleted


def test_the_held_list_pages_latest_first_and_by_reason(db, store):
    ids = [store(at=T0 + timedelta(minutes=i), cookie="same") for i in range(30)]
    total, page = integrity.held_page(db, state="held", reason="any", first="2026-03-01", last="2026-03-31",
                                      scope=None, limit=25, offset=0)
    assert total == 30 and [r["response_id"] for r in page] == ids[::-1][:25]
    total, page = integrity.held_page(db, state="held", reason="client_burst", first="2026-03-01",
                                      last="2026-03-31", scope=None, limit=25, offset=25)
    assert total == 30 and [r["response_id"] for r in page] == ids[:5][::-1]
    total, page = integrity.held_page(db, state="held", reason="pattern", first="2026-03-01", last="2026-03-31",
                                      scope=None, limit=25, offset=0)
    assert (total, page) == (0, [])


def test_a_shift_in_a_units_answers_is_an_alert(db, store):
    for d in range(10, 0, -1):                     # ten days of mostly 3s and 4s
        for i in range(15):
            store("quan-6", at=T0 - timedelta(days=d, minutes=-i * 20), cookie=f"d{d}-{i}", address=f"10.2.{d}.{i}",
                  answers="".join("34"[(i + j) % 2] for j in range(26)))
    assert not integrity.shifts(db, "2026-03-02", None)
    for i in range(40):                            # today: mostly 5s, spread out (no burst, no repeat)
        store("quan-6", at=T0 + timedelta(minutes=10 * i), cookie=f"t{i}", address=f"10.3.0.{i}",
              answers="".join("5" if (i * 7 + j) % 9 else "4" for j in range(26)))
    shift = integrity.shifts(db, "2026-03-02", None)
    unit_id = db.execute("SELECT id FROM units WHERE slug = 'quan-6'").fetchone()[0]
    assert list(shift) == [unit_id]
    assert shift[unit_id].recent_top_share > 0.8 and shift[unit_id].history_top_share < 0.05


def test_analysis_leaves_held_responses_out_unless_asked(app, db, store):
    from analysis import load_db
    from analysis.db import DbError

    for i in range(5):
        store(at=T0 + timedelta(minutes=i), cookie=f"h{i}", address=f"10.4.0.{i}", answers="2" * 25 + "3")
    stuffed = [store(at=T0 + timedelta(minutes=7, seconds=i), cookie="x") for i in range(4)]
    data = load_db(app.config["DATABASE"])
    assert data.n == 5 and any("held for review" in note and "4" in note for note in data.notes)
    assert load_db(app.config["DATABASE"], held="include").n == 9
    integrity.review(db, stuffed[:1], "accept", by="lan")
    assert load_db(app.config["DATABASE"]).n == 6
    assert load_db(app.config["DATABASE"], origin="open-link").n == 6
    with pytest.raises(DbError, match="no responses"):
        load_db(app.config["DATABASE"], origin="kiosk")


def test_the_report_counts_held_responses_by_reason_in_its_method_section(app, db, store):
    from datetime import date

    from analysis.report.gather import ReportRequest, gather

    for i in range(12):
        store("quan-1" if i % 2 else "quan-3", at=T0 + timedelta(minutes=5 * i), cookie=f"h{i}",
              address=f"10.5.0.{i}")
    stuffed = [store("quan-1", at=T0 + timedelta(hours=2, seconds=i), cookie="x") for i in range(4)]
    integrity.review(db, stuffed[:1], "exclude", by="lan")
    inputs, _ = gather(ReportRequest(db=app.config["DATABASE"], date_from=date(2026, 3, 1), date_to=date(2026, 3, 31)))
    assert inputs.exclusions == {"held for review: client_burst": 3, "integrity review: client_burst": 1}
    quan1 = next(c for c in inputs.counts if c.key == "quan-1")
    assert (quan1.responses, quan1.excluded, quan1.used) == (10, 4, 6)


def test_flag_counts_per_day_equal_the_flag_rows_after_submissions_and_a_rebuild(app, db):
    """daily_flag_counts (the dashboard's and the quality page's totals) against brute-force counts."""
    from datetime import date

    from survey.settings import defaults
    from survey.simulate import simulate
    from survey.staff import summary

    simulate(db, catalog.latest(db, "sipas-hcm-26"), 6000, 7, date(2026, 1, 5), date(2026, 1, 9))
    # Simulated responses are marked, never at a kiosk and not counted (issue 11); here they stand in for real
    # ones, the kiosk channel's at one kiosk per unit, so that both straight-lining and bursts are flagged.
    with db.conn:
        db.execute("UPDATE responses SET simulated = 0")
        for (unit_id,) in db.execute("SELECT DISTINCT unit_id FROM responses WHERE channel = 'kiosk'").fetchall():
            kiosk = db.execute("INSERT INTO kiosks (unit_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                               [unit_id, f"Quầy {unit_id}", f"test:{unit_id}", "2026-01-01T00:00:00Z"]).lastrowid
            db.execute("UPDATE responses SET kiosk_id = ? WHERE unit_id = ? AND channel = 'kiosk'", [kiosk, unit_id])
    summary.rebuild_in_place(db)

    def both():
        counted = {tuple(r[:3]): tuple(r[3:]) for r in db.execute(
            "SELECT day, unit_id, kiosk_id, straightline, burst, flagged FROM daily_flag_counts "
            "WHERE straightline OR burst OR flagged")}
        brute = {tuple(r[:3]): tuple(r[3:]) for r in db.execute(
            "SELECT day, unit_id, kiosk_id, sum(straightline), sum(burst), sum(straightline OR burst) "
            "FROM response_flags GROUP BY 1, 2, 3 HAVING sum(straightline OR burst) > 0")}
        return counted, brute

    counted, brute = both()
    assert counted == brute and sum(v[2] for v in brute.values()) > 10
    summary.refresh(db, summary.rules_from_config({**defaults(), "QUALITY_BURST_COUNT": 3}))
    counted, brute = both()
    assert counted == brute
    assert sum(v[0] for v in brute.values()) and sum(v[1] for v in brute.values())    # both kinds of flag
