"""Replays of the attacks of issue 13 and of honest traffic against a real gunicorn server.

Used by ``tests/integrity/test_attacks.py`` (small, with the server's test clock)
and ``bench/bench_integrity.py`` (full size; also in real time).

Every client is an *identity*: an address (sent as X-Forwarded-For to a server
started with TRUSTED_PROXIES=1, as behind nginx) and a cookie jar. With
``clock`` mode on, every request carries the simulated time in X-Test-Clock
(the server honours it only with TESTING and TEST_CLOCK on), so an hour of
traffic replays in seconds.
"""
from __future__ import annotations

import csv
import http.client
import io
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>', re.I)
RADIO = re.compile(r'<input[^>]*type="radio"[^>]*>', re.I)
ATTR = re.compile(r'([a-zA-Z_:-]+)="([^"]*)"')


def _attrs(tag: str) -> dict[str, str]:
    return {k: v.replace("&amp;", "&").replace("&#34;", '"').replace("&#39;", "'") for k, v in ATTR.findall(tag)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the server -------------------------------------------------------------------------------

@dataclass
class Server:
    folder: Path
    clock: bool = True
    workers: int = 3
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    kiosk_tokens: dict[str, list[str]] = field(default_factory=dict)
    criteria: list[str] = field(default_factory=list)
    respondent: dict[str, str] = field(default_factory=dict)
    questionnaire: tuple[str, int] = ("", 0)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.folder / "survey.sqlite3"

    def prepare(self, kiosks: dict[str, int] | None = None) -> None:
        """Migrate a fresh database, load the questionnaires and demo units, register kiosks."""
        from survey import catalog, create_app, units
        from survey import db as database
        from survey.kiosk import kiosks as kiosk_store

        self.folder.mkdir(parents=True, exist_ok=True)
        app = create_app({"DATABASE": str(self.database), "SECRET_KEY": "x" * 32, "TESTING": True},
                         instance_path=str(self.folder))
        database.init_db(app)
        db = database.connect(self.database)
        try:
            catalog.register_shipped(db)
            units.load_demo(db)
            q = catalog.latest(db, app.config["DEFAULT_QUESTIONNAIRE"])
            self.questionnaire = (q.id, q.version)
            self.criteria = list(q.criterion_codes)
            self.respondent = {r.code: r.options[0].code for r in q.respondent if r.required}
            for slug, n in (kiosks or {}).items():
                self.kiosk_tokens[slug] = [kiosk_store.register(db, slug, f"Replay {i + 1}")[1] for i in range(n)]
        finally:
            db.close()

    def start(self) -> "Server":
        env = {**os.environ, "SURVEY_DATABASE": str(self.database), "SURVEY_SECRET_KEY": secrets.token_hex(32),
               "SURVEY_TRUSTED_PROXIES": "1", "PYTHONPATH": str(ROOT), **self.extra_env}
        if self.clock:
            env.update(SURVEY_TESTING="true", SURVEY_TEST_CLOCK="true")
        log = open(self.folder / "gunicorn.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "survey:create_app()"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within 90 s:\n{(self.folder / 'gunicorn.log').read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- clients ----------------------------------------------------------------------------------

class Identity:
    """One client: an address and a cookie jar, talking HTTP/1.1 keep-alive to the server."""

    def __init__(self, server: Server, address: str):
        self.server, self.address = server, address
        self.cookies: dict[str, str] = {}
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        return conn

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                at: datetime | None = None) -> tuple[int, str]:
        headers = {"X-Forwarded-For": self.address, **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if at is not None and self.server.clock:
            headers["X-Test-Clock"] = at.astimezone(timezone.utc).isoformat()
        for attempt in range(3):
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers)
                answer = conn.getresponse()
                text = answer.read().decode("utf-8", "replace")
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        for name, value in answer.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                k, _, v = pair.partition("=")
                self.cookies[k.strip()] = v.strip()
        return answer.status, text

    def fetch_form(self, slug: str, at: datetime | None = None) -> list[tuple[str, str]]:
        status, html = self.request("GET", f"/u/{slug}", at=at)
        if status != 200:
            raise RuntimeError(f"GET /u/{slug}: {status}")
        return [(a["name"], a.get("value", "")) for a in map(_attrs, HIDDEN.findall(html)) if "name" in a]

    def post_form(self, slug: str, hidden: list[tuple[str, str]], answers: str, respondent: dict[str, str],
                  criteria: list[str], at: datetime | None = None) -> int:
        pairs = list(hidden) + list(zip(criteria, answers)) + list(respondent.items())
        status, _ = self.request("POST", f"/u/{slug}", body=urllib.parse.urlencode(pairs).encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}, at=at)
        return status


def honest_answers(rng: random.Random, n: int) -> str:
    """A citizen's answers: around a personal level; one in twenty gives the same answer throughout."""
    level = rng.choice([2.5, 3, 3.5, 3.5, 4, 4, 4, 4.5, 4.5, 5])
    if rng.random() < 0.05:
        return str(int(min(5, max(1, round(level))))) * n
    return "".join(str(min(5, max(1, round(rng.gauss(level, 0.9))))) for _ in range(n))


def stuffed_answers(rng: random.Random, n: int) -> str:
    """Mostly 5 (as in the reproduced attack), a few 4s so that not every form is identical."""
    return "".join("5" if rng.random() < 0.85 else "4" for _ in range(n))


# --- traffic ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    submitted: dict[str, list[str]] = field(default_factory=dict)     # group -> submission ids stored (303)
    refused: dict[str, int] = field(default_factory=dict)             # group -> refused submissions (429)
    errors: dict[str, int] = field(default_factory=dict)

    def stored(self, group: str, submission_id: str) -> None:
        self.submitted.setdefault(group, []).append(submission_id)

    def count(self, book: dict, group: str) -> None:
        book[group] = book.get(group, 0) + 1


_lock = threading.Lock()


def _submit(server: Server, who: Identity, slug: str, hidden, answers: str, at, group: str, out: Outcome) -> None:
    status = who.post_form(slug, hidden, answers, server.respondent, server.criteria, at=at)
    submission_id = dict(hidden)["submission_id"]
    with _lock:
        if status == 303:
            out.stored(group, submission_id)
        elif status == 429:
            out.count(out.refused, group)
        else:
            out.count(out.errors, f"{group}: HTTP {status}")


@dataclass
class Event:
    at: datetime
    order: int
    run: object            # callable()


def honest_events(server: Server, start: datetime, *, citizens: int, addresses: int, units: list[str],
                  minutes: float = 60, seed: int = 1, group: str = "honest", out: Outcome,
                  shared_max: int = 10, duration=(120, 480)) -> list[Event]:
    """``citizens`` people from ``addresses`` addresses (some shared by up to ``shared_max``), each opening the
    form at a random moment of ``minutes`` and sending it 2-8 minutes later."""
    rng = random.Random(seed)
    # Addresses: a tenth are busy (an office router, carrier NAT) and take up to shared_max citizens each.
    slots: list[int] = []
    busy = max(1, addresses // 10)
    for a in range(addresses):
        slots += [a] * (shared_max if a < busy else 2)
    rng.shuffle(slots)
    chosen = slots[:citizens]
    while len(chosen) < citizens:
        chosen.append(rng.randrange(addresses))
    events = []
    for c in range(citizens):
        who = Identity(server, f"10.{(chosen[c] >> 8) & 255}.{chosen[c] & 255}.{7 + seed % 200}")
        slug = units[c % len(units)]
        opened = start + timedelta(seconds=rng.uniform(0, minutes * 60))
        sent = opened + timedelta(seconds=rng.uniform(*duration))
        answers = honest_answers(rng, len(server.criteria))
        state: dict = {}

        def fetch(who=who, slug=slug, opened=opened, state=state):
            state["hidden"] = who.fetch_form(slug, at=opened)

        def send(who=who, slug=slug, sent=sent, answers=answers, state=state):
            _submit(server, who, slug, state["hidden"], answers, sent, group, out)

        events += [Event(opened, 0, fetch), Event(sent, 1, send)]
    return events


def run_events(events: list[Event], threads: int = 1, window: float = 30) -> None:
    """Run events in time order (threads > 1: those within ``window`` seconds of each other concurrently;
    a citizen's form is sent at least two minutes after it was fetched, so never in the same window)."""
    events.sort(key=lambda e: (e.at, e.order))
    if threads <= 1:
        for e in events:
            e.run()
        return
    with ThreadPoolExecutor(threads) as pool:
        batch: list[Event] = []
        for e in events:
            if batch and (e.at - batch[0].at).total_seconds() >= window:
                list(pool.map(lambda x: x.run(), batch))
                batch = []
            batch.append(e)
        list(pool.map(lambda x: x.run(), batch))


def bulk_attack(server: Server, slug: str, start: datetime | None, *, forms: int = 300, keys: int = 1,
                wait: float = 70, fetch_seconds: float = 3.3, post_seconds: float = 4.8, out: Outcome,
                group: str = "bulk", seed: int = 2, threads: int = 8) -> None:
    """Fetch ``forms`` forms (in ``fetch_seconds``), wait ``wait`` s, post them all (in ``post_seconds``),
    mostly "5"; spread over ``keys`` clients (each its own address and cookie jar). ``start`` None: real time."""
    rng = random.Random(seed)
    identities = [Identity(server, f"203.0.113.{1 + k}") for k in range(keys)]
    plan = [(identities[i % keys], i) for i in range(forms)]

    def when(offset: float) -> datetime | None:
        return None if start is None else start + timedelta(seconds=offset)

    forms_of: dict[int, list] = {}
    for who in identities:            # one visit first, so that each cookie jar holds its session
        who.request("GET", f"/u/{slug}", at=when(0))

    def fetch(item):
        who, i = item
        forms_of[i] = who.fetch_form(slug, at=when(fetch_seconds * i / forms))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fetch, plan))
    if start is None:
        time.sleep(wait)
    answers = [stuffed_answers(rng, len(server.criteria)) for _ in range(forms)]

    def post(item):
        who, i = item
        _submit(server, who, slug, forms_of[i], answers[i], when(fetch_seconds + wait + post_seconds * i / forms),
                group, out)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, plan))


def flood_attack(server: Server, slug: str, start: datetime | None, *, threads: int = 40, seconds: float = 20,
                 total: int | None = None, keys: int = 1, out: Outcome, group: str = "flood", seed: int = 3) -> None:
    """``threads`` threads fetching and posting forms as fast as they can for ``seconds`` (or ``total``
    submissions), mostly "5"; each thread keeps its own cookie jar; ``keys`` addresses (1: all from one)."""
    rng = random.Random(seed)
    deadline = time.time() + seconds
    counter = iter(range(10 ** 9))
    lock = threading.Lock()

    def worker(t: int) -> None:
        who = Identity(server, f"198.51.100.{1 + t % keys}")
        while True:
            with lock:
                i = next(counter)
            if (total is not None and i >= total) or (total is None and time.time() > deadline):
                return
            at = None if start is None else start + timedelta(seconds=seconds * i / max(total or 1, 1))
            hidden = who.fetch_form(slug, at=at)
            _submit(server, who, slug, hidden, stuffed_answers(rng, len(server.criteria)), at, group, out)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))


def kiosk_attack(server: Server, slug: str, start: datetime | None, *, responses: int = 60, kiosks: int = 1,
                 spread_hours: float = 2, out: Outcome, group: str = "kiosk", seed: int = 4) -> None:
    """``responses`` kiosk API submissions within one second, their client times spread over
    ``spread_hours`` before now, from ``kiosks`` of the unit's kiosks (round robin)."""
    rng = random.Random(seed)
    tokens = server.kiosk_tokens[slug][:kiosks]
    now = start or datetime.now(timezone.utc)
    qid, version = server.questionnaire
    senders = [Identity(server, f"192.0.2.{10 + k}") for k in range(len(tokens))]
    for i in range(responses):
        k = i % len(tokens)
        submitted = now - timedelta(hours=spread_hours) + timedelta(seconds=spread_hours * 3600 * i / responses)
        answers = stuffed_answers(rng, len(server.criteria))
        body = {"submission_id": str(uuid.uuid4()), "questionnaire_id": qid, "version": version, "unit": slug,
                "lang": "vi", "started_at": (submitted - timedelta(minutes=3)).isoformat(),
                "submitted_at": submitted.isoformat(),
                "answers": {c: int(a) for c, a in zip(server.criteria, answers)}, "respondent": server.respondent}
        status, _ = senders[k].request("POST", "/k/api/responses", body=json.dumps(body).encode(),
                                       headers={"Content-Type": "application/json",
                                                "Authorization": f"Kiosk {tokens[k]}"},
                                       at=None if start is None else now + timedelta(milliseconds=900 * i / responses))
        with _lock:
            if status == 201:
                out.stored(group, body["submission_id"])
            elif status == 429:
                out.count(out.refused, group)
            else:
                out.count(out.errors, f"{group}: HTTP {status}")


# --- what came of it --------------------------------------------------------------------------

def index_of(database: Path, slug: str, *extra: str) -> float:
    """The unit's INDEX:ITEM_AVG (in %) from ``python -m analysis indices --db`` (default settings)."""
    done = subprocess.run([sys.executable, "-m", "analysis", "indices", "--db", str(database), "--out", "-",
                           "--quiet", *extra], cwd=ROOT, capture_output=True, text=True, check=True)
    for row in csv.DictReader(io.StringIO(done.stdout)):
        if row["district"] == slug and row["measure"] == "INDEX:ITEM_AVG":
            return 100 * float(row["p"])
    raise LookupError(f"no INDEX:ITEM_AVG row for {slug}")


def held_ids(database: Path, submission_ids: list[str]) -> list[str]:
    """Which of ``submission_ids`` are held for review (or excluded after it)."""
    import sqlite3

    conn = sqlite3.connect(database)
    try:
        held = set()
        for start in range(0, len(submission_ids), 500):
            chunk = submission_ids[start:start + 500]
            held |= {r[0] for r in conn.execute(
                f"SELECT r.uuid FROM responses r JOIN integrity_holds h ON h.response_id = r.id "
                f"WHERE h.state <> 'accepted' AND r.uuid IN ({', '.join('?' for _ in chunk)})", chunk)}
        return sorted(held)
    finally:
        conn.close()
