"""Attacks on a real server: gunicorn (several worker processes) on a free port of
127.0.0.1, serving an instance folder of its own (config.py with a random
SECRET_KEY written by the real ``init-db``, a real SQLite file), driven over real
HTTP by a small client that keeps cookies and never follows redirects."""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Browser:
    """One client: a cookie jar (name=value only), no redirects followed."""

    def __init__(self, port: int, headers: dict[str, str] | None = None):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, data: dict | bytes | str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 60) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            send = {**self.headers, **(headers or {})}
            if self.cookies:
                send.setdefault("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
            body = None
            if isinstance(data, dict):
                body = urlencode(data).encode()
                send.setdefault("Content-Type", "application/x-www-form-urlencoded")
            elif isinstance(data, str):
                body = data.encode()
            elif data is not None:
                body = data
            conn.request(method, path, body=body, headers=send)
            raw = conn.getresponse()
            payload = raw.read()
            header_list = raw.getheaders()
        finally:
            conn.close()
        for name, value in header_list:
            if name.lower() == "set-cookie":
                cookie = value.split(";", 1)[0]
                key, _, val = cookie.partition("=")
                if val == "" or "expires=thu, 01 jan 1970" in value.lower() or "max-age=0" in value.lower():
                    self.cookies.pop(key.strip(), None)
                else:
                    self.cookies[key.strip()] = val
        return Answer(raw.status, {k.lower(): v for k, v in header_list}, payload, header_list)

    def get(self, path: str, **kw) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, data=None, **kw) -> Answer:
        return self.request("POST", path, data, **kw)

    def csrf(self, path: str = "/staff/login") -> str:
        answer = self.get(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', answer.text)
        assert match, f"no CSRF token on {path}: {answer.status} {answer.text[:300]}"
        return match.group(1)

    def login(self, username: str, password: str = PASSWORD) -> Answer:
        return self.post("/staff/login", {"username": username, "password": password, "csrf_token": self.csrf()})

    def post_form(self, path: str, data: dict, token_page: str = "/staff/account/password") -> Answer:
        return self.post(path, {**data, "csrf_token": self.csrf(token_page)})


class Server:
    """gunicorn with the project's gunicorn.conf.py, on an instance folder of its own."""

    def __init__(self, folder: Path, *, workers: int = 3, env: dict[str, str] | None = None):
        self.folder = folder
        self.instance = folder / "instance"
        self.workers = workers
        self.env = {**os.environ, "HOME": str(folder), **(env or {})}
        self.env.pop("SURVEY_DATABASE", None)
        self.port = free_port()
        self.log = folder / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def app_spec(self) -> str:
        return f"survey:create_app(instance_path={str(self.instance)!r})"

    @property
    def database(self) -> Path:
        return self.instance / "survey.sqlite3"

    def flask(self, *args: str, input: str | None = None, check: bool = True, env: dict | None = None):
        result = subprocess.run([sys.executable, "-m", "flask", "--app", self.app_spec, *args], cwd=ROOT,
                                env={**self.env, **(env or {})}, input=input, capture_output=True, text=True,
                                timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def init(self, demo: bool = True) -> "Server":
        self.flask("init-db", *(["--demo"] if demo else []))
        return self

    def create_user(self, name: str, role: str = "admin", password: str = PASSWORD) -> None:
        self.flask("create-user", name, "--role", role, input=password + "\n")

    def start(self, extra_args: list[str] | None = None, wait: bool = True) -> "Server":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "-b",
             f"127.0.0.1:{self.port}", "--workers", str(self.workers), *(extra_args or []), self.app_spec],
            cwd=ROOT, env=self.env, stdout=open(self.log, "a"), stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if self.browser().get("/", timeout=5).status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"gunicorn did not answer within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def browser(self, headers: dict[str, str] | None = None) -> Browser:
        return Browser(self.port, headers)

    def rows(self, sql: str, params=()) -> list[dict]:
        import sqlite3

        conn = sqlite3.connect(self.database)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, params)]
        finally:
            conn.close()


@pytest.fixture
def make_server(tmp_path):
    """``make_server(workers=3, env={...})``: an initialised (not yet started) server; stopped at the end."""
    servers = []

    def make(**kw) -> Server:
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        server = Server(folder, **kw)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def running_server(folder: Path, **kw) -> Server:
    """A server initialised in ``folder``, with the admin "boss" (password PASSWORD), started."""
    server = Server(folder, **kw)
    server.init()
    server.create_user("boss", "admin")
    server.start()
    return server


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One running server (3 workers, TRUSTED_PROXIES=1 so tests can speak from several addresses
    with X-Forwarded-For) for the tests of a module that do not change its settings."""
    server = running_server(tmp_path_factory.mktemp("shared"), env={"SURVEY_TRUSTED_PROXIES": "1"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A running server of the module's own, default settings, with the admin "boss" (a module that
    needs more in it defines its own ``server``)."""
    server = running_server(tmp_path_factory.mktemp("server"))
    yield server
    server.stop()


def from_address(server: Server, address: str) -> Browser:
    """A client that the app sees at ``address`` (the server must trust one proxy)."""
    return server.browser({"X-Forwarded-For": address})


def jsonable(answer: Answer):
    return json.loads(answer.text)


def add_kiosk(server: Server, unit: str = "phuong-sai-gon") -> str:
    """Register a kiosk (a new name each time) with the real CLI; return its token."""
    import uuid

    # --force: the test server listens on this computer's loopback address, which add-kiosk refuses otherwise
    out = server.flask("add-kiosk", "--unit", unit, "--name", f"Quầy {uuid.uuid4().hex[:6]}", "--force").stdout
    match = re.search(r"/k/([A-Za-z0-9_-]{20,100})", out)
    assert match, out
    return match.group(1)


def kiosk_body(**changes) -> dict:
    import uuid
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    iso = lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    body = {"submission_id": str(uuid.uuid4()), "questionnaire_id": "sipas-hcm-26", "version": 1, "unit": "phuong-sai-gon",
            "lang": "vi", "started_at": iso(now - timedelta(minutes=4)), "submitted_at": iso(now),
            "answers": {f"q{n:02d}": str(1 + n % 5) for n in range(1, 27)},
            "respondent": {"respondent_type": "individual", "gender": "female", "age_band": "35-49", "field": "land"},
            "comment": None}
    body.update(changes)
    return body


def kiosk_post(browser: Browser, token: str, body) -> Answer:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return browser.post("/k/api/responses", data, headers={"Authorization": f"Kiosk {token}",
                                                           "Content-Type": "application/json"})
