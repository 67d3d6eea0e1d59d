"""CPU seconds per stage of ``python -m analysis report`` on the 3,321-unit benchmark database, in process.

    .venv/bin/python bench/report_cpu_stages.py [--db bench/out/units-3321-1000000.sqlite3] [--out DIR]

The report of 1 January - 30 June 2026, ``--weights none``, in Vietnamese (as bench_units_scale's
``--report-only``); each stage's CPU time (``time.process_time``: all threads) from the report's own
progress callback, and the load average, so runs on a shared machine can be read.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=str(ROOT / "bench" / "out" / "units-3321-1000000.sqlite3"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "report-3321-stages"))
    args = parser.parse_args()
    from analysis.report import make_report
    from analysis.report.gather import ReportRequest

    request = ReportRequest(db=Path(args.db), date_from=date(2026, 1, 1), date_to=date(2026, 6, 30), weights="none")
    marks: list[tuple[str, float]] = []

    def progress(stage, fraction):
        if not marks or marks[-1][0] != stage:
            marks.append((stage, time.process_time()))
    load = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    make_report(request, "vi", args.out, progress=progress)
    c1, t1 = time.process_time(), time.perf_counter()
    marks.append(("end", c1))
    per = {}
    for (stage, a), (_, b) in zip(marks, marks[1:]):
        per[stage] = per.get(stage, 0.0) + b - a
    print("CPU s per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))
    print(f"total {c1 - c0:.1f} s CPU, {t1 - t0:.1f} s wall; load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
