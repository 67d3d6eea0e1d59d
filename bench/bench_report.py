"""Report benchmark: the full report (HTML, PDF, XLSX, CSV) for 1,000,000 responses in 22 units.

Target: <= 30 s for the whole `python -m analysis report` job (issue 6).

The database is simulated once and cached as bench/out/report-1m.sqlite3
(`flask --app survey init-db --demo` + `flask --app survey simulate --responses
1000000 --period 2024-01-01:2024-12-31`, a few minutes). Each run makes the
report of the whole year (all 1,000,000 responses) with its breakdowns, and,
unless --no-compare, against the comparison period 2024-01-01..2024-06-30 (it
overlaps the year: the database has no earlier data, and only the work of a
500,000-response comparison is measured), in the language given. It prints
the seconds of every stage (request check, scan of the response attributes,
loading, the engine's table, breakdowns, comparison period, counts, charts,
HTML, PDF, XLSX, CSV), the total wall time and the process's CPU time, and
the machine's load average: the machine is shared, and a busy neighbour makes
every stage slower (the CPU time less so).

Usage: .venv/bin/python bench/bench_report.py [--responses 1000000] [--weights design|rake]
       [--lang vi|en] [--repeat 1] [--no-compare]
Writes the figures as JSON to bench/out/report.json too.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"


def database(responses: int) -> Path:
    path = OUT / ("report-1m.sqlite3" if responses == 1_000_000 else f"report-{responses}.sqlite3")
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "SURVEY_DATABASE": str(partial), "FLASK_APP": "survey"}
    flask = [sys.executable, "-m", "flask", "--app", "survey"]
    print(f"simulating {responses} responses into {path} (once; cached afterwards) ...", file=sys.stderr)
    subprocess.run(flask + ["init-db", "--demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(flask + ["simulate", "--responses", str(responses), "--seed", "11",
                            "--period", "2024-01-01:2024-12-31"], cwd=ROOT, env=env, check=True)
    import sqlite3

    with sqlite3.connect(partial) as con:
        con.execute("UPDATE responses SET simulated = 0")  # stand-ins for real ones: reports leave simulated out
    with sqlite3.connect(partial) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    return path


def run(path: Path, weights: str, lang: str, compare: bool) -> dict:
    from analysis.report.build import write_report
    from analysis.report.gather import ReportRequest, gather

    start = time.perf_counter()
    cpu = time.process_time()
    request = ReportRequest(db=path, date_from=date(2024, 1, 1), date_to=date(2024, 12, 31),
                            compare_from=date(2024, 1, 1) if compare else None,
                            compare_to=date(2024, 6, 30) if compare else None, target=0.80, weights=weights)
    inputs, table = gather(request)
    files = write_report(inputs, lang, OUT / f"report-{lang}", write_indices=table.to_csv)
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    stages = {**inputs.engine["seconds"], **files.seconds}
    return {"responses": files.report.overall.n, "units": len(files.report.units), "pdf_pages": len(files.pdf_pages),
            "stages": {k: round(v, 2) for k, v in stages.items()}, "total": round(total, 2), "cpu": round(cpu, 2),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--weights", default="design", choices=("none", "design", "poststratify", "rake"))
    parser.add_argument("--lang", default="vi", choices=("vi", "en"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-compare", action="store_true")
    args = parser.parse_args()
    path = database(args.responses)
    results = []
    for i in range(args.repeat):
        before = [round(x, 2) for x in os.getloadavg()]
        result = run(path, args.weights, args.lang, not args.no_compare)
        result["load_average_before"] = before
        results.append(result)
        print(f"run {i + 1}: {result['responses']:,} responses used in the period, {result['units']} units, "
              f"{result['pdf_pages']} PDF pages, weights={args.weights}, lang={args.lang}")
        for stage, seconds in result["stages"].items():
            print(f"  {stage:<12} {seconds:7.2f} s")
        print(f"  {'TOTAL':<12} {result['total']:7.2f} s   (target <= 30 s); CPU time of this process "
              f"{result['cpu']:.2f} s; load average before/after: {before} / {result['load_average']}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
