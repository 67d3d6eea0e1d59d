"""One-time invitations of a probability sample: codes, the gateway CSV, printable slips, answering.

Each invitation has two codes, made when it is exported and shown only then:

* a **link code** (22 characters, 128 random bits) in the link ``/i/<code>``,
  printed as a QR code on paper slips and sent by SMS or e-mail;
* a **short code** of 8 characters from an alphabet without look-alikes
  (no 0/O, 1/I/L; about 40 bits) that a citizen types at a kiosk at ``/i``.

Only SHA-256 hashes of both are stored, so neither the database nor a backup
can answer on a citizen's behalf. A code answers once: the submission marks the
sampled dossier as responded in the same transaction that stores the response;
the stored response keeps its frame and stratum (unit, field) and nothing that
points back to the dossier, the contact or the code (docs/privacy.md). The
address ``/i/<code>`` is removed from access logs (:class:`RedactInvitationCodes`).
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlite_utils

from .db import write_transaction
from .frames import IMPORT_CACHE_KIB, FrameError, now_utc

SHORT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"   # 31 symbols: no 0, O, 1, I, L
SHORT_LENGTH = 8
_SHORT_TYPED = re.compile(r"[\s\-]")
_LINK_CODE = re.compile(r"^[A-Za-z0-9_-]{22}$")


def digest(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def new_link_code() -> str:
    return secrets.token_urlsafe(16)


def new_short_code() -> str:
    """8 symbols drawn uniformly from SHORT_ALPHABET: one draw below 31**8, written in base 31.

    (One call to the system's random source per code instead of one per symbol.)
    """
    number = secrets.randbelow(len(SHORT_ALPHABET) ** SHORT_LENGTH)
    symbols = []
    for _ in range(SHORT_LENGTH):
        number, digit = divmod(number, len(SHORT_ALPHABET))
        symbols.append(SHORT_ALPHABET[digit])
    return "".join(symbols)


def normalise_short(typed: str) -> str | None:
    """The short code a citizen typed (any case, spaces or a hyphen allowed), or None if it cannot be one."""
    code = _SHORT_TYPED.sub("", typed or "").upper()
    if len(code) != SHORT_LENGTH or any(ch not in SHORT_ALPHABET for ch in code):
        return None
    return code


def shown_short(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


# ----------------------------------------------------------------------------- issuing

@dataclass
class Issued:
    invitation_id: int
    dossier: str
    contact: str | None
    unit_slug: str
    unit_name_vi: str
    unit_name_en: str
    field: str
    wave: int
    link: str
    link_code: str
    short_code: str
    expires_on: str


def issue(db: sqlite_utils.Database, frame: dict, *, wave: int | None, base_url: str, valid_days: int,
          today: date, reissue: bool = False, deliver=None) -> list[Issued]:
    """Make codes for the frame's invitations of ``wave`` (default: the latest) not issued yet.

    With ``reissue``, invitations already issued and not yet answered get new codes
    (the old ones stop working). Answered dossiers and ineligible ones get none.
    ``deliver(issued)`` (e.g. writing the files) runs before the codes are
    committed: if it fails, no code is issued.
    """
    if frame.get("contacts_purged_at"):
        raise FrameError(f"the contacts of {frame['period_from']}:{frame['period_to']} were purged on "
                         f"{frame['contacts_purged_at']}: its invitations are closed")
    if wave is None:
        wave = db.execute("SELECT max(wave) FROM invitations WHERE frame_id = ?", [frame["id"]]).fetchone()[0]
        if wave is None:
            raise FrameError(f"no sample drawn yet for {frame['period_from']}:{frame['period_to']}: run draw-sample")
    rows = list(db.query(
        "SELECT i.id, i.code_hash, d.dossier, d.contact, s.field, u.slug, u.name_vi, u.name_en "
        "FROM invitations i JOIN frame_dossiers d ON d.id = i.dossier_id JOIN frame_strata s ON s.id = i.stratum_id "
        "JOIN units u ON u.id = s.unit_id WHERE i.frame_id = ? AND i.wave = ? AND d.responded = 0 "
        "AND d.ineligible = 0 ORDER BY u.slug, s.field, d.dossier", [frame["id"], wave]))
    if not rows:
        raise FrameError(f"wave {wave} of {frame['period_from']}:{frame['period_to']} has no invitation to issue")
    todo = [r for r in rows if reissue or r["code_hash"] is None]
    if not todo:
        raise FrameError(f"every invitation of wave {wave} was issued already; use --reissue to make new codes "
                         f"(the old ones stop working)")
    expires = (today + timedelta(days=valid_days)).isoformat()
    stamp = now_utc()
    base = base_url.rstrip("/")
    out: list[Issued] = []
    # A big page cache while the random hashes go into their unique indexes (see frames.IMPORT_CACHE_KIB).
    cache_size = db.execute("PRAGMA cache_size").fetchone()[0]
    db.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    try:
        _issue_codes(db, todo, out, base=base, stamp=stamp, expires=expires, wave=wave, deliver=deliver)
    finally:
        db.execute(f"PRAGMA cache_size = {int(cache_size)}")
    return out


def _issue_codes(db, todo, out, *, base, stamp, expires, wave, deliver) -> None:
    with write_transaction(db):
        for r in todo:
            while True:
                link, short = new_link_code(), new_short_code()
                try:
                    db.conn.execute("UPDATE invitations SET code_hash = ?, short_hash = ?, issued_at = ?, "
                                    "expires_on = ? WHERE id = ?", [digest(link), digest(short), stamp, expires, r["id"]])
                    break
                except sqlite_utils.db.sqlite3.IntegrityError:   # a short code already in use: draw again
                    continue
            out.append(Issued(r["id"], r["dossier"], r["contact"], r["slug"], r["name_vi"], r["name_en"], r["field"],
                              wave, f"{base}/i/{link}", link, short, expires))
        if deliver is not None:
            deliver(out)


def _cell(value: str | None) -> str:
    """A CSV cell safe to open in a spreadsheet (formula characters neutralised; phone numbers kept)."""
    value = value or ""
    if value[:1] in ("=", "@", "\t", "\r") or (value[:1] in ("+", "-") and not value[1:2].isdigit()):
        return "'" + value
    return value


def gateway_csv(issued: list[Issued]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["dossier", "contact", "link", "short_code", "unit", "field", "wave", "expires_on"])
    for i in issued:
        writer.writerow([_cell(i.dossier), _cell(i.contact), i.link, shown_short(i.short_code), i.unit_slug,
                         i.field, i.wave, i.expires_on])
    return "\ufeff" + buf.getvalue()


def slips_html(issued: list[Issued], *, kiosk_url: str, field_names: dict[str, dict[str, str]]) -> str:
    """A printable page of slips (six per A4 page), each with its QR code, short code and expiry."""
    import segno
    from jinja2 import Environment
    from markupsafe import Markup

    slips = []
    for i in issued:
        qr = segno.make(i.link, error="m")
        svg = qr.svg_inline(scale=3, border=2, title="QR")
        slips.append({"issued": i, "qr": Markup(svg), "short": shown_short(i.short_code),
                      "field_vi": field_names.get(i.field, {}).get("vi", i.field),
                      "field_en": field_names.get(i.field, {}).get("en", i.field)})
    return Environment(autoescape=True).from_string(_SLIPS).render(slips=slips, kiosk_url=kiosk_url)


_SLIPS = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Phiếu mời khảo sát / Survey invitations</title>
<style>
@page { size: A4; margin: 10mm; }
body { font-family: sans-serif; margin: 0; }
.slip { box-sizing: border-box; width: 50%; height: 92mm; float: left; padding: 5mm; border: 1px dashed #888;
        page-break-inside: avoid; break-inside: avoid; font-size: 10pt; }
.slip:nth-child(6n+1) { clear: left; }
.slip:nth-child(6n) { page-break-after: always; break-after: page; }
.qr { float: right; margin-left: 3mm; }
.code { font: bold 18pt monospace; letter-spacing: 1px; }
h2 { font-size: 12pt; margin: 0 0 2mm; }
p { margin: 1mm 0; }
.en { color: #333; font-style: italic; }
</style></head><body>
{% for s in slips %}<section class="slip" aria-label="{{ s.short }}">
<div class="qr">{{ s.qr }}</div>
<h2>Mời Ông/Bà đánh giá sự phục vụ của {{ s.issued.unit_name_vi }}</h2>
<p class="en">Please rate the service of {{ s.issued.unit_name_en }}</p>
<p>Lĩnh vực / Field: {{ s.field_vi }} / {{ s.field_en }}</p>
<p>Quét mã QR, hoặc tại máy khảo sát vào {{ kiosk_url }} và nhập mã:<br>
<span class="en">Scan the QR code, or at a survey kiosk open {{ kiosk_url }} and type the code:</span></p>
<p class="code">{{ s.short }}</p>
<p>Mã dùng một lần, hết hạn ngày {{ s.issued.expires_on }}. Phiếu ẩn danh.<br>
<span class="en">One-time code, valid until {{ s.issued.expires_on }}. Your answers are anonymous.</span></p>
</section>{% endfor %}
</body></html>
"""


# ----------------------------------------------------------------------------- answering

@dataclass
class Found:
    invitation_id: int
    dossier_id: int
    frame_id: int
    unit_id: int
    field: str
    state: str           # "open", "used", "expired", "closed"


def lookup(db: sqlite_utils.Database, *, link_code: str | None = None, short_code: str | None = None,
           today: date) -> Found | None:
    """The invitation a code opens (None: no such code). Never logs or stores the code."""
    if link_code is not None:
        if not _LINK_CODE.match(link_code):
            short = normalise_short(link_code)
            if short is None:
                return None
            column, value = "short_hash", digest(short)
        else:
            column, value = "code_hash", digest(link_code)
    else:
        short = normalise_short(short_code or "")
        if short is None:
            return None
        column, value = "short_hash", digest(short)
    row = db.execute(
        f"SELECT i.id, i.dossier_id, i.frame_id, s.unit_id, s.field, i.expires_on, d.responded, d.ineligible, "
        f"f.contacts_purged_at FROM invitations i JOIN frame_dossiers d ON d.id = i.dossier_id "
        f"JOIN frame_strata s ON s.id = i.stratum_id JOIN frames f ON f.id = i.frame_id WHERE i.{column} = ?",
        [value]).fetchone()
    if row is None:
        return None
    return Found(row[0], row[1], row[2], row[3], row[4], _state(row[5], row[6], row[7], row[8], today))


def by_id(db: sqlite_utils.Database, invitation_id: int, today: date) -> Found | None:
    row = db.execute(
        "SELECT i.id, i.dossier_id, i.frame_id, s.unit_id, s.field, i.expires_on, d.responded, d.ineligible, "
        "f.contacts_purged_at, i.code_hash FROM invitations i JOIN frame_dossiers d ON d.id = i.dossier_id "
        "JOIN frame_strata s ON s.id = i.stratum_id JOIN frames f ON f.id = i.frame_id WHERE i.id = ?",
        [invitation_id]).fetchone()
    if row is None or row[9] is None:
        return None
    return Found(row[0], row[1], row[2], row[3], row[4], _state(row[5], row[6], row[7], row[8], today))


def _state(expires_on, responded, ineligible, purged, today: date) -> str:
    if responded:
        return "used"
    if purged or ineligible:
        return "closed"
    if expires_on and today.isoformat() > expires_on:
        return "expired"
    return "open"


def mark_used(db: sqlite_utils.Database, found: Found, day: date) -> bool:
    """Inside the caller's transaction: mark the dossier responded and the invitation used on ``day``.

    False when the dossier has answered already (another tab, another of its codes).
    """
    changed = db.execute("UPDATE frame_dossiers SET responded = 1 WHERE id = ? AND responded = 0",
                         [found.dossier_id]).rowcount
    if not changed:
        return False
    db.execute("UPDATE invitations SET used_on = ? WHERE id = ?", [day.isoformat(), found.invitation_id])
    return True


def local_today(tz: str) -> date:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(tz)).date()


# ----------------------------------------------------------------------------- logs

_CODE_IN_PATH = re.compile(r"(/i/)(?!(?:answer|thanks)\b)[^\s/?\"']+")


def redact(text: str) -> str:
    """``/i/<code>`` with the code replaced by ``…``."""
    return _CODE_IN_PATH.sub(r"\1…", text)


class RedactInvitationCodes(logging.Filter):
    """Removes invitation codes from log records (the development server logs every request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in
                                (record.args if isinstance(record.args, tuple) else (record.args,)))
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_log_filter() -> None:
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactInvitationCodes) for f in logger.filters):
        logger.addFilter(RedactInvitationCodes())
