"""Storing and reading responses: the only module that writes the responses table.

A response's answers are kept as a compact string, one character per criterion
in the order of its questionnaire version: ``1``..``5`` a score, ``n`` not
applicable, ``-`` no answer. One submission is one transaction; the UNIQUE
``uuid`` column makes a repeated submission a no-op in the database itself.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlite_utils

from questionnaires import RESPONDENT_CODES

from .sqlite import write_transaction

NOT_APPLICABLE = "n"
NO_ANSWER = "-"
from .labels import CHANNELS  # noqa: E402,F401  (qr, web, kiosk, paper, phone: how the citizen reached the form)
LANGUAGES = ("vi", "en")
# One column per respondent question the questionnaire loader accepts.
RESPONDENT_FIELDS = RESPONDENT_CODES

_COLUMNS = ("uuid", "questionnaire_id", "questionnaire_version", "unit_id", "channel", "kiosk_id",
            "lang", "started_at", "submitted_at", "duration_s", "answers", *RESPONDENT_FIELDS,
            "comment", "simulated")
# Optional columns, written only when set: a kiosk device's claimed time (migration 0004b) and the
# sampling frame of a response to a one-time invitation (migration 0008).
_OPTIONAL = ("client_submitted_at", "frame_id")


@functools.cache
def _insert_sql(extra: tuple[str, ...]) -> str:
    columns = (*_COLUMNS, *extra)
    return (f"INSERT INTO responses ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT (uuid) DO NOTHING")


def utc_timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as the stored form ``YYYY-MM-DDTHH:MM:SSZ``."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_answers(criterion_codes: Iterable[str], answers: Mapping[str, int | str | None]) -> str:
    """Encode ``{code: 1..5 | "na" | None}`` in criterion order.

    >>> encode_answers(["q01", "q02", "q03"], {"q01": 4, "q02": "na"})
    '4n-'
    """
    out = []
    for code in criterion_codes:
        value = answers.get(code)
        if value is None:
            out.append(NO_ANSWER)
        elif value == "na":
            out.append(NOT_APPLICABLE)
        elif isinstance(value, int) and 1 <= value <= 5:
            out.append(str(value))
        else:
            raise ValueError(f"answer to {code} must be 1..5, 'na' or None, not {value!r}")
    return "".join(out)


def decode_answers(criterion_codes: Iterable[str], encoded: str) -> dict[str, int | str | None]:
    codes = list(criterion_codes)
    if len(codes) != len(encoded):
        raise ValueError(f"answers {encoded!r} do not fit {len(codes)} criteria")
    decoded: dict[str, int | str | None] = {}
    for code, ch in zip(codes, encoded):
        decoded[code] = None if ch == NO_ANSWER else "na" if ch == NOT_APPLICABLE else int(ch)
    return decoded


@dataclass
class Response:
    """One completed questionnaire, as it is stored."""
    uuid: str
    questionnaire_id: str
    questionnaire_version: int
    unit_id: int
    channel: str
    lang: str
    started_at: str
    submitted_at: str
    answers: str
    respondent: dict[str, str | None] = field(default_factory=dict)
    comment: str | None = None
    kiosk_id: int | None = None
    simulated: bool = False  # written by `flask --app survey simulate`: never counted unless asked for
    client_submitted_at: str | None = None  # a kiosk device's own clock: a hint only (migration 0004b)
    # The sampling frame of a response given through a one-time invitation (survey/invitations.py).
    frame_id: int | None = None

    def row(self) -> tuple:
        started = _parse(self.started_at)
        submitted = _parse(self.submitted_at)
        duration = max(0.0, (submitted - started).total_seconds())
        return (self.uuid, self.questionnaire_id, self.questionnaire_version, self.unit_id,
                self.channel, self.kiosk_id, self.lang, self.started_at, self.submitted_at,
                duration, self.answers, *(self.respondent.get(f) for f in RESPONDENT_FIELDS),
                self.comment or None, int(self.simulated), *(getattr(self, c) for c in self.extra_columns))

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """The optional columns this response sets (see ``_OPTIONAL``)."""
        return tuple(c for c in _OPTIONAL if getattr(self, c) not in (None, ""))

    @property
    def insert_sql(self) -> str:
        return _insert_sql(self.extra_columns)


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def save(db: sqlite_utils.Database, response: Response) -> bool:
    """Store one response in its own transaction.

    Returns True if it was stored, False if a response with the same uuid was
    already there (a repeated submission stores nothing).
    """
    with write_transaction(db):
        cursor = db.execute(response.insert_sql, response.row())
        return cursor.rowcount == 1


def save_many(db: sqlite_utils.Database, responses: Iterable[Response]) -> int:
    """Store a batch of open responses in one transaction (simulator, imports); return how many were new.

    Responses to invitations are saved one by one with :func:`save` (their invitation is used up in
    the same transaction).
    """
    other: dict[tuple[str, ...], list[tuple]] = {}

    def plain_rows():
        for r in responses:
            if r.frame_id is not None:
                raise ValueError("save_many stores open responses only; a response to an invitation is saved "
                                 "with save()")
            extra = r.extra_columns
            if extra:
                other.setdefault(extra, []).append(r.row())
            else:
                yield r.row()

    with write_transaction(db):
        # rowcount counts the rows this INSERT stored; total_changes() would also
        # count what triggers write (the staff summary tables).
        stored = db.conn.executemany(_insert_sql(()), plain_rows()).rowcount
        for extra, rows in other.items():
            stored += db.conn.executemany(_insert_sql(extra), rows).rowcount
        return stored


def exists(db: sqlite_utils.Database, uuid: str) -> bool:
    return db.execute("SELECT 1 FROM responses WHERE uuid = ?", [uuid]).fetchone() is not None


def count(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM responses").fetchone()[0]


def find(db: sqlite_utils.Database, uuid: str) -> dict | None:
    """Where and how the response ``uuid`` was given (never its answers); None if not stored."""
    rows = list(db.query("SELECT uuid, unit_id, channel, kiosk_id, lang FROM responses WHERE uuid = ?", [uuid]))
    return rows[0] if rows else None


def exclude(db: sqlite_utils.Database, response_id: int, *, by: str, reason: str) -> bool:
    """Exclude a response from analysis, recording who, when and why (exclusion_log keeps the history).

    Returns False when there is no such response or it is already excluded.
    """
    now = utc_timestamp()
    with write_transaction(db):
        changed = db.execute("UPDATE responses SET excluded_at = ?, excluded_by = ?, excluded_reason = ? "
                             "WHERE id = ? AND excluded_at IS NULL", [now, by, reason, response_id]).rowcount
        if changed:
            db.execute("INSERT INTO exclusion_log (response_id, action, acted_by, acted_at, reason) "
                       "VALUES (?, 'excluded', ?, ?, ?)", [response_id, by, now, reason])
    return changed == 1


def restore(db: sqlite_utils.Database, response_id: int, *, by: str, reason: str | None = None) -> bool:
    """Undo an exclusion (the log keeps both steps); False when the response is not excluded."""
    now = utc_timestamp()
    with write_transaction(db):
        changed = db.execute("UPDATE responses SET excluded_at = NULL, excluded_by = NULL, excluded_reason = NULL "
                             "WHERE id = ? AND excluded_at IS NOT NULL", [response_id]).rowcount
        if changed:
            db.execute("INSERT INTO exclusion_log (response_id, action, acted_by, acted_at, reason) "
                       "VALUES (?, 'restored', ?, ?, ?)", [response_id, by, now, reason])
    return changed == 1
