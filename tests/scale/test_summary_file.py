"""The summary file: documented header, no row-level data, size independent of n, and clear refusals."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

import analysis
from analysis.__main__ import main
from analysis.indices import IndexTable
from analysis.summary import FORMAT, FORMAT_VERSION, read_summary, summarize

from .conftest import FIXTURES, assert_tables_equal, components, load_case, subset


def synthetic(n: int, seed: int = 0, *, J: int = 8, units: int = 10) -> analysis.SurveyData:
    rng = np.random.default_rng(seed)
    district = np.concatenate([np.arange(units).repeat(2), rng.integers(0, units, n - 2 * units)])
    stratum = np.concatenate([np.tile([0, 1], units), rng.integers(0, 2, n - 2 * units)])
    answers = rng.integers(0, 6, (n, J)).astype(float)
    answers[answers == 0] = np.nan
    return analysis.SurveyData.from_arrays(
        answers, rng.gamma(2.0, 40.0, n) + 1, np.array([f"unit-{d:02d}" for d in range(units)])[district],
        stratum=np.char.add(np.char.add("u", district.astype(str)), np.char.add("-s", stratum.astype(str))),
        items=[f"q{j:02d}" for j in range(J)], factor_of={f"q{j:02d}": f"F{j % 3}" for j in range(J)})


def test_size_does_not_grow_with_respondents_and_no_row_is_stored(tmp_path):
    small, large = synthetic(100), synthetic(1_000_000, seed=1)
    summarize(small, province="A").write(tmp_path / "small.sipas")
    summarize(large, province="A").write(tmp_path / "large.sipas")
    a, b = (tmp_path / "small.sipas").stat().st_size, (tmp_path / "large.sipas").stat().st_size
    assert abs(a - b) <= 64, (a, b)          # only the digits of the counts in the header differ
    with pa.memory_map(str(tmp_path / "small.sipas")) as src:
        table = ipc.open_file(src).read_all()
    with pa.memory_map(str(tmp_path / "large.sipas")) as src:
        assert ipc.open_file(src).read_all().num_rows == table.num_rows
    # nothing respondent-level: no weight and no answer vector of a respondent is in the file
    values = set()
    for col in table.column_names:
        if pa.types.is_floating(table.schema.field(col).type):
            values.update(v for v in table.column(col).to_pylist() if v is not None)
        if pa.types.is_list(table.schema.field(col).type):
            for v in table.column(col).to_pylist():
                values.update(v or ())
    assert not values & set(small.weights.tolist())
    assert table.num_rows < small.n * 10 and "respondent_id" not in table.column_names


def test_header_documents_questionnaire_units_weighting_and_format(tmp_path):
    data = load_case("clustered")
    s = summarize(data, province="79", period="2026-10-01:2026-12-31",
                  questionnaire={"id": "sipas-hcm-26", "versions": [1]})
    s.write(tmp_path / "79.sipas")
    with pa.memory_map(str(tmp_path / "79.sipas")) as src:
        header = json.loads(ipc.open_file(src).schema.metadata[FORMAT.encode()])
    assert header["format"] == FORMAT and header["format_version"] == FORMAT_VERSION
    assert header["province"] == "79" and header["period"] == "2026-10-01:2026-12-31"
    assert header["questionnaire"] == {"id": "sipas-hcm-26", "versions": [1]}
    assert header["items"] == list(data.items) and header["factor_of"] == dict(data.factor_of)
    assert header["weighting"]["mergeable"] is True and header["lonely_psu"] == "adjust"
    assert {u["slug"] for u in header["units"]} == set(data.districts)
    assert header["n_respondents"] == data.n and header["clustered"] is True
    back = read_summary(tmp_path / "79.sipas")
    assert back.strata == tuple(data.strata) and back.n_psu.sum() == len(np.unique(data.psu))


def _cli_split(tmp_path, data, **kw):
    comp = components(data)
    files = []
    for k in range(comp.max() + 1):
        f = tmp_path / f"p{k}.sipas"
        summarize(subset(data, comp == k), province=f"P{k}", **kw).write(f)
        files.append(str(f))
    return files


def test_merge_command_writes_the_national_table_and_a_report(tmp_path, capsys):
    data = load_case("basic")
    files = _cli_split(tmp_path, data)
    out, report = tmp_path / "national.csv", tmp_path / "national.md"
    assert main(["merge", *files, "--out", str(out), "--report", str(report)]) == 0
    table = IndexTable.read_csv(out)
    pooled = analysis.compute_table(data)
    ours = table.select(level="district")
    assert set(ours.districts) == set(pooled.districts)
    # the CSV keeps full precision: same numbers as the pooled table
    for col in ("p", "se", "ci_logit_l", "deff", "n_eff_kish"):
        for d in pooled.districts + ["ALL"]:
            a, b = table.row(d, "INDEX:ITEM_AVG")[col], pooled.row(d, "INDEX:ITEM_AVG")[col]
            assert a == pytest.approx(b, rel=1e-12, abs=1e-12)
    text = report.read_text()
    assert "# National SIPAS index" in text
    overall = pooled.row("ALL", "INDEX:ITEM_AVG")
    assert f"**{100 * overall['p']:.1f} %** satisfied" in text
    assert all(f"| P{k} |" in text for k in range(6)) and "| p5.sipas | P5 |" in text
    assert "merged 6 summaries (6 provinces" in capsys.readouterr().err


def _refused(args, tmp_path, capsys) -> str:
    out = tmp_path / "refused.csv"
    assert main(["merge", *args, "--out", str(out)]) == 2
    assert not out.exists(), "a refused merge must write nothing"
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_overlapping_units_are_refused(tmp_path, capsys):
    files = _cli_split(tmp_path, load_case("basic"))
    shutil.copy(files[0], tmp_path / "again.sipas")
    err = _refused([files[0], files[1], str(tmp_path / "again.sipas")], tmp_path, capsys)
    assert "overlapping units" in err and "p0.sipas" in err and "again.sipas" in err
    assert "is given twice" in _refused([files[0], files[0]], tmp_path, capsys)


def test_overlapping_strata_are_refused(tmp_path, capsys):
    data = load_case("basic")
    d1 = subset(data, data.district == 0)
    d2 = subset(data, data.district == 1)
    relabelled = analysis.SurveyData.from_arrays(   # unit D2 with D1's stratum labels
        np.where(d2.answers == 0, np.nan, d2.answers), d2.weights, np.array(["D2"] * d2.n),
        stratum=np.array([s.replace("D2", "D1") for s in np.array(d2.strata)[d2.stratum]]), items=d2.items,
        factor_of=d2.factor_of)
    summarize(d1, province="A").write(tmp_path / "a.sipas")
    summarize(relabelled, province="B").write(tmp_path / "b.sipas")
    err = _refused([str(tmp_path / "a.sipas"), str(tmp_path / "b.sipas")], tmp_path, capsys)
    assert "overlapping strata" in err and "'D1_R'" in err


def test_mismatched_questionnaire_versions_are_refused(tmp_path, capsys):
    data = load_case("basic")
    comp = components(data)
    summarize(subset(data, comp == 0), province="A", questionnaire={"id": "sipas", "versions": [2]}).write(
        tmp_path / "a.sipas")
    summarize(subset(data, comp == 1), province="B", questionnaire={"id": "sipas", "versions": [3]}).write(
        tmp_path / "b.sipas")
    err = _refused([str(tmp_path / "a.sipas"), str(tmp_path / "b.sipas")], tmp_path, capsys)
    assert "mismatched questionnaire versions" in err and "version(s) 2" in err and "version(s) 3" in err
    # same version label but other criteria (e.g. a province that dropped a criterion)
    other = subset(data, comp == 1)
    fewer = analysis.SurveyData.from_arrays(np.where(other.answers[:, 1:] == 0, np.nan, other.answers[:, 1:]),
                                            other.weights, np.array(other.districts)[other.district],
                                            stratum=np.array(other.strata)[other.stratum], items=other.items[1:],
                                            factor_of={k: v for k, v in other.factor_of.items() if k != "q01"})
    summarize(fewer, province="B", questionnaire={"id": "sipas", "versions": [2]}).write(tmp_path / "b.sipas")
    assert "mismatched questionnaire versions" in _refused([str(tmp_path / "a.sipas"), str(tmp_path / "b.sipas")],
                                                          tmp_path, capsys)


def test_national_raking_and_unmergeable_weights_are_refused_with_the_reason(tmp_path, capsys):
    files = _cli_split(tmp_path, load_case("basic"))
    margins = tmp_path / "national_margins.csv"
    margins.write_text("dimension,category,population\ngender,f,50000000\ngender,m,49000000\n")
    err = _refused([*files, "--rake-national", str(margins)], tmp_path, capsys)
    assert "raking to national margins cannot be computed from summaries" in err and "within each province" in err
    data = load_case("basic")
    summarize(data, province="X", weighting={"scheme": "rake-national", "description": "raked to national margins",
                                             "mergeable": False}).write(tmp_path / "x.sipas")
    err = _refused([str(tmp_path / "x.sipas")], tmp_path, capsys)
    assert "cannot be merged exactly" in err


def test_damaged_foreign_and_newer_files_are_refused(tmp_path, capsys):
    csv_file = FIXTURES / "basic/survey.csv"
    assert "not a summary file" in _refused([str(csv_file)], tmp_path, capsys)
    assert "no such file" in _refused([str(tmp_path / "missing.sipas")], tmp_path, capsys)
    s = summarize(load_case("basic"), province="A")
    s.header["format_version"] = FORMAT_VERSION + 1
    s.write(tmp_path / "future.sipas")
    assert "newer than this program reads" in _refused([str(tmp_path / "future.sipas")], tmp_path, capsys)


def test_summarize_command_from_csv_with_help_and_errors(tmp_path, capsys):
    out = tmp_path / "part.sipas"
    assert main(["summarize", str(FIXTURES / "basic/survey.csv"), "--factors", str(FIXTURES / "basic/factors.csv"),
                 "--province", "79", "--out", str(out)]) == 0
    s = read_summary(out)
    assert s.province == "79" and s.header["n_respondents"] == 1800
    assert "wrote" in capsys.readouterr().err
    # bad input: a clear error, nothing written
    bad = tmp_path / "bad.csv"
    bad.write_text("respondent_id,district,stratum,weight,q01\nR1,D1,S1,1.0,7\n")
    assert main(["summarize", str(bad), "--out", str(tmp_path / "bad.sipas")]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "q01" in err and not (tmp_path / "bad.sipas").exists()
    assert main(["summarize", str(bad), "--period", "2026-01-01:2026-03-31", "--out", str(tmp_path / "x.sipas")]) == 2
    assert "only apply to --db" in capsys.readouterr().err


def test_summarize_and_merge_commands_with_lonely_psu_average_write_what_indices_writes(tmp_path, capsys):
    case = FIXTURES / "extra/edge_average"
    args = [str(case / "survey.csv"), "--factors", str(case / "factors.csv"), "--lonely-psu", "average", "--quiet"]
    assert main(["summarize", *args, "--province", "P", "--out", str(tmp_path / "p.sipas")]) == 0
    assert read_summary(tmp_path / "p.sipas").header["lonely_psu"] == "average"
    assert main(["merge", str(tmp_path / "p.sipas"), "--out", str(tmp_path / "merged.csv"), "--quiet"]) == 0
    assert main(["indices", *args, "--out", str(tmp_path / "one.csv")]) == 0
    one = IndexTable.read_csv(tmp_path / "one.csv")
    assert_tables_equal(IndexTable.read_csv(tmp_path / "merged.csv"), one)
    assert main(["summarize", *args[:-3], "--province", "Q", "--out", str(tmp_path / "q.sipas"), "--quiet"]) == 0
    assert main(["merge", str(tmp_path / "p.sipas"), str(tmp_path / "q.sipas"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "treats lonely PSUs as 'average'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["summarize", "merge"])
def test_commands_have_help_with_an_example(name, capsys):
    with pytest.raises(SystemExit):
        main([name, "--help"])
    text = capsys.readouterr().out
    assert "Example:" in text and f"python -m analysis {name}" in text
