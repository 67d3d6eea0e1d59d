"""Benchmark of probability samples (prints numbers; not a test).

1. `flask --app survey import-frame` of a register of N completed dossiers (default 1,000,000;
   the leaf units of the demo data valid in 2025-10-01:2025-12-31 (168 wards after the 2025 reform) x 9
   fields, 5/6 with a contact) into a fresh database, timed as a whole process
   (check pass + write pass + commit). Target: <= 60 s for 1,000,000.
   Each step prints its wall time, its CPU time (user + system) and the load average around it.
2. `flask --app survey draw-sample --margin 0.05` on that frame (sizes, SRSWOR in every stratum,
   invitations written), timed as a whole process.
3. `export-invitations` of the drawn sample (codes, hashes, gateway CSV), timed as a whole process.

The frame file is generated once (deterministic) into bench/out/ and reused.

Example:
    python bench/bench_frame.py                  # 1,000,000 dossiers
    python bench/bench_frame.py --rows 200000
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
FIELDS = ("land", "construction", "investment", "business", "civil_status", "justice", "labour", "transport", "other")


def frame_file(rows: int, units: list[str]) -> Path:
    path = OUT / f"frame_{rows}_{len(units)}units.csv"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(20261001)
    start = date(2025, 10, 1).toordinal()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write("dossier,unit,field,completed_at,contact\n")
        for i in range(rows):
            contact = f"+84 9{i:08d}" if i % 3 else ("" if i % 2 else f"nguoi{i}@example.vn")
            handle.write(f"HCM-2025-{i:08d},{rnd.choice(units)},{rnd.choice(FIELDS)},"
                         f"{date.fromordinal(start + rnd.randrange(92))},{contact}\n")
    tmp.rename(path)
    return path


def timed(args: list[str], env: dict) -> tuple[float, float, float, str]:
    """Run one command; (wall s, CPU s of the process: user + system, its peak RSS MB, last line)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)    # this process's own rusage (not the max over children)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{stdout}\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout.strip().splitlines()[-1]


def load() -> str:
    return "load %.1f %.1f %.1f" % os.getloadavg()


def period_units(db: Path, period: str) -> list[str]:
    """Slugs of the leaf units valid in the period (after the 2025 reform: the wards of the demo data)."""
    sys.path.insert(0, str(ROOT))
    from survey import frames, sqlite

    conn = sqlite.connect(db)
    units = frames.units_for_period(conn, *frames.parse_period(period))
    ids = ",".join(str(int(uid)) for uid in set(units.values())) or "0"
    slugs = sorted(row[0] for row in conn.execute(f"SELECT slug FROM units WHERE id IN ({ids})"))
    conn.close()
    return slugs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    db = OUT / f"frame_bench_{args.rows}.sqlite3"
    OUT.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {**os.environ, "SURVEY_DATABASE": str(db), "SURVEY_SECRET_KEY": "bench-" * 8}
    flask = [str(Path(sys.executable).with_name("flask")), "--app", "survey"]
    subprocess.run(flask + ["init-db", "--demo"], env=env, check=True, capture_output=True)
    period = "2025-10-01:2025-12-31"
    path = frame_file(args.rows, period_units(db, period))
    size_mb = path.stat().st_size / 1e6
    print(f"frame: {args.rows:,} dossiers, {size_mb:.0f} MB ({path}); CPUs: {os.cpu_count()}")
    steps = [
        ("import-frame", ["import-frame", str(path), "--period", period]),
        ("draw-sample", ["draw-sample", "--period", period, "--margin", "0.05", "--seed", "7",
                         "--response-rate", "0.4"]),
        ("export-invitations", ["export-invitations", "--period", period, "--out", str(OUT / "bench_invitations.csv")]),
    ]
    for name, command in steps:
        before = load()
        wall, cpu, rss, last = timed(flask + command, env)
        print(f"{name + ':':20} {wall:6.1f} s wall, {cpu:6.1f} s CPU, peak RSS {rss:,.0f} MB, "
              f"{before} before / {load()} after  | {last}")
    (OUT / "bench_invitations.csv").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
