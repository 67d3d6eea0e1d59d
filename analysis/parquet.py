"""Survey responses in partitioned Parquet (pyarrow): the layout, a strict reader and a writer.

Layout (Hive-style partitions, one folder per province and period)::

    DIR/province=79/period=2026q4/part-0.parquet
    DIR/province=79/period=2027q1/part-0.parquet
    DIR/province=01/period=2026q4/part-0.parquet

Columns of each file: ``respondent_id`` (string), ``district`` (string: the
reporting unit), ``stratum`` (string), optional ``psu`` (string, nested in
strata), ``weight`` (float64 > 0), then one integer column per criterion holding
1..5 or null (no valid answer). The schema metadata key ``sipas`` holds JSON:
``items``, ``factor_of``, ``item_weights``, ``satisfied_from``, ``questionnaire``,
``province``, ``period``, ``weighting`` (a ``--factors`` CSV may stand in for the
first three).

Every file of one read must agree on criteria and factors. Errors name the
file, the row (1 = first data row of that file) and the column.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .inputs import InputError, SurveyData, _nest, read_factors

__all__ = ["META_KEY", "partitions", "province_partitions", "read_parquet", "write_parquet", "file_meta"]

META_KEY = "sipas"
DESIGN_COLUMNS = ("respondent_id", "district", "stratum", "psu", "weight")
_PART = re.compile(r"^(province|period)=(.+)$")


def partitions(root) -> list[Path]:
    """The Parquet files under ``root`` (or ``root`` itself), sorted."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    files = sorted(p for p in root.rglob("*.parquet") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InputError(f"{root}: no .parquet files (expected DIR/province=P/period=Q/part-0.parquet)")
    return files


def _keys(path: Path, root: Path) -> dict[str, str]:
    keys = {}
    for part in path.relative_to(root).parts[:-1] if path != root else ():
        m = _PART.match(part)
        if m:
            keys[m.group(1)] = m.group(2)
    return keys


def province_partitions(root) -> dict[str, list[Path]]:
    """Files grouped by province (the ``province=`` folder; a file without one is its own group)."""
    root = Path(root)
    groups: dict[str, list[Path]] = {}
    for f in partitions(root):
        keys = _keys(f, root) if root.is_dir() else {}
        groups.setdefault(keys.get("province") or file_meta(f).get("province") or f.stem, []).append(f)
    return groups


def file_meta(path) -> dict:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise InputError(f"{path}: not a Parquet file ({exc})") from None
    raw = meta.get(META_KEY.encode())
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise InputError(f"{path}: damaged '{META_KEY}' metadata") from None


def read_parquet(paths, *, factors=None, progress: Callable[[int, int], None] | None = None,
                 root=None) -> SurveyData:
    """Read one or more Parquet files (or a folder of them) into one :class:`SurveyData`.

    ``factors``: a factors CSV (``item,factor[,weight]``) or mapping; default: the files' metadata.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if isinstance(paths, (str, os.PathLike)):
        root = Path(paths) if root is None else root
        files = partitions(paths)
    else:
        files = [Path(p) for p in paths]
        if not files:
            raise InputError("no Parquet files to read")
    meta0 = None
    items: list[str] | None = None
    tables = []
    total = 0
    sizes = [f.stat().st_size for f in files]
    for k, f in enumerate(files):
        try:
            t = pq.read_table(f)
        except Exception as exc:
            raise InputError(f"{f}: not a readable Parquet file ({exc})") from None
        names = t.column_names
        for c in ("district", "stratum", "weight"):
            if c not in names:
                raise InputError(f"{f}: missing column {c!r} (columns: {', '.join(names)})")
        file_items = [c for c in names if c not in DESIGN_COLUMNS]
        if not file_items:
            raise InputError(f"{f}: no criterion columns")
        meta = json.loads((t.schema.metadata or {}).get(META_KEY.encode(), b"{}") or b"{}")
        if items is None:
            items, meta0 = file_items, meta
        elif file_items != items:
            raise InputError(f"{f}: its criteria ({', '.join(file_items)}) differ from {files[0]}'s "
                             f"({', '.join(items)}): read one questionnaire version at a time")
        elif {k_: meta.get(k_) for k_ in ("factor_of", "item_weights", "satisfied_from")} != \
                {k_: meta0.get(k_) for k_ in ("factor_of", "item_weights", "satisfied_from")}:
            raise InputError(f"{f}: its factors, criterion weights or satisfied_from differ from {files[0]}'s")
        if tables and ("psu" in names) != ("psu" in tables[0][1].column_names):
            raise InputError(f"{f}: has {'a' if 'psu' in names else 'no'} psu column, unlike {files[0]}")
        _check(f, t, file_items, pc, pa)
        tables.append((f, t))
        total += t.num_rows
        if progress:
            progress(sum(sizes[:k + 1]), sum(sizes))
    n = total
    J = len(items)
    answers = np.empty((n, J), dtype=np.uint8)
    weights = np.empty(n)
    dist_parts, strat_parts, psu_parts = [], [], []
    row = 0
    for f, t in tables:
        m = t.num_rows
        for j, item in enumerate(items):
            answers[row:row + m, j] = pc.fill_null(t.column(item), 0).to_numpy().astype(np.uint8, copy=False)
        weights[row:row + m] = t.column("weight").to_numpy()
        dist_parts.append(t.column("district"))
        strat_parts.append(t.column("stratum"))
        if "psu" in t.column_names:
            psu_parts.append(t.column("psu"))
        row += m
    district, districts = _codes(dist_parts)
    stratum, strata = _codes(strat_parts)
    psu = None
    if psu_parts:
        p, _ = _codes(psu_parts)
        psu = _nest(stratum, p)
    if factors is not None:
        if isinstance(factors, (str, os.PathLike)):
            factor_of, weight_of = read_factors(factors, items)
        else:
            factor_of, weight_of = dict(factors), {}
        item_weights = np.array([weight_of.get(i, 1.0) for i in items])
        satisfied_from = int(meta0.get("satisfied_from", 4))
    else:
        factor_of = dict(meta0.get("factor_of") or {})
        iw = meta0.get("item_weights")
        item_weights = np.asarray(iw, dtype=float) if iw else None
        satisfied_from = int(meta0.get("satisfied_from", 4))
    notes = [f"parquet: {len(files)} file(s), {n} responses"]
    return SurveyData(items=tuple(items), answers=answers, weights=weights, district=district,
                      districts=districts, stratum=stratum, strata=strata, psu=psu, factor_of=factor_of,
                      item_weights=item_weights, satisfied_from=satisfied_from, notes=tuple(notes))


def _codes(chunks) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes into the sorted labels of string columns (several files)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = pa.chunked_array([c for part in chunks for c in pc.cast(part, pa.string()).chunks], type=pa.string())
    enc = pc.dictionary_encode(col).combine_chunks()
    dictionary = np.array(enc.dictionary.to_pylist(), dtype=object)
    idx = enc.indices.to_numpy()
    order = np.argsort(dictionary.astype(str), kind="stable")
    labels = dictionary[order]
    # the same label may appear twice in a dictionary built from several chunks: unify
    uniq, inverse = np.unique(labels.astype(str), return_inverse=True)
    remap = np.empty(order.size, dtype=np.intp)
    remap[order] = inverse
    return remap[idx], tuple(str(x) for x in uniq)


def _check(f: Path, t, items: list[str], pc, pa) -> None:
    """Refuse bad values, naming the file, the row (1-based data row) and the column."""
    def first(mask) -> int:
        return int(np.flatnonzero(np.asarray(mask))[0]) + 1

    for c in ("district", "stratum") + (("psu",) if "psu" in t.column_names else ()):
        col = t.column(c)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
                or pa.types.is_dictionary(col.type)):
            raise InputError(f"{f}, column {c}: expected text labels, found {col.type}")
        empty = pc.or_kleene(pc.is_null(col), pc.equal(pc.utf8_length(pc.cast(col, pa.string())), 0))
        if pc.any(empty).as_py():
            raise InputError(f"{f}, row {first(pc.fill_null(empty, True).to_numpy(zero_copy_only=False))}, "
                             f"column {c}: empty {c}")
    w = t.column("weight")
    if not pa.types.is_floating(w.type) and not pa.types.is_integer(w.type):
        raise InputError(f"{f}, column weight: expected numbers, found {w.type}")
    wv = pc.fill_null(pc.cast(w, pa.float64()), np.nan).to_numpy()
    bad = ~(np.isfinite(wv) & (wv > 0))
    if bad.any():
        i = first(bad)
        shown = "null" if math.isnan(wv[i - 1]) else repr(float(wv[i - 1]))
        raise InputError(f"{f}, row {i}, column weight: {shown} is not a number > 0")
    for item in items:
        col = t.column(item)
        if not pa.types.is_integer(col.type):
            raise InputError(f"{f}, column {item}: expected integers 1..5 or null, found {col.type}")
        v = pc.fill_null(col, 0).to_numpy()
        bad = ((v < 1) | (v > 5)) & ~np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False))
        if bad.any():
            i = first(bad)
            raise InputError(f"{f}, row {i}, column {item}: {int(v[i - 1])} is not an answer 1..5 (or null)")


def write_parquet(data: SurveyData, root, *, province: str, period: str, meta: dict | None = None,
                  name: str = "part-0.parquet") -> Path:
    """Write ``data`` as ``root/province=P/period=Q/part-0.parquet`` (through a temporary file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for what, value in (("province", province), ("period", period)):
        if not value or "/" in str(value) or "=" in str(value) or str(value).startswith("."):
            raise ValueError(f"{what} label {value!r} cannot be a folder name")
    folder = Path(root) / f"province={province}" / f"period={period}"
    folder.mkdir(parents=True, exist_ok=True)
    cols = {
        "respondent_id": pa.array(data.respondent_id.astype(str) if data.respondent_id is not None
                                  else np.arange(data.n).astype(str)),
        "district": pa.DictionaryArray.from_arrays(pa.array(data.district.astype(np.int32)),
                                                   pa.array(list(data.districts))),
        "stratum": pa.DictionaryArray.from_arrays(pa.array(data.stratum.astype(np.int32)),
                                                  pa.array(list(data.strata))),
    }
    if data.psu is not None:
        cols["psu"] = pa.array(data.psu.astype(str))
    cols["weight"] = pa.array(data.weights)
    for j, item in enumerate(data.items):
        a = data.answers[:, j]
        cols[item] = pa.array(a, mask=a == 0, type=pa.uint8())
    header = {"items": list(data.items), "factor_of": dict(data.factor_of),
              "item_weights": [float(x) for x in data.item_weights], "satisfied_from": int(data.satisfied_from),
              "province": str(province), "period": str(period)}
    header.update(meta or {})
    table = pa.table(cols).replace_schema_metadata({META_KEY: json.dumps(header)})
    target = folder / name
    tmp = folder / f".tmp-{name}"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, target)
    return target


def iter_files(groups: dict[str, list[Path]]) -> Iterable[tuple[str, list[Path]]]:
    return sorted(groups.items())
