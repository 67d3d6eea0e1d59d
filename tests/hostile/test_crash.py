"""kill -9 every server process in the middle of a load run, restart, and check that
every acknowledged submission is stored exactly once, that clients retrying their
in-flight submissions create no duplicates, and that the database is intact."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from bench.load import loadgen

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def run_async(coroutine):
    """asyncio.run in a thread of its own: other tests (Playwright) may keep a loop running in this one."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int, env: dict, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}",
         "--workers", "3", "survey:create_app()"],
        cwd=ROOT, env={**os.environ, **env}, stdout=open(log, "a"), stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.time() + 90  # a busy CI machine can be slow to start workers
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                if answer.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    kill_all(proc)
    raise RuntimeError(f"gunicorn did not answer within 90 s:\n{log.read_text()}")


def kill_all(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # master and every worker, no clean-up of any kind
    proc.wait()


class Citizen:
    """Fills one form; remembers its submission id; on a lost connection, retries the same POST."""

    def __init__(self, port: int, shape: loadgen.FormShape, seed: int):
        self.client = loadgen.Client("127.0.0.1", port)
        self.shape, self.seed = shape, seed
        self.body: bytes | None = None
        self.submission_id: str | None = None
        self.acknowledged = False

    async def get_form(self) -> None:
        import random

        status, _, html = await self.client.request("GET", "/u/phuong-sai-gon")
        assert status == 200
        fields = [(a["name"], a.get("value", "")) for a in map(loadgen._attrs, loadgen.HIDDEN.findall(html))]
        self.submission_id = dict(fields)["submission_id"]
        self.body = urlencode(fields + self.shape.answers(random.Random(self.seed))).encode()

    async def post(self) -> None:
        status, headers, _ = await self.client.request("POST", "/u/phuong-sai-gon", self.body)
        if status == 303 and urlsplit(headers["location"]).path == f"/thanks/{self.submission_id}":
            self.acknowledged = True


async def run_until_killed(port, shape, proc, n_citizens):
    citizens = [Citizen(port, shape, i) for i in range(n_citizens)]
    for c in citizens:
        await c.get_form()

    async def post(c):
        try:
            await c.post()
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            pass  # in flight when the server died: not acknowledged

    async def killer():
        while sum(c.acknowledged for c in citizens) < n_citizens // 4:
            await asyncio.sleep(0.005)
        kill_all(proc)

    await asyncio.gather(killer(), *(post(c) for c in citizens))
    return citizens


def test_kill_minus_nine_mid_load_loses_and_duplicates_nothing(tmp_path):
    env = {"SURVEY_DATABASE": str(tmp_path / "survey.sqlite3"), "SURVEY_SECRET_KEY": "crash-" + "k" * 40,
           # every simulated citizen comes from 127.0.0.1: lift the per-address limit (tested on its own in
           # tests/integrity/test_limits.py) so that this test is about durability, not about being refused
           "SURVEY_LIMIT_ADDRESS_PER_10_MINUTES": "100000"}
    subprocess.run([sys.executable, "-m", "flask", "--app", "survey", "init-db", "--demo"], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True)
    port, log = free_port(), tmp_path / "server.log"
    proc = start(port, env, log)
    shape = run_async(loadgen.learn(f"http://127.0.0.1:{port}", "/u/phuong-sai-gon"))
    citizens = run_async(run_until_killed(port, shape, proc, 300))
    acknowledged = {c.submission_id for c in citizens if c.acknowledged}
    in_flight = [c for c in citizens if not c.acknowledged]
    assert acknowledged and in_flight, "the kill should land in the middle of the run"

    proc = start(port, env, log)
    try:
        async def retry_all():
            for c in in_flight:           # every client whose POST got no answer sends it again
                await c.post()
            for c in citizens[:50]:       # and some acknowledged ones resubmit too (double tap, back button)
                await c.post()
        run_async(retry_all())
    finally:
        kill_all(proc)

    db = sqlite3.connect(env["SURVEY_DATABASE"])
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = [r[0] for r in db.execute("SELECT uuid FROM responses")]
    assert len(rows) == len(set(rows)), "a submission was stored twice"
    assert acknowledged <= set(rows), "an acknowledged submission was lost"
    assert all(c.acknowledged for c in citizens), "a retried submission was not acknowledged"
    assert set(rows) == {c.submission_id for c in citizens}
