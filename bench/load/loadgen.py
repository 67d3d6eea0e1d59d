"""A small asyncio HTTP/1.1 load generator for the citizen flow.

Each simulated citizen does what a browser does: GET the form (keeping the
session cookie), then POST every radio group, required select and hidden field
(CSRF token, submission id, ...) back, and follows nothing else. The form's
structure is learnt once from the first page; per survey only the hidden
fields are read, so the generator stays light on the CPU it shares with the
server.

Two modes:
- closed loop: ``clients`` citizens, each starting a new survey as soon as the
  last one finished (capacity);
- open loop: surveys *arrive* at ``rate`` per second whatever the server does
  (service level), so slow responses cannot hide queueing.
"""
from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>', re.I)
RADIO = re.compile(r'<input[^>]*type="radio"[^>]*>', re.I)
SELECT = re.compile(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', re.I | re.S)
OPTION = re.compile(r'<option[^>]*value="([^"]+)"', re.I)
ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')
FORM_ACTION = re.compile(r'<form[^>]*method="post"[^>]*>', re.I)


def _attrs(tag: str) -> dict[str, str]:
    return dict(ATTR.findall(tag))


@dataclass
class FormShape:
    """What to answer: radio groups (name -> values), selects (name -> first real option), action."""
    radios: dict[str, list[str]]
    selects: dict[str, str]
    action: str | None

    @classmethod
    def learn(cls, html: str) -> "FormShape":
        radios: dict[str, list[str]] = {}
        for tag in RADIO.findall(html):
            a = _attrs(tag)
            radios.setdefault(a["name"], []).append(a.get("value", "on"))
        selects = {}
        for name, body in SELECT.findall(html):
            options = [v for v in OPTION.findall(body) if v]
            if options:
                selects[name] = options[0]
        forms = FORM_ACTION.findall(html)
        action = _attrs(forms[0]).get("action") if forms else None
        return cls(radios, selects, action)

    def answers(self, rng: random.Random) -> list[tuple[str, str]]:
        pairs = []
        for name, values in self.radios.items():
            numeric = [v for v in values if v in "12345"] or values
            pairs.append((name, rng.choice(numeric)))
        pairs.extend(self.selects.items())
        return pairs


@dataclass
class Stats:
    request_ms: list[float] = field(default_factory=list)
    survey_ms: list[float] = field(default_factory=list)
    completed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    locked: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Client:
    """One connection-less HTTP/1.1 client with a cookie jar (gunicorn's sync workers close each connection)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.forwarded_for: str | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], str]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: close",
                    "User-Agent: sipas-loadgen", "Accept-Language: vi"]
            if self.forwarded_for:
                head.append(f"X-Forwarded-For: {self.forwarded_for}")
            if self.cookies:
                head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
            if method == "POST":
                head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        header_blob, _, payload = raw.partition(b"\r\n\r\n")
        lines = header_blob.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cookie = value.split(";", 1)[0]
                key, _, val = cookie.partition("=")
                self.cookies[key] = val
            headers[name] = value
        if "chunked" in headers.get("transfer-encoding", ""):
            payload = _dechunk(payload)
        return status, headers, payload.decode("utf-8", "replace")


def _dechunk(data: bytes) -> bytes:
    out, rest = b"", data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2:]
    return out


class KeepAliveClient:
    """An aiohttp session for one simulated citizen: its own cookie jar, its connection kept alive and
    reused from request to request (as a browser does), redirects not followed automatically."""

    def __init__(self, session):
        self.session = session
        self.forwarded_for: str | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], str]:
        headers = {"Accept-Language": "vi", "User-Agent": "sipas-loadgen"}
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with self.session.request(method, path, data=body if method == "POST" else None,
                                        headers=headers, allow_redirects=False) as response:
            text = await response.text()
            return response.status, {k.lower(): v for k, v in response.headers.items()}, text


class Citizen:
    def __init__(self, base: str, form_path: str, shape: FormShape, stats: Stats, seed: int):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.form_path, self.shape, self.stats = form_path, shape, stats
        self.rng = random.Random(seed)

    async def _timed(self, client: Client, method: str, path: str, body: bytes = b""):
        t0 = time.perf_counter()
        result = await client.request(method, path, body)
        self.stats.request_ms.append((time.perf_counter() - t0) * 1000)
        return result

    async def survey(self, client=None) -> None:
        client = client or Client(self.host, self.port)
        # Each survey is another citizen on their own phone: their own address, as the proxy in front
        # of the server reports it (the platform runs with TRUSTED_PROXIES=1 in bench_load.py), so the
        # per-address limits and checks see what they would in the field, not one address sending all.
        client.forwarded_for = f"10.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"
        t0 = time.perf_counter()
        try:
            status, _, html = await self._timed(client, "GET", self.form_path)
            if status != 200:
                self.stats.error(f"GET {status}")
                return
            fields = [(a["name"], a.get("value", "")) for a in map(_attrs, HIDDEN.findall(html)) if "name" in a]
            body = urlencode(fields + self.shape.answers(self.rng)).encode()
            status, headers, text = await self._timed(client, "POST", self.shape.action or self.form_path, body)
            if status in (302, 303):
                status, _, text = await self._timed(client, "GET", urlsplit(headers["location"]).path)
            if status != 200:
                self.stats.error(f"POST {status}")
                if "database is locked" in text:
                    self.stats.locked += 1
                return
            self.stats.completed += 1
            self.stats.survey_ms.append((time.perf_counter() - t0) * 1000)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError, asyncio.TimeoutError) as exc:
            self.stats.error(type(exc).__name__)
        except Exception as exc:                  # aiohttp's ClientError and friends
            self.stats.error(type(exc).__name__)


async def learn(base: str, form_path: str) -> FormShape:
    parts = urlsplit(base)
    _, _, html = await Client(parts.hostname or "127.0.0.1", parts.port or 80).request("GET", form_path)
    return FormShape.learn(html)


async def closed_loop(base: str, form_path: str, clients: int, seconds: float, seed: int = 1) -> tuple[Stats, float]:
    shape = await learn(base, form_path)
    stats = Stats()
    deadline = time.perf_counter() + seconds

    async def user(i: int) -> None:
        citizen = Citizen(base, form_path, shape, stats, seed * 1000 + i)
        while time.perf_counter() < deadline:
            await citizen.survey()

    start = time.perf_counter()
    await asyncio.gather(*(user(i) for i in range(clients)))
    return stats, time.perf_counter() - start


async def open_loop(base: str, form_path: str, rate: float, seconds: float, seed: int = 1) -> tuple[Stats, float]:
    shape = await learn(base, form_path)
    stats = Stats()
    tasks = []
    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(Citizen(base, form_path, shape, stats, seed * 100000 + i).survey()))
    await asyncio.gather(*tasks)
    return stats, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(name: str, stats: Stats, elapsed: float) -> dict:
    return {
        "run": name,
        "surveys": stats.completed,
        "surveys_per_s": stats.completed / elapsed if elapsed else 0.0,
        "req_p50_ms": percentile(stats.request_ms, 0.50),
        "req_p95_ms": percentile(stats.request_ms, 0.95),
        "req_p99_ms": percentile(stats.request_ms, 0.99),
        "survey_p50_ms": percentile(stats.survey_ms, 0.50),
        "survey_p95_ms": percentile(stats.survey_ms, 0.95),
        "survey_p99_ms": percentile(stats.survey_ms, 0.99),
        "errors": sum(stats.errors.values()),
        "error_kinds": dict(stats.errors),
        "db_locked": stats.locked,
    }


# ---------------------------------------------------------------- aiohttp, connections reused

def _session(base: str):
    import aiohttp

    # One connection per citizen, kept alive between its requests; a cookie jar that accepts 127.0.0.1.
    connector = aiohttp.TCPConnector(limit=1, force_close=False, keepalive_timeout=30)
    return aiohttp.ClientSession(base_url=base, connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 timeout=aiohttp.ClientTimeout(total=60))


async def closed_loop_keepalive(base: str, form_path: str, clients: int, seconds: float,
                                seed: int = 1) -> tuple[Stats, float]:
    """Capacity with ``clients`` citizens, each on its own kept-alive connection (a new cookie jar per survey)."""
    shape = await learn(base, form_path)
    stats = Stats()
    deadline = time.perf_counter() + seconds

    async def user(i: int) -> None:
        citizen = Citizen(base, form_path, shape, stats, seed * 1000 + i)
        async with _session(base) as session:
            while time.perf_counter() < deadline:
                session.cookie_jar.clear()           # the next citizen: no session cookie yet
                await citizen.survey(KeepAliveClient(session))

    start = time.perf_counter()
    await asyncio.gather(*(user(i) for i in range(clients)))
    return stats, time.perf_counter() - start


async def open_loop_keepalive(base: str, form_path: str, rate: float, seconds: float, seed: int = 1,
                              pool: int = 64) -> tuple[Stats, float]:
    """Arrivals at ``rate`` per second whatever the server does; each survey borrows a kept-alive
    connection from a pool of ``pool`` (a new one is opened when none is free)."""
    shape = await learn(base, form_path)
    stats = Stats()
    idle: list = []
    sessions: list = []

    async def one(i: int) -> None:
        session = idle.pop() if idle else None
        if session is None:
            session = _session(base)
            sessions.append(session)
        session.cookie_jar.clear()
        await Citizen(base, form_path, shape, stats, seed * 100000 + i).survey(KeepAliveClient(session))
        if len(idle) < pool:
            idle.append(session)

    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for session in sessions:
        await session.close()
    return stats, elapsed
