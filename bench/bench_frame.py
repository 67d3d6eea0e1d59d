"""Benchmark of probability samples (prints numbers; not a test).

1. `flask --app survey import-frame` of a register of N completed dossiers (default 1,000,000;
   22 districts x 9 fields, 2/3 with a contact) into a fresh database, timed as a whole process
   (check pass + write pass + commit). Target: <= 60 s for 1,000,000.
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
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
FIELDS = ("land", "construction", "investment", "business", "civil_status", "justice", "labour", "transport", "other")


def frame_file(rows: int) -> Path:
    path = OUT / f"frame_{rows}.csv"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(20261001)
    units = [f"quan-{i}" for i in (1, 3, 4, 5, 6, 7, 8, 10, 11, 12)] + [
        "quan-binh-tan", "quan-binh-thanh", "quan-go-vap", "quan-phu-nhuan", "quan-tan-binh", "quan-tan-phu",
        "thanh-pho-thu-duc", "huyen-binh-chanh", "huyen-can-gio", "huyen-cu-chi", "huyen-hoc-mon", "huyen-nha-be"]
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


def timed(args: list[str], env: dict) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return wall, (after.ru_maxrss) / 1024, proc.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    path = frame_file(args.rows)
    db = OUT / f"frame_bench_{args.rows}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {**os.environ, "SURVEY_DATABASE": str(db), "SURVEY_SECRET_KEY": "bench-" * 8}
    flask = [str(Path(sys.executable).with_name("flask")), "--app", "survey"]
    subprocess.run(flask + ["init-db", "--demo"], env=env, check=True, capture_output=True)
    period = "2025-10-01:2025-12-31"
    size_mb = path.stat().st_size / 1e6
    print(f"frame: {args.rows:,} dossiers, {size_mb:.0f} MB ({path})")
    wall, rss, last = timed(flask + ["import-frame", str(path), "--period", period], env)
    print(f"import-frame:        {wall:6.1f} s wall, peak RSS {rss:,.0f} MB  | {last}")
    wall, rss, last = timed(flask + ["draw-sample", "--period", period, "--margin", "0.05", "--seed", "7",
                                     "--response-rate", "0.4"], env)
    print(f"draw-sample:         {wall:6.1f} s wall, peak RSS {rss:,.0f} MB  | {last}")
    out = OUT / "bench_invitations.csv"
    wall, rss, last = timed(flask + ["export-invitations", "--period", period, "--out", str(out)], env)
    print(f"export-invitations:  {wall:6.1f} s wall, peak RSS {rss:,.0f} MB  | {last}")
    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
