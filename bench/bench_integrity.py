"""Benchmark of issue 13 (an index no one can stuff). Three parts, each printing numbers:

``replay``  The reproduced attacks at full size against a real gunicorn server (3 workers) in
            REAL time (the server's own clock, real waits): on its own unit each, with ~155 honest
            responses there first (as in the issue): 300 forms fetched in 3.3 s, 70 s wait, posted
            in 4.8 s; a 40-thread fetch-and-post flood for 20 s; a kiosk sending 60 responses in one
            second with client times spread over 2 hours; and each split over 10 client keys (10
            addresses; 10 kiosks). Prints each attacked unit's INDEX:ITEM_AVG from
            ``python -m analysis indices --db`` (default settings) before and after, what was
            stored, held and refused.
``honest``  An hour of honest traffic with the server's test clock: 500 citizens from 200 addresses
            (a tenth shared by up to 10 citizens), each taking 2-8 minutes, over six units, while
            two of them are attacked: how many honest citizens were held or refused.
``pages``   The staff pages at 1,000,000 responses with 45 % of them flagged and held (worst case
            for the integrity counts and lists), plus the kiosk-burst flags the simulator makes:
            median and p95 over N runs through the Flask test client.

``submit``  What the origin row, the checks and the limits add to one submission (in-process).

Run:  .venv/bin/python -m bench.bench_integrity [replay] [honest] [submit] [pages] [--runs 15]
"""
from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.integrity import replay

OUT = Path(__file__).resolve().parent / "out"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_replay() -> None:
    folder = OUT / "integrity-replay"
    shutil.rmtree(folder, ignore_errors=True)
    attacks = [("bulk", "quan-1", 1), ("bulk x10", "quan-3", 10), ("flood", "quan-4", 1),
               ("flood x10", "quan-5", 10), ("kiosk", "quan-6", 1), ("kiosk x10", "quan-7", 10)]
    server = replay.Server(folder, clock=True, workers=3)
    server.prepare(kiosks={"quan-6": 1, "quan-7": 10})
    out = replay.Outcome()
    # The honest history (yesterday, with the test clock): ~155 responses per attacked unit.
    yesterday = datetime.now(timezone.utc).replace(hour=1, minute=0, second=0, microsecond=0) - timedelta(days=1)
    with server:
        replay.run_events(replay.honest_events(server, yesterday, citizens=155 * len(attacks), addresses=400,
                                               units=[u for _, u, _ in attacks], minutes=480, seed=21,
                                               group="history", out=out), threads=4)
    before = {unit: replay.index_of(server.database, unit) for _, unit, _ in attacks}
    # The attacks in real time: the server's own clock.
    server.clock = False
    with server:
        for name, unit, keys in attacks:
            started = time.perf_counter()
            if name.startswith("bulk"):
                replay.bulk_attack(server, unit, None, forms=300, keys=keys, wait=70, out=out, group=name,
                                   threads=8)
            elif name.startswith("flood"):
                replay.flood_attack(server, unit, None, threads=40, seconds=20, keys=keys, out=out, group=name)
            else:
                replay.kiosk_attack(server, unit, None, responses=60, kiosks=keys, out=out, group=name)
            log(f"{name}: {time.perf_counter() - started:.1f} s")
    print("\nattacks in real time against gunicorn (3 workers), default settings:")
    print(f"  {'attack':10} {'unit':8} {'sent':>5} {'stored':>6} {'held':>5} {'refused':>7} "
          f"{'index before':>12} {'after':>7} {'moved':>6} {'with held':>9}")
    for name, unit, _ in attacks:
        stored = out.submitted.get(name, [])
        held = replay.held_ids(server.database, stored)
        after = replay.index_of(server.database, unit)
        stuffed = replay.index_of(server.database, unit, "--held", "include")
        refused = out.refused.get(name, 0)
        sent = len(stored) + refused + sum(v for k, v in out.errors.items() if k.startswith(name + ":"))
        print(f"  {name:10} {unit:8} {sent:5d} {len(stored):6d} {len(held):5d} {refused:7d} "
              f"{before[unit]:12.2f} {after:7.2f} {after - before[unit]:+6.2f} {stuffed:9.2f}")
    if out.errors:
        print(f"  errors: {out.errors}")


def run_honest() -> None:
    folder = OUT / "integrity-honest"
    shutil.rmtree(folder, ignore_errors=True)
    server = replay.Server(folder, clock=True, workers=3)
    server.prepare(kiosks={"quan-3": 1, "quan-4": 10})
    out = replay.Outcome()
    today = datetime.now(timezone.utc).replace(hour=2, minute=0, second=0, microsecond=0)
    units = ["quan-1", "quan-10", "quan-3", "quan-4", "quan-5", "quan-6"]
    started = time.perf_counter()
    with server:
        events = replay.honest_events(server, today, citizens=500, addresses=200, units=units, minutes=60,
                                      seed=12, out=out)
        attack_at = today + timedelta(minutes=20)
        replay.run_events([e for e in events if e.at < attack_at], threads=4)
        replay.bulk_attack(server, "quan-3", attack_at, forms=300, keys=1, out=out, group="bulk")
        replay.flood_attack(server, "quan-4", attack_at + timedelta(minutes=2), threads=8, total=1473, keys=10,
                            out=out, group="flood x10")
        replay.kiosk_attack(server, "quan-4", attack_at + timedelta(minutes=4), responses=60, kiosks=10, out=out,
                            group="kiosk x10")
        replay.run_events([e for e in events if e.at >= attack_at], threads=4)
    honest = out.submitted.get("honest", [])
    held = replay.held_ids(server.database, honest)
    refused = out.refused.get("honest", 0)
    print(f"\nhonest traffic (test clock, {time.perf_counter() - started:.0f} s of real time): 500 citizens from "
          f"200 addresses over one hour, 2-8 minutes each, six units, two of them attacked meanwhile")
    print(f"  stored {len(honest)}, held {len(held)}, refused {refused}: "
          f"{100 * (len(held) + refused) / 500:.1f} % held or refused (target <= 1 %)")
    for group in ("bulk", "flood x10", "kiosk x10"):
        stored = out.submitted.get(group, [])
        print(f"  attack {group}: stored {len(stored)}, held {len(replay.held_ids(server.database, stored))}, "
              f"refused {out.refused.get(group, 0)}")
    if out.errors:
        print(f"  errors: {out.errors}")


def build_fast(path: Path, n: int) -> None:
    """bench_dashboard's database (demo units, ``n`` simulated responses over 2025, the user 'bench', targets,
    the fieldwork period) built with the summary triggers off during the simulation and every summary
    rebuilt afterwards by ``summary.refresh(force=True)`` (what ``refresh-summaries --force`` and the
    migration's backfill do): the same tables, several times faster on a busy machine (bench/builder.py)."""
    from datetime import date

    from bench import builder
    from bench.bench_dashboard import SEED
    from survey import units

    builder.build(path, n, seed=SEED, period=(date(2025, 1, 1), date(2025, 12, 31)), load_units=units.load_demo,
                  target=50_000, fast=True)


def prepare_pages(path: Path, share: float = 0.45) -> None:
    """Migrate the dashboard benchmark's database and hold ``share`` of its responses (origin rows and holds
    written in bulk through SQL; the triggers keep integrity_counts as they do one by one)."""
    from survey import db as database
    from survey import integrity, migrations

    db = database.connect(path)
    try:
        applied = migrations.migrate(db)
        log(f"migrations applied: {applied or 'none'}")
        if db.execute("SELECT count(*) FROM integrity_holds").fetchone()[0]:
            return
        rng = random.Random(5)
        offset = integrity._offset_minutes("Asia/Ho_Chi_Minh")
        started = time.perf_counter()
        with database.write_transaction(db):
            db.execute("INSERT OR IGNORE INTO integrity_origin (response_id, unit_id, channel, kiosk_id, received_at, "
                       "served_at, client_key, address_key, answers) SELECT id, unit_id, channel, kiosk_id, "
                       "submitted_at, started_at, lower(hex(randomblob(10))), lower(hex(randomblob(10))), answers "
                       "FROM responses")
            reasons = list(integrity.REASONS)
            total = db.execute("SELECT max(id) FROM responses").fetchone()[0]
            chosen = [i for i in range(1, total + 1) if rng.random() < share]
            day = f"date(received_at, '{offset:+d} minutes')"
            for start in range(0, len(chosen), 20_000):
                chunk = chosen[start:start + 20_000]
                db.conn.executemany(
                    f"INSERT INTO integrity_holds (response_id, unit_id, day, received_at) SELECT response_id, "
                    f"unit_id, {day}, received_at FROM integrity_origin WHERE response_id = ?", [(i,) for i in chunk])
                db.conn.executemany(
                    "INSERT INTO integrity_flags (response_id, reason, unit_id, day, received_at, state) "
                    "SELECT response_id, ?, unit_id, day, received_at, state FROM integrity_holds WHERE response_id = ?",
                    [(reasons[i % len(reasons)], i) for i in chunk])
                log(f"held {start + len(chunk):,} of {len(chosen):,}")
        db.execute("ANALYZE")
        log(f"held {len(chosen):,} responses ({100 * share:.0f} %) in {time.perf_counter() - started:.0f} s")
    finally:
        db.close()


def run_pages(runs: int, path: Path) -> None:
    from bench.bench_dashboard import NOW, PASSWORD, timed_get
    from survey import create_app
    from survey.staff import periods

    prepare_pages(path)
    periods.now_utc = lambda: NOW
    app = create_app({"DATABASE": str(path), "SECRET_KEY": "benchmark-secret-key-0123456789",
                      "DEFAULT_QUESTIONNAIRE": "sipas-hcm-26"})
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/staff/login", data={"username": "bench", "password": PASSWORD,
                                             "csrf_token": token}).status_code in (302, 303)
    from survey import db as database

    db = database.connect(path)
    total = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    held = db.execute("SELECT count(*) FROM integrity_holds").fetchone()[0]
    flagged = db.execute("SELECT count(*) FROM response_flags").fetchone()[0]
    some = db.execute("SELECT response_id FROM integrity_holds LIMIT 1 OFFSET 1000").fetchone()[0]
    db.close()
    print(f"\ndatabase: {total:,} responses, {held:,} held ({100 * held / total:.0f} %), {flagged:,} with a "
          f"straight-lining or kiosk-burst flag ({100 * flagged / total:.0f} %); whole year 2025 in the period")
    pages = [("dashboard", "/staff/"), ("dashboard, live fragment", "/staff/dashboard/live"),
             ("dashboard, one unit", "/staff/?unit=quan-1"),
             ("flagged (quality), page 1", "/staff/quality"),
             ("flagged (quality), excluded", "/staff/quality?state=excluded"),
             ("flagged (quality), bursts p.200", "/staff/quality?kind=burst&page=200"),
             ("held, page 1", "/staff/held"), ("held, page 400", "/staff/held?page=400"),
             ("held, one reason", "/staff/held?reason=pattern"),
             ("held, one unit and reason", "/staff/held?unit=quan-1&reason=bulk_forms"),
             ("held, accepted (none)", "/staff/held?state=accepted"),
             ("response detail (held)", f"/staff/responses/{some}")]
    print(f"page timings over {runs} runs after 2 warm-up runs (ms; CPU: this process's CPU time per request, "
          f"which other work on the machine does not inflate the way it inflates wall time):")
    print(f"  {'page':34} {'median':>8} {'p95':>8} {'max':>8} {'CPU median':>11}")
    for name, url in pages:
        for _ in range(2):
            timed_get(client, url)
        times, cpu = [], []
        for _ in range(runs):
            before = time.process_time()
            ms, status, _ = timed_get(client, url)
            cpu.append((time.process_time() - before) * 1000)
            assert status == 200, (url, status)
            times.append(ms)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"  {name:34} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f} "
              f"{statistics.median(cpu):11.1f}", flush=True)


def run_submit(n: int = 300) -> None:
    """What the origin row, the checks and the limits add to one submission: ``n`` saves through
    ``responses.save`` and ``n`` through ``integrity.over_limit`` + ``integrity.save``, one transaction each,
    alternating, on one database (the responses of 22 units spread over an hour, as at a busy time)."""
    import uuid as uuid_

    from survey import catalog, create_app, integrity, responses
    from survey import db as database
    from tests.conftest import prepare_database

    folder = OUT / "integrity-submit"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    app = create_app({"DATABASE": str(folder / "s.sqlite3"), "SECRET_KEY": "x" * 32, "TESTING": True},
                     instance_path=str(folder))
    prepare_database(app)
    db = database.connect(folder / "s.sqlite3")
    q = catalog.latest(db, "sipas-hcm-26")
    unit_ids = [r[0] for r in db.execute("SELECT id FROM units WHERE active = 1")]
    rng = random.Random(1)
    rules, limits = integrity.Rules(), integrity.Limits()
    start = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
    plain, checked = [], []
    for i in range(2 * n):
        at = start + timedelta(seconds=6 * i)
        unit = rng.choice(unit_ids)
        r = responses.Response(uuid=str(uuid_.uuid4()), questionnaire_id=q.id, questionnaire_version=q.version,
                               unit_id=unit, channel="qr", lang="vi",
                               started_at=responses.utc_timestamp(at - timedelta(minutes=4)),
                               submitted_at=responses.utc_timestamp(at),
                               answers="".join(rng.choice("2345") for _ in q.criterion_codes))
        began = time.perf_counter()
        if i % 2:
            keys = integrity.keys(db, integrity.local_day(at, rules.timezone), f"10.0.{i % 250}.1", f"c{i}")
            integrity.save(db, r, responses.save, received=at, served=at - timedelta(minutes=4), keys=keys,
                           rules=rules, limits=limits)
            checked.append((time.perf_counter() - began) * 1000)
        else:
            responses.save(db, r)
            plain.append((time.perf_counter() - began) * 1000)
    db.close()
    for name, times in (("responses.save only", plain), ("with origin, checks and limits", checked)):
        times.sort()
        print(f"  {name:32} median {statistics.median(times):.2f} ms, p99 {times[int(0.99 * (len(times) - 1))]:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["replay", "honest", "submit", "pages"],
                        choices=["replay", "honest", "submit", "pages"])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--responses", type=int, default=1_000_000, help="responses in the 'pages' database")
    parser.add_argument("--db", type=Path, default=OUT / "integrity-1m.sqlite3",
                        help="database for 'pages' (built like bench_dashboard's: 1,000,000 simulated responses)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if "honest" in args.parts:
        run_honest()
    if "replay" in args.parts:
        run_replay()
    if "submit" in args.parts:
        print("\none submission, one transaction each (in-process, no HTTP):")
        run_submit()
    if "pages" in args.parts:
        if not args.db.exists():
            build_fast(args.db, args.responses)
        run_pages(args.runs, args.db)


if __name__ == "__main__":
    main()
