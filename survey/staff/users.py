"""Staff accounts, roles and sign-in throttling.

Roles are ordered: ``staff`` (monitoring) < ``analyst`` (also exports and
reports) < ``admin`` (also users, units, targets, kiosks). Passwords are hashed
with werkzeug's default (scrypt). Failed sign-ins are counted per user name in
the database (also for names that do not exist, so that probing names learns
nothing) and per client address in memory only.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlite_utils
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from ..labels import N_
from . import periods
from ..db import write_transaction

ROLES = ("staff", "analyst", "admin")
ROLE_HELP = {  # gettext messages, translated when shown
    "staff": N_("monitoring: dashboard, comments, data quality and exclusions"),
    "analyst": N_("as staff, plus exports and reports"),
    "admin": N_("as analyst, plus users, targets, fieldwork period and kiosks"),
}
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
PASSWORD_MIN_LENGTH = 10
MAX_LOCK_SECONDS = 3600
# Checked when the user name is unknown, so that a wrong name costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class UserError(ValueError):
    """A user could not be created or changed; the message says why."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    password_hash: str
    disabled_at: str | None
    lang: str | None = None  # the language the staff member chose for the staff pages (None: default)

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def session_check(self) -> str:
        """Changes when the password changes, which signs out other sessions."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]


def _now() -> str:
    return periods.now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")


def check_username(username: str) -> str:
    if not USERNAME.match(username or ""):
        raise UserError(_("The user name “%(name)s” must be 1–64 letters, digits or . _ @ -.", name=username))
    return username


def check_password(password: str) -> str:
    if len(password or "") < PASSWORD_MIN_LENGTH:
        raise UserError(_("The password must have at least %(n)s characters.", n=PASSWORD_MIN_LENGTH))
    if password != password.strip():
        raise UserError(_("The password must not begin or end with a space."))
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(_("The role “%(role)s” is not one of %(roles)s.", role=role, roles=", ".join(ROLES)))
    return role


def _user(row: dict | None) -> User | None:
    if row is None:
        return None
    return User(row["id"], row["username"], row["role"], row["password_hash"], row["disabled_at"],
                row.get("lang"))


def get(db: sqlite_utils.Database, user_id: int) -> User | None:
    return _user(next(db.query("SELECT * FROM users WHERE id = ?", [user_id]), None))


def by_name(db: sqlite_utils.Database, username: str) -> User | None:
    return _user(next(db.query("SELECT * FROM users WHERE username = ?", [username]), None))


def all_users(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query(
        "SELECT u.*, a.failures, a.locked_until FROM users u "
        "LEFT JOIN login_attempts a ON a.username = u.username ORDER BY u.username COLLATE NOCASE"))


def create(db: sqlite_utils.Database, username: str, password: str, role: str, *, by: str | None = None) -> User:
    check_username(username)
    check_password(password)
    check_role(role)
    with write_transaction(db):
        if by_name(db, username) is not None:
            raise UserError(_("The user “%(name)s” already exists.", name=username))
        cursor = db.execute(
            "INSERT INTO users (username, password_hash, role, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
            [username, generate_password_hash(password), role, _now(), by])
    return get(db, cursor.lastrowid)


def set_language(db: sqlite_utils.Database, user_id: int, lang: str) -> None:
    """Remember the language a staff member chose for the staff pages."""
    if lang not in ("vi", "en"):
        raise UserError(_("The language “%(lang)s” is not vi or en.", lang=lang))
    with write_transaction(db):
        db.execute("UPDATE users SET lang = ? WHERE id = ?", [lang, user_id])


def set_password(db: sqlite_utils.Database, username: str, password: str) -> None:
    """Set a new password; this also lifts a lock-out and signs out the user's sessions."""
    check_password(password)
    with write_transaction(db):
        if db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                      [generate_password_hash(password), username]).rowcount != 1:
            raise UserError(_("There is no user “%(name)s”.", name=username))
        db.execute("DELETE FROM login_attempts WHERE username = ?", [username])


def set_role(db: sqlite_utils.Database, user_id: int, role: str, *, acting: User) -> None:
    check_role(role)
    with write_transaction(db):
        target = get(db, user_id)
        if target is None:
            raise UserError(_("There is no user with id %(id)s.", id=user_id))
        if target.role == "admin" and role != "admin":
            _keep_an_admin(db, target, acting)
        db.execute("UPDATE users SET role = ? WHERE id = ?", [role, user_id])


def set_disabled(db: sqlite_utils.Database, user_id: int, disabled: bool, *, acting: User) -> None:
    with write_transaction(db):
        target = get(db, user_id)
        if target is None:
            raise UserError(_("There is no user with id %(id)s.", id=user_id))
        if disabled and target.role == "admin":
            _keep_an_admin(db, target, acting)
        db.execute("UPDATE users SET disabled_at = ? WHERE id = ?", [_now() if disabled else None, user_id])


def _keep_an_admin(db: sqlite_utils.Database, target: User, acting: User) -> None:
    if target.id == acting.id:
        raise UserError(_("You cannot take away your own admin role or account; ask another admin."))
    others = db.execute("SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id != ?",
                        [target.id]).fetchone()[0]
    if others == 0:
        raise UserError(_("There must remain at least one active admin."))


def unlock(db: sqlite_utils.Database, username: str) -> None:
    db.execute("DELETE FROM login_attempts WHERE username = ?", [username])


# --- Signing in -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignIn:
    user: User | None
    locked_seconds: int = 0  # > 0: refused without checking the password


def lock_remaining(db: sqlite_utils.Database, username: str) -> int:
    row = next(db.query("SELECT locked_until FROM login_attempts WHERE username = ?", [username]), None)
    if not row or not row["locked_until"]:
        return 0
    until = datetime.strptime(row["locked_until"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return max(0, int((until - periods.now_utc()).total_seconds() + 0.999))


def authenticate(db: sqlite_utils.Database, username: str, password: str, *,
                 max_failures: int, lockout_seconds: int) -> SignIn:
    """Check a sign-in; count failures per user name and lock after ``max_failures`` in a row.

    The lock lasts ``lockout_seconds``, doubled by each further failure (up to
    an hour). While locked, even the right password is refused.
    """
    username = (username or "").strip()[:64]
    remaining = lock_remaining(db, username)
    if remaining:
        return SignIn(None, remaining)
    user = by_name(db, username) if username else None
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user and ok and user.disabled_at is None:
        with write_transaction(db):
            db.execute("DELETE FROM login_attempts WHERE username = ?", [username])
            db.execute("UPDATE users SET last_login_at = ? WHERE id = ?", [_now(), user.id])
        return SignIn(user)
    _record_failure(db, username or "(empty)", max_failures, lockout_seconds)
    return SignIn(None, lock_remaining(db, username))


def _record_failure(db: sqlite_utils.Database, username: str, max_failures: int, lockout_seconds: int) -> None:
    now = periods.now_utc()
    with write_transaction(db):
        db.execute("INSERT INTO login_attempts (username, failures, last_failure_at) VALUES (?, 1, ?) "
                   "ON CONFLICT (username) DO UPDATE SET failures = failures + 1, "
                   "last_failure_at = excluded.last_failure_at", [username, _now()])
        failures = db.execute("SELECT failures FROM login_attempts WHERE username = ?", [username]).fetchone()[0]
        if failures >= max_failures:
            seconds = min(MAX_LOCK_SECONDS, lockout_seconds * 2 ** min(failures - max_failures, 20))
            until = (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
            db.execute("UPDATE login_attempts SET locked_until = ? WHERE username = ?", [until, username])
        # Forget stale failures of names nobody uses, so the table stays small.
        cutoff = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        db.execute("DELETE FROM login_attempts WHERE last_failure_at < ? AND (locked_until IS NULL OR "
                   "locked_until < ?)", [cutoff, _now()])


class AddressLimiter:
    """Failed sign-ins per client address in a sliding window, in memory only.

    Addresses are kept as salted hashes for at most the window and never written
    anywhere. (With several server processes each keeps its own count.)
    """

    def __init__(self, window_seconds: int = 15 * 60):
        self.window = window_seconds
        self._salt = str(time.time_ns()).encode()
        self._failures: dict[bytes, deque[float]] = {}
        self._lock = threading.Lock()

    def _key(self, address: str | None) -> bytes:
        return hashlib.sha256(self._salt + (address or "-").encode()).digest()

    def _recent(self, key: bytes, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked_seconds(self, address: str | None, limit: int) -> int:
        now = time.monotonic()
        with self._lock:
            times = self._recent(self._key(address), now)
            if len(times) < limit:
                return 0
            return max(1, int(times[0] + self.window - now + 0.999))

    def failed(self, address: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(self._key(address), now).append(now)
            if len(self._failures) > 10_000:  # drop addresses with nothing recent
                for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
                    del self._failures[key]

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
