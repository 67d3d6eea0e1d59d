"""A gunicorn worker started with the shipped gunicorn.conf.py sets its loaded app's objects aside from
Python's full garbage collections (survey.web.freeze_startup_objects): at 3,321 units the dashboard
otherwise paused ~33 ms every few requests walking them. The worker says so in its log and serves."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_gunicorn_worker_freezes_its_startup_objects_and_serves(tmp_path):
    env = {**os.environ, "SURVEY_DATABASE": str(tmp_path / "survey.sqlite3"),
           "SURVEY_SECRET_KEY": "gc-" + "k" * 40}
    subprocess.run([sys.executable, "-m", "flask", "--app", "survey", "init-db", "--demo"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    port, log = free_port(), tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-b",
                             f"127.0.0.1:{port}", "--workers", "1", "survey:create_app()"],
                            cwd=ROOT, env=env, stdout=open(log, "a"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, status = time.time() + 90, None
        while time.time() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/staff/login", timeout=5) as answer:
                    status = answer.status
            except OSError:
                time.sleep(0.2)
        assert status == 200, log.read_text()
        frozen = [int(n) for n in re.findall(r"Objects set aside from garbage collection: (\d+)", log.read_text())]
        assert len(frozen) == 1 and frozen[0] > 10_000, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
