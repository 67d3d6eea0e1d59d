"""Rate limits that every server process shares: atomic counters in SQLite.

A counter is keyed by ``(scope, key, window)``: ``scope`` names what is limited
(``"login-address"``, ``"login-user"``, ``"password-check"``; issue 13 adds its
own for citizen submissions), ``key`` says whose hits they are (a user name, a
kiosk id, or a *digest* of a client address: see :func:`digest`), and the
window is a fixed slot of ``window_s`` seconds (``floor(now / window_s)``).
Every gunicorn worker and thread sees the same counts, because they are rows of
the one database, and each hit is a single ``INSERT ... ON CONFLICT DO UPDATE
... RETURNING`` statement, atomic under SQLite's write lock.

Use::

    from survey import throttle

    verdict = throttle.hit(db, "login-address", throttle.digest(secret, address), window_s=900, limit=30)
    if not verdict.allowed:
        refuse(429, retry_after=verdict.retry_after)
    ...                                      # the guarded work
    if it_was_harmless:
        throttle.release(db, "login-address", key, window_s=900)   # give the hit back

- ``hit`` counts one hit and says whether it is within ``limit``. A refused
  hit is **not** counted: hammering a limit does not extend it, and exactly
  ``limit`` hits per window get through however many arrive at once.
- ``hit(..., cost=0)`` only looks (how many so far, would one more pass).
- ``release`` takes one hit back (e.g. a sign-in that turned out to be right,
  which must not count as a failure). Reserve-then-release is how to count
  *outcomes* of slow work (a password hash, a submission) without letting
  concurrent requests all pass the check before any of them is counted.
- ``clear`` forgets a key's counts (an admin unlocking an account).
- Within a caller's transaction the hit is part of it (rolled back with it);
  outside one it commits on its own (autocommit), so one statement per hit.

Fixed windows let up to ``2 x limit`` hits through around a window boundary;
choose limits with that in mind (or check two window sizes). Rows of windows
that ended are deleted now and then by ``hit`` itself (at most once a minute per
process), so the table stays as small as the traffic of the last window.

Client addresses must not be stored: pass ``digest(secret, address)``, a keyed
hash that cannot be reversed without the app's ``SECRET_KEY`` and that lives
only as long as its window.
"""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass

import sqlite_utils

# The table (created by migration 0004_hardening in survey/migrations.py):
SCHEMA = """
CREATE TABLE IF NOT EXISTS throttle_counters (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    window_start INTEGER NOT NULL,       -- unix seconds at the start of the window
    window_s INTEGER NOT NULL CHECK (window_s > 0),
    n INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (scope, key, window_s, window_start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS throttle_counters_end ON throttle_counters(window_start);
"""

_HIT = """
INSERT INTO throttle_counters (scope, key, window_start, window_s, n) VALUES (:scope, :key, :start, :window, :cost)
ON CONFLICT (scope, key, window_s, window_start) DO UPDATE SET n = n + :cost WHERE n + :cost <= :limit
RETURNING n
"""

_PRUNE_EVERY_S = 60
_last_prune = 0.0
_prune_lock = threading.Lock()
_MAX_WINDOW_S = 7 * 86400


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int          # hits counted in this window (including this one, when allowed)
    limit: int
    retry_after: int    # seconds until the window ends (0 when allowed)


def digest(secret: str | bytes, value: str | None) -> str:
    """A keyed hash of ``value`` (e.g. a client address) to use as a key: never store the value."""
    secret = secret.encode() if isinstance(secret, str) else bytes(secret)
    return hmac.new(secret, (value or "-").encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def _window(now: float, window_s: int) -> int:
    return int(now // window_s) * window_s


def hit(db: sqlite_utils.Database, scope: str, key: str, *, window_s: int, limit: int, cost: int = 1,
        now: float | None = None) -> Verdict:
    """Count ``cost`` hits of ``key`` in ``scope`` if that keeps it within ``limit`` per window.

    ``cost=0`` counts nothing and tells whether the next hit would pass.
    """
    if not 0 < window_s <= _MAX_WINDOW_S or limit < 0 or cost < 0:
        raise ValueError("window_s must be 1 s to 7 days, limit and cost at least 0")
    now = time.time() if now is None else now
    start = _window(now, window_s)
    retry = max(1, int(start + window_s - now + 0.999))
    if cost == 0:
        row = db.execute("SELECT n FROM throttle_counters WHERE scope = ? AND key = ? AND window_s = ? "
                         "AND window_start = ?", [scope, key, window_s, start]).fetchone()
        n = row[0] if row else 0
        return Verdict(n < limit, n, limit, 0 if n < limit else retry)
    if cost > limit:
        return Verdict(False, _count(db, scope, key, window_s, start), limit, retry)
    _maybe_prune(db, now)
    row = db.execute(_HIT, {"scope": scope, "key": key, "start": start, "window": window_s, "cost": cost,
                            "limit": limit}).fetchone()
    if row is None:  # the WHERE of the upsert refused: over the limit, nothing counted
        return Verdict(False, _count(db, scope, key, window_s, start), limit, retry)
    return Verdict(True, row[0], limit, 0)


def _count(db: sqlite_utils.Database, scope: str, key: str, window_s: int, start: int) -> int:
    row = db.execute("SELECT n FROM throttle_counters WHERE scope = ? AND key = ? AND window_s = ? "
                     "AND window_start = ?", [scope, key, window_s, start]).fetchone()
    return row[0] if row else 0


def count(db: sqlite_utils.Database, scope: str, key: str, *, window_s: int, now: float | None = None) -> int:
    """Hits of ``key`` in the current window."""
    now = time.time() if now is None else now
    return _count(db, scope, key, window_s, _window(now, window_s))


def release(db: sqlite_utils.Database, scope: str, key: str, *, window_s: int, cost: int = 1,
            now: float | None = None) -> None:
    """Take back ``cost`` hits counted in the current window (never below zero)."""
    now = time.time() if now is None else now
    db.execute("UPDATE throttle_counters SET n = max(0, n - ?) WHERE scope = ? AND key = ? AND window_s = ? "
               "AND window_start = ?", [cost, scope, key, window_s, _window(now, window_s)])


def clear(db: sqlite_utils.Database, scope: str | None = None, key: str | None = None) -> int:
    """Forget the counts of ``key`` in ``scope`` (None: every key / every scope); return rows deleted."""
    where, params = [], []
    if scope is not None:
        where.append("scope = ?")
        params.append(scope)
    if key is not None:
        where.append("key = ?")
        params.append(key)
    sql = "DELETE FROM throttle_counters" + (" WHERE " + " AND ".join(where) if where else "")
    return db.execute(sql, params).rowcount


def prune(db: sqlite_utils.Database, now: float | None = None) -> int:
    """Delete the rows of windows that have ended; return how many."""
    now = time.time() if now is None else now
    return db.execute("DELETE FROM throttle_counters WHERE window_start + window_s <= ?", [int(now)]).rowcount


def _maybe_prune(db: sqlite_utils.Database, now: float) -> None:
    global _last_prune
    if time.monotonic() - _last_prune < _PRUNE_EVERY_S:
        return
    with _prune_lock:
        if time.monotonic() - _last_prune < _PRUNE_EVERY_S:
            return
        _last_prune = time.monotonic()
    prune(db, now)
