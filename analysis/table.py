"""The result of :func:`analysis.compute_table`: one row per (level, district, measure).

:class:`IndexTable` holds the columns (:data:`COLUMNS`: R's reference columns
plus this platform's) and reads and writes them as CSV; :func:`finish_table`
turns the engine's estimates and variances into the full set of columns
(intervals, design effects, effective sample sizes, reliability flags,
judgements against the target, ranks with their plausible range).
"""
from __future__ import annotations

import csv
import math
import re
import unicodedata
from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence
from typing import Iterator

import numpy as np

from .cells import inert
from .intervals import korn_graubard_ci, logit_ci, reliability_flags, t_ci

__all__ = ["IndexTable", "COLUMNS", "REFERENCE_COLUMNS", "EXTRA_COLUMNS", "DEFINITIONS", "VARIANTS", "finish_table"]

DEFINITIONS = ("ITEM_AVG", "FACTOR_AVG", "POOLED", "RESP")
VARIANTS = ("sat", "score", "nd")  # satisfied share, mean score, "not dissatisfied" share
NOT_DISSATISFIED_FROM = 3
K = 5  # scores 1..5

REFERENCE_COLUMNS = (
    "level", "district", "measure", "measure_type", "factor", "n", "sum_w", "df", "p", "se",
    "ci_logit_l", "ci_logit_u", "ci_kg_l", "ci_kg_u", "deff", "n_eff_deff", "n_eff_var", "n_eff_kg",
    "deff_kish", "n_eff_kish", "mean_score", "se_mean", "mean100", "se_mean100", "ci_mean100_l",
    "ci_mean100_u", "deff_mean", "cv", "flag_n_lt_30", "flag_neff_lt_30", "flag_cv_gt_30", "nchs_suppress",
    "nchs_review")
"""The columns of R's ``oracle_output.csv``, same names, same meanings."""

EXTRA_COLUMNS = (
    "p_nd", "se_nd", "ci_nd_logit_l", "ci_nd_logit_u",
    "share_1", "share_2", "share_3", "share_4", "share_5",
    "target", "vs_target", "rank", "rank_best", "rank_worst", "items_used", "items_expected", "flag_items_missing")
"""Columns this platform adds: "not dissatisfied" (answers >= 3) with its SE and
logit interval, the 1–5 distribution, the judgement against the target and the
rank among districts with its plausible range (see :mod:`analysis.judgements`), and the criteria
behind the estimate: ``items_used`` (with at least one valid answer) of ``items_expected`` (the
questionnaire's, in the set); ``flag_items_missing`` when fewer (such rows are not ranked)."""

COLUMNS = REFERENCE_COLUMNS + EXTRA_COLUMNS
CSV_BLOCK_ROWS = 50_000   # rows formatted at a time by IndexTable.write_csv

_BOOL_COLUMNS = ("flag_n_lt_30", "flag_neff_lt_30", "flag_cv_gt_30", "nchs_suppress", "nchs_review",
                 "flag_items_missing")
_INT_COLUMNS = ("n", "df", "rank", "rank_best", "rank_worst", "items_used", "items_expected", "sae_rank", "sae_rank_best", "sae_rank_worst")
_STR_COLUMNS = ("level", "district", "measure", "measure_type", "factor", "vs_target")

# ----------------------------------------------------------------------------- the result table

@dataclass(eq=False)
class IndexTable:
    """The estimates, one row per (level, district, measure).

    ``columns`` maps each name of :data:`COLUMNS` to an array (numbers as
    float64 with NaN for "not available", flags as bool, labels as object).
    Use :meth:`rows` for dicts, :meth:`row` to look one up, :meth:`to_csv` to
    write the file the CLI writes.
    """
    columns: dict[str, np.ndarray]
    level: float
    notes: tuple[str, ...] = ()
    _index: dict | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.columns["measure"])

    @property
    def measures(self) -> list[str]:
        return list(dict.fromkeys(self.columns["measure"]))

    @property
    def districts(self) -> list[str]:
        return list(dict.fromkeys(d for d, lv in zip(self.columns["district"], self.columns["level"])
                                  if lv == "district"))

    def rows(self, **equal) -> Iterator[dict]:
        """Each row as a dict (NaN -> None, numpy scalars -> Python); with ``column=value`` arguments,
        only the rows where each such column equals its value (e.g. ``level="district"``).

        Columns are converted whole (``tolist``), not value by value: the country's 3,321 units
        make some 160,000 rows."""
        names = list(self.columns)
        mask = None
        for name, value in equal.items():
            hit = np.asarray(self.columns[name] == value, dtype=bool)
            mask = hit if mask is None else mask & hit
        cols = []
        for name in names:
            col = self.columns[name] if mask is None else self.columns[name][mask]
            if col.dtype.kind == "f":
                cols.append([None if v != v else v for v in col.tolist()])
            elif col.dtype.kind in "biu":
                cols.append(col.tolist())
            else:
                cols.append([_py(v) for v in col])
        for values in zip(*cols):
            yield dict(zip(names, values))

    def row_view(self) -> "RowView":
        """The rows as a sequence of dicts made when read (the same dicts as :meth:`rows`); the
        report reads a few thousand of the 160,000 rows of 3,321 units, by (district, measure)."""
        return RowView(self)

    def row(self, district: str, measure: str) -> dict:
        """The row of ``measure`` for ``district`` (``"ALL"`` = overall)."""
        if self._index is None:
            self._index = {(d, m): i for i, (d, m) in enumerate(zip(self.columns["district"],
                                                                    self.columns["measure"]))}
        try:
            i = self._index[(district, measure)]
        except KeyError:
            raise KeyError(f"no row for district {district!r}, measure {measure!r}") from None
        return {name: _py(col[i]) for name, col in self.columns.items()}

    def select(self, *, measure: str | None = None, level: str | None = None) -> "IndexTable":
        """The rows of one measure and/or level."""
        keep = np.ones(len(self), dtype=bool)
        if measure is not None:
            keep &= self.columns["measure"] == measure
        if level is not None:
            keep &= self.columns["level"] == level
        return IndexTable({k: v[keep] for k, v in self.columns.items()}, self.level, self.notes)

    @classmethod
    def read_csv(cls, path) -> "IndexTable":
        """Read a table written by :meth:`to_csv` (or R's oracle output: missing columns become NA)."""
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ValueError(f"{path}: empty file")
            missing = [c for c in ("level", "district", "measure", "p", "se", "df", "n") if c not in header]
            if missing:
                raise ValueError(f"{path}: not an index table (missing column(s) {', '.join(missing)})")
            raw = list(reader)
        idx = {c: i for i, c in enumerate(header)}
        cols: dict[str, np.ndarray] = {}
        for c in COLUMNS:
            values = [r[idx[c]] if c in idx and idx[c] < len(r) else "" for r in raw]
            if c in _STR_COLUMNS:
                cols[c] = np.array([unicodedata.normalize("NFC", v) if v not in ("", "NA") else None
                                    for v in values], dtype=object)
            elif c in _BOOL_COLUMNS:
                cols[c] = np.array([v == "TRUE" for v in values], dtype=bool)
            else:
                try:
                    cols[c] = np.array([float(v) if v not in ("", "NA") else np.nan for v in values])
                except ValueError as exc:
                    raise ValueError(f"{path}, column {c}: {exc}") from None
        return cls(cols, level=math.nan)

    def to_csv(self, path, *, columns: Sequence[str] = COLUMNS) -> None:
        """Write the table as CSV (numbers with full precision, NA as empty, flags TRUE/FALSE)."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            self.write_csv(handle, columns=columns)

    def write_csv(self, handle, *, columns: Sequence[str] = COLUMNS) -> None:
        writer = csv.writer(handle)
        writer.writerow(columns)
        cols = [self.columns[c] for c in columns]
        kinds = [("b" if c in _BOOL_COLUMNS or self.columns[c].dtype == bool else "i" if c in _INT_COLUMNS
                  else "s" if c in _STR_COLUMNS else "f") for c in columns]
        # The columns are formatted a block of rows at a time (the strings are those of _fmt, value
        # by value): whole columns of the national table (5,000,000 rows x 50 columns at 100,000,000
        # responses) held some 15 GB of strings at once.
        for start in range(0, len(self), CSV_BLOCK_ROWS):
            block = slice(start, start + CSV_BLOCK_ROWS)
            formatted = [_fmt_column(col[block], kind) for col, kind in zip(cols, kinds)]
            if any(_NEEDS_QUOTING.search(v) for f, kind in zip(formatted, kinds) if kind == "s" for v in set(f)):
                writer.writerows(zip(*formatted))
                continue
            # no cell the csv module would quote: its lines are the cells joined by commas
            handle.write("".join(",".join(row) + "\r\n" for row in zip(*formatted)))


class RowView(Sequence):
    """The rows of an :class:`IndexTable` as a ``Sequence`` of dicts, each made when it is read.

    ``view[i]`` equals ``list(table.rows())[i]`` (NaN -> None, numpy scalars -> Python);
    :meth:`by_key` maps ``(district, measure)`` to its row without making the others.
    """

    def __init__(self, table: IndexTable):
        self._names = list(table.columns)
        # whole columns to Python lists in C; per row read, a dict of them and None where NaN
        self._lists = []
        floats = []
        for name in self._names:
            col = table.columns[name]
            if col.dtype.kind == "f":
                floats.append(name)
                self._lists.append(col.tolist())
            elif col.dtype.kind in "biu":
                self._lists.append(col.tolist())
            else:
                self._lists.append([v if type(v) is str else _py(v) for v in col])
        self._float_names = np.array(floats, dtype=object)
        self._nan = np.column_stack([np.isnan(table.columns[name]) for name in floats]) if floats else None
        self._len = len(table)

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._len))]
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(i)
        row = dict(zip(self._names, [values[i] for values in self._lists]))
        if self._nan is not None:
            for name in self._float_names[self._nan[i]].tolist():
                row[name] = None
        return row

    def __iter__(self):
        return (self[i] for i in range(self._len))

    def by_key(self) -> "Mapping[tuple[str, str], dict]":
        """``{(district, measure): row}``, rows made when read (the last row of a repeated key wins)."""
        district = self._lists[self._names.index("district")]
        measure = self._lists[self._names.index("measure")]
        return _RowsByKey(self, {(str(d), str(m)): i for i, (d, m) in enumerate(zip(district, measure))})


class _RowsByKey(Mapping):
    def __init__(self, view: RowView, positions: dict):
        self._view, self._positions = view, positions

    def __getitem__(self, key):
        return self._view[self._positions[key]]

    def __contains__(self, key) -> bool:
        return key in self._positions

    def __iter__(self):
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


def _fmt_column(col, kind: str) -> list[str]:
    """``_fmt`` of every value of ``col``.

    A column with few distinct values (flags, counts, labels, the target) formats each distinct value
    once; floats are told apart by their bits, so -0.0 stays "-0.0"."""
    if kind == "s":
        memo: dict = {}
        return [memo[v] if v in memo else memo.setdefault(v, _fmt(v, kind)) for v in col]
    if col.dtype == object:
        return [_fmt(v, kind) for v in col]
    if kind == "b":
        return ["TRUE" if v else "FALSE" for v in col.tolist()]
    if col.dtype.kind in "iu":
        return [str(v) for v in col.tolist()] if kind == "i" else [repr(float(v)) for v in col.tolist()]
    col = np.ascontiguousarray(col, dtype=np.float64)
    bits, inverse = np.unique(col.view(np.int64), return_inverse=True)
    if bits.size * 4 <= col.size:
        distinct = np.array([_fmt(v, kind) for v in bits.view(np.float64).tolist()], dtype=object)
        return distinct[inverse.reshape(-1)].tolist()
    if kind == "i":
        return ["" if v != v else str(int(v)) for v in col.tolist()]
    return _float_reprs(col)


def _float_reprs(col: np.ndarray) -> list[str]:
    """``_fmt(v, "f")`` of every value of the float64 array ``col``: ``repr`` of each finite value.

    pyarrow writes the same shortest round-trip digits in C, several times faster than ``repr``; its
    notation differs from Python's for integral values ("1" for "1.0"), exponents and |v| < 1e-4
    ("0.00005" for "5e-05"), so only its positional texts with a decimal point of values of at least
    1e-4 are kept, and every other value is ``repr``'d (NaN and infinities as ``_fmt`` writes them).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(col), pa.string())
    keep = pc.and_(pc.and_(pc.match_substring(text, "."), pc.invert(pc.match_substring(text, "e"))),
                   pa.array(np.abs(col) >= 1e-4)).to_numpy(zero_copy_only=False)
    out = text.to_pylist()
    for i in np.flatnonzero(~keep).tolist():
        out[i] = _fmt(col[i], "f")
    return out


_INF = float("inf")
_NEEDS_QUOTING = re.compile(r'[,"\r\n]')


def _py(v):
    if isinstance(v, (np.floating, float)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def _fmt(v, kind: str) -> str:
    if v is None:
        return ""
    if kind == "s":
        return inert(str(v))
    if kind == "b":
        return "TRUE" if v else "FALSE"
    f = float(v)
    if math.isnan(f):
        return ""
    if kind == "i":
        return str(int(f))
    if math.isinf(f):
        return "Inf" if f > 0 else "-Inf"
    return repr(f)


# ----------------------------------------------------------------------------- intervals, flags, judgements

def finish_table(cols: dict, *, level: float, target, ci_method: str, notes) -> IndexTable:
    from .judgements import against_target, rank_with_range

    f = {k: np.asarray(v, dtype=float) for k, v in cols.items()
         if k not in ("level", "district", "measure", "measure_type", "factor")}
    n, p, se, df = f["n"], f["p"], f["se"], f["df"]
    out: dict[str, np.ndarray] = {
        "level": np.array(cols["level"], dtype=object),
        "district": np.array(cols["district"], dtype=object),
        "measure": np.array(cols["measure"], dtype=object),
        "measure_type": np.array(cols["measure_type"], dtype=object),
        "factor": np.array(cols["factor"], dtype=object),
        "n": n, "sum_w": f["sum_w"], "df": df, "p": p, "se": se,
    }
    out["ci_logit_l"], out["ci_logit_u"] = logit_ci(p, se, df, level=level)
    out["ci_kg_l"], out["ci_kg_u"], n_eff_kg = korn_graubard_ci(p, se, n, df, level=level)
    deff = f["deff"]
    out["deff"] = deff
    with np.errstate(invalid="ignore", divide="ignore"):
        out["n_eff_deff"] = np.where(np.isfinite(deff) & (deff > 0), n / deff, np.nan)
        inner = (p > 0) & (p < 1) & (se > 0)
        out["n_eff_var"] = np.where(inner, p * (1 - p) / np.where(inner, se, 1.0) ** 2, n)
        out["n_eff_kg"] = n_eff_kg
        out["deff_kish"] = n * f["sum_w2"] / f["sum_w"] ** 2
        out["n_eff_kish"] = f["sum_w"] ** 2 / f["sum_w2"]
    out["mean_score"] = f["mean_score"]
    out["se_mean"] = f["se_mean"]
    out["mean100"] = 25.0 * (f["mean_score"] - 1.0)
    out["se_mean100"] = 25.0 * f["se_mean"]
    out["ci_mean100_l"], out["ci_mean100_u"] = t_ci(out["mean100"], out["se_mean100"], df, level=level)
    out["deff_mean"] = f["deff_mean"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["cv"] = np.where(p > 0, se / np.where(p > 0, p, 1.0), np.nan)
    flags = reliability_flags(p, se, n, df, out["n_eff_var"], out["ci_kg_l"], out["ci_kg_u"])
    out["flag_n_lt_30"] = flags.n_lt_30
    out["flag_neff_lt_30"] = flags.neff_lt_30
    out["flag_cv_gt_30"] = flags.cv_gt_30
    out["nchs_suppress"] = flags.nchs_suppress
    out["nchs_review"] = flags.nchs_review
    out["p_nd"] = f["p_nd"]
    out["se_nd"] = f["se_nd"]
    out["ci_nd_logit_l"], out["ci_nd_logit_u"] = logit_ci(f["p_nd"], f["se_nd"], df, level=level)
    for i in range(1, K + 1):
        out[f"share_{i}"] = f[f"share_{i}"]
    # judgements: the chosen interval, Korn-Graubard where the logit one is undefined (p = 0 or 1)
    if ci_method == "logit":
        lo = np.where(np.isnan(out["ci_logit_l"]), out["ci_kg_l"], out["ci_logit_l"])
        hi = np.where(np.isnan(out["ci_logit_u"]), out["ci_kg_u"], out["ci_logit_u"])
    else:
        lo, hi = out["ci_kg_l"], out["ci_kg_u"]
    m = len(p)
    out["target"] = np.full(m, np.nan if target is None else float(target))
    out["vs_target"] = (np.full(m, None, dtype=object) if target is None
                        else np.asarray(against_target(lo, hi, target=target), dtype=object))
    rank = np.full(m, np.nan)
    best = np.full(m, np.nan)
    worst = np.full(m, np.nan)
    m_ = len(p)
    # rows rebuilt from summaries (analysis.summary) may not carry the item counts: unknown, not flagged
    used, expected = f.get("items_used"), f.get("items_expected")
    if used is None or expected is None or used.size != m_ or expected.size != m_:
        used = expected = np.full(m_, np.nan)
    out["items_used"], out["items_expected"] = used, expected
    out["flag_items_missing"] = used < expected
    is_d = (out["level"] == "district") & ~out["flag_items_missing"]     # other item sets: not ranked
    for measure in dict.fromkeys(out["measure"][is_d]):
        sel = np.flatnonzero(is_d & (out["measure"] == measure))
        r, rb, rw = rank_with_range(p[sel], lo[sel], hi[sel])
        rank[sel], best[sel], worst[sel] = r, rb, rw
    out["rank"], out["rank_best"], out["rank_worst"] = rank, best, worst
    return IndexTable({c: out[c] for c in COLUMNS}, level, tuple(notes))

