"""Edge cases of issue 17: names in NFC and NFD, counters that would overflow, zero-variance rows,
lonely PSUs said out loud, criteria missing from a unit's index."""
from __future__ import annotations

import csv
import unicodedata

import numpy as np
import pytest

import analysis
from analysis.__main__ import main

THU_DUC = "Thủ Đức"
NFD = unicodedata.normalize("NFD", THU_DUC)
NFC = unicodedata.normalize("NFC", THU_DUC)


def write_survey(path, rows, items=("q01", "q02", "q03")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["respondent_id", "district", "stratum", "weight", *items])
        w.writerows(rows)


def test_a_unit_written_in_nfc_and_nfd_is_one_unit(tmp_path):
    assert NFD != NFC
    rng = np.random.default_rng(4)
    rows = []
    for i in range(60):
        name = (NFC, NFD, "Quận 1")[i % 3]
        rows.append([i, name, name, 1.0, *rng.integers(1, 6, 3)])
    path = tmp_path / "s.csv"
    write_survey(path, rows)
    factors = tmp_path / "f.csv"
    factors.write_text(f"item,factor\nq01,{unicodedata.normalize('NFD', 'Thái độ')}\nq02,Thái độ\n", encoding="utf-8")
    data = analysis.read_csv(path, factors=factors)
    assert data.districts == tuple(sorted((NFC, "Quận 1")))
    table = analysis.compute_table(data)
    assert table.row(NFC, "INDEX:ITEM_AVG")["n"] == 40
    assert data.factors == (unicodedata.normalize("NFC", "Thái độ"),)
    # the array path too
    arrays = analysis.SurveyData.from_arrays(np.ones((3, 1)), np.ones(3), [NFC, NFD, "x"])
    assert arrays.districts == ("x", NFC) or arrays.districts == tuple(sorted(("x", NFC)))
    assert len(arrays.districts) == 2
    # and a table read back (the `change` command) compares NFC labels
    out = tmp_path / "t.csv"
    table.to_csv(out)
    text = out.read_text(encoding="utf-8").replace(NFC, NFD)
    out.write_text(text, encoding="utf-8")
    assert NFC in set(analysis.IndexTable.read_csv(out).columns["district"])


def test_a_thousand_criteria_and_more_do_not_overflow_the_respondent_counters():
    J = 1024       # the first count that does not fit the packed 10-bit counters (slow: ~20 s)
    rng = np.random.default_rng(J)
    n = 40
    answers = rng.integers(1, 6, (n, J)).astype(float)
    answers[rng.random((n, J)) < 0.1] = np.nan
    w = rng.uniform(0.5, 2.0, n)
    district = np.zeros(n, dtype=int)
    data = analysis.SurveyData.from_arrays(answers, w, district)
    table = analysis.compute_table(data, overall=False, threads=1)
    valid = ~np.isnan(answers)
    share = ((answers >= 4) & valid).sum(axis=1) / valid.sum(axis=1)
    for d in (0,):
        sel = district == d
        expected = float(np.sum(w[sel] * share[sel]) / np.sum(w[sel]))
        assert table.row(str(d), "INDEX:RESP")["p"] == pytest.approx(expected, abs=1e-12)
        pooled = float(np.sum(w[sel] * ((answers[sel] >= 4) & valid[sel]).sum(axis=1))
                       / np.sum(w[sel] * valid[sel].sum(axis=1)))
        assert table.row(str(d), "INDEX:POOLED")["p"] == pytest.approx(pooled, abs=1e-12)


def test_a_unit_whose_answers_are_all_the_same_has_se_0_and_no_design_effect():
    """Weights like 1/3 leave rounding noise (SE ~ 1e-17) in a constant unit: that is 0, not 3e33
    effective respondents and an infinite design effect."""
    rng = np.random.default_rng(44)
    n = 300
    district = rng.integers(0, 4, n)
    answers = rng.integers(1, 6, (n, 5)).astype(float)
    answers[district == 0] = [5, 4, 1, 2, 3]
    w = rng.uniform(0.1, 9.9, n) / 3
    data = analysis.SurveyData.from_arrays(answers, w, district, stratum=rng.integers(0, 3, n),
                                           factor_of={"q01": "A", "q02": "A", "q03": "B"})
    table = analysis.compute_table(data)
    rows = table.select(level="district")
    constant = rows.columns["district"] == "0"
    assert np.all(rows.columns["se"][constant] == 0)
    assert np.all(rows.columns["n_eff_var"][constant] == rows.columns["n"][constant])
    assert not np.any(np.isinf(rows.columns["deff"]))
    assert np.all(np.isnan(rows.columns["deff"][constant]))
    assert np.all(rows.columns["se"][~constant] > 1e-3)


def test_lonely_psu_average_equals_r_and_the_lonely_strata_are_named(tmp_path, capsys):
    """R's survey.lonely.psu = "average" (frozen: tests/fixtures/reference/extra/edge_average, the
    edge case with a one-respondent stratum D1_solo), and the CLI says which strata were lonely."""
    from tests.analysis.conftest import FIXTURES, compare_with_r

    case = FIXTURES / "extra" / "edge_average"
    data = analysis.read_csv(case / "survey.csv", factors=case / "factors.csv")
    table = analysis.compute_table(data, lonely_psu="average")
    compare_with_r(table, case / "oracle_output.csv")
    adjust = analysis.compute_table(data, lonely_psu="adjust")
    assert table.row("D1", "INDEX:ITEM_AVG")["se"] != pytest.approx(adjust.row("D1", "INDEX:ITEM_AVG")["se"])
    for mode in ("adjust", "average"):
        out = tmp_path / f"{mode}.csv"
        assert main(["indices", str(case / "survey.csv"), "--factors", str(case / "factors.csv"),
                     "--lonely-psu", mode, "--out", str(out)]) == 0
        err = capsys.readouterr().err
        assert f"lonely PSUs: 1 stratum/strata with a single PSU (D1_solo); handled by lonely_psu='{mode}'" in err
    with pytest.raises(ValueError, match="D1_solo"):
        analysis.compute_table(data, lonely_psu="fail")


def test_a_unit_without_answers_to_a_criterion_is_flagged_and_not_ranked(tmp_path, capsys):
    rng = np.random.default_rng(2)
    n = 240
    district = np.arange(n) % 3
    answers = rng.integers(1, 6, (n, 6)).astype(float)
    answers[district == 2, 4:] = np.nan          # unit "2": nobody answered q05 and q06 (factor B entirely)
    factor_of = {"q01": "A", "q02": "A", "q03": "A", "q04": "A", "q05": "B", "q06": "B"}
    data = analysis.SurveyData.from_arrays(answers, np.ones(n), district, factor_of=factor_of)
    table = analysis.compute_table(data)
    short = table.row("2", "INDEX:ITEM_AVG")
    assert (short["items_used"], short["items_expected"], short["flag_items_missing"]) == (4, 6, True)
    assert short["rank"] is None and short["rank_best"] is None
    full = table.row("0", "INDEX:ITEM_AVG")
    assert (full["items_used"], full["items_expected"], full["flag_items_missing"]) == (6, 6, False)
    assert sorted(table.row(u, "INDEX:ITEM_AVG")["rank"] for u in ("0", "1")) == [1, 2]
    assert table.row("2", "FACTOR:A:ITEM_AVG")["flag_items_missing"] is False
    assert table.row("2", "FACTOR:A:ITEM_AVG")["rank"] is not None
    assert table.row("2", "q01")["items_used"] == 1
    assert any("criteria without any valid answer in 1 unit(s): 2 (4 of 6, none for q05, q06)" in note
               for note in table.notes)
    with pytest.raises(ValueError, match=r"2 \(4 of 6, none for q05, q06\)"):
        analysis.compute_table(data, missing_items="fail")
    # the CLI: the flag is in the file, fail exits 2 and writes nothing
    src = tmp_path / "s.csv"
    write_survey(src, [[i, f"U{district[i]}", "S", 1, *["" if np.isnan(x) else int(x) for x in answers[i]]]
                       for i in range(n)], items=tuple(factor_of))
    out = tmp_path / "out.csv"
    assert main(["indices", str(src), "--out", str(out), "--missing-items", "fail"]) == 2
    assert "U2 (4 of 6, none for q05, q06)" in capsys.readouterr().err and not out.exists()
    assert main(["indices", str(src), "--out", str(out)]) == 0
    rows = {(r["district"], r["measure"]): r for r in csv.DictReader(open(out, encoding="utf-8"))}
    assert rows[("U2", "INDEX:POOLED")]["flag_items_missing"] == "TRUE"
    assert rows[("U2", "INDEX:POOLED")]["items_used"] == "4" and rows[("U2", "INDEX:POOLED")]["rank"] == ""


def test_indices_csv_writes_every_float_as_python_repr_whatever_its_magnitude(tmp_path):
    """indices.csv formats floats through pyarrow when it can: the text must be repr's, byte for byte
    (integral values keep their ".0", tiny and huge values their exponent, -0.0 its sign)."""
    from analysis.table import COLUMNS, IndexTable

    rng = np.random.default_rng(20261203)
    n = 40_000
    values = np.concatenate([
        10 ** rng.uniform(-8, 20, n) * rng.choice([-1.0, 1.0], n),          # every magnitude
        rng.random(n),                                                       # shares, the usual case
        rng.integers(0, 2 ** 63 - 1, n, dtype=np.int64).view(np.float64),    # arbitrary bit patterns
        np.round(rng.uniform(-1000, 1000, n), 2), np.round(rng.uniform(0, 1000, n)),
        [1e-4, -1e-4, 9.999999999999999e-05, 1e16, 9.999999999999998e15, 0.0, -0.0, 1.0, 0.1, 5e-324,
         1.7976931348623157e308, np.nan, np.inf, -np.inf]])
    m = len(values)
    cols = {c: np.full(m, np.nan) for c in COLUMNS}
    cols.update({c: np.full(m, "x", dtype=object) for c in ("level", "district", "measure", "measure_type", "factor")})
    cols["p"] = values
    cols["se"] = values[::-1].copy()
    table = IndexTable(cols, level=0.95)
    out = tmp_path / "indices.csv"
    table.to_csv(out)
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    expected = ["" if v != v else "Inf" if v == np.inf else "-Inf" if v == -np.inf else repr(v)
                for v in values.tolist()]
    assert [r["p"] for r in rows] == expected
    assert [r["se"] for r in rows] == expected[::-1]


def test_the_row_view_reads_the_same_rows_as_rows_and_finds_them_by_unit_and_measure():
    """The report reads the engine's table through IndexTable.row_view() (dicts made when read):
    every row must equal rows()' (NaN -> None, numpy scalars -> Python), in the same order."""
    from analysis.table import COLUMNS, IndexTable

    rng = np.random.default_rng(14)
    m = 500
    cols = {}
    for c in COLUMNS:
        v = rng.random(m)
        v[rng.random(m) < 0.2] = np.nan
        cols[c] = v
    cols.update({c: np.array([f"{c}-{i % 37}" for i in range(m)], dtype=object)
                 for c in ("level", "measure_type", "factor")})
    cols["district"] = np.array([f"xã {i // 5}" for i in range(m)], dtype=object)
    cols["measure"] = np.array([f"M{i % 5}" for i in range(m)], dtype=object)
    cols["vs_target"] = np.array([None, "above", np.str_("below")] * (m // 3) + [None] * (m % 3), dtype=object)
    cols["flag_n_lt_30"] = rng.random(m) < 0.5
    cols["n"] = rng.integers(0, 1000, m)
    table = IndexTable(cols, level=0.95)
    expected = list(table.rows())
    view = table.row_view()
    assert len(view) == m and list(view) == expected and view[-1] == expected[-1] and view[3:7] == expected[3:7]
    assert all(type(a) is type(b) for r, e in zip(view, expected) for a, b in zip(r.values(), e.values()))
    by_key = view.by_key()
    assert len(by_key) == m and by_key[("xã 7", "M2")] == table.row("xã 7", "M2") == expected[37]
    assert ("xã 7", "M9") not in by_key and by_key.get(("xã 7", "M9")) is None
    with pytest.raises(IndexError):
        view[m]


def test_indices_csv_is_the_same_bytes_whatever_block_of_rows_is_formatted_at_a_time(tmp_path, monkeypatch):
    """write_csv formats a block of rows at a time (the national table has millions of rows): the
    file must not depend on the block size, even when one block holds a cell that needs quotes and
    the others do not."""
    import analysis.table as table_module
    from analysis.table import COLUMNS, IndexTable

    rng = np.random.default_rng(3)
    m = 1_003
    cols = {c: rng.random(m) for c in COLUMNS}
    cols.update({c: np.array([f"{c}-{i % 7}" for i in range(m)], dtype=object)
                 for c in ("level", "measure", "measure_type", "factor")})
    cols["district"] = np.array([f"xã {i // 3}" for i in range(m)], dtype=object)
    cols["district"][500] = 'Phường "Bến Thành", cũ'          # quoted by the csv module
    cols["flag_n_lt_30"] = rng.random(m) < 0.5
    cols["n"] = rng.integers(0, 1000, m)
    table = IndexTable(cols, level=0.95)
    whole = tmp_path / "whole.csv"
    table.to_csv(whole)
    for block in (1, 7, 500, 501):
        monkeypatch.setattr(table_module, "CSV_BLOCK_ROWS", block)
        part = tmp_path / f"block-{block}.csv"
        table.to_csv(part)
        assert part.read_bytes() == whole.read_bytes(), block
    with open(whole, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == m and rows[500]["district"] == 'Phường "Bến Thành", cũ' and rows[501]["district"] == "xã 167"
