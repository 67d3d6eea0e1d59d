"""Provincial summaries: the sufficient statistics of one province and period, in a portable file.

A *summary* (``.sipas`` file) holds everything the national table needs from one
province's responses, and no respondent's answers:

* the **unit rows**: for every reporting unit, every estimate with its variance,
  respondent count, weight sums, degrees of freedom and design-effect inputs,
  before intervals, judgements and ranks (these depend on the confidence level,
  the target and the other units, so the merge computes them);
* the **whole sums** of the province, centred at the province's own estimates:
  the category totals (weighted counts of each answer to each criterion), the
  design Gram matrices of the linearised variables, already combined over the
  province's strata (``sum_h a_h sum_c X_c X_c' - b_h T_h T_h'``), the row-level
  moments behind design effects and Kish's weighting effect, and per criterion the
  respondents and the degrees of freedom;
* the **strata**: label and number of PSUs;
* a **JSON header**: format name and version, questionnaire, criteria, factors and
  criterion weights, the unit tree, the weighting and how it may be merged,
  the treatment of lonely PSUs, counts and notes.

Why this merges exactly
-----------------------
Strata and units are nested in provinces, so a unit's estimates and variances
are the same whether its province is analysed alone or inside the pooled
national sample (a unit is a domain; its variance only involves its own strata).
The national (and a province's) level is a ratio of sums over all its rows;
the province's sums are stored centred at the province's estimates, and moving
them to the national centres is a linear change of basis (each centred plane
gains ``(centre_prov - centre_nat) x answered``), exact in algebra and benign in
floating point. See :func:`analysis.merge.merge_summaries` and ``docs/scale.md``.

File layout (format version 1)
------------------------------
An Arrow IPC file (``pyarrow.ipc``; readable from R's ``arrow``, Java, JS...).
The schema metadata key ``sipas-summary`` holds the JSON header. Each record
has a ``kind``:

``row``
    one (unit, measure): ``district``, ``measure``, ``measure_type``,
    ``factor`` and the numbers in :data:`ROW_FIELDS`;
``array``
    one array of the whole sums: ``name``, ``shape`` and the float64 ``values``
    in C order (see :data:`WHOLE_ARRAYS`);
``stratum``
    ``name`` = stratum label, ``n`` = its number of PSUs.

Everything is float64 or UTF-8; no pickles.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._blas import single_threaded_blas
from .design import LONELY_PSU
from .inputs import InputError, SurveyData
from . import accumulate as _acc, measures as _meas
from .indices import _levels, district_rows

__all__ = ["FORMAT", "FORMAT_VERSION", "SummaryError", "Summary", "Whole", "summarize", "read_summary", "to_bytes", "from_bytes",
           "ROW_FIELDS", "WHOLE_ARRAYS"]

FORMAT = "sipas-summary"
FORMAT_VERSION = 1
ROW_LABELS = ("measure", "measure_type", "factor")
ROW_FIELDS = ("n", "sum_w", "sum_w2", "df", "p", "se", "mean_score", "se_mean", "p_nd", "se_nd", "deff",
              "deff_mean", "share_1", "share_2", "share_3", "share_4", "share_5")
"""Numbers of a unit row, before intervals: respondents, sum of weights and of squared weights, degrees of
freedom, the three estimates (share satisfied, mean score, share not dissatisfied) with their standard errors,
the design effects of the share and of the mean, the 1-5 distribution."""
WHOLE_ARRAYS = {
    "P": "(J, 6) weighted count of each answer code 0..5 (0 = no valid answer) per criterion",
    "V": "(4J, 4J) design variance matrix of the centred planes [answered, satisfied', score', nd'] "
         "per criterion: sum over strata of a_h sum_c X_c X_c' - b_h T_h T_h'",
    "T": "(4J,) weighted totals of the centred planes",
    "VR": "(4S, 4S) the same for the respondent features [has, share', score', nd'] per criterion set",
    "TR": "(4S,) weighted totals of the respondent features",
    "Q": "(J,) sum of squared weights of respondents answering each criterion",
    "R2": "(S,) sum of squared weights of respondents answering a criterion of each set",
    "E": "(S, 12) row-level weighted moments of the respondent features (design effects, RESP shares)",
    "H": "(3J, 3J) row-level weighted Gram matrix of the planes [answered, satisfied', score'] (design effects)",
    "n_item": "(J,) respondents answering each criterion", "df_item": "(J,) degrees of freedom per criterion",
    "n_set": "(S,) respondents answering a criterion of each set", "df_set": "(S,) degrees of freedom per set",
    "strata_item": "(2, J) per criterion: the strata with respondents answering it, and those of them with more "
                   "than one PSU (lonely_psu='average' scales a variance by their ratio, summed over provinces)",
    "strata_set": "(2, S) the same per criterion set",
}
"""The whole-province sums, all centred at the province's own estimates (computed again from ``P``). Criteria
are in engine order (factor by factor, see the header's ``engine_order``); sets are the factors then the index."""
OPTIONAL_ARRAYS = ("strata_item", "strata_set")
"""Absent from summaries written before they were added; only ``lonely_psu="average"`` needs them."""


class SummaryError(InputError):
    """A summary cannot be written, read or merged; the message says which file and why."""


# ----------------------------------------------------------------------------- the whole sums

@dataclass(eq=False)
class Whole:
    """A domain's sums centred at its own estimates (a province, or several merged)."""
    P: np.ndarray
    V: np.ndarray
    T: np.ndarray
    VR: np.ndarray
    TR: np.ndarray
    Q: np.ndarray
    R2: np.ndarray
    E: np.ndarray
    H: np.ndarray
    n_item: np.ndarray
    df_item: np.ndarray
    n_set: np.ndarray
    df_set: np.ndarray
    strata_item: np.ndarray
    strata_set: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in WHOLE_ARRAYS}

    @classmethod
    def combine(cls, parts: list["Whole"], top: int, membership: np.ndarray) -> "Whole":
        """The sums of the union of disjoint domains, centred at the union's estimates."""
        if len(parts) == 1:
            return parts[0]
        P = sum(p.P for p in parts)
        cen = _acc._Centres.from_totals(P, top, membership)
        out = None
        for part in parts:
            pc = _acc._Centres.from_totals(part.P, top, membership)
            delta = pc.lut_theta - cen.lut_theta     # (J, 3)
            rho = pc.lut_pooled - cen.lut_pooled     # (NS, 3)
            moved = cls(
                P=part.P,
                V=_acc._shift(_acc._shift(part.V, delta, 0), delta, 1),
                T=_acc._shift(part.T, delta),
                VR=_acc._shift_resp(_acc._shift_resp(part.VR, rho, 0), rho, 1),
                TR=_acc._shift_resp(part.TR, rho),
                Q=part.Q, R2=part.R2, E=_shift_E(part.E, part.TR, rho),
                H=_shift3(_shift3(part.H, delta, 0), delta, 1),
                n_item=part.n_item, df_item=part.df_item, n_set=part.n_set, df_set=part.df_set,
                strata_item=part.strata_item, strata_set=part.strata_set)
            out = moved if out is None else cls(**{k: getattr(out, k) + getattr(moved, k) for k in WHOLE_ARRAYS})
        return out

    def level(self, lay, iw: np.ndarray, top: int, membership: np.ndarray):
        """The engine's per-level object, ready for its row builder."""
        cen = _acc._Centres.from_totals(self.P, top, membership)
        NS = membership.shape[1]
        J = iw.size
        blocks, share = _meas._item_avg_coefficients(lay, iw, cen, cen)
        # coefficient vectors of the ITEM_AVG linearisations on the planes [answered, sat', score'] (3J)
        C = np.zeros((J, 3, NS, 2))
        for s, (f, members) in enumerate(lay.sets):
            for b in members:
                lo, hi = lay.base[b]
                blk = blocks[b].reshape(hi - lo, _acc.QP, 4)
                for v in range(2):
                    weight = 1.0 if f is not None else share[b, v * 2]
                    C[lo:hi, :, s, v] += weight * blk[:, :3, v * 2]
        C = C.reshape(3 * J, NS * 2)
        T3 = self.T.reshape(J, _acc.QP)[:, :3].reshape(-1)
        Z = np.stack([np.einsum("kc,kc->c", C, self.H @ C), T3 @ C]).reshape(2, NS, 2)
        has_i = (self.n_item > 0).astype(float)
        has_s = (self.n_set > 0).astype(float)
        return _meas._Level(cen, self.V, np.zeros((1, self.T.size)), np.zeros(1), self.VR, self.TR[None, :],
                          self.Q, self.n_item[None, :], (self.df_item + has_i)[None, :], self.n_set[None, :],
                          (self.df_set + has_s)[None, :], self.R2, self.E, Z, self.P,
                          strata=((self.strata_item[0], self.strata_item[1]), (self.strata_set[0], self.strata_set[1])))


def _shift3(M: np.ndarray, delta: np.ndarray, axis: int = -1) -> np.ndarray:
    """Move the 3-plane features [answered, sat', score'] per criterion to other centres (delta = old - new)."""
    M = np.moveaxis(M, axis, -1)
    shape = M.shape
    X = M.reshape(shape[:-1] + (-1, 3)).copy()
    X[..., 1:] += X[..., :1] * delta[:, :2]
    return np.moveaxis(X.reshape(shape), -1, axis)


def _shift_E(E: np.ndarray, TR: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Row-level moments of the respondent features moved to other centres (as the engine's overall level)."""
    NS = E.shape[0]
    TRd = TR.reshape(NS, 4)
    out = E.copy()
    for v in range(2):
        out[:, v] = E[:, v] + 2 * rho[:, v] * TRd[:, 1 + v] + rho[:, v] ** 2 * TRd[:, 0]
    for v, (i2, ik) in enumerate(((7, 8), (10, 11))):
        out[:, i2] = E[:, i2] + 2 * rho[:, v] * E[:, ik] + rho[:, v] ** 2 * E[:, 9]
        out[:, ik] = E[:, ik] + rho[:, v] * E[:, 9]
    return out


# ----------------------------------------------------------------------------- from the engine's passes

def _row_gram(codes: np.ndarray, w: np.ndarray, cen, chunk_rows: int = 1 << 16) -> np.ndarray:
    """sum_i w_i x_i x_i' over the planes [answered, sat', score'] centred at ``cen`` (rows in any order)."""
    n, J = codes.shape
    lut = np.ascontiguousarray(cen.lut.reshape(J * 6, _acc.QP)[:, :3])
    offs = (np.arange(J) * 6).astype(np.intp)
    H = np.zeros((3 * J, 3 * J))
    for a in range(0, n, chunk_rows):
        b = min(a + chunk_rows, n)
        X = np.take(lut, codes[a:b] + offs, axis=0).reshape(b - a, 3 * J)
        X *= np.sqrt(w[a:b])[:, None]
        H += X.T @ X
    return H


def _whole_of(level, H: np.ndarray) -> Whole:
    """Collapse the engine's overall level into strata-combined sums."""
    T = level.T
    bT = level.b[:, None] * T
    TR = level.TR
    n_item, n_set = level.nit.sum(axis=0), level.nset.sum(axis=0)
    many = level.b[:, None] > 0                 # strata with more than one PSU (lonely_psu="average": b_h = 0)

    def strata(rows_per_stratum):
        present = rows_per_stratum > 0
        return np.stack([present.sum(axis=0), (present & many).sum(axis=0)]).astype(float)
    return Whole(P=level.P.copy(), V=level.V - T.T @ bT, T=T.sum(axis=0), VR=level.VR - TR.T @ (level.b[:, None] * TR),
                 TR=TR.sum(axis=0), Q=level.Q.copy(), R2=level.R2.copy(), E=level.E.copy(), H=H,
                 n_item=n_item, df_item=level.pit.sum(axis=0) - (level.nit > 0).sum(axis=0),
                 n_set=n_set, df_set=level.pset.sum(axis=0) - (level.nset > 0).sum(axis=0),
                 strata_item=strata(level.nit), strata_set=strata(level.nset))


# ----------------------------------------------------------------------------- the summary

@dataclass(eq=False)
class Summary:
    """One province's (or one part's) sufficient statistics; see the module docstring."""
    header: dict
    rows: dict[str, np.ndarray]          # "district" + ROW_LABELS + ROW_FIELDS
    whole: Whole
    strata: tuple[str, ...]
    n_psu: np.ndarray
    path: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.path or f"summary of {self.header.get('province')!r}"

    @property
    def province(self) -> str:
        return str(self.header["province"])

    @property
    def districts(self) -> list[str]:
        return list(dict.fromkeys(self.rows["district"].tolist()))

    # ---- file
    def write(self, path) -> None:
        """Write the Arrow IPC file (through a temporary file: a failure leaves nothing behind)."""
        data = to_bytes(self)
        target = Path(path)
        if not target.parent.is_dir():
            raise SummaryError(f"{target.parent}: no such folder")
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".sipas", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def to_arrow(self):
        import pyarrow as pa

        nr = len(self.rows["district"])
        arrays = self.whole.arrays()
        ns = len(self.strata)
        na, total = len(arrays), nr + len(arrays) + ns
        kind = ["row"] * nr + ["array"] * na + ["stratum"] * ns
        cols: dict[str, list] = {
            "kind": kind,
            "district": self.rows["district"].tolist() + [None] * (na + ns),
            "measure": self.rows["measure"].tolist() + [None] * (na + ns),
            "measure_type": self.rows["measure_type"].tolist() + [None] * (na + ns),
            "factor": self.rows["factor"].tolist() + [None] * (na + ns),
            "name": [None] * nr + list(arrays) + list(self.strata),
            "shape": [None] * nr + [list(a.shape) for a in arrays.values()] + [None] * ns,
            "values": [None] * nr + [np.ascontiguousarray(a, dtype=float).ravel() for a in arrays.values()]
                      + [None] * ns,
        }
        schema_fields = [pa.field("kind", pa.string()), pa.field("district", pa.string()),
                         pa.field("measure", pa.string()), pa.field("measure_type", pa.string()),
                         pa.field("factor", pa.string()), pa.field("name", pa.string()),
                         pa.field("shape", pa.list_(pa.int64())), pa.field("values", pa.list_(pa.float64()))]
        data = [pa.array(cols[f.name], type=f.type) for f in schema_fields]
        for name in ROW_FIELDS:
            vals = np.full(total, np.nan)
            vals[:nr] = np.asarray(self.rows[name], dtype=float)
            if name == "n":
                vals[nr + na:] = self.n_psu
            schema_fields.append(pa.field(name, pa.float64()))
            data.append(pa.array(vals, type=pa.float64()))
        schema = pa.schema(schema_fields, metadata={FORMAT: json.dumps(self.header, sort_keys=True)})
        return pa.Table.from_arrays(data, schema=schema)


def to_bytes(summary: Summary) -> bytes:
    """The summary as the bytes of a ``.sipas`` file (what a Dask task sends back)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    table = summary.to_arrow()
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_summary(path) -> Summary:
    """Read a ``.sipas`` file; refuse anything that is not a summary this version understands."""
    import pyarrow as pa

    name = str(path)
    try:
        with pa.memory_map(name, "r") as source:
            return _from_source(source, name)
    except FileNotFoundError:
        raise SummaryError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise SummaryError(f"{name}: is a folder, not a summary file") from None


def from_bytes(data: bytes, *, name: str = "summary") -> Summary:
    import pyarrow as pa

    return _from_source(pa.BufferReader(data), name)


def _from_source(source, name: str) -> Summary:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        table = ipc.open_file(source).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise SummaryError(f"{name}: not a summary file (not an Arrow IPC file: {exc})") from None
    meta = table.schema.metadata or {}
    raw = meta.get(FORMAT.encode())
    if raw is None:
        raise SummaryError(f"{name}: not a summary file (no '{FORMAT}' header)")
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise SummaryError(f"{name}: damaged header ({exc})") from None
    version = header.get("format_version")
    if header.get("format") != FORMAT or not isinstance(version, int):
        raise SummaryError(f"{name}: not a summary file (format {header.get('format')!r})")
    if version > FORMAT_VERSION:
        raise SummaryError(f"{name}: summary format version {version} is newer than this program reads "
                           f"({FORMAT_VERSION}); upgrade the analysis package")
    kind = table.column("kind").to_numpy(zero_copy_only=False)
    is_row, is_arr, is_str = kind == "row", kind == "array", kind == "stratum"

    def col(column, mask, dtype=object):
        values = table.column(column).to_numpy(zero_copy_only=False)[mask]
        return values.astype(dtype) if dtype is not object else values
    rows = {"district": col("district", is_row)}
    for c in ROW_LABELS:
        rows[c] = col(c, is_row)
    for c in ROW_FIELDS:
        rows[c] = col(c, is_row, float)
    arrays = {}
    names, shapes, values = table.column("name"), table.column("shape"), table.column("values")
    for i in np.flatnonzero(is_arr).tolist():
        arrays[names[i].as_py()] = values[i].values.to_numpy().reshape(shapes[i].as_py())
    missing = [a for a in WHOLE_ARRAYS if a not in arrays and a not in OPTIONAL_ARRAYS]
    if missing:
        raise SummaryError(f"{name}: damaged summary (missing {', '.join(missing)})")
    J, NS = len(header["items"]), len(header["sets"])
    expect = {"P": (J, 6), "V": (4 * J, 4 * J), "H": (3 * J, 3 * J), "VR": (4 * NS, 4 * NS), "E": (NS, 12)}
    for a, shape in expect.items():
        if arrays[a].shape != shape:
            raise SummaryError(f"{name}: damaged summary ({a} has shape {arrays[a].shape}, expected {shape})")
    for a in OPTIONAL_ARRAYS:
        if a not in arrays:
            if header.get("lonely_psu") == "average":
                raise SummaryError(f"{name}: made with lonely_psu='average' by an older version, whose unit rows "
                                   f"lack the 'average' scaling and which has no strata counts to merge: "
                                   f"re-summarize it with this version")
            arrays[a] = np.full((2, J if a == "strata_item" else NS), np.nan)
    strata = tuple(col("name", is_str).tolist())
    n_psu = col("n", is_str, float)
    return Summary(header, rows, Whole(**{a: arrays[a] for a in WHOLE_ARRAYS}), strata, n_psu, path=name)


# ----------------------------------------------------------------------------- summarize

def questionnaire_fingerprint(data: SurveyData) -> str:
    """A hash of what must agree for two summaries to merge: criteria, factors, weights, satisfied_from."""
    spec = json.dumps({"items": list(data.items), "factor_of": dict(sorted(data.factor_of.items())),
                       "item_weights": [float(x) for x in data.item_weights],
                       "satisfied_from": int(data.satisfied_from)}, sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def summarize(data: SurveyData, *, province: str, period: str | None = None, lonely_psu: str = "adjust",
              questionnaire: dict | None = None, weighting: dict | None = None, units: list | None = None,
              source: str | None = None, threads: int | None = None, chunk_rows: int = 1 << 16,
              progress=None) -> Summary:
    """Reduce one province's responses to a :class:`Summary`.

    Parameters
    ----------
    data : SurveyData
        The province's weighted responses (:func:`analysis.read_csv`, :func:`analysis.load_db`...).
    province : str, keyword-only
        Its label in the national table (level ``province``).
    period : str, optional, keyword-only
        E.g. ``2026-10-01:2026-12-31`` (recorded in the header).
    lonely_psu : keyword-only
        As :func:`analysis.compute_table`; merged summaries must agree.
    questionnaire : dict, optional, keyword-only
        ``{"id": ..., "versions": [...]}``; merged summaries must agree.
    weighting : dict, optional, keyword-only
        ``{"scheme": ..., "description": ..., "mergeable": bool}``.
    units : list of dict, optional, keyword-only
        The unit tree ``[{"slug", "name", "parent"}]``.
    """
    if lonely_psu not in LONELY_PSU:
        raise ValueError(f"lonely_psu must be one of {', '.join(LONELY_PSU)}; got {lonely_psu!r}")
    if not province or not str(province).strip():
        raise ValueError("a summary needs a province label")
    if data.n == 0:
        raise ValueError("no respondents")
    with single_threaded_blas():
        run = _levels(data, lonely_psu=lonely_psu, chunk_rows=chunk_rows, threads=threads, progress=progress)
        parts: dict[str, list] = {}
        # many units at a time (as compute_table: the same numbers as one unit at a time)
        for names, counts, part in district_rows(run, data, average=lonely_psu == "average"):
            m = len(part.get("measure", ()))
            if m == 0:
                continue
            parts.setdefault("district", []).append(np.repeat(np.array(names, dtype=object), counts))
            for k, v in part.items():
                parts.setdefault(k, []).append(v)
        if not parts:
            raise ValueError("no respondent gave a valid answer (1..5) to any criterion: nothing to estimate")
        cols = {k: np.concatenate(v) for k, v in parts.items()}
        H = _row_gram(run.codes, run.w, run.overall_cen, chunk_rows)
        whole = _whole_of(run.overall, H)
    rows = {"district": cols["district"]}
    for c in ROW_LABELS:
        rows[c] = np.asarray(cols[c], dtype=object)
    for c in ROW_FIELDS:
        rows[c] = np.asarray(cols[c], dtype=float)
    lay = run.lay
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "province": str(province),
        "period": period,
        "source": source,
        "questionnaire": questionnaire or {"id": None, "versions": []},
        "fingerprint": questionnaire_fingerprint(data),
        "items": list(data.items),
        "factor_of": dict(data.factor_of),
        "item_weights": [float(x) for x in data.item_weights],
        "satisfied_from": int(data.satisfied_from),
        "engine_order": [int(i) for i in lay.order],
        "sets": [f for f, _ in lay.sets],
        "lonely_psu": lonely_psu,
        "clustered": bool(run.clustered),
        "weighting": weighting or {"scheme": "given", "description": "final weights as given in the input",
                                   "mergeable": True},
        "units": units or [{"slug": d, "name": d, "parent": None} for d in data.districts],
        "n_respondents": int(data.n),
        "n_units": len(set(cols["district"].tolist())),
        "n_strata": len(data.strata),
        "notes": list(data.notes),
    }
    return Summary(header, rows, whole, tuple(data.strata), run.n_psu.astype(float))
