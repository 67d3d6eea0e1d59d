"""Staff accounts, roles and sign-in throttling.

Roles are ordered: ``staff`` (monitoring) < ``analyst`` (also exports and
reports) < ``admin`` (also users, units, targets, kiosks). Passwords are hashed
with werkzeug's default (scrypt). Failed sign-ins are counted in the database,
shared by every server process: per user name and device, per device, and per
user name everywhere (also for names that do not exist, so that probing names
learns nothing); see "Signing in" below.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlite_utils
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from ..labels import N_
from . import periods
from .. import throttle
from ..sqlite import write_transaction

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
    """Every user with ``failures`` (failed sign-ins in a row, over all devices) and ``locked_until``
    (the latest lock on any device)."""
    return list(db.query(
        "SELECT u.*, l.failures, l.locked_until FROM users u LEFT JOIN "
        "(SELECT username, sum(failures) AS failures, max(locked_until) AS locked_until FROM login_locks "
        " GROUP BY username COLLATE NOCASE) l ON l.username = u.username ORDER BY u.username COLLATE NOCASE"))


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
        db.execute("DELETE FROM login_locks WHERE username = ?", [username])
        throttle.clear(db, USER_SCOPE, user_key(username))


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
    """Lift every lock of ``username``: on each device and everywhere."""
    with write_transaction(db):
        db.execute("DELETE FROM login_locks WHERE username = ?", [username])
        throttle.clear(db, USER_SCOPE, user_key(username))


# --- Signing in -------------------------------------------------------------------------------
#
# Three limits, all in the database so that every server process shares them:
#   1. per (user name, device): LOGIN_MAX_FAILURES wrong passwords in a row lock that name on
#      that device for LOGIN_LOCKOUT_SECONDS, doubled by each further failure (up to an hour);
#      the same name from another device is not affected, so nobody can lock a colleague out;
#   2. per device (any names): LOGIN_MAX_FAILURES_PER_ADDRESS failures in 15 minutes;
#   3. per user name everywhere: LOGIN_MAX_FAILURES_PER_USER failures in an hour from all
#      devices together (a guessing attack spread over many addresses) lock the name everywhere
#      until the hour is over or an admin unlocks it.
# A "device" is the client address as the app sees it (after TRUSTED_PROXIES), stored only as a
# keyed digest. Each attempt is counted *before* its password is checked and given back when it
# was right, so concurrent attempts can never check more passwords than the limits allow.

ADDRESS_SCOPE, ADDRESS_WINDOW_S = "login-address", 15 * 60
USER_SCOPE, USER_WINDOW_S = "login-user", 3600


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    lockout_seconds: int = 60
    per_address: int = 30
    per_user: int = 50

    @classmethod
    def from_config(cls, config) -> "LoginPolicy":
        return cls(int(config["LOGIN_MAX_FAILURES"]), int(config["LOGIN_LOCKOUT_SECONDS"]),
                   int(config["LOGIN_MAX_FAILURES_PER_ADDRESS"]), int(config["LOGIN_MAX_FAILURES_PER_USER"]))


@dataclass(frozen=True)
class SignIn:
    user: User | None
    locked_seconds: int = 0  # > 0: refused (without checking the password, or this failure set a lock)
    locked_by: str | None = None  # 'device' (this name on this device), 'address' (this device), 'user' (everywhere)


def user_key(username: str) -> str:
    return (username or "").strip()[:64].lower() or "(empty)"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def lock_remaining(db: sqlite_utils.Database, username: str, address_key: str | None = None) -> int:
    """Seconds left of the lock of ``username`` on the device ``address_key`` (None: its longest
    lock on any device)."""
    sql = "SELECT max(locked_until) FROM login_locks WHERE username = ?"
    params = [user_key(username)]
    if address_key is not None:
        sql += " AND address = ?"
        params.append(address_key)
    until = db.execute(sql, params).fetchone()[0]
    if not until:
        return 0
    return max(0, int((_parse(until) - periods.now_utc()).total_seconds() + 0.999))


def locked_everywhere(db: sqlite_utils.Database, username: str, policy: LoginPolicy) -> int:
    """Seconds left of the lock of ``username`` on every device (0: none)."""
    verdict = throttle.hit(db, USER_SCOPE, user_key(username), window_s=USER_WINDOW_S, limit=policy.per_user,
                           cost=0, now=periods.now_utc().timestamp())
    return verdict.retry_after


def _reserve_device(db: sqlite_utils.Database, name: str, address_key: str, policy: LoginPolicy) -> tuple[int, int]:
    """Count one more failure of ``name`` on this device; return (seconds of a lock already in
    force, in which case nothing is counted; seconds of the lock this failure sets, if any)."""
    now = periods.now_utc()
    with write_transaction(db):
        row = db.execute("SELECT failures, locked_until FROM login_locks WHERE username = ? AND address = ?",
                         [name, address_key]).fetchone()
        if row and row[1] and _parse(row[1]) > now:
            return max(1, int((_parse(row[1]) - now).total_seconds() + 0.999)), 0
        failures = (row[0] if row else 0) + 1
        until, seconds = None, 0
        if failures >= policy.max_failures:
            seconds = min(MAX_LOCK_SECONDS, policy.lockout_seconds * 2 ** min(failures - policy.max_failures, 20))
            until = _stamp(now + timedelta(seconds=seconds))
        db.execute("INSERT INTO login_locks (username, address, failures, last_failure_at, locked_until) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (username, address) DO UPDATE SET "
                   "failures = excluded.failures, last_failure_at = excluded.last_failure_at, "
                   "locked_until = excluded.locked_until", [name, address_key, failures, _stamp(now), until])
        # Forget devices that stopped failing a day ago, so the table stays small.
        cutoff = _stamp(now - timedelta(days=1))
        db.execute("DELETE FROM login_locks WHERE last_failure_at < ? AND (locked_until IS NULL OR "
                   "locked_until < ?)", [cutoff, _stamp(now)])
    return 0, seconds


def check_attempt(db: sqlite_utils.Database, username: str, password: str, *, address_key: str,
                  policy: LoginPolicy) -> SignIn:
    """Check ``password`` for ``username`` from the device ``address_key`` under the three limits.

    Used by sign-in and by the password-change page (its "current password"),
    so both are throttled and recorded alike. Does not record the sign-in itself.
    """
    name = user_key(username)
    now = periods.now_utc().timestamp()
    by_address = throttle.hit(db, ADDRESS_SCOPE, address_key, window_s=ADDRESS_WINDOW_S,
                              limit=policy.per_address, now=now)
    if not by_address.allowed:
        return SignIn(None, by_address.retry_after, "address")
    by_user = throttle.hit(db, USER_SCOPE, name, window_s=USER_WINDOW_S, limit=policy.per_user, now=now)
    if not by_user.allowed:
        throttle.release(db, ADDRESS_SCOPE, address_key, window_s=ADDRESS_WINDOW_S, now=now)
        return SignIn(None, by_user.retry_after, "user")
    locked, sets_lock = _reserve_device(db, name, address_key, policy)
    if locked:
        throttle.release(db, ADDRESS_SCOPE, address_key, window_s=ADDRESS_WINDOW_S, now=now)
        throttle.release(db, USER_SCOPE, name, window_s=USER_WINDOW_S, now=now)
        return SignIn(None, locked, "device")
    user = by_name(db, name) if username.strip() else None
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user and ok and user.disabled_at is None:
        with write_transaction(db):  # right: the attempt was no failure after all
            throttle.release(db, ADDRESS_SCOPE, address_key, window_s=ADDRESS_WINDOW_S, now=now)
            throttle.release(db, USER_SCOPE, name, window_s=USER_WINDOW_S, now=now)
            db.execute("DELETE FROM login_locks WHERE username = ? AND address = ?", [name, address_key])
        return SignIn(user)
    # Wrong: the failure stays counted. Attempts that were in flight together with the one that
    # set the lock still say "wrong" (they were checked); the next ones are refused unchecked.
    return SignIn(None, sets_lock, "device" if sets_lock else None)


def authenticate(db: sqlite_utils.Database, username: str, password: str, *, address_key: str,
                 policy: LoginPolicy) -> SignIn:
    """Check a sign-in under the limits above; a success is recorded as the user's last sign-in."""
    result = check_attempt(db, username, password, address_key=address_key, policy=policy)
    if result.user is not None:
        db.execute("UPDATE users SET last_login_at = ? WHERE id = ?", [_now(), result.user.id])
    return result
