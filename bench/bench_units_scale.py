"""Benchmark: the whole country's 3,321 communes and 1,000,000 responses (issue 14).

Builds once (cached under bench/out/) a database with the 34 provinces and their 3,321 communes
(valid from 2025-07-01, loaded by `init-db --province`'s code), 1,000,000 simulated responses over
the first half of 2026 through the storage code and its triggers, targets for every unit and the
fieldwork period; then measures, with 'now' fixed at 2026-06-20 10:00 in Ho Chi Minh City:

- the staff dashboard (whole country, whole period; its unit table paginated), a later page of
  the unit table, a unit search, the targets page, the posters list, the citizen picker, the
  dashboard's 'by former unit' page: median and p95 of --runs requests through the Flask test
  client with a signed-in admin session;
- a CSV export of every response: rows/s;
- `python -m analysis report` on the whole period (no weighting: no population is published for
  the new units), timed as a whole process, once.

Run:  .venv/bin/python -m bench.bench_units_scale [--responses 1000000] [--runs 7] [--skip-report | --report-only | --export-only]

The test client's app has its startup objects frozen out of the garbage collector, as a gunicorn
worker does in gunicorn.conf.py's post_worker_init (FREEZE=0 in the environment: not).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

from bench.builder import PASSWORD, log

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
NOW = datetime(2026, 6, 20, 3, 0, tzinfo=timezone.utc)
SEED = 14
PERIOD = (date(2026, 1, 1), date(2026, 6, 30))


def build(path: Path, n: int) -> None:
    """The 3,321 communes of the 34 provinces and ``n`` simulated responses over PERIOD, the summary
    triggers off while the simulator writes (bench/builder.py)."""
    from bench import builder
    from survey import units

    def load_units(db) -> None:
        started = time.perf_counter()
        for province in units.provinces():
            units.load_province(db, province["code"])
        log(f"loaded {len(units.leaf_units(db, PERIOD[0])):,} communes of 34 provinces in "
            f"{time.perf_counter() - started:.1f} s")

    builder.build(path, n, seed=SEED, period=PERIOD, load_units=load_units, target=400, fast=True,
                  leaves_on=PERIOD[0])


def database(n: int) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"units-3321-{n}.sqlite3"
    if not path.exists():
        build(path, n)
    else:
        # a database built by an earlier version: bring its schema up to date (issue 11's `simulated`
        # column marks the simulator's kiosks' responses; here they stand in for real ones)
        from survey import db as survey_db
        from survey.migrations import migrate

        db = survey_db.connect(path)
        applied = migrate(db)
        if applied:
            with db.conn:
                db.execute("UPDATE responses SET simulated = 0 WHERE simulated = 1")
            log(f"migrated {path.name}: {', '.join(applied)}")
        db.close()
    return path


def timed(client, url: str, runs: int) -> tuple[float, float, float, int, int]:
    """(median wall ms, p95 wall ms, median CPU ms of this process, status, size) over ``runs`` requests."""
    times, cpu, status, size = [], [], 0, 0
    for i in range(runs + 1):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        body = response.get_data()
        if i:                                   # the first request warms the caches
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        status, size = response.status_code, len(body)
    times.sort()
    return (statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
            statistics.median(cpu), status, size)


def signed_in_client(path: Path):
    """A test client of the app on ``path`` ('now' fixed at NOW), signed in as staff."""
    from survey import create_app
    from survey import db as database
    from survey.migrations import migrate
    from survey.staff import periods

    db = database.connect(path)
    started = time.perf_counter()
    applied = migrate(db)            # a database built by older code gets the newer migrations first
    db.close()
    if applied:
        log(f"migrations applied to the benchmark database: {', '.join(applied)} ({time.perf_counter() - started:.0f} s)")

    periods.now_utc = lambda: NOW
    import survey.units as unit_store
    unit_store.local_today = lambda db: date(2026, 6, 20)
    app = create_app({"DATABASE": str(path), "SECRET_KEY": "bench-" + "k" * 40, "WTF_CSRF_ENABLED": False,
                      "TESTING": True}, instance_path=str(OUT / "instance"))
    client = app.test_client()
    assert client.post("/staff/login", data={"username": "bench", "password": PASSWORD}).status_code in (302, 303)
    # As gunicorn.conf.py's post_worker_init does in a worker once the app is loaded (FREEZE=0: not).
    if os.environ.get("FREEZE", "1") != "0":
        from survey.web import freeze_startup_objects

        log(f"objects set aside from garbage collection (as a gunicorn worker does): {freeze_startup_objects():,}")
    return client


def pages(path: Path, runs: int) -> None:
    client = signed_in_client(path)
    log(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    log(f"{'page':<48} {'median':>9} {'p95':>9} {'CPU':>9}  status  size")
    for label, url in [("dashboard /staff/ (3,321 units, 1M responses)", "/staff/"),
                       ("dashboard live fragment", "/staff/dashboard/live"),
                       ("dashboard, unit table page 30", "/staff/?units_page=30"),
                       ("dashboard, unit search 'tan thanh'", "/staff/?unit_q=tan+thanh"),
                       ("dashboard, one province (Hà Nội)", "/staff/?unit=thanh-pho-ha-noi"),
                       ("dashboard by former unit", "/staff/former"),
                       ("targets (admin)", "/staff/admin/targets"),
                       ("posters list", "/posters/"),
                       ("citizen picker /", "/")]:
        median, p95, cpu, status, size = timed(client, url, runs)
        log(f"{label:<48} {median:8.1f}ms {p95:8.1f}ms {cpu:8.1f}ms  {status}  {size / 1024:,.0f} KiB")
    export(client)


def export(client) -> None:
    """Every response of the period as CSV: rows/s (wall), rows per CPU second (all threads), SHA-256."""
    log(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started, started_cpu = time.perf_counter(), time.process_time()
    response = client.get("/staff/exports/responses.csv?from=2026-01-01&to=2026-06-30", buffered=False)
    digest = hashlib.sha256()
    rows = 0
    for chunk in response.response:
        rows += chunk.count(b"\r\n")
        digest.update(chunk)
    response.close()
    rows -= 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    log(f"CSV export: {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s "
        f"({cpu:.1f} s CPU = {rows / cpu:,.0f} rows per CPU second; sha256 {digest.hexdigest()[:16]}); "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def report(path: Path) -> None:
    out = OUT / "report-3321"
    load = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "analysis", "report", "--db", str(path), "--from", "2026-01-01",
                           "--to", "2026-06-30", "--weights", "none", "--lang", "vi", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    log(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "(no output)")
    # CPU time is what to compare on a shared machine: wall time there measures the other sessions too
    log(f"report: exit {done.returncode}, {seconds:.1f} s wall for the whole process, "
        f"{after.ru_utime - before.ru_utime:.1f} s user + {after.ru_stime - before.ru_stime:.1f} s system CPU, "
        f"load average {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--report-only", action="store_true", help="only the report (on the database built before)")
    parser.add_argument("--export-only", action="store_true", help="only the CSV export (on the database built before)")
    args = parser.parse_args()
    path = database(args.responses)
    if args.build_only:
        return
    if args.report_only:
        report(path)
        return
    if args.export_only:
        export(signed_in_client(path))
        return
    pages(path, args.runs)
    if not args.skip_report:
        report(path)


if __name__ == "__main__":
    main()
