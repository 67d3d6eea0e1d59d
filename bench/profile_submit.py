"""Profile the citizen flow's GET and POST in-process (pyinstrument), on a real SQLite file with CSRF on.

Each round is what one citizen costs the server: GET /u/quan-1 (a fresh form, a session cookie), then
POST every answer with the CSRF token (stored, 303), then GET the thank-you page.

Usage: .venv/bin/python bench/profile_submit.py [--rounds 300] [--html bench/out/profile.html]
(needs the bench extra: pip install -e '.[bench]')
"""
from __future__ import annotations

import argparse
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HIDDEN = re.compile(r'name="([a-z_]+)" type="hidden" value="([^"]*)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--html", default=None, help="also write pyinstrument's HTML report here")
    parser.add_argument("--cpu-only", action="store_true", help="only the CPU time per citizen, no profile")
    args = parser.parse_args()
    from pyinstrument import Profiler

    from survey import catalog, create_app, units
    from survey import db as database

    folder = Path(tempfile.mkdtemp(prefix="sipas-profile-"))
    # every round comes from one address (the test client): lift the per-address limit, keep every other check
    app = create_app({"DATABASE": str(folder / "survey.sqlite3"), "SECRET_KEY": secrets.token_hex(32),
                      "LIMIT_ADDRESS_PER_10_MINUTES": 10_000_000},
                     instance_path=str(folder))
    database.init_db(app)
    db = database.connect(folder / "survey.sqlite3")
    catalog.register_shipped(db)
    units.load_demo(db)
    q = catalog.latest(db, app.config["DEFAULT_QUESTIONNAIRE"])
    db.close()
    answers = {c.code: "4" for c in q.criteria} | {r.code: r.options[0].code for r in q.respondent if r.required}

    def one(client, timings):
        t0 = time.perf_counter()
        page = client.get("/u/quan-1").get_data(as_text=True)
        t1 = time.perf_counter()
        response = client.post("/u/quan-1", data={**dict(HIDDEN.findall(page)), **answers})
        assert response.status_code == 303, response.status_code
        t2 = time.perf_counter()
        client.get(response.headers["Location"])
        t3 = time.perf_counter()
        timings.append((t1 - t0, t2 - t1, t3 - t2))

    warm = []
    for _ in range(20):
        one(app.test_client(), warm)
    # CPU time per citizen without the profiler: what capacity on a CPU-bound server depends on, and
    # what other processes on a shared machine cannot inflate (unlike wall time).
    cpu = []
    for _ in range(args.rounds):
        c0 = time.process_time()
        one(app.test_client(), [])
        cpu.append(time.process_time() - c0)
    print(f"CPU per citizen (GET form + POST + GET thank-you), median of {len(cpu)}: "
          f"{sorted(cpu)[len(cpu) // 2] * 1000:.2f} ms")
    baseline_cpu = baseline(args.rounds, folder)
    print(f"CPU per citizen of the minimal baseline (bench/load/baseline_app.py, same flow): {baseline_cpu * 1000:.2f} ms")
    if args.cpu_only:
        return
    timings = []
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(args.rounds):
        one(app.test_client(), timings)
    profiler.stop()
    n = len(timings)
    get, post, thanks = (sum(t[i] for t in timings) / n * 1000 for i in range(3))
    print(f"{n} citizens in-process: GET form {get:.2f} ms, POST {post:.2f} ms, GET thank-you {thanks:.2f} ms "
          f"(profiler on)")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        Path(args.html).write_text(profiler.output_html())


def baseline(rounds: int, folder: Path) -> float:
    """Median CPU seconds per citizen of the baseline app: GET the form, POST 26 answers, GET /thanks."""
    from bench.load.baseline_app import CODES, create_app as baseline_app

    app = baseline_app(str(folder / "baseline.sqlite3"))
    token = re.compile(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"')
    cpu = []
    for n in range(rounds + 20):
        client = app.test_client()
        c0 = time.process_time()
        page = client.get("/").get_data(as_text=True)
        response = client.post("/", data={"csrf_token": token.search(page).group(1), **{c: "4" for c in CODES}})
        assert response.status_code == 303, response.status_code
        client.get("/thanks")
        if n >= 20:
            cpu.append(time.process_time() - c0)
    return sorted(cpu)[len(cpu) // 2]


if __name__ == "__main__":
    main()
