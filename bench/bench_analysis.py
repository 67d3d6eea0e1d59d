"""Benchmark of the analysis engine (prints numbers; not a test).

1. The full table (22 units x 26 criteria, 5 factors, every index, both interval methods) for
   1,000,000 respondents, from a CSV and from a survey database: wall time and peak memory of
   the `python -m analysis indices` process. Targets: <= 5 s and <= 2 GiB each.
2. The same table for 100,000 respondents by `python -m analysis` and by
   `Rscript r_survey_oracle.R` (R's survey package), timed in the same run: the ratio.
   Target: at least 50x faster than R.

Data are generated once (deterministic, seed 20240601) into bench/out/ and reused.

Example:
    python bench/bench_analysis.py                 # everything (R part needs Rscript)
    python bench/bench_analysis.py --rows 200000 --skip-r
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
ORACLE_CANDIDATES = (ROOT.parent / "shared" / "oracle" / "r_survey_oracle.R",
                     Path("/work/shared/oracle/r_survey_oracle.R"),
                     ROOT / "tests" / "fixtures" / "reference" / "extra" / "r_survey_oracle.R")
DISTRICTS = 22
ITEMS = 26
SEED = 20240601


# ----------------------------------------------------------------------------- data

def synthetic(n: int, seed: int = SEED):
    """Respondents like shared/oracle/make_synthetic.py (vectorised): 22 districts x urban/rural strata,
    unequal weights, correlated 1..5 answers, 4 % blanks and 20 % 'not applicable' on q24-q26."""
    rng = np.random.default_rng(seed)
    district = np.sort(rng.integers(0, DISTRICTS, n))
    urban_share = np.array([0.3, 0.45, 0.6, 0.35, 0.5, 0.4, 0.55])[np.arange(DISTRICTS) % 7]
    urban = rng.random(n) < urban_share[district]
    order = np.lexsort((~urban, district))
    district, urban = district[order], urban[order]
    stratum = district * 2 + (~urban)
    N_h = np.where(np.arange(2 * DISTRICTS) % 2 == 0, rng.integers(8000, 60000, 2 * DISTRICTS),
                   rng.integers(10000, 90000, 2 * DISTRICTS))
    n_h = np.bincount(stratum, minlength=2 * DISTRICTS)
    cell = rng.integers(0, 6, n)
    adj = np.array([0.55, 0.8, 1.0, 1.2, 1.5, 1.9])[cell]
    weight = N_h[stratum] / np.maximum(n_h[stratum], 1) * adj * rng.uniform(0.9, 1.1, n)
    mu = np.linspace(-0.5, 0.7, DISTRICTS)[district]
    theta = mu + np.where(urban, 0.25, -0.1) + 0.15 * (cell - 2.5) / 2.5 + rng.normal(0, 0.9, n)
    latent = theta[:, None] + rng.normal(0, 0.35, ITEMS)[None, :] + rng.normal(0, 0.8, (n, ITEMS))
    answers = (1 + np.searchsorted(np.array([-1.6, -0.7, 0.1, 1.2]), latent)).astype(np.uint8)
    answers[rng.random((n, ITEMS)) < 0.04] = 0
    answers[:, -3:][rng.random((n, 3)) < 0.20] = 0
    gender = np.where(rng.random(n) < 0.48, "male", "female")
    age = np.array(["18-24", "25-34", "35-49", "50-59", "60+"])[rng.choice(5, n, p=[.15, .25, .3, .15, .15])]
    return district, stratum, weight, answers, gender, age


def write_csv(path: Path, n: int) -> None:
    district, stratum, weight, answers, _, _ = synthetic(n)
    items = [f"q{j + 1:02d}" for j in range(ITEMS)]
    digits = np.array([b"", b"1", b"2", b"3", b"4", b"5"], dtype=object)
    with open(path, "w", newline="") as f:
        f.write(",".join(["respondent_id", "district", "stratum", "weight", *items]) + "\n")
        for lo in range(0, n, 100_000):
            hi = min(n, lo + 100_000)
            ans = [",".join(x.decode() for x in digits[row]) for row in answers[lo:hi]]
            f.write("".join(
                f"R{i + 1:07d},D{d + 1:02d},D{d + 1:02d}_{'UR'[s % 2]},{w:.6f},{a}\n"
                for i, d, s, w, a in zip(range(lo, hi), district[lo:hi], stratum[lo:hi], weight[lo:hi], ans)))
    with open(path.with_name("factors.csv"), "w") as f:
        bounds = np.linspace(0, ITEMS, 6).round().astype(int)
        f.write("item,factor\n" + "".join(f"{items[j]},F{k + 1}\n" for k in range(5)
                                          for j in range(bounds[k], bounds[k + 1])))


def write_db(path: Path, n: int) -> None:
    """A survey database built with the application's migrations, demo units and questionnaires."""
    sys.path.insert(0, str(ROOT))
    from survey import catalog, units
    from survey.db import connect
    from survey.migrations import migrate

    db = connect(path)
    migrate(db)
    units.load_demo(db)
    catalog.register_shipped(db)
    q = catalog.latest(db, "sipas-hcm-26")
    unit_ids = [r["id"] for r in units.leaf_units(db)]
    district, _, _, answers, gender, age = synthetic(n)
    chars = np.frombuffer(b"-12345", dtype=np.uint8)[answers]
    text = chars.view(f"S{ITEMS}").ravel()
    rng = np.random.default_rng(SEED + 1)
    seconds = rng.integers(0, 180 * 86400, n)
    t0 = np.datetime64("2024-01-01T00:00:00")
    stamps = np.datetime_as_string(t0 + seconds.astype("timedelta64[s]"), unit="s")
    sql = ("INSERT INTO responses (uuid, questionnaire_id, questionnaire_version, unit_id, channel, lang, "
           "started_at, submitted_at, duration_s, answers, gender, age_band) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")
    with db.atomic():
        db.conn.executemany(sql, ((f"bench-{i:08d}", q.id, q.version, unit_ids[district[i] % len(unit_ids)],
                                   "kiosk", "vi", stamps[i] + "Z", stamps[i] + "Z", 120.0, text[i].decode(),
                                   gender[i], age[i]) for i in range(n)))
    db.close()


def ensure(kind: str, n: int) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{kind}-{n}" / ("survey.csv" if kind == "csv" else "survey.sqlite3")
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        t = time.perf_counter()
        print(f"generating {kind} with {n:,} respondents in {path.parent} ...", file=sys.stderr, flush=True)
        (write_csv if kind == "csv" else write_db)(path, n)
        print(f"  done in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    return path


# ----------------------------------------------------------------------------- timing

def run(cmd: list[str], cwd: Path = ROOT) -> tuple[float, float, float]:
    """Wall seconds, peak resident memory (MiB) and CPU seconds (user + system) of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def best_of(k: int, cmd: list[str]) -> tuple[float, float, list[float], float]:
    runs = [run(cmd) for _ in range(k)]
    walls = [r[0] for r in runs]
    best = min(range(k), key=lambda i: walls[i])
    return walls[best], max(r[1] for r in runs), walls, runs[best][2]


def compare(ours: Path, theirs: Path) -> str:
    """Largest difference between the two tables over every number R gives."""
    import csv
    mine = {(r["district"], r["measure"]): r for r in csv.DictReader(open(ours))}
    worst, worst_ci, cells, missing = 0.0, 0.0, 0, 0
    for r in csv.DictReader(open(theirs)):
        m = mine.get((r["district"], r["measure"]))
        if m is None:
            missing += 1
            continue
        for k, v in r.items():
            if k in ("level", "district", "measure", "measure_type", "factor") or v in ("", "NA", "TRUE", "FALSE"):
                continue
            d = abs(float(v) - float(m[k])) if m[k] not in ("", "NA") else float("inf")
            cells += 1
            if k.startswith("ci_logit") and r["measure_type"] in ("item", "index_resp", "factor_resp"):
                worst_ci = max(worst_ci, d)       # R: svyciprop's IRLS fit, tolerance 1e-8
            else:
                worst = max(worst, d)
    return (f"{cells:,} numbers compared, {missing} R rows missing; max |difference| {worst:.1e} "
            f"(svyciprop logit bounds: {worst_ci:.1e})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Example:\n  python bench/bench_analysis.py --repeat 3")
    p.add_argument("--rows", type=int, default=1_000_000, help="respondents of the big run (default 1,000,000)")
    p.add_argument("--r-rows", type=int, default=100_000, help="respondents of the R comparison (default 100,000)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each Python measurement; the best is kept")
    p.add_argument("--skip-r", action="store_true", help="leave out the comparison with R")
    p.add_argument("--oracle", help="path of r_survey_oracle.R")
    args = p.parse_args(argv)
    py = sys.executable
    out_csv = OUT / "result.csv"
    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, numpy {np.__version__}; "
          f"load average before: {os.getloadavg()[0]:.2f}")

    big_csv = ensure("csv", args.rows)
    factors = big_csv.with_name("factors.csv")
    big_db = ensure("db", args.rows)
    print(f"\n{args.rows:,} respondents, 22 units x 26 criteria, 5 factors, all indices, logit + KG intervals"
          f" (best of {args.repeat}):")
    for label, cmd in (("from CSV", [py, "-m", "analysis", "indices", str(big_csv), "--factors", str(factors),
                                     "--out", str(out_csv), "--quiet"]),
                       ("from DB ", [py, "-m", "analysis", "indices", "--db", str(big_db), "--out", str(out_csv),
                                     "--quiet"])):
        wall, rss, walls, cpu = best_of(args.repeat, cmd)
        print(f"  {label} : {wall:6.2f} s (CPU {cpu:5.2f} s)   peak RSS {rss:5.0f} MiB   "
              f"(runs: {', '.join(f'{x:.2f}' for x in walls)})   target <= 5 s, <= 2048 MiB: "
              f"{'OK' if wall <= 5 and rss <= 2048 else 'MISSED'}")
    wall, rss, _, cpu = best_of(1, [py, "-m", "analysis", "indices", "--db", str(big_db), "--weights", "rake",
                                    "--out", str(out_csv), "--quiet"])
    print(f"  from DB, raked to unit x age band and gender: {wall:6.2f} s (CPU {cpu:5.2f} s)   "
          f"peak RSS {rss:5.0f} MiB")

    if args.skip_r:
        return 0
    rscript = shutil.which("Rscript")
    oracle = Path(args.oracle) if args.oracle else next((c for c in ORACLE_CANDIDATES if c.exists()), None)
    if not rscript or not oracle:
        print("\nRscript (or r_survey_oracle.R) not found: no comparison with R. Install R and its survey "
              "package with\n  apt-get install -y --no-install-recommends r-base-core r-cran-survey\n"
              "and rerun (or pass --oracle PATH).")
        return 0
    small_csv = ensure("csv", args.r_rows)
    small_factors = small_csv.with_name("factors.csv")
    print(f"\n{args.r_rows:,} respondents, the same table, in the same run:")
    ours, _, walls, cpu = best_of(args.repeat, [py, "-m", "analysis", "indices", str(small_csv), "--factors",
                                                str(small_factors), "--out", str(OUT / "ours-small.csv"), "--quiet"])
    print(f"  python -m analysis : {ours:7.2f} s (CPU {cpu:6.2f} s)   (runs: {', '.join(f'{x:.2f}' for x in walls)})")
    theirs, _, rcpu = run([rscript, str(oracle), str(small_csv), str(OUT / "r-small.csv"), "--factors",
                           str(small_factors)])
    print(f"  Rscript (survey)   : {theirs:7.2f} s (CPU {rcpu:6.2f} s)")
    ratio = theirs / ours
    print(f"  ratio              : {ratio:7.1f}x faster than R (wall; CPU {rcpu / cpu:.0f}x)   target >= 50x: "
          f"{'OK' if ratio >= 50 else 'MISSED'}")
    print("  same table?        : " + compare(OUT / "ours-small.csv", OUT / "r-small.csv"))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
