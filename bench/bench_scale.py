"""Benchmark of the national path: merging provincial summaries, and Dask on partitioned Parquet.

Subcommands (each prints its numbers; nothing here is a test):

``gen DIR``
    Synthetic responses in the export layout DIR/province=P/period=Q/part-0.parquet, generated
    with vectorised numpy and written with pyarrow, one file at a time (memory stays at one file):
    ``--provinces 34 --units 3300 --periods 4 --rows 100000000`` is the national case (26
    criteria in 5 factors, each unit its own stratum, unequal weights, 5 % blanks).
``single DIR``
    The single-process engine: read every file (pyarrow) and ``compute_table``; wall time, time per
    million rows and the process's peak memory.
``dask DIR``
    ``compute_dask`` on a ``LocalCluster`` of ``--workers`` single-threaded processes (default 2):
    wall time, time per million rows, peak memory of each worker process (getrusage in the worker)
    and of the client.
``merge``
    Summaries of ``--provinces`` provinces x ``--units`` units written to .sipas files, then the
    time to read and merge them (the table's intervals and ranks timed apart) and to write the CSV.

Example:
    python bench/bench_scale.py merge --provinces 34 --units 22
    python bench/bench_scale.py gen bench/out/parquet-1m --rows 1000000 --provinces 34 --units 3300
    python bench/bench_scale.py single bench/out/parquet-1m
    nice -n 10 python bench/bench_scale.py dask bench/out/parquet-100m --workers 2
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ITEMS = 26
FACTORS = 5
SEED = 20261203


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20   # kB on Linux


# ----------------------------------------------------------------------------- data

def _answer_tables() -> np.ndarray:
    """(8 satisfaction classes, 256) -> answer 0..5: a random byte per answer becomes a score through the
    cumulative distribution of its unit's class (5 % blanks), so answers cost one gather per value."""
    tables = np.zeros((8, 256), dtype=np.uint8)
    for c in range(8):
        probs = np.array([0.05, *(np.array([0.08, 0.14, 0.28, 0.32, 0.18]) * (1 + (c - 3.5) * np.array(
            [-0.12, -0.08, 0.0, 0.05, 0.1])))])
        probs = probs / probs.sum()
        edges = np.round(np.cumsum(probs) * 256).astype(int)
        tables[c] = np.searchsorted(edges, np.arange(256), side="right").clip(0, 5)
    return tables


TABLES = _answer_tables()


def province_rows(rng, n: int, p: int, units: int):
    """One province-period: unit codes, weights and answers (uint8, 0 = blank), vectorised."""
    unit = np.sort(rng.integers(0, units, n)).astype(np.int32)
    pop = 2000 + (np.arange(units) * 7919 + p * 104729) % 30000          # unit populations
    count = np.bincount(unit, minlength=units)
    weight = pop[unit] / np.maximum(count[unit], 1) * rng.uniform(0.8, 1.25, n)
    klass = ((np.arange(units) * 2654435761 + p * 40503) % 8).astype(np.uint8)   # unit satisfaction class
    answers = TABLES[klass[unit][:, None], rng.integers(0, 256, (n, ITEMS), dtype=np.uint8)]
    return unit, weight, answers


def gen(args) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(args.dir)
    if root.exists():
        shutil.rmtree(root)
    items = [f"q{j + 1:02d}" for j in range(ITEMS)]
    factor_of = {it: f"F{j * FACTORS // ITEMS + 1}" for j, it in enumerate(items)}
    meta = json.dumps({"items": items, "factor_of": factor_of, "item_weights": [1.0] * ITEMS, "satisfied_from": 4,
                       "questionnaire": {"id": "sipas-synthetic", "versions": [1]},
                       "weighting": {"scheme": "design", "mergeable": True, "description": "synthetic"}})
    per_file = args.rows // (args.provinces * args.periods)
    t0 = time.perf_counter()
    written = 0
    for p in range(args.provinces):
        labels = pa.array([f"p{p:02d}-u{u:04d}" for u in range(args.units)])
        for q in range(args.periods):
            rng = np.random.default_rng([SEED, p, q])
            n = per_file + (1 if p * args.periods + q < args.rows - per_file * args.provinces * args.periods else 0)
            unit, weight, answers = province_rows(rng, n, p, args.units)
            codes = pa.array(unit)
            cols = {"respondent_id": pa.array(np.arange(n, dtype=np.int64) + (p * args.periods + q) * 10 ** 9),
                    "district": pa.DictionaryArray.from_arrays(codes, labels),
                    "stratum": pa.DictionaryArray.from_arrays(codes, labels),
                    "weight": pa.array(weight)}
            for j, it in enumerate(items):
                a = answers[:, j]
                cols[it] = pa.array(a, mask=a == 0, type=pa.uint8())
            table = pa.table(cols).replace_schema_metadata({"sipas": meta})
            folder = root / f"province={p:02d}" / f"period=2026q{q + 1}"
            folder.mkdir(parents=True)
            pq.write_table(table, folder / "part-0.parquet", compression="zstd", row_group_size=1 << 20)
            written += n
            del table, cols, answers
        print(f"  province {p:02d}: {written:,} rows, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    size = sum(f.stat().st_size for f in root.rglob("*.parquet"))
    print(f"gen: {written:,} rows in {args.provinces * args.periods} files, {size / 2**30:.2f} GiB, "
          f"{time.perf_counter() - t0:.1f} s")


# ----------------------------------------------------------------------------- runs

def single(args) -> None:
    import analysis
    from analysis.parquet import read_parquet

    t0, c0 = time.perf_counter(), time.process_time()
    data = read_parquet(args.dir)
    t1 = time.perf_counter()
    table = analysis.compute_table(data)
    t2, c2 = time.perf_counter(), time.process_time()
    if args.out:
        table.to_csv(args.out)
    n = data.n
    print(f"single: {n:,} rows, {len(data.districts)} units: read {t1 - t0:.1f} s + compute {t2 - t1:.1f} s = "
          f"{t2 - t0:.1f} s ({(t2 - t0) / n * 1e6:.2f} s per million rows; CPU {(c2 - c0) / n * 1e6:.2f} s per million), "
          f"peak memory {_peak_rss_gib():.2f} GiB")


def _worker_peak() -> float:
    import resource as r

    return r.getrusage(r.RUSAGE_SELF).ru_maxrss / 2 ** 20


def _worker_cpu() -> float:
    import resource as r

    u = r.getrusage(r.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def dask_run(args) -> None:
    from dask.distributed import Client

    from analysis.distributed import compute_dask, local_cluster
    from analysis.parquet import partitions

    import pyarrow.parquet as pq

    n = sum(pq.read_metadata(f).num_rows for f in partitions(args.dir))
    t0 = time.perf_counter()
    with local_cluster(args.workers) as cluster, Client(cluster) as client:
        t1 = time.perf_counter()
        cpu0 = sum(client.run(_worker_cpu).values())
        c1 = time.process_time()
        done = []

        def progress(k, total):
            done.append(time.perf_counter())
            print(f"  {k}/{total} provinces summarised, {done[-1] - t1:.0f} s", file=sys.stderr)
        table = compute_dask(args.dir, client=client, provinces=True, progress=progress)
        t2 = time.perf_counter()
        cpu = sum(client.run(_worker_cpu).values()) - cpu0 + time.process_time() - c1
        peaks = client.run(_worker_peak)
    client_peak = _peak_rss_gib()
    if args.out:
        t3 = time.perf_counter()
        table.to_csv(args.out)
        print(f"  national CSV: {len(table):,} rows written in {time.perf_counter() - t3:.1f} s", file=sys.stderr)
    print(f"dask ({args.workers} workers): {n:,} rows, {len(table.districts)} units: cluster start {t1 - t0:.1f} s, "
          f"summaries + merge {t2 - t1:.1f} s ({(t2 - t1) / n * 1e6:.2f} s per million rows; "
          f"{(t2 - t0) / n * 1e6:.2f} with the start; CPU of workers + client {cpu / n * 1e6:.2f} s per million); "
          f"peak memory per worker "
          + ", ".join(f"{v:.2f}" for v in peaks.values()) + f" GiB; client {client_peak:.2f} GiB "
          f"({_peak_rss_gib():.2f} GiB with the CSV written)")


def merge_bench(args) -> None:
    import analysis
    from analysis.merge import merge_summaries
    from analysis.summary import read_summary, summarize

    tmp = Path(tempfile.mkdtemp(prefix="sipas-merge-"))
    try:
        items = [f"q{j + 1:02d}" for j in range(ITEMS)]
        factor_of = {it: f"F{j * FACTORS // ITEMS + 1}" for j, it in enumerate(items)}
        t0 = time.perf_counter()
        files = []
        for p in range(args.provinces):
            rng = np.random.default_rng([SEED, p])
            unit, weight, answers = province_rows(rng, args.units * args.per_unit, p, args.units)
            labels = np.array([f"p{p:02d}-u{u:04d}" for u in range(args.units)])
            data = analysis.SurveyData(items=tuple(items), answers=answers, weights=weight,
                                       district=unit.astype(np.intp), districts=tuple(labels),
                                       stratum=unit.astype(np.intp), strata=tuple(labels), factor_of=factor_of)
            f = tmp / f"p{p:02d}.sipas"
            summarize(data, province=f"p{p:02d}", threads=1).write(f)
            files.append(f)
        size = np.mean([f.stat().st_size for f in files])
        print(f"merge: {args.provinces} summaries of {args.units} units made in {time.perf_counter() - t0:.1f} s "
              f"(mean file {size / 1024:.0f} KiB)", file=sys.stderr)
        best = {}
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            summaries = [read_summary(f) for f in files]
            t1, c1 = time.perf_counter(), time.process_time()
            table = merge_summaries(summaries)
            t2, c2 = time.perf_counter(), time.process_time()
            table.to_csv(tmp / "national.csv")
            t3, c3 = time.perf_counter(), time.process_time()
            for k, v in (("read", (t1 - t0, c1 - c0)), ("merge", (t2 - t1, c2 - c1)), ("csv", (t3 - t2, c3 - c2)),
                         ("read+merge", (t2 - t0, c2 - c0))):
                best[k] = min(best.get(k, (np.inf, np.inf)), v)
        print(f"merge: {args.provinces} provinces x {args.units} units ({len(table):,} rows), best of {args.repeat}, "
              f"wall / CPU seconds: " + ", ".join(f"{k} {w:.3f} / {c:.3f}" for k, (w, c) in best.items())
              + f"; load average {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("dir")
    g.add_argument("--rows", type=int, default=1_000_000)
    g.add_argument("--provinces", type=int, default=34)
    g.add_argument("--units", type=int, default=3300)
    g.add_argument("--periods", type=int, default=4)
    s = sub.add_parser("single")
    s.add_argument("dir")
    s.add_argument("--out")
    d = sub.add_parser("dask")
    d.add_argument("dir")
    d.add_argument("--workers", type=int, default=2)
    d.add_argument("--out")
    m = sub.add_parser("merge")
    m.add_argument("--provinces", type=int, default=34)
    m.add_argument("--units", type=int, default=22)
    m.add_argument("--per-unit", type=int, default=40)
    m.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    {"gen": gen, "single": single, "dask": dask_run, "merge": merge_bench}[args.cmd](args)


if __name__ == "__main__":
    main()
