"""Load benchmark: the full citizen flow against gunicorn on 127.0.0.1.

Every simulated citizen GETs the questionnaire, POSTs all answers with the
CSRF token and follows the redirect to the thank-you page. Two runs:

- capacity: 50 concurrent clients without think time for 30 s against the
  platform, and in the same run the same load against a minimal baseline app
  (bench/load/baseline_app.py: a flask-wtf page with 26 radio groups and a
  one-row insert) under the same gunicorn settings; prints the throughput
  ratio (target >= 80 %, issue 10) and errors (target 0);
- service level: open-loop arrivals of 60 surveys/s for 60 s against the
  platform (target: p99 <= 100 ms per request, 0 errors, 0 "database is locked").

The generator is asyncio + aiohttp with one kept-alive connection per
simulated citizen (``--client close`` for the old one-connection-per-request
generator, which capped both apps at ~94 surveys/s on this machine). Both apps
run under the same gunicorn settings with ``--workers`` (default 4) and the
same SQLite durability (WAL, synchronous=FULL).

Usage: .venv/bin/python bench/bench_load.py [--clients 50] [--seconds 30]
       [--rate 60] [--rate-seconds 60] [--workers 4] [--client keepalive|close]
Writes the figures as JSON to bench/out/load.json too.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import loadgen  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def gunicorn(app: str, port: int, env: dict, workers: int | None, log: Path) -> subprocess.Popen:
    env = {**os.environ, **env}
    if workers:
        env["SURVEY_WORKERS"] = str(workers)
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}", app]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    wait_for(port)
    return proc


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live children (the gunicorn
    master and its workers): what a survey costs the server whatever else runs on the machine."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def measured(run, pid: int):
    """Run ``run()`` (an asyncio load); return its (stats, elapsed) and the CPU seconds the server
    and this generator used meanwhile."""
    server0, gen0 = tree_cpu(pid), time.process_time()
    stats, elapsed = asyncio.run(run())
    return stats, elapsed, tree_cpu(pid) - server0, time.process_time() - gen0


def with_cpu(row: dict, server_s: float, generator_s: float) -> dict:
    done = max(row["surveys"], 1)
    row.update(server_cpu_ms_per_survey=1000 * server_s / done, generator_cpu_ms_per_survey=1000 * generator_s / done)
    return row


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def prepare_platform(directory: Path) -> dict:
    env = {"SURVEY_DATABASE": str(directory / "survey.sqlite3"), "SURVEY_SECRET_KEY": "bench-" + "k" * 40,
           # behind a reverse proxy, as in the field: each simulated citizen's address comes in
           # X-Forwarded-For (bench/load/loadgen.py), so every limit and check applies as it would
           "SURVEY_TRUSTED_PROXIES": "1"}
    subprocess.run([sys.executable, "-m", "flask", "--app", "survey", "init-db", "--demo"], cwd=ROOT,
                   env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)
    return env


def show(row: dict) -> None:
    print(f"  {row['run']:<22} {row['surveys']:>6} surveys  {row['surveys_per_s']:7.1f}/s  "
          f"request p50/p95/p99 {row['req_p50_ms']:6.1f}/{row['req_p95_ms']:6.1f}/{row['req_p99_ms']:6.1f} ms  "
          f"survey p50/p95/p99 {row['survey_p50_ms']:6.1f}/{row['survey_p95_ms']:6.1f}/{row['survey_p99_ms']:6.1f} ms  "
          f"errors {row['errors']} {row['error_kinds'] or ''} locked {row['db_locked']}", flush=True)
    if "server_cpu_ms_per_survey" in row:
        print(f"  {'':<22} CPU per survey: server {row['server_cpu_ms_per_survey']:.1f} ms "
              f"(so 2 free cores would serve ~{2000 / row['server_cpu_ms_per_survey']:.0f}/s), "
              f"load generator {row['generator_cpu_ms_per_survey']:.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=60)
    parser.add_argument("--rate-seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers for both apps (default 4)")
    parser.add_argument("--client", choices=("keepalive", "close"), default="keepalive",
                        help="aiohttp with kept-alive connections (default) or a new connection per request")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    keepalive = args.client == "keepalive"
    closed = loadgen.closed_loop_keepalive if keepalive else loadgen.closed_loop
    opened = loadgen.open_loop_keepalive if keepalive else loadgen.open_loop
    results = {"client": args.client, "workers": args.workers, "clients": args.clients, "seconds": args.seconds, "rate": args.rate,
               "rate_seconds": args.rate_seconds, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="sipas-load-") as tmp:
        tmp = Path(tmp)
        env = prepare_platform(tmp)
        port = free_port()
        print(f"platform: gunicorn on 127.0.0.1:{port}, database {env['SURVEY_DATABASE']}", flush=True)
        server = gunicorn("survey:create_app()", port, env, args.workers, tmp / "platform.log")
        try:
            base = f"http://127.0.0.1:{port}"
            print(f"capacity: {args.clients} clients, no think time, {args.seconds:.0f} s", flush=True)
            stats, elapsed, cpu, gen = measured(
                lambda: closed(base, "/u/phuong-sai-gon", args.clients, args.seconds), server.pid)
            ours = with_cpu(loadgen.summary("platform capacity", stats, elapsed), cpu, gen)
            show(ours)
            print(f"service level: open loop {args.rate:.0f} surveys/s for {args.rate_seconds:.0f} s", flush=True)
            stats, elapsed, cpu, gen = measured(
                lambda: opened(base, "/u/phuong-sai-gon", args.rate, args.rate_seconds), server.pid)
            level = with_cpu(loadgen.summary("platform open loop", stats, elapsed), cpu, gen)
            show(level)
        finally:
            stop(server)
        log = (tmp / "platform.log").read_text(errors="replace")
        locked_in_log = log.count("database is locked")
        stored = sqlite3.connect(env["SURVEY_DATABASE"]).execute("SELECT count(*) FROM responses").fetchone()[0]
        print(f"  responses stored: {stored} (acknowledged: {ours['surveys'] + level['surveys']}); "
              f"'database is locked' in server log: {locked_in_log}", flush=True)
        results.update(platform_capacity=ours, platform_open_loop=level, stored=stored,
                       locked_in_log=locked_in_log)

        if not args.skip_baseline:
            port = free_port()
            database = tmp / "baseline.sqlite3"
            print(f"baseline: gunicorn on 127.0.0.1:{port} (same settings)", flush=True)
            server = gunicorn(f'bench.load.baseline_app:create_app("{database}")', port, {}, args.workers,
                              tmp / "baseline.log")
            try:
                stats, elapsed, cpu, gen = measured(
                    lambda: closed(f"http://127.0.0.1:{port}", "/", args.clients, args.seconds), server.pid)
                baseline = with_cpu(loadgen.summary("baseline capacity", stats, elapsed), cpu, gen)
                show(baseline)
            finally:
                stop(server)
            ratio = ours["surveys_per_s"] / baseline["surveys_per_s"] if baseline["surveys_per_s"] else float("nan")
            results.update(baseline_capacity=baseline, ratio=ratio)
            print(f"\nthroughput ratio platform / baseline: {ratio:.1%} (target >= 80 %)")
            cost = baseline["server_cpu_ms_per_survey"] / ours["server_cpu_ms_per_survey"]
            results.update(cpu_ratio=cost)
            print(f"server CPU per survey, baseline / platform: {cost:.1%} (the capacity ratio two free cores would give)")
        print(f"service level p99 per request: {level['req_p99_ms']:.1f} ms (target <= 100 ms), "
              f"errors {level['errors']}, locked {level['db_locked'] + locked_in_log}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
