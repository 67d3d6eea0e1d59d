"""Realistic simulated responses for demos, tests and benchmarks -- that never pass for real.

Every simulated row is marked (``responses.simulated = 1``), so the dashboard,
the exports and the reports leave it out unless asked for, and ``remove``
deletes exactly those rows. A simulated response is never attributed to a
kiosk (its kiosk_id stays empty: a registered kiosk's figures stay true) and
never dated after the moment it is written. ``simulate`` refuses a database
that already holds real responses unless ``alongside_real`` is given.

Each unit has its own true satisfaction level; a respondent's answers are
correlated through a personal latent level; some items are left blank or
marked not applicable; channels, kiosks, durations, opening hours and
respondent profiles vary. Responses go through :func:`survey.responses.save_many`,
the same storage code as the web form, in batches.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import sqlite_utils

from questionnaires.loader import Questionnaire

from . import responses as store
from .units import leaf_units
from .sqlite import write_transaction

CHANNELS = np.array(["kiosk", "qr", "web", "paper"])
CHANNEL_P = np.array([0.45, 0.35, 0.15, 0.05])
COMMENTS = [
    ("vi", "Cán bộ hướng dẫn tận tình, thủ tục nhanh."),
    ("vi", "Phải chờ lâu, phòng chờ thiếu ghế."),
    ("vi", "Nên có thêm hướng dẫn nộp hồ sơ trực tuyến."),
    ("en", "Friendly staff, but the queue was long."),
    ("vi", "Hồ sơ bị trễ hẹn nhưng không nhận được thư xin lỗi."),
]
BATCH = 20_000


def _option_codes(q: Questionnaire, code: str) -> tuple[str, ...]:
    try:
        return q.respondent_question(code).option_codes
    except KeyError:  # the questionnaire does not ask it
        return ()


def _pick(rng: np.random.Generator, options: list[str], size: int, skew: float = 0.0) -> np.ndarray:
    """Draw ``size`` option codes; ``skew`` > 0 favours the first options."""
    if not options:
        return np.full(size, None, dtype=object)
    weights = np.exp(-skew * np.arange(len(options)))
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=size, p=weights / weights.sum())]


class RealResponsesPresent(ValueError):
    """The database holds real responses and the caller did not say simulated ones may join them."""


def real_responses(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM responses WHERE simulated = 0").fetchone()[0]


def remove(db: sqlite_utils.Database) -> int:
    """Delete every simulated response (and nothing else), with the rows that refer to it; return how many.

    ``simulate`` writes no integrity rows, but a simulated response could still have been reviewed
    (held, excluded, its comment handled): those rows go too, and the integrity counts follow."""
    with write_transaction(db):
        ids = "SELECT id FROM responses WHERE simulated = 1"

        def exists(table: str) -> bool:
            return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone() is not None

        if exists("integrity_holds"):
            # integrity_counts is kept by insert/update triggers only: take the removed rows out by hand.
            for table, reason in (("integrity_flags", "reason"), ("integrity_holds", "'any'")):
                for day, unit_id, why, state, n in db.execute(
                        f"SELECT day, unit_id, {reason}, state, count(*) FROM {table} WHERE response_id IN ({ids}) "
                        "GROUP BY 1, 2, 3, 4").fetchall():
                    db.execute("UPDATE integrity_counts SET n = n - ? WHERE day = ? AND unit_id = ? AND reason = ? "
                               "AND state = ?", [n, day, unit_id, why, state])
        for table in ("exclusion_log", "comment_reviews", "response_flags", "integrity_flags", "integrity_holds",
                      "integrity_review_log", "integrity_origin"):
            if exists(table):
                db.execute(f"DELETE FROM {table} WHERE response_id IN ({ids})")
        return db.execute("DELETE FROM responses WHERE simulated = 1").rowcount


def simulate(db: sqlite_utils.Database, q: Questionnaire, n: int, seed: int, start: date, end: date,
             tz: str = "Asia/Ho_Chi_Minh", progress: Callable[[int], None] | None = None, *,
             alongside_real: bool = False, now: datetime | None = None) -> int:
    """Write ``n`` marked responses to questionnaire ``q`` submitted between ``start`` and ``end``
    (inclusive, local days), none after ``now`` (default: the current time)."""
    if n < 0:
        raise ValueError(f"number of responses must be >= 0, not {n}")
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
    zone = ZoneInfo(tz)
    now = (now or datetime.now(timezone.utc)).astimezone(zone)
    if start > now.date():
        raise ValueError(f"the period starts ({start}) after today ({now.date()}): simulated responses are "
                         "never dated in the future")
    if not alongside_real:
        real = real_responses(db)
        if real:
            raise RealResponsesPresent(
                f"the database holds {real} real responses; simulated ones would sit beside them. Use a "
                "database of its own for demos, or pass --alongside-real to add marked simulated responses "
                "anyway (they stay out of the dashboard, exports and reports unless asked for)")
    end = min(end, now.date())
    days = (end - start).days + 1
    # The units valid on each day (a reform inside the period changes them): one segment per set.
    segments: list[list[dict]] = []
    segment_of_day = np.empty(days, dtype=np.intp)
    for d in range(days):
        day_units = leaf_units(db, start + timedelta(days=d)) if d == 0 or _boundary(db, start + timedelta(days=d)) \
            else segments[-1]
        if not segments or [u["id"] for u in day_units] != [u["id"] for u in segments[-1]]:
            segments.append(day_units)
        segment_of_day[d] = len(segments) - 1
    if any(not seg for seg in segments):
        raise ValueError("there are no units to simulate responses for on some days of the period: load units first")
    units = list({u["id"]: u for seg in segments for u in seg}.values())
    rng = np.random.default_rng(seed)
    position = {u["id"]: i for i, u in enumerate(units)}
    unit_ids = np.array([u["id"] for u in units])
    segment_units, segment_p = [], []
    for seg in segments:
        size = np.sqrt(np.array([u["population"] or 100_000 for u in seg], dtype=float))
        segment_units.append(np.array([position[u["id"]] for u in seg]))
        segment_p.append(size / size.sum())
    unit_level = rng.normal(0.0, 0.45, len(units))          # true differences between units
    criteria = q.criteria
    n_items = len(criteria)
    item_offset = rng.normal(0.0, 0.3, n_items)
    na_allowed = np.array([c.not_applicable for c in criteria])
    opening = datetime.combine(start, time(7, 30), zone)
    latest = now - timedelta(minutes=1)
    profile = {code: _option_codes(q, code) for code in store.RESPONDENT_FIELDS}
    digits = np.array(list(b"12345"), dtype=np.uint8)
    written = 0
    while written < n:
        m = min(BATCH, n - written)
        if len(segments) == 1:     # (draws in the same order as before units had periods: same data per seed)
            unit_idx = segment_units[0][rng.choice(len(segment_units[0]), size=m, p=segment_p[0])]
            day = None
        else:
            day = rng.integers(0, days, m)
            unit_idx = np.empty(m, dtype=np.intp)
            seg_of = segment_of_day[day]
            for k in range(len(segments)):
                sel = np.flatnonzero(seg_of == k)
                unit_idx[sel] = segment_units[k][rng.choice(len(segment_units[k]), size=sel.size, p=segment_p[k])]
        person = unit_level[unit_idx] + rng.normal(0.0, 0.8, m)
        latent = 3.55 + person[:, None] + item_offset[None, :] + rng.normal(0.0, 0.75, (m, n_items))
        scores = np.clip(np.rint(latent), 1, 5).astype(np.uint8)
        codes = digits[scores - 1]
        codes[(rng.random((m, n_items)) < 0.12) & na_allowed[None, :]] = ord("n")
        codes[rng.random((m, n_items)) < 0.02] = ord("-")
        answers = codes.view(f"S{n_items}").ravel()
        if day is None:
            day = rng.integers(0, days, m)
        seconds = rng.integers(0, int(9.5 * 3600), m)
        duration = np.where(rng.random(m) < 0.03, rng.uniform(8, 30, m), rng.lognormal(np.log(200), 0.45, m))
        channel = CHANNELS[rng.choice(4, size=m, p=CHANNEL_P)]
        fields = {code: _pick(rng, opts, m, skew=0.15) for code, opts in profile.items()}
        has_comment = rng.random(m) < 0.06
        comment_idx = rng.integers(0, len(COMMENTS), m)
        uuids = rng.integers(0, 2**63, size=(m, 2), dtype=np.int64)
        batch = []
        for i in range(m):
            submitted = opening + timedelta(days=int(day[i]), seconds=int(seconds[i]))
            if submitted > latest:  # today: only the part of the day already gone
                day_start = datetime.combine(submitted.date(), time(0, 0), zone)
                span = max(60.0, (latest - day_start).total_seconds())
                submitted = day_start + timedelta(seconds=float(seconds[i]) % span)
            started = submitted - timedelta(seconds=float(duration[i]))
            unit_id = int(unit_ids[unit_idx[i]])
            ch = str(channel[i])
            lang, comment = COMMENTS[comment_idx[i]] if has_comment[i] else ("vi", None)
            batch.append(store.Response(
                uuid=str(uuid.UUID(int=(int(uuids[i, 0]) << 64 | int(uuids[i, 1])) & (2**128 - 1), version=4)),
                questionnaire_id=q.id, questionnaire_version=q.version, unit_id=unit_id, channel=ch,
                kiosk_id=None, simulated=True, lang=lang, started_at=store.utc_timestamp(started),
                submitted_at=store.utc_timestamp(submitted), answers=answers[i].decode(),
                respondent={code: values[i] for code, values in fields.items()}, comment=comment))
        written += store.save_many(db, batch)
        if progress:
            progress(m)
    return written


def _boundary(db: sqlite_utils.Database, day: date) -> bool:
    """Whether some unit starts on ``day`` or ended the day before (the valid units may change)."""
    iso, before = day.isoformat(), (day - timedelta(days=1)).isoformat()
    return db.execute("SELECT EXISTS (SELECT 1 FROM units WHERE valid_from = ? OR valid_to = ?)",
                      [iso, before]).fetchone()[0] == 1
