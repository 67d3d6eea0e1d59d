"""Survey responses in, as arrays: the CSV reader and the container both readers fill.

:class:`SurveyData` holds one row per respondent: the answers as small integer
codes (0 = no valid answer, 1..5 a score), the final weight, the reporting unit
(``district``), the stratum and optionally the PSU (cluster), plus the
questionnaire's structure (which factor each criterion belongs to, criterion
weights, the lowest "satisfied" score).

:func:`read_csv` reads the reference format (``respondent_id, district,
stratum, [psu], weight`` then one column per criterion); a malformed file is
refused with a message that names the line and the column. The database reader
is :func:`analysis.load_db` (module :mod:`analysis.db`).
"""
from __future__ import annotations

import csv
import io
import math
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["SurveyData", "Calibration", "InputError", "read_csv", "read_factors", "DESIGN_COLUMNS"]

DESIGN_COLUMNS = ("respondent_id", "district", "stratum", "psu", "weight")
"""Columns of the CSV format that are not criteria. ``psu`` and ``respondent_id`` are optional."""
REQUIRED_COLUMNS = ("district", "stratum", "weight")
UNSUPPORTED_COLUMNS = {"fpc": "a finite population correction is not supported (sampling is treated as with "
                              "replacement); remove the fpc column"}
SCALE = (1, 5)


class InputError(ValueError):
    """Input refused; the message names the file, the line or row, and the column."""


@dataclass(frozen=True, eq=False)
class SurveyData:
    """Respondents, their answers and the sample design, as arrays.

    Attributes
    ----------
    items : tuple of str
        Criterion codes, in questionnaire order (J of them).
    answers : ndarray of uint8, shape (n, J)
        0 = no valid answer (blank, not applicable), 1..5 = the score.
    weights : ndarray of float64, shape (n,)
        Final weights, finite and > 0.
    district, stratum : ndarray of intp, shape (n,)
        Codes into ``districts`` / ``strata`` (labels, sorted).
    psu : ndarray of intp, shape (n,), or None
        Cluster codes (unique across strata), or None when each respondent is
        its own PSU.
    factor_of : dict
        Criterion code -> factor code, for the criteria that belong to a factor
        (factor order = order of first appearance).
    item_weights : ndarray of float64, shape (J,)
        Criterion weights (1 unless the questionnaire gives others).
    satisfied_from : int
        Lowest score counted as satisfied (4: "satisfied" and "very satisfied").
    respondent_id : ndarray or None
        Labels used in error messages.
    notes : tuple of str
        What the reader did (period, questionnaire versions, weighting report).
    fpc : ndarray of float64, shape (len(strata),), or None
        Population size of each stratum for the finite population correction
        (sampling without replacement, R's ``fpc = ~N``); None: with replacement.
    calibration : Calibration or None
        How the final weights were calibrated (post-stratification or raking), so that the
        variance is the calibration (g-weight residual) variance, as R's ``survey`` computes it
        for ``postStratify()`` / ``calibrate()`` designs; None: the weights are treated as fixed.
    """
    items: tuple[str, ...]
    answers: np.ndarray
    weights: np.ndarray
    district: np.ndarray
    districts: tuple[str, ...]
    stratum: np.ndarray
    strata: tuple[str, ...]
    psu: np.ndarray | None = None
    factor_of: Mapping[str, str] = field(default_factory=dict)
    item_weights: np.ndarray | None = None
    satisfied_from: int = 4
    respondent_id: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    fpc: np.ndarray | None = None
    calibration: "Calibration | None" = None

    def __post_init__(self):
        n = self.weights.shape[0]
        J = len(self.items)
        if len(set(self.items)) != J:
            raise InputError("criterion codes must be unique")
        if self.answers.shape != (n, J) or self.answers.dtype != np.uint8:
            raise InputError(f"answers must be a uint8 array of shape ({n}, {J})")
        if self.item_weights is None:
            object.__setattr__(self, "item_weights", np.ones(J))
        iw = np.asarray(self.item_weights, dtype=float)
        if iw.shape != (J,) or not np.all(np.isfinite(iw) & (iw > 0)):
            raise InputError("criterion weights must be finite numbers > 0, one per criterion")
        object.__setattr__(self, "item_weights", iw)
        unknown = [i for i in self.factor_of if i not in self.items]
        if unknown:
            raise InputError(f"factor map names unknown criteria: {', '.join(unknown)}")
        if self.calibration is not None:
            if self.calibration.margins[0].size != n:
                raise InputError(f"calibration margins must have one code per respondent ({n})")
            if self.psu is not None:
                raise InputError("a calibration variance with PSU clusters is not supported (each respondent "
                                 "must be its own PSU)")
        if not SCALE[0] < self.satisfied_from <= SCALE[1]:
            raise InputError(f"satisfied_from must be in {SCALE[0] + 1}..{SCALE[1]}, got {self.satisfied_from}")
        if self.fpc is not None:
            fpc = np.asarray(self.fpc, dtype=float)
            if fpc.shape != (len(self.strata),) or not np.all(fpc > 0):
                raise InputError("fpc must give a population size > 0 for each stratum")
            if self.psu is not None:
                raise InputError("a finite population correction is only supported without clusters (psu)")
            rows = np.bincount(self.stratum, minlength=len(self.strata))
            over = np.flatnonzero(rows > fpc)
            if over.size:
                raise InputError(f"stratum {self.strata[over[0]]!r} has {rows[over[0]]} respondents but a "
                                 f"population of {fpc[over[0]]:g}")
            object.__setattr__(self, "fpc", fpc)

    @property
    def n(self) -> int:
        return int(self.weights.shape[0])

    @property
    def factors(self) -> tuple[str, ...]:
        """Factor codes in order of first appearance."""
        return tuple(dict.fromkeys(self.factor_of[i] for i in self.items if i in self.factor_of))

    def with_weights(self, weights: np.ndarray, note: str | None = None) -> "SurveyData":
        """A copy with other final weights (e.g. after raking), treated as fixed (no calibration)."""
        w = np.asarray(weights, dtype=float)
        if w.shape != self.weights.shape or not np.all(np.isfinite(w) & (w > 0)):
            raise InputError("new weights must be finite, > 0 and one per respondent")
        return replace(self, weights=w, notes=self.notes + ((note,) if note else ()), calibration=None)

    @classmethod
    def from_arrays(cls, answers, weights, district, *, stratum=None, psu=None, items: Sequence[str] | None = None,
                    factor_of: Mapping[str, str] | None = None, item_weights=None, satisfied_from: int = 4,
                    respondent_id=None, notes: Iterable[str] = (),
                    calibration: "Calibration | None" = None) -> "SurveyData":
        """Build from plain arrays (labels of any kind; NaN or 0 answers are missing).

        ``stratum`` defaults to the district (each unit its own stratum).
        """
        a = np.asarray(answers, dtype=float)
        if a.ndim != 2:
            raise InputError("answers must be a 2-d array (respondents x criteria)")
        n, J = a.shape
        codes = np.where(np.isnan(a), 0, a)
        bad = (codes != 0) & ~np.isin(codes, np.arange(SCALE[0], SCALE[1] + 1))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(f"row {i}: answer {a[i, j]!r} to criterion {j} is not 1..5 or missing")
        w = np.asarray(weights, dtype=float)
        if w.shape != (n,):
            raise InputError(f"weights must have {n} values, got shape {w.shape}")
        bad_w = np.flatnonzero(~np.isfinite(w) | (w <= 0))
        if bad_w.size:
            raise InputError(f"row {bad_w[0]}: weight {w[bad_w[0]]!r} is not a number > 0")
        dl, dc = _labels(district, n, "district")
        sl, sc = _labels(district if stratum is None else stratum, n, "stratum")
        pc = None
        if psu is not None:
            _, p = _labels(psu, n, "psu")
            pc = _nest(sc, p)
        items = tuple(items) if items is not None else tuple(f"q{j + 1:02d}" for j in range(J))
        return cls(items=items, answers=codes.astype(np.uint8), weights=w, district=dc, districts=dl,
                   stratum=sc, strata=sl, psu=pc, factor_of=dict(factor_of or {}), item_weights=item_weights,
                   satisfied_from=satisfied_from,
                   respondent_id=None if respondent_id is None else np.asarray(respondent_id),
                   notes=tuple(notes), calibration=calibration)


CALIBRATION_KINDS = ("poststratify", "calibrate")


@dataclass(frozen=True, eq=False)
class Calibration:
    """The calibration behind the final weights, for the calibration variance.

    ``kind``: ``"poststratify"`` (R's ``postStratify()``: the residual of a linearised variable is
    its deviation from its *unweighted* mean in the respondent's cell) or ``"calibrate"`` (R's
    ``calibrate()``, any ``calfun`` such as raking: the residual of a weighted least-squares fit on
    the margins' indicators, weighted by the design weights before calibration). ``margins``:
    one code array per margin (each respondent in exactly one cell of each margin, codes 0..),
    ``design_weights``: the weights before calibration (``calibrate``). Only for designs without
    PSU clusters (each respondent its own PSU), as the database gives.
    """
    kind: str
    margins: tuple[np.ndarray, ...]
    design_weights: np.ndarray | None = None
    names: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in CALIBRATION_KINDS:
            raise InputError(f"calibration kind must be one of {', '.join(CALIBRATION_KINDS)}; got {self.kind!r}")
        margins = tuple(np.unique(np.asarray(m), return_inverse=True)[1].reshape(-1).astype(np.intp)
                        for m in self.margins)
        if not margins or len({m.size for m in margins}) != 1:
            raise InputError("calibration margins must be code arrays of one length")
        object.__setattr__(self, "margins", margins)
        if self.kind == "calibrate":
            if self.design_weights is None:
                raise InputError("calibrate needs the design weights before calibration")
            object.__setattr__(self, "design_weights", np.asarray(self.design_weights, dtype=float))

    def subset(self, keep: np.ndarray) -> "Calibration":
        return Calibration(self.kind, tuple(m[keep] for m in self.margins),
                           None if self.design_weights is None else self.design_weights[keep], self.names)


def nfc(text: str) -> str:
    """Unicode NFC: "Thủ Đức" typed with combining marks (NFD) and precomposed (NFC) is one name."""
    return unicodedata.normalize("NFC", text)


def nfc_labels(labels: Sequence[str], codes: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """Labels normalised to NFC, sorted, with labels that become equal merged (codes remapped)."""
    normal = [nfc(str(x)) for x in labels]
    if normal == list(labels) and len(set(normal)) == len(normal):
        return tuple(normal), codes
    merged = sorted(set(normal))
    remap = np.array([merged.index(x) for x in normal], dtype=np.intp)
    return tuple(merged), remap[np.asarray(codes, dtype=np.intp)] if len(remap) else codes


def _labels(values, n: int, what: str) -> tuple[tuple[str, ...], np.ndarray]:
    values = np.asarray(values)
    if values.shape != (n,):
        raise InputError(f"{what} must have one value per respondent ({n}), got shape {values.shape}")
    labels, codes = np.unique(values.astype(str), return_inverse=True)
    return nfc_labels(tuple(str(x) for x in labels), codes.reshape(n).astype(np.intp))


def _nest(stratum: np.ndarray, psu: np.ndarray) -> np.ndarray:
    """PSU codes unique across strata (the same label in two strata is two PSUs)."""
    key = stratum.astype(np.int64) * (int(psu.max()) + 1) + psu
    _, codes = np.unique(key, return_inverse=True)
    return codes.reshape(-1).astype(np.intp)


# ----------------------------------------------------------------------------- factors file

def read_factors(path: str | Path, items: Sequence[str] | None = None) -> tuple[dict[str, str], dict[str, float]]:
    """Read ``item,factor[,weight]``; return ``({item: factor}, {item: weight})``.

    Parameters
    ----------
    path : path
        CSV with a header. ``weight`` (optional) is the criterion weight, > 0.
    items : sequence of str, optional
        The criteria of the survey: an item not among them is refused.

    Raises
    ------
    InputError
        Naming the line and the column: a missing column, an empty or unknown
        item, an item listed twice, an empty factor, a bad weight.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = [nfc(h.strip()) for h in next(reader, [])]
    for col in ("item", "factor"):
        if col not in header:
            raise InputError(f"{path}: missing column '{col}' (the header must include item,factor)")
    ii, fi = header.index("item"), header.index("factor")
    wi = header.index("weight") if "weight" in header else None
    factor_of: dict[str, str] = {}
    weights: dict[str, float] = {}
    known = set(items) if items is not None else None
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path}, line {line}: {len(row)} fields, expected {len(header)}")
        item, factor = nfc(row[ii].strip()), nfc(row[fi].strip())
        if not item:
            raise InputError(f"{path}, line {line}, column item: empty")
        if known is not None and item not in known:
            raise InputError(f"{path}, line {line}, column item: unknown criterion {item!r} "
                             f"(not a column of the survey)")
        if item in factor_of:
            raise InputError(f"{path}, line {line}, column item: {item!r} is listed twice")
        if not factor:
            raise InputError(f"{path}, line {line}, column factor: empty factor for {item!r}")
        factor_of[item] = factor
        if wi is not None and row[wi].strip():
            raw = row[wi].strip()
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{path}, line {line}, column weight: {raw!r} is not a number > 0")
            weights[item] = value
    if not factor_of:
        raise InputError(f"{path}: no rows")
    return factor_of, weights


# ----------------------------------------------------------------------------- survey CSV

CHUNK_BYTES = 8 << 20


def read_csv(path: str | Path, *, factors: str | Path | Mapping[str, str] | None = None,
             satisfied_from: int = 4, progress: Callable[[int, int], None] | None = None) -> SurveyData:
    """Read a survey CSV (the format of ``shared/reference/*/survey.csv``).

    Parameters
    ----------
    path : path
        Header ``[respondent_id,] district, stratum, [psu,] weight, <criteria...>``
        in any order; every column that is not a design column is a criterion,
        holding ``1``..``5`` or nothing (missing / not applicable).
    factors : path or mapping, optional, keyword-only
        ``factors.csv`` (``item,factor[,weight]``) or ``{item: factor}``.
    satisfied_from : int, keyword-only
        Lowest score counted as satisfied (default 4).
    progress : callable, optional, keyword-only
        Called as ``progress(bytes_done, bytes_total)`` while reading.

    Returns
    -------
    SurveyData

    Raises
    ------
    InputError
        For a missing column, a line with the wrong number of fields, an empty
        district/stratum/psu, a weight that is not a number > 0, an answer that
        is not 1..5 or empty, or a bad factors file; the message names the line
        (1 = header) and the column.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    header_end = raw.find(b"\n", start)
    if header_end < 0:
        header_end = len(raw)
    crlf = header_end > start and raw[header_end - 1:header_end] == b"\r"
    try:
        header = next(csv.reader([raw[start:header_end - crlf].decode("utf-8")]))
    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
        raise InputError(f"{path}, line 1: cannot read the header: {exc}") from None
    header = [nfc(h.strip()) for h in header]
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise InputError(f"{path}, line 1: column {dup!r} appears twice")
    for col in REQUIRED_COLUMNS:
        if col not in header:
            raise InputError(f"{path}, line 1: missing column '{col}' (needed: {', '.join(REQUIRED_COLUMNS)})")
    for col, why in UNSUPPORTED_COLUMNS.items():
        if col in header:
            raise InputError(f"{path}, line 1, column {col}: {why}")
    items = [h for h in header if h not in DESIGN_COLUMNS]
    if not items:
        raise InputError(f"{path}, line 1: no criterion columns (every column is a design column)")
    if any(not h for h in items):
        raise InputError(f"{path}, line 1: a column has an empty name")
    end = len(raw)
    while end > header_end and raw[end - 1:end] in (b"\n", b"\r"):
        end -= 1
    if end <= header_end + 1:
        raise InputError(f"{path}: no respondents (only a header)")
    stop = end + (2 if crlf else 1)
    if raw[end:stop] == (b"\r\n" if crlf else b"\n"):
        source, base = raw, header_end + 1              # no copy of a well-terminated file
    else:
        source, base = raw[header_end + 1:end] + (b"\r\n" if crlf else b"\n"), 0
        stop = len(source)
    body = memoryview(source)[base:stop]
    quoted = raw.find(b'"', header_end + 1) >= 0 or (not crlf and raw.find(b"\r", header_end + 1) >= 0)
    parser = _slow_parse if quoted else _fast_parse
    cols = parser(path, body, header, items, progress, crlf=crlf, source=source, base=base)
    factor_of: dict[str, str] = {}
    item_weight: dict[str, float] = {}
    if isinstance(factors, Mapping):
        factor_of = {nfc(str(k)): nfc(str(v)) for k, v in factors.items()}
        unknown = [i for i in factor_of if i not in items]
        if unknown:
            raise InputError(f"factor map: unknown criteria {', '.join(unknown)}")
    elif factors is not None:
        factor_of, item_weight = read_factors(factors, items)
    for c in ("district", "stratum", "psu"):     # one unit written in NFC and in NFD is one unit
        if c in cols:
            cols[c] = nfc_labels(*cols[c])
    return SurveyData(
        items=tuple(items), answers=cols["answers"], weights=cols["weight"],
        district=cols["district"][1], districts=cols["district"][0],
        stratum=cols["stratum"][1], strata=cols["stratum"][0],
        psu=None if "psu" not in cols else _nest(cols["stratum"][1], cols["psu"][1]),
        factor_of=factor_of, item_weights=np.array([item_weight.get(i, 1.0) for i in items]),
        satisfied_from=satisfied_from, respondent_id=cols.get("respondent_id"),
        notes=(f"input: {path} ({cols['weight'].size} respondents, {len(items)} criteria)",))


def _fail_value(path, line: int, column: str, value: bytes | str, why: str):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    raise InputError(f"{path}, line {line}, column {column}: {value!r} {why}")


def _gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Fixed-width byte strings (dtype S) of the fields ``buf[start:start+length]``."""
    width = max(int(lengths.max()) if lengths.size else 0, 1)
    offsets = np.arange(width)
    idx = starts[:, None] + offsets
    inside = offsets < lengths[:, None]
    out = np.zeros((starts.size, width), dtype=np.uint8)
    out[inside] = buf[idx[inside]]
    return out.view(f"S{width}").ravel()


def _codes_of(strings: list[np.ndarray]) -> tuple[tuple[str, ...], np.ndarray]:
    """Sorted labels and codes of byte-string arrays, compressing runs first (rows come grouped)."""
    s = np.concatenate(strings) if len(strings) > 1 else strings[0]
    n = s.size
    change = np.flatnonzero(s[1:] != s[:-1]) + 1
    starts = np.concatenate(([0], change))
    labels, inverse = np.unique(s[starts], return_inverse=True)
    codes = np.repeat(inverse.reshape(-1), np.diff(np.append(starts, n)))
    return tuple(x.decode("utf-8") for x in labels), codes.astype(np.intp)


def _fast_parse(path, body, header: list[str], items: list[str], progress, crlf: bool = False,
                source: bytes = b"", base: int = 0, threads: int | None = None) -> dict:
    buf_all = np.frombuffer(body, dtype=np.uint8)
    total = buf_all.size
    # blocks of whole lines, and the line number each starts at (for messages)
    bounds, pos = [], 0
    while pos < total:
        end = min(pos + CHUNK_BYTES, total)
        if end < total:
            end = source.find(b"\n", base + end - 1) + 1 - base   # through the next newline
        bounds.append((pos, end))
        pos = end
    first_line = [2]
    for lo, hi in bounds[:-1]:
        first_line.append(first_line[-1] + source.count(b"\n", base + lo, base + hi))
    ctx = _Ctx(path, header, items, crlf)
    work = [(buf_all[lo:hi], line) for (lo, hi), line in zip(bounds, first_line)]
    workers = max(1, min(threads or os.cpu_count() or 1, len(work)))
    results = []
    if workers == 1:
        parts = map(lambda job: _parse_block(ctx, *job), work)
    else:
        pool = ThreadPoolExecutor(max_workers=workers)
        parts = pool.map(lambda job: _parse_block(ctx, *job), work)   # numpy releases the GIL
    try:
        for (lo, hi), part in zip(bounds, parts):
            results.append(part)
            if progress:
                progress(hi, total)
    finally:
        if workers > 1:
            pool.shutdown(cancel_futures=True)
    out: dict = {"answers": np.concatenate([r["answers"] for r in results]),
                 "weight": np.concatenate([r["weight"] for r in results])}
    for c in ("district", "stratum", "psu"):
        if c in ctx.col:
            try:
                out[c] = _codes_of([r[c] for r in results])
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}, column {c}: not UTF-8 text: {exc}") from None
    return out


class _Ctx:
    def __init__(self, path, header, items, crlf):
        self.path, self.header, self.items, self.crlf = path, header, items, crlf
        self.ncol = len(header)
        self.col = {h: i for i, h in enumerate(header)}
        self.item_idx = np.array([self.col[i] for i in items])
        self.contiguous = bool(np.all(np.diff(self.item_idx) == 1)) and self.item_idx[0] > 0
        self.string_cols = [c for c in ("district", "stratum", "psu") if c in self.col]


def _parse_block(ctx: _Ctx, buf: np.ndarray, line0: int) -> dict:
    path, header, items, ncol, col, item_idx = ctx.path, ctx.header, ctx.items, ctx.ncol, ctx.col, ctx.item_idx
    delim = np.flatnonzero((buf == 44) | (buf == 10))
    newline = buf[delim] == 10
    rows = int(newline.sum())
    ok = delim.size == rows * ncol
    if ok:
        d = delim.reshape(rows, ncol)
        nl = newline.reshape(rows, ncol)
        ok = bool(nl[:, -1].all()) and not nl[:, :-1].any()
    if not ok:
        line_of = np.cumsum(newline) - newline  # line index (in block) of each delimiter
        fields = np.bincount(line_of, minlength=rows)
        bad = int(np.flatnonzero(fields != ncol)[0])
        raise InputError(f"{path}, line {line0 + bad}: {int(fields[bad])} fields, expected {ncol} "
                         f"({', '.join(header)})")
    line_start = np.empty(rows, dtype=d.dtype)
    line_start[0] = 0
    line_start[1:] = d[:-1, -1] + 1
    if ctx.crlf:   # the last field of each line ends with \r
        last = d[:, -1] - 1
        cr = buf[np.maximum(last, 0)] == 13
        if not cr.all():
            bad = int(np.flatnonzero(~cr)[0])
            raise InputError(f"{path}, line {line0 + bad}: mixed line endings (\\r\\n expected)")
        d = d.copy()
        d[:, -1] -= 1                                 # treat the \r as part of the delimiter

    def field(c):
        start = line_start if c == 0 else d[:, c - 1] + 1
        return start, d[:, c] - start

    # criteria: empty or one digit 1..5
    if ctx.contiguous:
        ends = d[:, item_idx[0]:item_idx[-1] + 1]
        lens = np.diff(d[:, item_idx[0] - 1:item_idx[-1] + 1], axis=1) - 1
    else:
        ends = d[:, item_idx]
        lens = ends - np.where(item_idx > 0, d[:, np.maximum(item_idx - 1, 0)] + 1, line_start[:, None])
    ch = buf[ends - 1]                                # the character of a one-character field
    code = np.where(lens == 0, 0, ch - 48).astype(np.uint8)   # uint8 wraps for non-digits
    bad = (lens > 1) | ((lens == 1) & ((code < 1) | (code > 5)))
    if bad.any():
        r, j = np.argwhere(bad)[0]
        e = int(ends[r, j])
        value = bytes(buf[e - int(lens[r, j]):e])
        _fail_value(path, line0 + r, items[j], value, "is not an answer 1..5 (or empty for no answer)")
    out = {"answers": code}
    raw_w = _gather(buf, *field(col["weight"]))
    w = _parse_decimals(raw_w)
    badw = np.flatnonzero(~np.isfinite(w) | (w <= 0))
    if badw.size:
        r = int(badw[0])
        _fail_value(path, line0 + r, "weight", raw_w[r], "is not a number > 0")
    out["weight"] = w
    for c in ctx.string_cols:
        start, length = field(col[c])
        empty = np.flatnonzero(length == 0)
        if empty.size:
            raise InputError(f"{path}, line {line0 + int(empty[0])}, column {c}: empty")
        out[c] = _gather(buf, start, length)
    return out


_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _parse_decimals(raw: np.ndarray) -> np.ndarray:
    """Floats from fixed-width byte strings such as ``b"1234.5678"``, exactly as ``float()`` reads them.

    Plain decimals (digits with at most one point, up to 15 significant digits) are parsed with integer
    arithmetic: ``mantissa / 10**decimals`` is correctly rounded because both are exact doubles. Anything
    else (signs, exponents, "nan", longer numbers) goes through ``float()``; unreadable values become NaN.
    """
    width = raw.dtype.itemsize
    b = raw.view(np.uint8).reshape(-1, width)
    digit = (b >= 48) & (b <= 57)
    point = b == 46
    n_digits = digit.sum(axis=1)
    n_points = point.sum(axis=1)
    simple = ((digit | point | (b == 0)).all(axis=1) & (n_points <= 1) & (n_digits <= 15) & (n_digits >= 1))
    # exponent of each digit = digits to its right; decimals = digits right of the point
    right = np.cumsum(digit[:, ::-1], axis=1)[:, ::-1] - digit
    value = np.where(digit, b.astype(np.int64) - 48, 0)
    mant = (value * _POW10[np.minimum(right, 18)]).sum(axis=1)
    decimals = np.where(n_points > 0, (digit & (np.cumsum(point, axis=1) > 0)).sum(axis=1), 0)
    out = np.where(simple, mant / (10.0 ** decimals), np.nan)
    for i in np.flatnonzero(~simple):
        out[i] = _to_float(bytes(raw[i]))
    return out


def _to_float(x: bytes) -> float:
    try:
        return float(x)
    except ValueError:
        return math.nan


def _slow_parse(path, body, header: list[str], items: list[str], progress, crlf: bool = False, **_) -> dict:
    """The same checks with Python's csv module, for files with quoted fields."""
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text: {exc}") from None
    ncol = len(header)
    col = {h: i for i, h in enumerate(header)}
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as exc:
        raise InputError(f"{path}, line {reader.line_num + 1}: {exc}") from None
    n = len(rows)
    if n == 0:
        raise InputError(f"{path}: no respondents (only a header)")
    answers = np.zeros((n, len(items)), dtype=np.uint8)
    weights = np.zeros(n)
    strings = {c: [] for c in ("respondent_id", "district", "stratum", "psu") if c in col}
    valid = {"": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
    item_cols = [col[i] for i in items]
    for r, row in enumerate(rows):
        line = r + 2
        if len(row) != ncol:
            raise InputError(f"{path}, line {line}: {len(row)} fields, expected {ncol} ({', '.join(header)})")
        for j, ci in enumerate(item_cols):
            v = row[ci]
            if v not in valid:
                _fail_value(path, line, items[j], v, "is not an answer 1..5 (or empty for no answer)")
            answers[r, j] = valid[v]
        w = _to_float(row[col["weight"]].encode())
        if not (math.isfinite(w) and w > 0):
            _fail_value(path, line, "weight", row[col["weight"]], "is not a number > 0")
        weights[r] = w
        for c in strings:
            v = row[col[c]]
            if c != "respondent_id" and v == "":
                raise InputError(f"{path}, line {line}, column {c}: empty")
            strings[c].append(v)
    if progress:
        progress(len(body), len(body))
    out: dict = {"answers": answers, "weight": weights}
    for c in ("district", "stratum", "psu"):
        if c in strings:
            labels, codes = np.unique(np.array(strings[c], dtype=object).astype(str), return_inverse=True)
            out[c] = (tuple(str(x) for x in labels), codes.reshape(-1).astype(np.intp))
    if "respondent_id" in strings:
        out["respondent_id"] = np.array(strings["respondent_id"])
    return out
