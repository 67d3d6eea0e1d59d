"""Benchmark of the staff dashboard and exports on 1,000,000 simulated responses.

Builds (once; cached under bench/out/) a database with the demo units and N
responses from the simulator spread over 2025, through the normal storage code
and its triggers; then, through the Flask test client with a signed-in session:

- renders the dashboard (and the other staff pages) several times: median and p95;
- streams a full CSV and a full XLSX export, reading the body to the end:
  rows/s, time to the first byte, and the peak growth of the process's memory;
- stores single submissions one transaction each, as the web form does, to
  show what the summary triggers add per submission.

'Now' is fixed at 2025-12-15 10:00 in Ho Chi Minh City and the fieldwork period
is the whole of 2025, so every response is in the period (the worst case).

Run:  /work/venv/bin/python -m bench.bench_dashboard [--responses 1000000] [--runs 15]
"""
from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import sys
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bench.builder import PASSWORD, log

OUT = Path(__file__).resolve().parent / "out"
NOW = datetime(2025, 12, 15, 3, 0, tzinfo=timezone.utc)
SEED = 1


def build(path: Path, n: int) -> None:
    """The demo units, ``n`` simulated responses over 2025 stored with the summary triggers on (bench/builder.py)."""
    from bench import builder
    from survey import units

    builder.build(path, n, seed=SEED, period=(date(2025, 1, 1), date(2025, 12, 31)), load_units=units.load_demo,
                  target=50_000, fast=False)


def memory_kib() -> tuple[int, int]:
    """(resident set, anonymous part of it) in KiB. File pages the export maps
    (SQLite's mmap) count in the first, not the second: they are the OS page
    cache, shared and reclaimable, not memory the export holds."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "RssAnon:")):
                values[line.split(":")[0]] = int(line.split()[1])
    return values.get("VmRSS", 0), values.get("RssAnon", 0)


class PeakMemory:
    """Samples the process's memory every 20 ms while active."""

    def __enter__(self):
        self.base = memory_kib()
        self.peak = list(self.base)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        now = memory_kib()
        self.peak = [max(p, n) for p, n in zip(self.peak, now)]

    def _run(self):
        while not self._stop.wait(0.02):
            self._sample()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def growth_mib(self) -> tuple[float, float]:
        return tuple((p - b) / 1024 for p, b in zip(self.peak, self.base))


def timed_get(client, url: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    response = client.get(url)
    body = response.get_data()
    return (time.perf_counter() - started) * 1000, response.status_code, body


def stream(client, url: str) -> dict:
    with PeakMemory() as memory:
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get(url, buffered=False)
        assert response.status_code == 200, response.status_code
        first = None
        size = lines = 0
        for chunk in response.response:
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\r\n")
        response.close()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rss, anon = memory.growth_mib
    return {"seconds": elapsed, "cpu_seconds": cpu, "first_byte_ms": (first or 0) * 1000, "bytes": size, "lines": lines,
            "rss_mib": rss, "anon_mib": anon}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--skip-xlsx", action="store_true")
    args = parser.parse_args()

    from survey import create_app, migrations, responses
    from survey.migrations import MIGRATIONS
    from survey.staff import periods, summary

    OUT.mkdir(exist_ok=True)
    # A new schema or trigger code gets a new database.
    code = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (migrations, summary))).hexdigest()[:8]
    tag = f"{args.responses}-s{SEED}-m{len(MIGRATIONS)}-{code}"
    path = OUT / f"dashboard-{tag}.sqlite3"
    if not path.exists():
        build(path, args.responses)
    else:
        log(f"reusing {path}")
    periods.now_utc = lambda: NOW

    app = create_app({"DATABASE": str(path), "SECRET_KEY": "benchmark-secret-key-0123456789",
                      "DEFAULT_QUESTIONNAIRE": "sipas-hcm-26"})
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/staff/login", data={"username": "bench", "password": PASSWORD,
                                             "csrf_token": token}).status_code == 302

    from survey import db as database

    db = database.connect(path)
    total = db.execute("SELECT count(*) FROM responses").fetchone()[0]
    size_mib = path.stat().st_size / 2**20
    print(f"database: {total:,} responses, {size_mib:,.0f} MiB ({path.name})")

    pages = [("dashboard", "/staff/"), ("dashboard, live fragment", "/staff/dashboard/live"),
             ("dashboard, one unit", "/staff/?unit=quan-1"),
             ("flagged responses", "/staff/quality"), ("comments", "/staff/comments"),
             ("comment search", "/staff/comments?q=cho+lau"), ("response detail", f"/staff/responses/{total // 2}")]
    print(f"\npage timings over {args.runs} runs after 2 warm-up runs (ms):")
    print(f"  {'page':28} {'median':>8} {'p95':>8} {'max':>8}")
    for name, url in pages:
        for _ in range(2):
            timed_get(client, url)
        times = []
        for _ in range(args.runs):
            ms, status, _ = timed_get(client, url)
            assert status == 200, (url, status)
            times.append(ms)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"  {name:28} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f}", flush=True)

    query = "from=2025-01-01&to=2025-12-31&questionnaire=sipas-hcm-26"
    print("\nexports (full year, every response):")
    formats = ["csv"] if args.skip_xlsx else ["csv", "xlsx"]
    for fmt in formats:
        result = stream(client, f"/staff/exports/responses.{fmt}?{query}")
        rows = result["lines"] - 1 if fmt == "csv" else total
        print(f"  {fmt}: {rows:,} rows in {result['seconds']:.1f} s = {rows / result['seconds']:,.0f} rows/s "
              f"({rows / result['cpu_seconds']:,.0f} rows per CPU second); "
              f"first byte after {result['first_byte_ms']:.0f} ms; {result['bytes'] / 2**20:,.0f} MiB; "
              f"peak memory growth: {result['anon_mib']:.1f} MiB anonymous "
              f"({result['rss_mib']:.0f} MiB resident with the mapped database pages)", flush=True)

    later = datetime(2026, 1, 5, 2, 0, tzinfo=timezone.utc)   # after every simulated response
    # A ward valid then (the demo's districts end on 2025-06-30) and a kiosk of its own: the simulator
    # makes no kiosks since issue 11. Both are removed again below.
    from survey import units as unit_store

    ward = unit_store.leaf_units(db, later.date())[0]["id"]
    kiosk = db.execute("INSERT INTO kiosks (unit_id, name, token_hash, created_at) VALUES (?, 'Benchmark kiosk', ?, ?)",
                       [ward, f"bench:{uuid.uuid4()}", "2026-01-01T00:00:00Z"]).lastrowid
    answers = "4" * 26
    times = []
    saved = []
    for i in range(300):
        moment = later + timedelta(seconds=90 * i)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        record = responses.Response(uuid=str(uuid.uuid4()), questionnaire_id="sipas-hcm-26", questionnaire_version=1,
                                    unit_id=ward, channel="kiosk", kiosk_id=kiosk, lang="vi",
                                    started_at=(moment - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    submitted_at=stamp, answers=answers, comment="benchmark" if i % 10 == 0 else None)
        started = time.perf_counter()
        responses.save(db, record)
        times.append((time.perf_counter() - started) * 1000)
        saved.append(record.uuid)
    times.sort()
    print(f"\nsingle submissions (one transaction each, triggers included), {len(times)} saves: "
          f"median {statistics.median(times):.2f} ms, p99 {times[int(0.99 * (len(times) - 1))]:.2f} ms")
    with db.atomic():   # leave the cached database as it was
        db.conn.executemany("DELETE FROM responses WHERE uuid = ?", [(u,) for u in saved])
        db.execute("DELETE FROM kiosks WHERE id = ?", [kiosk])
    started = time.perf_counter()
    summary.refresh(db, summary.in_effect(db), force=True)
    print(f"rebuilding every summary from scratch (refresh-summaries --force, as the migration's backfill): "
          f"{time.perf_counter() - started:.1f} s")
    db.close()


if __name__ == "__main__":
    main()
