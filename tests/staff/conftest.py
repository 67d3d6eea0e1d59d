"""Fixtures for the staff monitoring tests: a real SQLite file with the demo
units, a small questionnaire, known responses, users of each role, and a
client that signs in through the real form (with its CSRF token)."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from survey import create_app
from survey import db as database
from survey import migrations, responses, units
from survey.staff import periods

PASSWORD = "correct horse battery"
QID = "test-q"
CRITERIA = [f"q{i:02d}" for i in range(1, 13)]
# A fixed 'now': Wednesday 12 March 2025, 10:00 in Ho Chi Minh City (03:00 UTC).
NOW = datetime(2025, 3, 12, 3, 0, tzinfo=timezone.utc)


def definition(version: int = 1, criteria: list[str] = CRITERIA) -> dict:
    text = {"vi": "Câu hỏi", "en": "Question"}
    return {
        "id": QID, "version": version, "title": {"vi": "Phiếu thử", "en": "Test form"},
        "scale": {"min": 1, "max": 5, "satisfied_from": 4,
                  "labels": {str(i): {"vi": str(i), "en": str(i)} for i in range(1, 6)},
                  "not_applicable": {"vi": "Không áp dụng", "en": "Not applicable"}},
        "factors": [{"code": "f1", "text": text, "part": "services"}],
        "criteria": [{"code": c, "factor": "f1", "text": text, "weight": 1, "not_applicable": True,
                      "source": "test"} for c in criteria],
        "respondent": [{"code": "field", "text": {"vi": "Lĩnh vực", "en": "Field"}, "required": False,
                        "options": [{"code": "land", "text": {"vi": "Đất đai", "en": "Land"}},
                                    {"code": "civil", "text": {"vi": "Hộ tịch", "en": "Civil status"}}]}],
        "comment": {"max_length": 1200, "text": {"vi": "Góp ý", "en": "Comment"}},
    }


def register_questionnaire(db, version: int = 1, criteria: list[str] = CRITERIA) -> None:
    db.execute("INSERT INTO questionnaires (id, version, definition, checksum, loaded_at) VALUES (?, ?, ?, ?, ?)",
               [QID, version, json.dumps(definition(version, criteria), ensure_ascii=False), f"test-{version}",
                "2025-01-01T00:00:00Z"])


def build_db(path) -> "sqlite_utils.Database":
    db = database.connect(path)
    migrations.migrate(db)
    units.load_demo(db)
    register_questionnaire(db)
    return db


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(text: str) -> datetime:
    """'2025-03-12 09:30' in Ho Chi Minh City time as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc) - timedelta(hours=7)


def make_response(unit_id: int, submitted: datetime, *, channel: str = "web", kiosk_id: int | None = None,
                  answers: str = "453453453453", duration: float = 200.0, comment: str | None = None,
                  field: str | None = "land", version: int = 1, lang: str = "vi") -> responses.Response:
    return responses.Response(
        uuid=str(uuid.uuid4()), questionnaire_id=QID, questionnaire_version=version, unit_id=unit_id,
        channel=channel, lang=lang, started_at=stamp(submitted - timedelta(seconds=duration)),
        submitted_at=stamp(submitted), answers=answers, respondent={"field": field}, comment=comment,
        kiosk_id=kiosk_id)


def unit_id(db, slug: str) -> int:
    return db.execute("SELECT id FROM units WHERE slug = ?", [slug]).fetchone()[0]


def add_kiosk(db, slug: str, name: str = "Kiosk A") -> int:
    return db.execute("INSERT INTO kiosks (unit_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                      [unit_id(db, slug), name, f"test:{uuid.uuid4()}", "2025-01-01T00:00:00Z"]).lastrowid


@pytest.fixture
def clock(monkeypatch):
    """Fix 'now' at NOW; ``clock.set(datetime)`` moves it."""
    class Clock:
        now = NOW

        def set(self, moment: datetime) -> None:
            self.now = moment

    c = Clock()
    monkeypatch.setattr(periods, "now_utc", lambda: c.now)
    return c


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "survey.sqlite3"


@pytest.fixture
def db(db_path):
    db = build_db(db_path)
    yield db
    db.close()


@pytest.fixture
def app(db, db_path):
    app = create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "test-secret",
                      "STAFF_DEFAULT_LANGUAGE": "en",  # these tests read English; tests/staff/test_i18n.py reads Vietnamese
                      "DEFAULT_QUESTIONNAIRE": QID, "LOGIN_LOCKOUT_SECONDS": 60})
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path: str = "/staff/login") -> str:
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Staff:
    """Creates users and signs in through the real login form."""

    def __init__(self, client, db):
        self.client = client
        self.db = db

    def create(self, name: str, role: str):
        from survey.staff import users

        return users.create(self.db, name, PASSWORD, role)

    def login(self, name: str, password: str = PASSWORD, next_url: str | None = None):
        data = {"username": name, "password": password, "csrf_token": csrf_token(self.client)}
        if next_url:
            data["next"] = next_url
        return self.client.post("/staff/login", data=data)

    def as_role(self, role: str):
        """Sign in as a (new) user of ``role``; returns the user."""
        user = self.create(f"{role}-user", role)
        response = self.login(user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    def post(self, path: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", csrf_token(self.client, "/staff/account/password"))
        return self.client.post(path, data=data, **kwargs)


@pytest.fixture
def staff(client, db):
    return Staff(client, db)
