"""Realistic simulated responses for demos, tests and benchmarks.

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
from .db import write_transaction

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


def simulate(db: sqlite_utils.Database, q: Questionnaire, n: int, seed: int, start: date, end: date,
             tz: str = "Asia/Ho_Chi_Minh", progress: Callable[[int], None] | None = None) -> int:
    """Write ``n`` responses to questionnaire ``q`` submitted between ``start`` and ``end`` (inclusive)."""
    if n < 0:
        raise ValueError(f"number of responses must be >= 0, not {n}")
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
    units = leaf_units(db)
    if not units:
        raise ValueError("there are no units to simulate responses for: load units first")
    rng = np.random.default_rng(seed)
    unit_ids = np.array([u["id"] for u in units])
    size = np.sqrt(np.array([u["population"] or 100_000 for u in units], dtype=float))
    unit_p = size / size.sum()
    unit_level = rng.normal(0.0, 0.45, len(units))          # true differences between units
    kiosks = _ensure_kiosks(db, units, rng)
    criteria = q.criteria
    n_items = len(criteria)
    item_offset = rng.normal(0.0, 0.3, n_items)
    na_allowed = np.array([c.not_applicable for c in criteria])
    zone = ZoneInfo(tz)
    days = (end - start).days + 1
    opening = datetime.combine(start, time(7, 30), zone)
    profile = {code: _option_codes(q, code) for code in store.RESPONDENT_FIELDS}
    digits = np.array(list(b"12345"), dtype=np.uint8)
    written = 0
    while written < n:
        m = min(BATCH, n - written)
        unit_idx = rng.choice(len(units), size=m, p=unit_p)
        person = unit_level[unit_idx] + rng.normal(0.0, 0.8, m)
        latent = 3.55 + person[:, None] + item_offset[None, :] + rng.normal(0.0, 0.75, (m, n_items))
        scores = np.clip(np.rint(latent), 1, 5).astype(np.uint8)
        codes = digits[scores - 1]
        codes[(rng.random((m, n_items)) < 0.12) & na_allowed[None, :]] = ord("n")
        codes[rng.random((m, n_items)) < 0.02] = ord("-")
        answers = codes.view(f"S{n_items}").ravel()
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
            started = submitted - timedelta(seconds=float(duration[i]))
            unit_id = int(unit_ids[unit_idx[i]])
            ch = str(channel[i])
            kiosk = kiosks.get(unit_id) if ch == "kiosk" else None
            lang, comment = COMMENTS[comment_idx[i]] if has_comment[i] else ("vi", None)
            batch.append(store.Response(
                uuid=str(uuid.UUID(int=(int(uuids[i, 0]) << 64 | int(uuids[i, 1])) & (2**128 - 1), version=4)),
                questionnaire_id=q.id, questionnaire_version=q.version, unit_id=unit_id, channel=ch,
                kiosk_id=kiosk, lang=lang, started_at=store.utc_timestamp(started),
                submitted_at=store.utc_timestamp(submitted), answers=answers[i].decode(),
                respondent={code: values[i] for code, values in fields.items()}, comment=comment))
        written += store.save_many(db, batch)
        if progress:
            progress(m)
    return written


def _ensure_kiosks(db: sqlite_utils.Database, units: list[dict], rng: np.random.Generator) -> dict[int, int]:
    """One simulated kiosk per unit (created once, with an unusable token hash)."""
    existing = {r["unit_id"]: r["id"] for r in db.query(
        "SELECT unit_id, min(id) AS id FROM kiosks WHERE revoked_at IS NULL GROUP BY unit_id")}
    with write_transaction(db):
        for u in units:
            if u["id"] not in existing:
                cursor = db.execute(
                    "INSERT INTO kiosks (unit_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                    [u["id"], f"simulated kiosk {u['slug']}", f"simulated:{uuid.UUID(int=int(rng.integers(0, 2**62)))}",
                     store.utc_timestamp(datetime.now(timezone.utc))])
                existing[u["id"]] = cursor.lastrowid
    return existing
