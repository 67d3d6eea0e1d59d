"""Hostile CSV input: whatever bytes arrive, the reader returns data or raises InputError naming the
problem -- never another exception."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import analysis
from analysis import InputError

HEADER = "respondent_id,district,stratum,weight,q01,q02"
cell = st.sampled_from(["", "1", "3", "5", "0", "6", "x", "4.0", " 4", '"2"', "-1", "1e9", "nan", "Ωmega", ",",
                        '"a,b"', "\r", "\n", "2.5", "007", "inf"])
line = st.lists(cell, min_size=1, max_size=8).map(",".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line, min_size=0, max_size=6), newline=st.sampled_from(["\n", "\r\n"]))
def test_csv_like_input_reads_or_is_refused_cleanly(tmp_path, lines, newline):
    path = tmp_path / "survey.csv"
    path.write_bytes((newline.join([HEADER] + lines) + newline).encode("utf-8"))
    try:
        data = analysis.read_csv(path)
    except InputError as err:
        assert str(err)
        return
    assert data.n > 0 and data.answers.max(initial=0) <= 5 and (data.weights > 0).all()
    if data.answers.any():
        analysis.compute_table(data)
    else:
        with pytest.raises(ValueError, match="no respondent gave a valid answer"):
            analysis.compute_table(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_reader(tmp_path, raw):
    path = tmp_path / "survey.csv"
    path.write_bytes(raw)
    try:
        analysis.read_csv(path)
    except InputError:
        pass
