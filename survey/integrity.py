"""An index no one can stuff: where a response came from, and whether it looks stuffed.

Every response stored through the citizen form or a kiosk gets an *origin* row
(``integrity_origin``) in the same transaction: the server's receive time (never
the client's clock), when the server served its form (from the form's signed
ticket), the channel and kiosk, and two short-lived keys:

- the **client key**, a keyed hash of the client's address and a random value
  kept in its first-party session cookie;
- the **address key**, a keyed hash of the address alone (an IPv6 address by
  its /64 network, which one household or phone usually holds).

Both use a random salt per local day (``integrity_salts``) that is deleted the
day after tomorrow: keys of different days cannot be linked, and once the salt
is gone a key cannot be turned back into an address by trying every address.
Behind a reverse proxy (``TRUSTED_PROXIES``) the address is the forwarded one
(``werkzeug.middleware.proxy_fix``); addresses themselves are never stored.

Then the checks below run, each in server time and each over one index range
around the new response. When one finds more than its limit, it flags every
member of that window -- the earlier ones too -- with its reason, so that the
first few responses of an attack are held as well as the rest. A check only
ever groups responses that share something an attacker's responses share
(a client key, an address, a kiosk, forms served together, identical answers),
never "everything in the same minutes", so honest responses arriving during an
attack are not held.

=================  =============================================================
reason             flagged when, for one unit
=================  =============================================================
``client_burst``   more than INTEGRITY_CLIENT_LIMIT responses from one client key
                   within INTEGRITY_CLIENT_MINUTES
``address_burst``  more than INTEGRITY_ADDRESS_LIMIT responses from one address
                   within INTEGRITY_ADDRESS_MINUTES
``bulk_forms``     more than INTEGRITY_BULK_COUNT responses whose forms were served
                   within INTEGRITY_BULK_SERVED_SECONDS of each other and that were
                   received within INTEGRITY_BULK_RECEIVED_SECONDS of each other
``pattern``        more than INTEGRITY_PATTERN_COUNT identical sets of answers
                   within INTEGRITY_PATTERN_MINUTES
``kiosk_burst``    more than QUALITY_BURST_COUNT responses from one kiosk within
                   QUALITY_BURST_MINUTES *of server time*
=================  =============================================================

Flagged responses are **held** (``integrity_holds``): kept, left out of the
published index, until a staff member accepts or excludes them (logged in
``integrity_review_log``, reversible). Triggers keep ``integrity_counts`` (per
day, unit, reason and state) exact, so the dashboard reads a few rows whatever
the number of flags. The unit's answer distribution against its own recent
history is a unit-level alert (:func:`shifts`), not a per-response flag.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
from functools import lru_cache
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlite_utils
from flask import current_app, has_request_context, request, session

from .db import write_transaction
from .labels import N_

REASONS = ("client_burst", "address_burst", "bulk_forms", "pattern", "kiosk_burst")
REASON_LABELS = {  # English sources of the gettext catalog (survey/labels.py N_): pages translate them
    "client_burst": N_("many from one client"),
    "address_burst": N_("many from one address"),
    "bulk_forms": N_("forms fetched together, posted together"),
    "pattern": N_("identical answers repeated"),
    "kiosk_burst": N_("kiosk burst (server time)"),
}
STATES = ("held", "accepted", "excluded")
SESSION_KEY = "ck"          # the random value in the session cookie that the client key hashes
STAMP = "%Y-%m-%dT%H:%M:%SZ"


# --- clock ------------------------------------------------------------------------------------

def now() -> datetime:
    """The server's time (UTC). Tests may set it per request (see the TEST_CLOCK setting)."""
    if has_request_context() and current_app.testing and current_app.config.get("TEST_CLOCK"):
        given = request.headers.get("X-Test-Clock")
        if given:
            return datetime.fromisoformat(given.replace("Z", "+00:00")).astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(STAMP)


def local_day(moment: datetime, tz_name: str) -> str:
    return moment.astimezone(ZoneInfo(tz_name)).date().isoformat()


@lru_cache(maxsize=8)
def _offset_minutes(tz_name: str) -> int:
    from .staff.summary import utc_offset_minutes   # days are counted at one fixed offset, as on the dashboard

    return utc_offset_minutes(tz_name)


# --- keys -------------------------------------------------------------------------------------

_salts: dict[str, bytes] = {}
_salts_lock = threading.Lock()


def salt(db: sqlite_utils.Database, day: str) -> bytes:
    """The random salt of local ``day``, the same in every worker (first writer wins)."""
    with _salts_lock:
        if day in _salts:
            return _salts[day]
    row = db.execute("SELECT salt FROM integrity_salts WHERE day = ?", [day]).fetchone()
    if row is None:
        yesterday = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
        with write_transaction(db):
            db.execute("INSERT OR IGNORE INTO integrity_salts (day, salt) VALUES (?, ?)", [day, secrets.token_bytes(32)])
            db.execute("DELETE FROM integrity_salts WHERE day < ?", [yesterday])
        row = db.execute("SELECT salt FROM integrity_salts WHERE day = ?", [day]).fetchone()
    with _salts_lock:
        if len(_salts) > 4:
            _salts.clear()
        _salts[day] = row[0]
    return row[0]


def address_of(remote_addr: str | None) -> str:
    """The address a limit counts: an IPv4 address, or the /64 network of an IPv6 one."""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return remote_addr or "-"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _key(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:20]


@dataclass(frozen=True)
class ClientKeys:
    client: str
    address: str


def keys(db: sqlite_utils.Database, day: str, remote_addr: str | None, cookie_value: str | None) -> ClientKeys:
    """The client and address keys of a request on local ``day``."""
    secret = salt(db, day)
    address = address_of(remote_addr)
    return ClientKeys(_key(secret, "client", address, cookie_value or ""), _key(secret, "address", address))


def ensure_cookie() -> None:
    """Give this browser its random value (kept in the signed session cookie) if it has none."""
    if SESSION_KEY not in session:
        session[SESSION_KEY] = secrets.token_urlsafe(12)


def request_keys(db: sqlite_utils.Database, moment: datetime) -> ClientKeys:
    return keys(db, local_day(moment, current_app.config["TIMEZONE"]), request.remote_addr,
                session.get(SESSION_KEY))


# --- rules ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rules:
    client_limit: int = 3
    client_minutes: int = 60
    address_limit: int = 30
    address_minutes: int = 10
    bulk_count: int = 5
    bulk_served_seconds: int = 20
    bulk_received_seconds: int = 120
    pattern_count: int = 8
    pattern_minutes: int = 30
    kiosk_count: int = 5
    kiosk_minutes: int = 10
    timezone: str = "Asia/Ho_Chi_Minh"


def rules_from_config(config: Mapping) -> Rules:
    return Rules(
        client_limit=int(config["INTEGRITY_CLIENT_LIMIT"]), client_minutes=int(config["INTEGRITY_CLIENT_MINUTES"]),
        address_limit=int(config["INTEGRITY_ADDRESS_LIMIT"]),
        address_minutes=int(config["INTEGRITY_ADDRESS_MINUTES"]),
        bulk_count=int(config["INTEGRITY_BULK_COUNT"]),
        bulk_served_seconds=int(config["INTEGRITY_BULK_SERVED_SECONDS"]),
        bulk_received_seconds=int(config["INTEGRITY_BULK_RECEIVED_SECONDS"]),
        pattern_count=int(config["INTEGRITY_PATTERN_COUNT"]), pattern_minutes=int(config["INTEGRITY_PATTERN_MINUTES"]),
        kiosk_count=int(config["QUALITY_BURST_COUNT"]), kiosk_minutes=int(config["QUALITY_BURST_MINUTES"]),
        timezone=str(config["TIMEZONE"]))


# --- recording and detection ------------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    response_id: int
    unit_id: int
    channel: str
    kiosk_id: int | None
    received: datetime
    served: datetime | None
    keys: ClientKeys | None
    answers: str


def _window(moment: datetime, seconds: int) -> tuple[str, str]:
    return stamp(moment - timedelta(seconds=seconds)), stamp(moment)


def _members(db: sqlite_utils.Database, sql: str, params: list, limit: int) -> list[int]:
    ids = [row[0] for row in db.execute(sql, params)]
    return ids if len(ids) > limit else []


def detect(db: sqlite_utils.Database, o: Origin, rules: Rules) -> dict[str, list[int]]:
    """{reason: ids of the responses (the new one among them) to flag}; empty when nothing is wrong.

    Reads only the origin rows near ``o`` through its indexes; ``o`` is already stored.
    """
    found: dict[str, list[int]] = {}
    if o.channel == "kiosk":
        lo, hi = _window(o.received, rules.kiosk_minutes * 60)
        found["kiosk_burst"] = _members(
            db, "SELECT response_id FROM integrity_origin WHERE kiosk_id = ? AND received_at BETWEEN ? AND ?",
            [o.kiosk_id, lo, hi], rules.kiosk_count)
    elif o.keys is not None:
        lo, hi = _window(o.received, rules.client_minutes * 60)
        found["client_burst"] = _members(
            db, "SELECT response_id FROM integrity_origin WHERE unit_id = ? AND client_key = ? "
                "AND received_at BETWEEN ? AND ?", [o.unit_id, o.keys.client, lo, hi], rules.client_limit)
        lo, hi = _window(o.received, rules.address_minutes * 60)
        found["address_burst"] = _members(
            db, "SELECT response_id FROM integrity_origin WHERE unit_id = ? AND address_key = ? "
                "AND received_at BETWEEN ? AND ?", [o.unit_id, o.keys.address, lo, hi], rules.address_limit)
    if o.served is not None:
        # Forms served close to this one's (either side) and received close before it.
        served_lo = stamp(o.served - timedelta(seconds=rules.bulk_served_seconds))
        served_hi = stamp(o.served + timedelta(seconds=rules.bulk_served_seconds))
        lo, hi = _window(o.received, rules.bulk_received_seconds)
        found["bulk_forms"] = _members(
            db, "SELECT response_id FROM integrity_origin INDEXED BY integrity_origin_served "
                "WHERE unit_id = ? AND served_at BETWEEN ? AND ? AND received_at BETWEEN ? AND ?",
            [o.unit_id, served_lo, served_hi, lo, hi], rules.bulk_count)
    lo, hi = _window(o.received, rules.pattern_minutes * 60)
    found["pattern"] = _members(
        db, "SELECT response_id FROM integrity_origin WHERE unit_id = ? AND answers = ? AND received_at BETWEEN ? AND ?",
        [o.unit_id, o.answers, lo, hi], rules.pattern_count)
    return {reason: ids for reason, ids in found.items() if ids}


def record(db: sqlite_utils.Database, o: Origin, rules: Rules) -> list[str]:
    """Store ``o``, count its answers, run the checks and hold what they flag; return the new response's reasons.

    Runs inside the caller's transaction (the one that stored the response).
    """
    day = local_day(o.received, rules.timezone)
    received = stamp(o.received)
    with write_transaction(db):
        db.execute("INSERT INTO integrity_origin (response_id, unit_id, channel, kiosk_id, received_at, served_at, "
                   "client_key, address_key, answers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [o.response_id, o.unit_id, o.channel, o.kiosk_id, received,
                    stamp(o.served) if o.served else None, o.keys.client if o.keys else None,
                    o.keys.address if o.keys else None, o.answers])
        db.execute("INSERT INTO integrity_daily_answers (day, unit_id, responses, n1, n2, n3, n4, n5) "
                   "VALUES (?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET responses = responses + 1, "
                   "n1 = n1 + excluded.n1, n2 = n2 + excluded.n2, n3 = n3 + excluded.n3, n4 = n4 + excluded.n4, "
                   "n5 = n5 + excluded.n5", [day, o.unit_id, *(o.answers.count(str(s)) for s in range(1, 6))])
        found = detect(db, o, rules)
        for reason, ids in found.items():
            hold(db, ids, reason, rules.timezone)
    return sorted(found)


def hold(db: sqlite_utils.Database, ids: list[int], reason: str, tz_name: str) -> None:
    """Flag responses ``ids`` with ``reason`` and hold those not held before (a reviewed one keeps its state)."""
    if len(ids) > 1:
        # Once a window is over its limit each of its members is flagged, so during a long burst every
        # new response meets hundreds flagged before it: skip those (one read along the primary key)
        # instead of inserting each again. The result is the same: a flag implies its hold.
        flagged = {row[0] for row in db.execute(
            "SELECT response_id FROM integrity_flags WHERE response_id BETWEEN ? AND ? AND reason = ?",
            [min(ids), max(ids), reason])}
        ids = [i for i in ids if i not in flagged]
    day_sql = f"date(received_at, '{_offset_minutes(tz_name):+d} minutes')"
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        db.execute(f"INSERT OR IGNORE INTO integrity_holds (response_id, unit_id, day, received_at) "
                   f"SELECT response_id, unit_id, {day_sql}, received_at FROM integrity_origin "
                   f"WHERE response_id IN ({marks})", [*chunk])
        db.execute(f"INSERT OR IGNORE INTO integrity_flags (response_id, reason, unit_id, day, received_at, state) "
                   f"SELECT h.response_id, ?, h.unit_id, h.day, h.received_at, h.state FROM integrity_holds h "
                   f"WHERE h.response_id IN ({marks})", [reason, *chunk])



# --- review -----------------------------------------------------------------------------------

ACTIONS = {"accept": "accepted", "exclude": "excluded", "hold": "held"}


def review(db: sqlite_utils.Database, response_ids: list[int], action: str, *, by: str,
           note: str | None = None) -> int:
    """Accept, exclude or hold again flagged responses; return how many changed state.

    Excluding also excludes the response from analysis (``responses.excluded_*`` and
    ``exclusion_log``, as the quality page does); accepting or holding again undoes
    an exclusion made here. Every change is logged; nothing is deleted.
    """
    from . import responses

    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    state = ACTIONS[action]
    moment = responses.utc_timestamp()
    changed = 0
    with write_transaction(db):
        for response_id in response_ids:
            row = db.execute("SELECT state FROM integrity_holds WHERE response_id = ?", [response_id]).fetchone()
            if row is None or row[0] == state:
                continue
            db.execute("UPDATE integrity_holds SET state = ?, reviewed_by = ?, reviewed_at = ? WHERE response_id = ?",
                       [state, by, moment, response_id])
            db.execute("INSERT INTO integrity_review_log (response_id, action, acted_by, acted_at, note) "
                       "VALUES (?, ?, ?, ?, ?)", [response_id, state, by, moment, note])
            reasons = ", ".join(r[0] for r in db.execute(
                "SELECT reason FROM integrity_flags WHERE response_id = ? ORDER BY reason", [response_id]))
            if state == "excluded":
                responses.exclude(db, response_id, by=by, reason=f"integrity review: {reasons}"
                                  + (f" ({note})" if note else ""))
            elif row[0] == "excluded":
                responses.restore(db, response_id, by=by, reason=f"integrity review: {state}")
            changed += 1
    return changed


def review_log(db: sqlite_utils.Database, response_id: int) -> list[dict]:
    return list(db.query("SELECT * FROM integrity_review_log WHERE response_id = ? ORDER BY id", [response_id]))


# --- what the staff pages read ----------------------------------------------------------------

def counts(db: sqlite_utils.Database, first: str, last: str, scope) -> dict[str, dict[str, int]]:
    """{reason ('any' too): {state: responses}} for local days ``first``..``last`` (from integrity_counts)."""
    out: dict[str, dict[str, int]] = {r: {s: 0 for s in STATES} for r in ("any", *REASONS)}
    where, params = _scope("unit_id", scope)
    for reason, state, n in db.execute(
            "SELECT reason, state, sum(n) FROM integrity_counts WHERE day BETWEEN ? AND ?" + where +
            " GROUP BY reason, state", [first, last, *params]):
        out.setdefault(reason, {s: 0 for s in STATES})[state] = n
    return out


def counts_by_unit(db: sqlite_utils.Database, first: str, last: str, scope) -> dict[int, dict[str, dict[str, int]]]:
    """{unit_id: {reason: {state: n}}} for local days ``first``..``last``."""
    out: dict[int, dict[str, dict[str, int]]] = {}
    where, params = _scope("unit_id", scope)
    for unit_id, reason, state, n in db.execute(
            "SELECT unit_id, reason, state, sum(n) FROM integrity_counts WHERE day BETWEEN ? AND ?" + where +
            " GROUP BY unit_id, reason, state HAVING sum(n) > 0", [first, last, *params]):
        out.setdefault(unit_id, {}).setdefault(reason, {s: 0 for s in STATES})[state] = n
    return out


def _scope(column: str, scope) -> tuple[str, list]:
    if scope is None:
        return "", []
    return f" AND {column} IN ({', '.join('?' for _ in scope)})", list(scope)


@dataclass(frozen=True)
class Shift:
    unit_id: int
    recent_responses: int
    recent_top_share: float      # share of answers at the top of the scale, recent days
    history_responses: int
    history_top_share: float
    z: float


def shifts(db: sqlite_utils.Database, today: str, scope, *, recent_days: int = 1, history_days: int = 28,
           min_recent: int = 30, min_history: int = 100, min_z: float = 4.0,
           min_change: float = 0.10) -> dict[int, Shift]:
    """Units whose share of top answers (5) in the last ``recent_days`` moved away from their previous
    ``history_days``: a two-proportion z-test on responses (answers within a response are not independent,
    so the number of answers is divided by the answers per response), at least ``min_change`` apart."""
    end = date.fromisoformat(today)
    recent_start = (end - timedelta(days=recent_days - 1)).isoformat()
    history_start = (end - timedelta(days=recent_days + history_days - 1)).isoformat()
    where, params = _scope("unit_id", scope)
    totals: dict[int, dict[str, list[int]]] = {}
    for unit_id, recent, responses_n, top, answered in db.execute(
            "SELECT unit_id, day >= ?, sum(responses), sum(n5), sum(n1 + n2 + n3 + n4 + n5) "
            "FROM integrity_daily_answers WHERE day BETWEEN ? AND ?" + where + " GROUP BY unit_id, day >= ?",
            [recent_start, history_start, today, *params, recent_start]):
        totals.setdefault(unit_id, {"recent": [0, 0, 0], "history": [0, 0, 0]})[
            "recent" if recent else "history"] = [responses_n, top, answered]
    out = {}
    for unit_id, t in totals.items():
        (rn, rtop, rall), (hn, htop, hall) = t["recent"], t["history"]
        if rn < min_recent or hn < min_history or not rall or not hall:
            continue
        p1, p0 = rtop / rall, htop / hall
        pooled = (rtop + htop) / (rall + hall)
        se = (pooled * (1 - pooled) * (1 / rn + 1 / hn)) ** 0.5
        z = (p1 - p0) / se if se > 0 else 0.0
        if abs(z) >= min_z and abs(p1 - p0) >= min_change:
            out[unit_id] = Shift(unit_id, rn, p1, hn, p0, z)
    return out


HELD_ORDER = "h.received_at DESC, h.response_id DESC"


def held_page(db: sqlite_utils.Database, *, state: str, reason: str, first: str, last: str, scope,
              limit: int, offset: int, count: dict | None = None) -> tuple[int, list[dict]]:
    """(total, one page) of flagged responses in ``state`` ('held', 'accepted', 'excluded'), latest first.

    The total comes from integrity_counts; the page walks an index in time order.
    """
    count = count if count is not None else counts(db, first, last, scope)
    total = count.get(reason, {}).get(state, 0)
    if total == 0 or offset >= total:
        return total, []
    where, params = _scope("h.unit_id", scope)
    if reason == "any":
        index = "integrity_holds_state" if scope is None else "integrity_holds_unit_state"
        source = f"integrity_holds h INDEXED BY {index}"
        condition, condition_params = "h.state = ?", [state]
    else:
        index = "integrity_flags_reason" if scope is None else "integrity_flags_unit_reason"
        source = f"integrity_flags h INDEXED BY {index}"
        condition, condition_params = "h.reason = ? AND h.state = ?", [reason, state]
    ids = [r[0] for r in db.execute(
        f"SELECT h.response_id FROM {source} WHERE {condition}{where} AND h.day BETWEEN ? AND ? "
        f"ORDER BY {HELD_ORDER} LIMIT ? OFFSET ?",
        [*condition_params, *params, first, last, limit, offset])]
    if not ids:
        return total, []
    marks = ", ".join("?" for _ in ids)
    rows = {r["response_id"]: r for r in db.query(
        f"SELECT h.response_id, h.state, h.received_at, h.reviewed_by, h.reviewed_at, o.channel, o.served_at, "
        f"o.client_key, o.answers, o.kiosk_id, r.uuid, r.excluded_at, u.slug AS unit_slug, u.name_vi AS unit_name_vi, "
        f"u.name_en AS unit_name_en, k.name AS kiosk_name, "
        f"(SELECT group_concat(reason, ' ') FROM integrity_flags f WHERE f.response_id = h.response_id) AS reasons "
        f"FROM integrity_holds h JOIN integrity_origin o ON o.response_id = h.response_id "
        f"JOIN responses r ON r.id = h.response_id JOIN units u ON u.id = h.unit_id "
        f"LEFT JOIN kiosks k ON k.id = o.kiosk_id WHERE h.response_id IN ({marks})", ids)}
    return total, [rows[i] for i in ids if i in rows]


def origin_of(db: sqlite_utils.Database, response_id: int) -> dict | None:
    return next(db.query(
        "SELECT o.*, h.state, h.reviewed_by, h.reviewed_at, "
        "(SELECT group_concat(reason, ' ') FROM integrity_flags f WHERE f.response_id = o.response_id) AS reasons "
        "FROM integrity_origin o LEFT JOIN integrity_holds h ON h.response_id = o.response_id "
        "WHERE o.response_id = ?", [response_id]), None)


class OverLimit(Exception):
    """A submission over one of its limits (nothing was stored or counted); ``wait`` seconds until it may pass."""

    def __init__(self, wait: int):
        super().__init__(f"over a submission limit; try again in {wait} s")
        self.wait = wait


def save(db: sqlite_utils.Database, response, saver, *, received: datetime, served: datetime | None,
         keys: ClientKeys | None, rules: Rules, limits: Limits | None = None) -> bool:
    """Store ``response`` with ``saver`` (``responses.save`` or a kiosk's) and its origin, in one transaction,
    counting it against ``limits`` and running the checks; False when its submission id was stored before
    (nothing new is written). Raises :class:`OverLimit` when a limit refuses it (nothing written)."""
    with write_transaction(db):
        if limits is not None:
            wait = over_limit(db, unit_id=response.unit_id, kiosk_id=response.kiosk_id, keys=keys,
                              moment=received, limits=limits)
            if wait is not None:
                raise OverLimit(wait)
        stored = saver(db, response)
        if stored:
            response_id = db.execute("SELECT id FROM responses WHERE uuid = ?", [response.uuid]).fetchone()[0]
            record(db, Origin(response_id, response.unit_id, response.channel, response.kiosk_id, received, served,
                              keys, response.answers), rules)
    return stored


# --- limits (refusals), on the shared counters of survey/throttle.py --------------------------

@dataclass(frozen=True)
class Limits:
    client_per_hour: int = 6            # one client key, one unit
    address_per_10_minutes: int = 120   # one address, every unit (generous: carrier NAT, office routers)
    kiosk_per_10_minutes: int = 600     # one kiosk (generous: an offline queue arrives at once; it retries on 429)


def limits_from_config(config: Mapping) -> Limits:
    return Limits(int(config["LIMIT_CLIENT_PER_HOUR"]), int(config["LIMIT_ADDRESS_PER_10_MINUTES"]),
                  int(config["LIMIT_KIOSK_PER_10_MINUTES"]))


def over_limit(db: sqlite_utils.Database, *, unit_id: int, kiosk_id: int | None, keys: ClientKeys | None,
               moment: datetime, limits: Limits) -> int | None:
    """Count this submission against its limits; the seconds to wait when one refuses it (nothing is
    counted then), None when it may be stored.

    Kiosks have their own limit per kiosk; open-link submissions one per client key and unit (tight)
    and one per address (generous). The counters are rows of the database (survey/throttle.py), so
    every worker sees the same counts; their keys are the daily-salted keys, never an address.
    """
    from . import throttle

    now = moment.timestamp()
    if kiosk_id is not None:
        checks = [("submit-kiosk", str(kiosk_id), 600, limits.kiosk_per_10_minutes)]
    elif keys is not None:
        checks = [("submit-client", f"{unit_id}:{keys.client}", 3600, limits.client_per_hour),
                  ("submit-address", keys.address, 600, limits.address_per_10_minutes)]
    else:
        return None
    counted = []
    for scope, key, window, limit in checks:
        verdict = throttle.hit(db, scope, key, window_s=window, limit=limit, now=now)
        if not verdict.allowed:
            for done_scope, done_key, done_window in counted:      # give back what this request counted
                throttle.release(db, done_scope, done_key, window_s=done_window, now=now)
            return verdict.retry_after
        counted.append((scope, key, window))
    return None
