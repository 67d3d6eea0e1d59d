"""Staff sessions recorded on the server (issue 12 item 1).

The signed session cookie only carries a random session token; the session
itself is a row of ``staff_sessions`` (keyed by a digest of the token, so the
database never holds a usable token). A session ends, for every copy of its
cookie at once, when

- the person signs out (``end``),
- ``PERMANENT_SESSION_LIFETIME`` seconds have passed since sign-in (an absolute
  limit: using the session does not extend it),
- ``STAFF_IDLE_SECONDS`` have passed without a request that a person made
  (the dashboard's automatic refresh and the report page's self-refresh do not
  count: see ``auth.automatic``),
- the password changes or an admin disables the account (``end_all``).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlite_utils

from . import periods
from ..sqlite import write_transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS staff_sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,    -- sha256 of the random token in the signed cookie
    user_id INTEGER NOT NULL REFERENCES users(id),
    signed_in_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,           -- signed_in_at + PERMANENT_SESSION_LIFETIME: never extended
    last_active_at TEXT NOT NULL,       -- last request a person made (automatic refreshes do not count)
    ended_at TEXT,
    end_reason TEXT                     -- signed out, expired, idle, password changed, disabled
);
CREATE INDEX IF NOT EXISTS staff_sessions_user ON staff_sessions(user_id);
"""

FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
KEEP_ENDED = timedelta(days=30)     # ended sessions are kept this long (who was signed in when), then deleted


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(FORMAT)


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, FORMAT).replace(tzinfo=timezone.utc)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Verdict:
    user_id: int | None
    reason: str | None = None       # why there is no user: 'signed out', 'expired', 'idle', ... (None: unknown token)


def start(db: sqlite_utils.Database, user_id: int, lifetime_seconds: float) -> str:
    """Record a new session for ``user_id``; return the token to put in the cookie."""
    token = secrets.token_urlsafe(32)
    now = periods.now_utc()
    with write_transaction(db):
        db.execute("DELETE FROM staff_sessions WHERE coalesce(ended_at, expires_at) < ?",
                   [_stamp(now - KEEP_ENDED)])
        db.execute("INSERT INTO staff_sessions (token_hash, user_id, signed_in_at, expires_at, last_active_at) "
                   "VALUES (?, ?, ?, ?, ?)",
                   [_digest(token), user_id, _stamp(now), _stamp(now + timedelta(seconds=lifetime_seconds)),
                    _stamp(now)])
    return token


def check(db: sqlite_utils.Database, token: str, *, idle_seconds: float, activity: bool) -> Verdict:
    """The user of a live session, or why there is none (ending a session found expired or idle).

    ``activity``: the request was made by a person (it resets the idle clock).
    """
    row = next(db.query("SELECT id, user_id, expires_at, last_active_at, ended_at, end_reason "
                        "FROM staff_sessions WHERE token_hash = ?", [_digest(token)]), None)
    if row is None:
        return Verdict(None)
    if row["ended_at"] is not None:
        return Verdict(None, row["end_reason"])
    now = periods.now_utc()
    reason = None
    if now >= _parse(row["expires_at"]):
        reason = "expired"
    elif idle_seconds and (now - _parse(row["last_active_at"])).total_seconds() >= idle_seconds:
        reason = "idle"
    if reason:
        with write_transaction(db):
            db.execute("UPDATE staff_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                       [_stamp(now), reason, row["id"]])
        return Verdict(None, reason)
    # One write at most every min(60 s, a tenth of the idle limit) per session, not one per request.
    step = min(60.0, idle_seconds / 10) if idle_seconds else 60.0
    if activity and (now - _parse(row["last_active_at"])).total_seconds() >= step:
        with write_transaction(db):
            db.execute("UPDATE staff_sessions SET last_active_at = ? WHERE id = ? AND ended_at IS NULL",
                       [_stamp(now), row["id"]])
    return Verdict(row["user_id"])


def end(db: sqlite_utils.Database, token: str, reason: str = "signed out") -> None:
    """End the session of ``token``: every copy of its cookie stops working."""
    with write_transaction(db):
        db.execute("UPDATE staff_sessions SET ended_at = ?, end_reason = ? WHERE token_hash = ? AND ended_at IS NULL",
                   [_stamp(periods.now_utc()), reason, _digest(token)])


def end_all(db: sqlite_utils.Database, user_id: int, reason: str, *, keep: str | None = None) -> int:
    """End every live session of ``user_id`` (but the one of token ``keep``); return how many."""
    with write_transaction(db):
        return db.execute(
            "UPDATE staff_sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL "
            "AND token_hash IS NOT ?",
            [_stamp(periods.now_utc()), reason, user_id, _digest(keep) if keep else None]).rowcount
