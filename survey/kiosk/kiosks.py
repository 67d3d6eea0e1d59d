"""Kiosks: registration, their secret tokens, and storing what they send.

A kiosk is a counter tablet bound to one unit (and optionally a counter name
and a field of procedure). Its credential is a random token shown once, in the
device URL ``/k/<token>``; only the token's sha256 is stored, so a copy of the
database does not let anyone pose as a kiosk. Revoking a kiosk keeps its row
(and its responses): it only stops the token from working.

Kiosk responses are stored through :func:`survey.responses.save` with channel
``kiosk`` and the kiosk's id. None is ever dropped for coming too fast: the
staff dashboard flags bursts (more than ``QUALITY_BURST_COUNT`` responses of
one kiosk within ``QUALITY_BURST_MINUTES``, by the time each respondent
pressed send) from these stored facts, for staff to review.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlite_utils
from flask import has_request_context
from flask_babel import gettext as _

from .. import responses as store
from ..units import by_slug, leaf_units, local_today, successors
from ..sqlite import write_transaction

# Why a kiosk request was refused: a machine-readable reason the device keeps
# next to the queued response, and the HTTP status the API answers with.
REFUSALS = {
    "missing_token": 401,
    "unknown_token": 401,
    "revoked": 403,
    "foreign_unit": 403,
}

# last_seen_at is written at most this often per kiosk (each write takes the database lock).
SEEN_EVERY = timedelta(seconds=60)


class KioskError(ValueError):
    """A registration or revocation that cannot be done; the message says why."""


class KioskRefused(Exception):
    """A request made with a missing, unknown or revoked token, or for another unit."""

    def __init__(self, reason: str, detail: str = ""):
        if reason not in REFUSALS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        self.reason = reason
        self.status = REFUSALS[reason]
        super().__init__(detail or reason)


@dataclass(frozen=True)
class Kiosk:
    id: int
    unit_id: int
    unit_slug: str
    unit_name_vi: str
    unit_name_en: str
    name: str
    field: str | None
    created_at: str
    revoked_at: str | None
    last_seen_at: str | None

    @property
    def unit(self) -> dict:
        return {"id": self.unit_id, "slug": self.unit_slug, "name_vi": self.unit_name_vi,
                "name_en": self.unit_name_en}


_SELECT = ("SELECT k.id, k.unit_id, u.slug AS unit_slug, u.name_vi AS unit_name_vi, u.name_en AS unit_name_en, "
           "k.name, k.field, k.created_at, k.revoked_at, k.last_seen_at FROM kiosks k JOIN units u ON u.id = k.unit_id")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def device_path(token: str) -> str:
    return f"/k/{token}"


def unreachable_host(base_url: str) -> str | None:
    """The host of ``base_url`` when citizens' phones or a counter tablet could not reach it: a loopback
    or private address (127.0.0.1, localhost, 10.x, 192.168.x, ...); None when it looks public."""
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(base_url).hostname or "").lower()
    if host in ("", "localhost") or host.endswith(".localhost") or host.endswith(".local"):
        return host or base_url
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None          # a name: assume it is the public one
    if address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified:
        return host
    return None


def device_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + device_path(token)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def parse_timestamp(stamp: str) -> datetime:
    """A stored ``YYYY-MM-DDTHH:MM:SSZ`` time as an aware datetime."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def get(db: sqlite_utils.Database, kiosk_id: int) -> Kiosk | None:
    rows = list(db.query(_SELECT + " WHERE k.id = ?", [kiosk_id]))
    return Kiosk(**rows[0]) if rows else None


def _day(value: str) -> str:
    """A stored date as the page shows dates (a staff page), or as stored (the command line)."""
    from ..i18n import local_date

    return local_date(value) if has_request_context() else value


def _moment(value: str) -> str:
    """A stored UTC time in the city's local time (a staff page), or as stored (the command line)."""
    from ..i18n import local_datetime

    return local_datetime(value) if has_request_context() else value


def register(db: sqlite_utils.Database, unit_slug: str, name: str | None = None,
             field: str | None = None, *, fields: tuple[str, ...] | None = None) -> tuple[Kiosk, str]:
    """Add a kiosk for the unit ``unit_slug``; return it and its token (shown once, never stored).

    ``fields``, when given, are the allowed codes for ``field`` (the options of
    the questionnaire's field-of-procedure question).
    """
    unit = by_slug(db, unit_slug)
    if unit is None:
        known = ", ".join(u["slug"] for u in leaf_units(db)[:8])
        raise KioskError(_("no active unit %(unit)s (units include: %(known)s, …)", unit=repr(unit_slug), known=known)
                         if known else _("no active unit %(unit)s (no units are loaded: run init-db --demo or "
                                         "import-units)", unit=repr(unit_slug)))
    if unit["valid_to"] and unit["valid_to"] < local_today(db).isoformat():
        took_over = ", ".join(u["slug"] for u in successors(db, unit_slug)) or _("see the unit list")
        raise KioskError(_("unit %(unit)s ended on %(day)s; register the kiosk for a unit that exists today (its "
                           "area went to: %(successors)s)", unit=repr(unit_slug), day=_day(unit["valid_to"]),
                           successors=took_over))
    if unit["id"] not in {u["id"] for u in leaf_units(db)}:
        raise KioskError(_("unit %(unit)s has sub-units; responses belong to a unit without sub-units, so register "
                           "the kiosk for one of those", unit=repr(unit_slug)))
    if field is not None and fields is not None and field not in fields:
        raise KioskError(_("field %(field)s is not a field of procedure of the questionnaire (allowed: %(allowed)s)",
                           field=repr(field), allowed=", ".join(fields)))
    with write_transaction(db):
        if name is None:
            taken = db.execute("SELECT count(*) FROM kiosks WHERE unit_id = ?", [unit["id"]]).fetchone()[0]
            name = f"Kiosk {taken + 1}"
        name = name.strip()
        if not name:
            raise KioskError(_("the kiosk name is empty"))
        if len(name) > 80:
            raise KioskError(_("the kiosk name is %(n)s characters long; at most 80", n=len(name)))
        clash = db.execute("SELECT id FROM kiosks WHERE unit_id = ? AND name = ? AND revoked_at IS NULL",
                           [unit["id"], name]).fetchone()
        if clash:
            raise KioskError(_("unit %(unit)s already has an active kiosk named %(name)s (id %(id)s)",
                               unit=repr(unit_slug), name=repr(name), id=clash[0]))
        token = new_token()
        cursor = db.execute("INSERT INTO kiosks (unit_id, name, field, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                            [unit["id"], name, field, hash_token(token), store.utc_timestamp()])
    kiosk = get(db, cursor.lastrowid)
    assert kiosk is not None
    return kiosk, token


def all_kiosks(db: sqlite_utils.Database, *, unit_slug: str | None = None,
               include_revoked: bool = True) -> list[dict]:
    """Kiosks with their unit and response count, by unit and name."""
    where, params = [], []
    if unit_slug:
        where.append("u.slug = ?")
        params.append(unit_slug)
    if not include_revoked:
        where.append("k.revoked_at IS NULL")
    sql = (_SELECT.replace(" FROM kiosks", ", (SELECT count(*) FROM responses r WHERE r.kiosk_id = k.id) AS responses "
                           "FROM kiosks")
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY u.code, u.slug, k.name, k.id")
    return list(db.query(sql, params))


def revoke(db: sqlite_utils.Database, kiosk_id: int) -> Kiosk:
    """Stop kiosk ``kiosk_id``'s token from working; its responses stay."""
    with write_transaction(db):
        kiosk = get(db, kiosk_id)
        if kiosk is None:
            raise KioskError(_("there is no kiosk with id %(id)s", id=kiosk_id))
        if kiosk.revoked_at:
            raise KioskError(_("kiosk %(id)s (%(name)s, %(unit)s) was already revoked at %(when)s", id=kiosk_id,
                               name=kiosk.name, unit=kiosk.unit_slug, when=_moment(kiosk.revoked_at)))
        db.execute("UPDATE kiosks SET revoked_at = ? WHERE id = ?", [store.utc_timestamp(), kiosk_id])
    revoked = get(db, kiosk_id)
    assert revoked is not None
    return revoked


def authenticate(db: sqlite_utils.Database, token: str | None) -> Kiosk:
    """The kiosk whose token this is; raise :class:`KioskRefused` for none, an unknown or a revoked one."""
    if not token:
        raise KioskRefused("missing_token")
    rows = list(db.query(_SELECT + " WHERE k.token_hash = ?", [hash_token(token)]))
    if not rows:
        raise KioskRefused("unknown_token")
    kiosk = Kiosk(**rows[0])
    if kiosk.revoked_at:
        raise KioskRefused("revoked", f"kiosk {kiosk.id} was revoked at {kiosk.revoked_at}")
    return kiosk


def seen(db: sqlite_utils.Database, kiosk: Kiosk, now: datetime | None = None) -> None:
    """Record that the kiosk was in touch (at most once a minute)."""
    now = now or _now()
    if kiosk.last_seen_at and parse_timestamp(kiosk.last_seen_at) > now - SEEN_EVERY:
        return
    db.execute("UPDATE kiosks SET last_seen_at = ? WHERE id = ?", [store.utc_timestamp(now), kiosk.id])


def save(db: sqlite_utils.Database, kiosk: Kiosk, response: store.Response,
         now: datetime | None = None) -> bool:
    """Store a kiosk's response (one transaction); False if its submission id was stored before."""
    if response.channel != "kiosk" or response.kiosk_id != kiosk.id:
        raise ValueError("a kiosk response must carry channel 'kiosk' and its kiosk's id")
    if response.unit_id != kiosk.unit_id:
        raise KioskRefused("foreign_unit")
    with write_transaction(db):
        new = store.save(db, response)
        db.execute("UPDATE kiosks SET last_seen_at = ? WHERE id = ?", [store.utc_timestamp(now or _now()), kiosk.id])
    return new


# Questionnaire versions each kiosk page was served (a response queued offline may use one that is
# no longer current): a read per page view, a write only the first time.
def served(db: sqlite_utils.Database, kiosk: Kiosk, questionnaire_id: str, version: int,
           now: datetime | None = None) -> None:
    """Record that ``kiosk`` was served questionnaire ``questionnaire_id`` v``version``."""
    key = (kiosk.id, questionnaire_id, int(version))
    if db.execute("SELECT 1 FROM kiosk_served WHERE kiosk_id = ? AND questionnaire_id = ? AND "
                  "questionnaire_version = ?", list(key)).fetchone() is None:
        db.execute("INSERT INTO kiosk_served (kiosk_id, questionnaire_id, questionnaire_version, first_served_at) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", [*key, store.utc_timestamp(now or _now())])


def first_served(db: sqlite_utils.Database, kiosk: Kiosk, questionnaire_id: str, version: int) -> datetime | None:
    """When ``kiosk`` was first served that questionnaire version (None: never)."""
    row = db.execute("SELECT first_served_at FROM kiosk_served WHERE kiosk_id = ? AND questionnaire_id = ? AND "
                     "questionnaire_version = ?", [kiosk.id, questionnaire_id, int(version)]).fetchone()
    return parse_timestamp(row[0]) if row else None
