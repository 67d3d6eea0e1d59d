"""Partitioned Parquet: a strict reader, and the Dask path (LocalCluster) equal to the single process."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import analysis
from analysis.__main__ import main
from analysis.distributed import compute_dask
from analysis.indices import IndexTable
from analysis.parquet import read_parquet, write_parquet

from .conftest import assert_tables_equal, components, load_case, subset


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client

    from analysis.distributed import local_cluster

    with local_cluster(2) as c, Client(c) as client:
        yield c, client


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """The clustered R case as 3 provinces x 2 periods (each unit's rows alternate between periods)."""
    root = tmp_path_factory.mktemp("parquet")
    data = load_case("clustered")
    comp = components(data)
    province = {k: ["01", "48", "79"][k % 3] for k in range(comp.max() + 1)}
    for k in range(comp.max() + 1):
        for q, per in enumerate(("2026q3", "2026q4")):
            keep = (comp == k) & (np.arange(data.n) % 2 == q)
            write_parquet(subset(data, keep), root, province=province[k], period=per,
                          name=f"part-{k}.parquet")
    return root, data


def test_parquet_round_trip_keeps_every_answer_weight_and_factor(national):
    root, data = national
    back = read_parquet(root)
    assert back.n == data.n and back.items == data.items and back.factor_of == dict(data.factor_of)
    assert_tables_equal(analysis.compute_table(back), analysis.compute_table(data))


def test_dask_equals_the_single_process_engine(national, cluster):
    root, _ = national
    c, client = cluster
    single = analysis.compute_table(read_parquet(root))
    on_dask = compute_dask(root, client=client)
    assert len(on_dask) == len(single)
    assert_tables_equal(on_dask, single)
    # with the provinces: each one as a domain of the national design
    with_prov = compute_dask(root, scheduler=c.scheduler_address, provinces=True)
    assert sorted(set(with_prov.select(level="province").columns["district"])) == ["01", "48", "79"]
    assert_tables_equal(with_prov, single)


def test_dask_with_lonely_psu_average_equals_the_single_process_engine(national, cluster):
    # the clustered case has strata with a single PSU: "average" scales each variance by strata counted over
    # every province, which the merge adds up from the summaries
    root, data = national
    _, client = cluster
    single = analysis.compute_table(read_parquet(root), lonely_psu="average")
    assert "lonely PSUs" in " ".join(single.notes)
    on_dask = compute_dask(root, client=client, lonely_psu="average", provinces=True)
    assert_tables_equal(on_dask, single)
    adjust = analysis.compute_table(read_parquet(root), lonely_psu="adjust")
    assert not np.allclose(single.columns["se"], adjust.columns["se"], equal_nan=True)


def test_indices_command_with_dask_writes_what_the_single_process_writes(national, tmp_path, capsys):
    root, _ = national
    one, many = tmp_path / "one.csv", tmp_path / "dask.csv"
    assert main(["indices", "--parquet", str(root), "--out", str(one), "--quiet"]) == 0
    assert main(["indices", "--parquet", str(root), "--dask", "--out", str(many), "--quiet"]) == 0
    assert_tables_equal(IndexTable.read_csv(many), IndexTable.read_csv(one))
    assert main(["indices", "--dask", "--out", str(many)]) == 2
    assert "--dask needs --parquet" in capsys.readouterr().err


def test_unreachable_scheduler_is_a_clear_error(national, tmp_path, capsys):
    root, _ = national
    assert main(["indices", "--parquet", str(root), "--dask", "tcp://127.0.0.1:9", "--out",
                 str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err and not (tmp_path / "x.csv").exists()


def _file(tmp_path, **columns):
    table = pa.table({"respondent_id": ["a", "b", "c"], "district": ["D1", "D1", "D2"],
                      "stratum": ["S1", "S1", "S2"], "weight": [1.0, 2.0, 3.0],
                      "q01": pa.array([1, 5, None], type=pa.uint8()), **columns})
    path = tmp_path / "province=79" / "period=2026q4" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("columns, message", [
    ({"q01": pa.array([1, 7, None], type=pa.uint8())}, "row 2, column q01: 7 is not an answer 1..5"),
    ({"q01": pa.array([0, 5, None], type=pa.int64())}, "row 1, column q01: 0 is not an answer 1..5"),
    ({"q01": pa.array([1.0, 5.0, None])}, "column q01: expected integers 1..5 or null"),
    ({"weight": [1.0, 0.0, 3.0]}, "row 2, column weight: 0.0 is not a number > 0"),
    ({"weight": [1.0, None, 3.0]}, "row 2, column weight"),
    ({"district": ["D1", None, "D2"]}, "row 2, column district: empty district"),
    ({"stratum": ["S1", "S1", ""]}, "row 3, column stratum: empty stratum"),
])
def test_bad_parquet_values_are_refused_naming_file_row_and_column(tmp_path, capsys, columns, message):
    path = _file(tmp_path, **columns)
    assert main(["indices", "--parquet", str(tmp_path), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err, err
    assert not (tmp_path / "o.csv").exists()


def test_missing_columns_other_criteria_and_foreign_files_are_refused(tmp_path):
    path = _file(tmp_path)
    t = pq.read_table(path)
    pq.write_table(t.drop(["weight"]), path)
    with pytest.raises(analysis.InputError, match="missing column 'weight'"):
        read_parquet(tmp_path)
    pq.write_table(t, path)
    other = tmp_path / "province=79" / "period=2027q1" / "part-0.parquet"
    other.parent.mkdir(parents=True)
    pq.write_table(t.rename_columns(["respondent_id", "district", "stratum", "weight", "q02"]), other)
    with pytest.raises(analysis.InputError, match="criteria .* differ"):
        read_parquet(tmp_path)
    other.write_text("not parquet")
    with pytest.raises(analysis.InputError, match="not a readable Parquet file"):
        read_parquet(tmp_path)
    with pytest.raises(analysis.InputError, match="no such folder"):
        read_parquet(tmp_path / "province=79" / "period=2026q4" / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(analysis.InputError, match="no .parquet files"):
        read_parquet(tmp_path / "empty")
