"""Sampling frames from the dossier register: import, stratified sample, outcomes, response rates, purge.

A *frame* is the list of dossiers completed in a period, exported by the
one-stop system. Its strata are unit x field of procedure; ``frame_strata``
keeps the frame count ``N_h`` and the sample size ``n_h`` of each. A sample is
drawn once per frame (simple random sampling without replacement within each
stratum, reproducible with a seed); a second wave re-invites the sampled
dossiers that have not answered and are not known to be ineligible.

Import is all or nothing: the file is checked completely first and any problem
is reported by line (in columns with pyarrow for plain files, :func:`_fast_check`;
row by row with Python's CSV reader for any other file or any problem,
:func:`check_frame_csv`); the rows are then written in short transactions (so
citizens' submissions never wait long for the lock) into a frame that stays
invisible (``imported_at`` NULL) until the last one commits.
"""
from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import sqlite_utils

from .db import write_transaction

REQUIRED_COLUMNS = ("dossier", "unit", "field", "completed_at")
OPTIONAL_COLUMNS = ("contact",)
MAX_PROBLEMS_SHOWN = 50
BATCH_ROWS = 50_000
IMPORT_CACHE_KIB = 256 * 1024     # page cache of an import, KiB
MIN_PER_STRATUM = 2

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 .-]{6,22}[0-9]$")
_DOSSIER = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


class FrameError(ValueError):
    """A frame command was refused; ``problems`` lists what was found (``line N: ...`` for files)."""

    def __init__(self, message: str, problems: list[str] | None = None, total: int | None = None):
        self.problems = problems or []
        total = total if total is not None else len(self.problems)
        if self.problems:
            shown = "\n".join(f"  {p}" for p in self.problems[:MAX_PROBLEMS_SHOWN])
            more = f"\n  … and {total - MAX_PROBLEMS_SHOWN} more" if total > MAX_PROBLEMS_SHOWN else ""
            message = f"{message}:\n{shown}{more}"
        super().__init__(message)


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------- periods and units

def parse_period(value: str) -> tuple[str, str]:
    try:
        first, last = value.split(":")
        d0, d1 = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise FrameError(f"{value!r} is not FROM:TO with ISO dates, e.g. 2026-10-01:2026-12-31") from None
    if d1 < d0:
        raise FrameError(f"the period ends ({d1}) before it starts ({d0})")
    return d0.isoformat(), d1.isoformat()


def find_frame(db: sqlite_utils.Database, period: tuple[str, str]) -> dict:
    rows = list(db.query("SELECT * FROM frames WHERE period_from = ? AND period_to = ? AND imported_at IS NOT NULL",
                         list(period)))
    if not rows:
        known = [f"{r['period_from']}:{r['period_to']}" for r in
                 db.query("SELECT period_from, period_to FROM frames WHERE imported_at IS NOT NULL ORDER BY period_from")]
        raise FrameError(f"no frame for the period {period[0]}:{period[1]}"
                         + (f" (frames: {', '.join(known)})" if known else "; import one with import-frame"))
    return rows[0]


def frames(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("SELECT * FROM frames WHERE imported_at IS NOT NULL ORDER BY period_from DESC"))


def _period_years(period: str) -> tuple[int, int] | None:
    m = re.match(r"^(\d{4})(?:-(\d{4}))?$", period or "")
    if not m:
        return None
    return int(m.group(1)), int(m.group(2) or m.group(1))


def units_for_period(db: sqlite_utils.Database, d0: str, d1: str) -> dict[str, int]:
    """Map unit code and slug to the id of the leaf unit valid in the period ``d0``..``d1``.

    A unit is valid in the period when its validity (``valid_from``..``valid_to``, local days,
    either open; or else its period label such as ``2021-2025``) overlaps the period. A code
    used by several such units resolves to the one valid at the period's end. Units with
    active children are not strata. Frames whose period spans a reform of the units are
    refused by the caller when a dossier names a unit not valid on its completion day.
    """
    columns = {r[1] for r in db.execute("PRAGMA table_info(units)")}
    validity = "u.valid_from, u.valid_to" if {"valid_from", "valid_to"} <= columns else "NULL, NULL"
    rows = db.execute(f"SELECT u.id, u.code, u.slug, u.period, {validity} FROM units u WHERE u.active = 1 AND "
                      "NOT EXISTS (SELECT 1 FROM units c WHERE c.parent_id = u.id AND c.active = 1)").fetchall()
    y0, y1 = int(d0[:4]), int(d1[:4])
    out: dict[str, int] = {}
    by_code: dict[str, list[tuple]] = {}
    for uid, code, slug, label, valid_from, valid_to in rows:
        if valid_from or valid_to:
            start, end = valid_from or "0000-00-00", valid_to or "9999-99-99"
        else:
            years = _period_years(label)
            start, end = (f"{years[0]}-01-01", f"{years[1]}-12-31") if years else ("0000-00-00", "9999-99-99")
        if end < d0 or start > d1:
            continue
        out[slug] = uid
        by_code.setdefault(code, []).append((end, uid))
    for code, candidates in by_code.items():
        out.setdefault(code, max(candidates)[1])     # the one valid latest
    return out


def field_codes(db: sqlite_utils.Database, questionnaire_id: str) -> tuple[str, ...] | None:
    from . import catalog

    q = catalog.latest(db, questionnaire_id)
    if q is None:
        return None
    for question in q.respondent:
        if question.code == "field":
            return tuple(o.code for o in question.options)
    return None


# ----------------------------------------------------------------------------- import

@dataclass
class ImportResult:
    frame_id: int
    dossiers: int
    strata: int
    with_contact: int


def _open_csv(path: Path):
    return open(path, encoding="utf-8-sig", newline="")


def check_frame_csv(path: str | Path, period: tuple[str, str], units: dict[str, int],
                    fields: tuple[str, ...] | None,
                    progress: Callable[[int], None] | None = None) -> tuple[dict[tuple[int, str], int], int, int]:
    """First pass: check every row. Returns ({(unit id, field): N}, rows, rows with contact).

    Raises :class:`FrameError` listing every problem by line.
    """
    path = Path(path)
    if not path.is_file():
        raise FrameError(f"{path}: no such file")
    problems: list[str] = []
    total_problems = 0
    counts: dict[tuple[int, str], int] = {}
    seen: dict[str, int] = {}
    with_contact = 0
    n = 0
    d0, d1 = period
    field_set = set(fields) if fields else None

    def problem(text: str) -> None:
        nonlocal total_problems
        total_problems += 1
        if len(problems) < MAX_PROBLEMS_SHOWN:
            problems.append(text)

    try:
        with _open_csv(path) as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                raise FrameError(f"{path}: the file is empty (expected a header: {', '.join(REQUIRED_COLUMNS)})")
            header = [h.strip().lower() for h in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            unknown = [h for h in header if h not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
            dupes = sorted({h for h in header if header.count(h) > 1})
            if missing or unknown or dupes:
                msgs = []
                if missing:
                    msgs.append(f"line 1: missing column(s) {', '.join(missing)}")
                if unknown:
                    msgs.append(f"line 1: unknown column(s) {', '.join(unknown)} (allowed: "
                                f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}); remove them, the frame "
                                f"must not carry other personal data")
                if dupes:
                    msgs.append(f"line 1: repeated column(s) {', '.join(dupes)}")
                raise FrameError(f"{path}: nothing imported", msgs)
            i_dossier, i_unit, i_field, i_done = (header.index(c) for c in REQUIRED_COLUMNS)
            i_contact = header.index("contact") if "contact" in header else None
            width = len(header)
            line = 1
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                n += 1
                if progress and n % 100_000 == 0:
                    progress(100_000)
                if len(row) != width:
                    problem(f"line {line}: {len(row)} values, the header has {width}")
                    continue
                dossier = row[i_dossier].strip()
                if not _DOSSIER.match(dossier):
                    problem(f"line {line}: dossier: " + ("empty" if not dossier else
                                                         "longer than 64 characters or has control characters"))
                else:
                    first = seen.get(dossier)
                    if first is not None:
                        problem(f"line {line}: dossier {dossier[:40]!r} appears again (first on line {first})")
                    else:
                        seen[dossier] = line
                unit = row[i_unit].strip()
                unit_id = units.get(unit)
                if unit_id is None:
                    problem(f"line {line}: unit {unit[:40]!r} is not a unit valid in {d0}:{d1} (code or slug)")
                field = row[i_field].strip()
                if not field:
                    problem(f"line {line}: field: empty")
                elif field_set is not None and field not in field_set:
                    problem(f"line {line}: field {field[:40]!r} is not one of {', '.join(fields)}")
                done = row[i_done].strip()
                if not _DATE.match(done):
                    problem(f"line {line}: completed_at {done[:30]!r} is not a date (YYYY-MM-DD or ISO date-time)")
                else:
                    try:
                        if len(done) == 10:
                            date.fromisoformat(done)
                        else:
                            datetime.fromisoformat(done.replace("Z", "+00:00"))
                    except ValueError:
                        problem(f"line {line}: completed_at {done[:30]!r} is not a valid date")
                    else:
                        if not d0 <= done[:10] <= d1:
                            problem(f"line {line}: completed_at {done[:10]} is outside the period {d0}:{d1}")
                if i_contact is not None:
                    contact = row[i_contact].strip()
                    if contact:
                        if _EMAIL.match(contact) or (_PHONE.match(contact)
                                                     and 8 <= sum(ch.isdigit() for ch in contact) <= 15):
                            with_contact += 1
                        else:
                            problem(f"line {line}: contact is neither a phone number nor an e-mail address")
                if unit_id is not None and field and (field_set is None or field in field_set):
                    key = (unit_id, field)
                    counts[key] = counts.get(key, 0) + 1
    except UnicodeDecodeError as exc:
        raise FrameError(f"{path}: nothing imported", [f"the file is not UTF-8 text ({exc.reason} at byte "
                                                       f"{exc.start}); save it as CSV UTF-8"]) from None
    except csv.Error as exc:
        raise FrameError(f"{path}: nothing imported", [f"line {reader.line_num}: {exc}"]) from None
    if total_problems:
        raise FrameError(f"{path}: {total_problems} problem(s), nothing imported", problems, total_problems)
    if n == 0:
        raise FrameError(f"{path}: no dossiers after the header, nothing imported")
    return counts, n, with_contact


@dataclass
class _Checked:
    """What the check pass found: strata counts, rows, rows with contact; ``rows`` for the write pass.

    ``rows(frame_id, stratum_of)`` yields batches of rows to insert; it reads the arrays of the
    fast path, or the file again with the Python reader.
    """
    counts: dict[tuple[int, str], int]
    n: int
    with_contact: int
    batches: Callable[[int, dict[tuple[int, str], int]], "Iterator[list[tuple]]"]


_PLAIN = bytes(b for b in range(0x20, 0x7f) if b != ord('"')) + b"\n\r"


def _plain_bytes(data: bytes) -> bool:
    """True when ``data`` is printable ASCII with LF or CRLF line ends and no quote character.

    On such text Python's csv reader and pyarrow's split fields the same way, ``str.strip()`` only
    removes spaces, and the checks' regular expressions mean the same in RE2 as in Python.
    """
    return not data.translate(None, _PLAIN) and data.count(b"\r") == data.count(b"\r\n")


def _fast_check(path: Path, period: tuple[str, str], units: dict[str, int],
                fields: tuple[str, ...] | None) -> _Checked | None:
    """The check pass in columns (pyarrow), for plain files; None when it cannot vouch for the file.

    It accepts a file only if every row passes every rule of :func:`check_frame_csv`; on any
    doubt (a problem, or a file that is not plain ASCII without quotes) it returns None and the
    Python reader checks the file again, reports the problems by line, and decides.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not _plain_bytes(data):
        return None
    first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("ascii")
    header = [h.strip().lower() for h in first.split(",")]
    if (any(c not in header for c in REQUIRED_COLUMNS) or len(set(header)) != len(header)
            or any(h not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS for h in header)):
        return None
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None     # e.g. a row with the wrong number of values
    del data
    n = table.num_rows
    if n == 0:
        return None
    col = {h: pc.utf8_trim(table.column(h).combine_chunks(), " ") for h in header}
    del table
    dossier, unit, field, done = (col[c] for c in REQUIRED_COLUMNS)
    length = pc.utf8_length(dossier)
    if pc.min(length).as_py() < 1 or pc.max(length).as_py() > 64:
        return None
    if pc.count_distinct(dossier).as_py() != n:
        return None
    if not pc.all(pc.is_in(unit, value_set=pa.array(list(units), pa.string()))).as_py():
        return None
    if fields is not None:
        if not pc.all(pc.is_in(field, value_set=pa.array(list(fields), pa.string()))).as_py():
            return None
    elif pc.min(pc.utf8_length(field)).as_py() < 1:
        return None
    d0, d1 = period
    for value in pc.unique(done).to_pylist():     # the same checks as the Python reader, once per value
        if not _DATE.match(value):
            return None
        try:
            if len(value) == 10:
                date.fromisoformat(value)
            else:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if not d0 <= value[:10] <= d1:
            return None
    with_contact = 0
    contact = col.get("contact")
    if contact is not None:
        given = pc.not_equal(contact, "")
        with_contact = pc.sum(given).as_py() or 0
        if with_contact:
            given_values = pc.filter(contact, given)
            # A value the phone pattern matches has only digits and "+ .-": its digits are its
            # length less those (counting literal characters is much faster than a regex).
            digits = pc.utf8_length(given_values)
            for other in "+ .-":
                digits = pc.subtract(digits, pc.count_substring(given_values, other))
            ok = pc.or_(pc.match_substring_regex(given_values, _EMAIL.pattern),
                        pc.and_(pc.match_substring_regex(given_values, _PHONE.pattern),
                                pc.and_(pc.greater_equal(digits, 8), pc.less_equal(digits, 15))))
            if not pc.all(ok).as_py():
                return None
    # Strata: unit (code or slug) x field, counted through dictionary indices.
    unit_enc = pc.dictionary_encode(unit)
    field_enc = pc.dictionary_encode(field)
    unit_ids = [units[u] for u in unit_enc.dictionary.to_pylist()]
    field_names = field_enc.dictionary.to_pylist()
    ui = unit_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    fi = field_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    width = len(field_names)
    combo = ui * width + fi
    counts: dict[tuple[int, str], int] = {}
    for key, count in enumerate(np.bincount(combo, minlength=len(unit_ids) * width).tolist()):
        if count:
            k = (unit_ids[key // width], field_names[key % width])
            counts[k] = counts.get(k, 0) + count

    def batches(frame_id: int, stratum_of: dict[tuple[int, str], int]):
        lookup = np.array([stratum_of.get((unit_ids[key // width], field_names[key % width]), 0)
                           for key in range(len(unit_ids) * width)], dtype=np.int64)
        strata = lookup[combo]
        for start in range(0, n, BATCH_ROWS):
            stop = min(start + BATCH_ROWS, n)
            contacts = ([c or None for c in contact[start:stop].to_pylist()] if contact is not None
                        else [None] * (stop - start))
            yield list(zip([frame_id] * (stop - start), strata[start:stop].tolist(),
                           dossier[start:stop].to_pylist(), done[start:stop].to_pylist(), contacts))

    return _Checked(counts, n, with_contact, batches)


def _slow_batches(path: Path, units: dict[str, int]):
    def batches(frame_id: int, stratum_of: dict[tuple[int, str], int]):
        batch: list[tuple] = []
        with _open_csv(path) as handle:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader)]
            i_dossier, i_unit, i_field, i_done = (header.index(c) for c in REQUIRED_COLUMNS)
            i_contact = header.index("contact") if "contact" in header else None
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                contact = row[i_contact].strip() if i_contact is not None else ""
                batch.append((frame_id, stratum_of[(units[row[i_unit].strip()], row[i_field].strip())],
                              row[i_dossier].strip(), row[i_done].strip(), contact or None))
                if len(batch) >= BATCH_ROWS:
                    yield batch
                    batch = []
        if batch:
            yield batch
    return batches


def check_frame(path: str | Path, period: tuple[str, str], units: dict[str, int],
                fields: tuple[str, ...] | None,
                progress: Callable[[int], None] | None = None) -> _Checked:
    """Check every row: in columns when the file is plain, else (or on any problem) with the Python reader."""
    path = Path(path)
    checked = _fast_check(path, period, units, fields) if path.is_file() else None
    if checked is not None:
        if progress:
            progress(checked.n)
        return checked
    counts, n, with_contact = check_frame_csv(path, period, units, fields, progress)
    return _Checked(counts, n, with_contact, _slow_batches(path, units))


def import_frame(db: sqlite_utils.Database, path: str | Path, period: tuple[str, str], *,
                 fields: tuple[str, ...] | None, replace: bool = False,
                 progress: Callable[[int], None] | None = None) -> ImportResult:
    """Check then import a dossier register for ``period`` (all or nothing)."""
    path = Path(path)
    existing = list(db.query("SELECT * FROM frames WHERE period_from = ? AND period_to = ?", list(period)))
    if existing and existing[0]["imported_at"] is not None:
        old = existing[0]
        if not replace:
            raise FrameError(f"a frame for {period[0]}:{period[1]} was imported on {old['imported_at']} "
                             f"({old['dossiers']:,} dossiers); use --replace to import it again")
        if old["sampled_at"]:
            raise FrameError(f"the frame for {period[0]}:{period[1]} already has a sample (drawn "
                             f"{old['sampled_at']}): it cannot be replaced")
    units = units_for_period(db, *period)
    checked = check_frame(path, period, units, fields, progress)
    counts, n, with_contact = checked.counts, checked.n, checked.with_contact

    # Second pass: write in short transactions into an invisible frame. The batches are committed
    # with synchronous = NORMAL (still atomic in WAL mode) and the transaction that makes the frame
    # visible with the connection's own setting (FULL): its fsync of the WAL covers the batches too.
    # A bigger page cache keeps the indexes of frame_dossiers in memory while they grow.
    synchronous = db.execute("PRAGMA synchronous").fetchone()[0]
    cache_size = db.execute("PRAGMA cache_size").fetchone()[0]
    db.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    try:
        with write_transaction(db):
            for stale in db.query("SELECT id FROM frames WHERE period_from = ? AND period_to = ? "
                                  "AND imported_at IS NULL", list(period)):
                _delete_frame(db, stale["id"])
            frame_id = db.execute("INSERT INTO frames (period_from, period_to, source, imported_at, dossiers) "
                                  "VALUES (?, ?, ?, NULL, ?)", [period[0], period[1], path.name, n]).lastrowid
            stratum_of: dict[tuple[int, str], int] = {}
            for (unit_id, field), count in sorted(counts.items()):
                stratum_of[(unit_id, field)] = db.execute(
                    "INSERT INTO frame_strata (frame_id, unit_id, field, population) VALUES (?, ?, ?, ?)",
                    [frame_id, unit_id, field, count]).lastrowid
        try:
            insert = ("INSERT INTO frame_dossiers (frame_id, stratum_id, dossier, completed_at, contact) "
                      "VALUES (?, ?, ?, ?, ?)")
            db.execute("PRAGMA synchronous = NORMAL")
            for batch in checked.batches(frame_id, stratum_of):
                with write_transaction(db):
                    db.conn.executemany(insert, batch)
                if progress:
                    progress(len(batch))
            db.execute(f"PRAGMA synchronous = {int(synchronous)}")
            with write_transaction(db):
                if existing and existing[0]["imported_at"] is not None:
                    _delete_frame(db, existing[0]["id"])
                db.execute("UPDATE frames SET imported_at = ? WHERE id = ?", [now_utc(), frame_id])
        except BaseException:
            db.execute(f"PRAGMA synchronous = {int(synchronous)}")
            with write_transaction(db):
                _delete_frame(db, frame_id)
            raise
    finally:
        db.execute(f"PRAGMA synchronous = {int(synchronous)}")
        db.execute(f"PRAGMA cache_size = {int(cache_size)}")
    return ImportResult(frame_id, n, len(counts), with_contact)


def _delete_frame(db: sqlite_utils.Database, frame_id: int) -> None:
    # Only a frame without a sample is ever deleted, so no response refers to it.
    db.execute("DELETE FROM invitations WHERE frame_id = ?", [frame_id])
    db.execute("DELETE FROM frame_dossiers WHERE frame_id = ?", [frame_id])
    db.execute("DELETE FROM frame_strata WHERE frame_id = ?", [frame_id])
    db.execute("DELETE FROM frames WHERE id = ?", [frame_id])


# ----------------------------------------------------------------------------- sample sizes and drawing

@dataclass
class UnitPlan:
    unit_id: int
    slug: str
    population: int
    completes: int          # responses needed
    response_rate: float
    deff: float
    sample: int             # dossiers to invite
    source: str


def _unit_labels(db, unit_ids) -> dict[int, str]:
    ids = ",".join(str(int(u)) for u in unit_ids) or "0"
    return {r["id"]: r["slug"] for r in db.query(f"SELECT id, slug FROM units WHERE id IN ({ids})")}


def previous_frame(db: sqlite_utils.Database, frame: dict) -> dict | None:
    rows = list(db.query("SELECT * FROM frames WHERE imported_at IS NOT NULL AND sampled_at IS NOT NULL "
                         "AND period_to < ? ORDER BY period_to DESC LIMIT 1", [frame["period_from"]]))
    return rows[0] if rows else None


def plan_sample(db: sqlite_utils.Database, frame: dict, *, margin: float | None, confidence: float = 0.95,
                deff: float | None = None, response_rate: float | None = None,
                previous: dict | None = None, previous_deff: dict[int, float] | None = None) -> list[UnitPlan]:
    """How many dossiers to invite per unit (see docs/sampling.md for the rule)."""
    from .staff import targets

    strata = list(db.query("SELECT unit_id, sum(population) AS N FROM frame_strata WHERE frame_id = ? "
                           "GROUP BY unit_id ORDER BY unit_id", [frame["id"]]))
    labels = _unit_labels(db, [s["unit_id"] for s in strata])
    last_rates: dict[int, float] = {}
    overall_rate = None
    if previous is not None:
        table = tracking(db, previous["id"])
        overall_rate = table.overall.rr3 if table.overall.rr3 else None
        for row in table.units:
            if row.rr3:
                last_rates[row.unit_id] = row.rr3
    dash = targets.all_targets(db) if margin is None else {}
    plans, missing = [], []
    for s in strata:
        uid, N = s["unit_id"], s["N"]
        d = (previous_deff or {}).get(uid) or deff or 1.0
        d = min(max(d, 1.0), 20.0)
        rr = last_rates.get(uid) or overall_rate or response_rate
        if rr is None:
            missing.append(f"{labels[uid]}: no response rate (no earlier period with a sample; give --response-rate)")
            continue
        if margin is not None:
            size = targets.sample_size(half_width_points=margin * 100, confidence_percent=confidence * 100,
                                       design_effect=d, population=N)
            completes, source = size.n, f"±{margin * 100:g} points at {confidence * 100:g} %, deff {d:.2f}"
        else:
            target = dash.get(uid)
            if not target:
                missing.append(f"{labels[uid]}: no target on the dashboard (set one, or give --margin)")
                continue
            completes, source = int(target["target"]), f"dashboard target ({target['method']})"
        sample = min(N, math.ceil(completes / rr - 1e-9))
        rr_source = ("last period" if (uid in last_rates or overall_rate) else "--response-rate")
        plans.append(UnitPlan(uid, labels[uid], N, completes, rr, d, sample,
                              f"{source}; response rate {rr:.3f} ({rr_source})"))
    if missing:
        raise FrameError("cannot size the sample", missing)
    return plans


def allocate(populations: list[int], total: int, minimum: int = MIN_PER_STRATUM) -> list[int]:
    """Share ``total`` among strata in proportion to their populations, at least ``minimum`` each.

    Proportional shares are rounded by largest remainder (ties: the first stratum).
    A stratum below ``min(minimum, N_h)`` is raised to it, and the units this takes
    are removed one at a time from the stratum furthest above its minimum, so the
    total is kept whenever ``total`` covers the minimums.

    >>> allocate([50, 30, 20], 10)
    [5, 3, 2]
    >>> allocate([96, 3, 1], 10)
    [7, 2, 1]
    """
    N = sum(populations)
    total = min(total, N)
    exact = [p * total / N for p in populations]
    n = [math.floor(x) for x in exact]
    order = sorted(range(len(populations)), key=lambda i: (-(exact[i] - n[i]), i))
    for i in order[: total - sum(n)]:
        n[i] += 1
    floor = [min(minimum, p) for p in populations]
    deficit = sum(max(0, f - k) for f, k in zip(floor, n))
    n = [max(f, k) for f, k in zip(floor, n)]
    while deficit > 0:
        i = max(range(len(n)), key=lambda j: (n[j] - floor[j], -j))
        if n[i] <= floor[i]:
            break
        n[i] -= 1
        deficit -= 1
    return n


@dataclass
class SampleResult:
    wave: int
    invited: int
    plans: list[UnitPlan]
    strata: int


def draw_sample(db: sqlite_utils.Database, frame: dict, *, seed: int, plans: list[UnitPlan] | None = None,
                wave: int = 1, method: dict | None = None) -> SampleResult:
    """Wave 1: SRSWOR of ``allocate``-d sizes in each stratum. Wave 2+: re-invite non-respondents."""
    if wave == 1:
        if frame["sampled_at"]:
            raise FrameError(f"the sample of {frame['period_from']}:{frame['period_to']} was drawn on "
                             f"{frame['sampled_at']} (seed {frame['sample_seed']}); use --wave 2 to invite "
                             f"the non-respondents again")
        assert plans is not None
        # A big page cache while the draw sorts a million dossiers and updates the sampled ones: the
        # sort and the updates then stay in memory instead of spilling to temporary files.
        cache_size = db.execute("PRAGMA cache_size").fetchone()[0]
        db.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
        try:
            return _draw_wave_1(db, frame, seed=seed, plans=plans, method=method)
        finally:
            db.execute(f"PRAGMA cache_size = {int(cache_size)}")
    if not frame["sampled_at"]:
        raise FrameError(f"no sample drawn yet for {frame['period_from']}:{frame['period_to']}: draw wave 1 first")
    last = db.execute("SELECT max(wave) FROM invitations WHERE frame_id = ?", [frame["id"]]).fetchone()[0] or 1
    if wave != last + 1:
        raise FrameError(f"the next wave of this frame is {last + 1} (waves so far: 1..{last})")
    with write_transaction(db):
        invited = db.execute(
            "INSERT INTO invitations (frame_id, dossier_id, stratum_id, wave) "
            "SELECT frame_id, id, stratum_id, ? FROM frame_dossiers WHERE frame_id = ? AND sampled = 1 "
            "AND responded = 0 AND ineligible = 0", [wave, frame["id"]]).rowcount
    return SampleResult(wave, invited, [], 0)


def _draw_wave_1(db: sqlite_utils.Database, frame: dict, *, seed: int, plans: list[UnitPlan],
                 method: dict | None) -> SampleResult:
    plan_of = {p.unit_id: p for p in plans}
    strata = list(db.query("SELECT id, unit_id, field, population FROM frame_strata WHERE frame_id = ? "
                           "ORDER BY unit_id, field", [frame["id"]]))
    sizes: dict[int, int] = {}
    by_unit: dict[int, list[dict]] = {}
    for s in strata:
        by_unit.setdefault(s["unit_id"], []).append(s)
    for uid, rows in by_unit.items():
        for s, k in zip(rows, allocate([r["population"] for r in rows], plan_of[uid].sample)):
            sizes[s["id"]] = k
    # Dossiers of each stratum in code order, so the draw does not depend on the file's row order.
    ids: dict[int, list[int]] = {}
    for rid, sid in db.execute("SELECT id, stratum_id FROM frame_dossiers WHERE frame_id = ? "
                               "ORDER BY stratum_id, dossier", [frame["id"]]):
        ids.setdefault(sid, []).append(rid)
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, int]] = []
    for s in strata:
        pool = ids.get(s["id"], [])
        k = sizes[s["id"]]
        picks = rng.choice(len(pool), size=k, replace=False) if k else []
        chosen.extend((pool[int(i)], s["id"]) for i in sorted(picks))
    with write_transaction(db):
        db.conn.executemany("UPDATE frame_dossiers SET sampled = 1 WHERE id = ?",      # in table order
                            [(c,) for c in sorted(c for c, _ in chosen)])
        db.conn.executemany("UPDATE frame_strata SET sampled = ? WHERE id = ?",
                            [(k, sid) for sid, k in sizes.items()])
        db.conn.executemany("INSERT INTO invitations (frame_id, dossier_id, stratum_id, wave) VALUES (?, ?, ?, 1)",
                            [(frame["id"], c, sid) for c, sid in chosen])
        db.execute("UPDATE frames SET sampled_at = ?, sample_seed = ?, sample_method = ? WHERE id = ?",
                   [now_utc(), seed, json.dumps(method or {}, ensure_ascii=False), frame["id"]])
    return SampleResult(1, len(chosen), plans, len(strata))


# ----------------------------------------------------------------------------- outcomes

OUTCOMES = ("delivered", "undeliverable", "ineligible")


def record_outcomes(db: sqlite_utils.Database, frame: dict, path: str | Path) -> dict[str, int]:
    """Read a CSV of ``dossier, outcome`` (delivered | undeliverable | ineligible); all or nothing."""
    path = Path(path)
    if not path.is_file():
        raise FrameError(f"{path}: no such file")
    sampled = {r[0]: r[1] for r in db.execute(
        "SELECT dossier, id FROM frame_dossiers WHERE frame_id = ? AND sampled = 1", [frame["id"]])}
    problems, updates = [], []
    try:
        with _open_csv(path) as handle:
            reader = csv.reader(handle)
            header = [h.strip().lower() for h in next(reader, [])]
            if header[:2] != ["dossier", "outcome"] or len(header) != 2:
                raise FrameError(f"{path}: nothing recorded", ["line 1: the columns must be dossier, outcome"])
            for row in reader:
                if not row:
                    continue
                line = reader.line_num
                if len(row) != 2:
                    problems.append(f"line {line}: {len(row)} values, expected 2")
                    continue
                dossier, outcome = row[0].strip(), row[1].strip().lower()
                if dossier not in sampled:
                    problems.append(f"line {line}: dossier {dossier[:40]!r} is not in the sample of this period")
                if outcome not in OUTCOMES:
                    problems.append(f"line {line}: outcome {outcome[:30]!r} is not one of {', '.join(OUTCOMES)}")
                if dossier in sampled and outcome in OUTCOMES:
                    updates.append((outcome, sampled[dossier]))
    except UnicodeDecodeError:
        raise FrameError(f"{path}: nothing recorded", ["the file is not UTF-8 text"]) from None
    if problems:
        raise FrameError(f"{path}: {len(problems)} problem(s), nothing recorded", problems)
    counts = dict.fromkeys(OUTCOMES, 0)
    with write_transaction(db):
        for outcome, rid in updates:
            column = {"delivered": "delivered = 1", "undeliverable": "delivered = 0",
                      "ineligible": "ineligible = 1"}[outcome]
            db.execute(f"UPDATE frame_dossiers SET {column} WHERE id = ?", [rid])
            counts[outcome] += 1
    return counts


# ----------------------------------------------------------------------------- response rates (AAPOR)

@dataclass
class Rates:
    """Counts of one stratum, unit or the whole frame, and AAPOR response rates.

    I = responded; NE = known ineligible; R = delivered, eligible, no response
    (eligible non-respondents); U = no response, eligibility unknown (delivery not
    confirmed). e = (I + R) / (I + R + NE): the share eligible among cases whose
    eligibility is known. RR1 = I / (I + R + U); RR3 = I / (I + R + e U).
    """
    sampled: int
    delivered: int
    responded: int
    ineligible: int
    unknown: int
    eligible_nonresponse: int
    population: int = 0

    def _rates(self):
        from analysis.frame import aapor_rates

        return aapor_rates(self.responded, self.eligible_nonresponse, self.unknown, self.ineligible)

    @property
    def e(self) -> float:
        return self._rates()[0]

    @property
    def rr1(self) -> float | None:
        return self._rates()[1]

    @property
    def rr3(self) -> float | None:
        return self._rates()[2]


@dataclass
class RateRow(Rates):
    unit_id: int = 0
    slug: str = ""
    field: str = ""


@dataclass
class Tracking:
    frame: dict
    strata: list[RateRow]
    units: list[RateRow]
    overall: Rates


_COUNTS = ("SELECT s.unit_id, s.field, s.population, count(d.id) AS sampled, "
           "coalesce(sum(d.delivered), 0), coalesce(sum(d.responded), 0), coalesce(sum(d.ineligible), 0), "
           "coalesce(sum(CASE WHEN d.responded = 0 AND d.ineligible = 0 AND d.delivered = 0 THEN 1 ELSE 0 END), 0), "
           "coalesce(sum(CASE WHEN d.responded = 0 AND d.ineligible = 0 AND d.delivered = 1 THEN 1 ELSE 0 END), 0) "
           "FROM frame_strata s LEFT JOIN frame_dossiers d ON d.stratum_id = s.id AND d.sampled = 1 "
           "WHERE s.frame_id = ? GROUP BY s.id ORDER BY s.unit_id, s.field")


def tracking(db: sqlite_utils.Database, frame_id: int) -> Tracking:
    """Sampled, delivered, responded, known ineligible and RR1/RR3 per stratum, unit and overall."""
    frame = db.execute("SELECT * FROM frames WHERE id = ?", [frame_id]).fetchone()
    frame = dict(zip([c[0] for c in db.execute("SELECT * FROM frames LIMIT 0").description], frame))
    rows = db.execute(_COUNTS, [frame_id]).fetchall()
    labels = _unit_labels(db, {r[0] for r in rows})
    strata = [RateRow(sampled=r[3], delivered=r[4], responded=r[5], ineligible=r[6], unknown=r[7],
                      eligible_nonresponse=r[8], population=r[2], unit_id=r[0], slug=labels.get(r[0], "?"),
                      field=r[1]) for r in rows]
    units: dict[int, RateRow] = {}
    for s in strata:
        u = units.setdefault(s.unit_id, RateRow(0, 0, 0, 0, 0, 0, 0, unit_id=s.unit_id, slug=s.slug))
        for name in ("sampled", "delivered", "responded", "ineligible", "unknown", "eligible_nonresponse",
                     "population"):
            setattr(u, name, getattr(u, name) + getattr(s, name))
    total = Rates(*(sum(getattr(s, name) for s in strata) for name in
                    ("sampled", "delivered", "responded", "ineligible", "unknown", "eligible_nonresponse",
                     "population")))
    return Tracking(frame, strata, sorted(units.values(), key=lambda u: u.slug), total)


# ----------------------------------------------------------------------------- purge

def purge_contacts(db: sqlite_utils.Database, *, today: date, retention_days: int,
                   period: tuple[str, str] | None = None) -> list[tuple[str, int]]:
    """Delete contacts and dossier codes of frames whose period ended ``retention_days`` ago or more.

    With ``period``, that frame only (and refused if its retention has not run out).
    Returns (period, dossiers cleared) per frame purged.
    """
    cutoff = (today - timedelta(days=retention_days)).isoformat()
    if period is not None:
        frame = find_frame(db, period)
        if frame["period_to"] > cutoff:
            raise FrameError(f"the period {period[0]}:{period[1]} closed on {frame['period_to']}; its contacts are "
                             f"kept until {date.fromisoformat(frame['period_to']) + timedelta(days=retention_days)} "
                             f"(CONTACT_RETENTION_DAYS = {retention_days})")
        chosen = [frame]
    else:
        chosen = list(db.query("SELECT * FROM frames WHERE imported_at IS NOT NULL AND period_to <= ? "
                               "AND contacts_purged_at IS NULL", [cutoff]))
    done = []
    with write_transaction(db):
        for frame in chosen:
            cleared = db.execute("UPDATE frame_dossiers SET contact = NULL, dossier = NULL WHERE frame_id = ? AND "
                                 "(contact IS NOT NULL OR dossier IS NOT NULL)", [frame["id"]]).rowcount
            db.execute("UPDATE invitations SET code_hash = NULL, short_hash = NULL WHERE frame_id = ?", [frame["id"]])
            db.execute("UPDATE frames SET contacts_purged_at = ? WHERE id = ?", [now_utc(), frame["id"]])
            done.append((f"{frame['period_from']}:{frame['period_to']}", cleared))
    return done
