"""The engine's pass over many small units at once (``_Pass.block_many``, ``_centres_many``, issue 16) gives
the same numbers, bit for bit, as the pass one unit at a time: every column of the table, every sum of a
provincial summary. Units of every awkward shape sit side by side in one batch: a single row, a single
PSU, every answer blank, a criterion nobody answered, several strata, PSUs shared across units, a unit
too large for a batch between small ones, units listed without rows."""
from __future__ import annotations

import numpy as np
import pytest

import analysis
from analysis import indices
from analysis.accumulate import _Centres, _centres_many
from analysis.summary import summarize

ITEMS = tuple(f"q{j:02d}" for j in range(1, 8))
FACTOR_OF = {"q01": "A", "q02": "A", "q03": "B", "q04": "B", "q05": "B", "q06": "C"}   # q07 in no factor


def _data(seed: int, *, clustered: bool = False, crossing: bool = False, item_weights=None,
          fpc: bool = False) -> analysis.SurveyData:
    rng = np.random.default_rng(seed)
    sizes = [1, 2, 40, 0, 7, 300, 1, 25, 3, 0, 60, 12, 1, 90, 5, 33, 2, 18]
    n = sum(sizes)
    district = np.repeat(np.arange(len(sizes)), sizes)
    answers = rng.integers(0, 6, (n, len(ITEMS))).astype(np.uint8)
    answers[rng.random((n, len(ITEMS))) < 0.1] = 0
    start = np.concatenate(([0], np.cumsum(sizes)))
    answers[start[2]:start[3]] = 0                                   # every answer blank
    answers[start[4]:start[5], 2] = 0                                # q03 never answered in unit 4
    answers[start[7]:start[8], :2] = 0                               # factor A never answered in unit 7
    # strata: most units their own stratum, some split in two (unit 5 in three)
    stratum = district * 3
    stratum[start[5]:start[5] + 100] += 1
    stratum[start[5] + 100:start[5] + 150] += 2
    stratum[start[11]:start[11] + 5] += 1
    stratum[start[13]:start[13] + 45] += 1
    codes, stratum = np.unique(stratum, return_inverse=True)
    psu = None
    if clustered:
        psu = np.arange(n) // 3                                       # PSUs of three rows (single-PSU units)
        if crossing:
            psu[start[15]:start[16]] = psu[start[14]]                # a PSU spanning units 14 and 15
            psu[start[16]:start[17]] = psu[start[14]]
            stratum[start[15]:start[18]] = stratum[start[14]]
        _, psu = np.unique(psu, return_inverse=True)
        _, stratum = np.unique(stratum, return_inverse=True)
    H = int(stratum.max()) + 1
    return analysis.SurveyData(
        items=ITEMS, answers=answers, weights=rng.uniform(0.5, 3.0, n), district=district.astype(np.intp),
        districts=tuple(f"u{d:02d}" for d in range(len(sizes))), stratum=stratum.astype(np.intp),
        strata=tuple(f"h{h:03d}" for h in range(H)), psu=None if psu is None else psu.astype(np.intp),
        factor_of=FACTOR_OF, item_weights=None if item_weights is None else np.asarray(item_weights, float),
        fpc=np.full(H, 1000.0) if fpc else None)


def _table(data, monkeypatch, batch_rows, **kw):
    monkeypatch.setattr(indices, "BATCH_ROWS", batch_rows)
    return analysis.compute_table(data, **kw).columns


def _assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), k
        else:
            assert np.array_equal(x, y), k


CASES = {
    "own strata": dict(fpc=True),
    "criterion weights": dict(item_weights=[1, 2, 0.5, 1, 3, 1, 1]),
    "PSUs": dict(clustered=True),
    "PSUs across units": dict(clustered=True, crossing=True),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("lonely_psu", ["adjust", "remove", "average"])
def test_many_units_at_once_equal_one_at_a_time(case, lonely_psu, monkeypatch):
    data = _data(7, **CASES[case])
    # blocks of 64 rows (units 5 and 13 then go one at a time, between batches) and blocks of 65,536 (every
    # unit batched); batches of at most 16, 64, 4,096 rows; one thread and two
    for chunk_rows in (64, 1 << 16):
        alone = _table(data, monkeypatch, 0, lonely_psu=lonely_psu, threads=1, chunk_rows=chunk_rows)
        for batch_rows, threads in ((16, 1), (64, 1), (4096, 1), (4096, 2)):
            together = _table(data, monkeypatch, batch_rows, lonely_psu=lonely_psu, threads=threads,
                              chunk_rows=chunk_rows)
            _assert_same(alone, together)


def test_batch_covers_the_awkward_units(monkeypatch):
    """The units the comparison is about are in the table: their rows exist, and what cannot be estimated
    is not (unit 2 answered nothing, unit 7 no criterion of factor A)."""
    table = analysis.compute_table(_data(7), threads=1)
    units = set(table.districts)
    assert {"u00", "u06", "u12"} <= units                        # single rows
    assert "u02" not in units and "u03" not in units             # all blank; no rows
    assert table.row("u04", "INDEX:ITEM_AVG")["items_used"] == len(ITEMS) - 1
    assert not any(r["factor"] == "A" for r in table.rows(district="u07") if r["measure"].startswith("FACTOR"))


def test_summaries_the_same_many_at_a_time(monkeypatch):
    data = _data(11, clustered=True)
    monkeypatch.setattr(indices, "BATCH_ROWS", 0)
    alone = summarize(data, province="P", threads=1, chunk_rows=64)
    monkeypatch.setattr(indices, "BATCH_ROWS", 4096)
    together = summarize(data, province="P", threads=1, chunk_rows=64)
    _assert_same(alone.rows, together.rows)
    _assert_same(alone.whole.arrays(), together.whole.arrays())


def test_every_units_centres_at_once():
    rng = np.random.default_rng(3)
    D, J = 50, 9
    P = rng.random((D, J, 6)) * rng.integers(0, 3, (D, J, 6))
    P[0] = 0                      # a unit without answers
    P[1, :, 1:] = 0               # only blanks
    P[2, 3] = 0                   # a criterion nobody answered
    M = np.zeros((J, 4))
    M[np.arange(J), np.arange(J) % 3] = rng.choice([0.5, 1.0, 2.0], J)
    M[:, 3] = M[:, :3].sum(axis=1)
    many, lut = _centres_many(P, 4, M)
    for d in range(D):
        one = _Centres.from_totals(P[d], 4, M)
        for name in one.__dataclass_fields__:
            assert np.array_equal(getattr(one, name), getattr(many[d], name), equal_nan=True), (d, name)
        assert np.array_equal(lut[d * 6 * J:(d + 1) * 6 * J], one.lut)
