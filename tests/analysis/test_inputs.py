"""Reading survey CSVs: malformed input is refused with the line and column named; odd but valid
input (quotes, CRLF, BOM, any column order) reads the same as plain input."""
from __future__ import annotations

import numpy as np
import pytest

import analysis
from analysis import InputError

from .conftest import FIXTURES

HEADER = "respondent_id,district,stratum,weight,q01,q02,q03"
GOOD = [
    "r1,D1,D1_U,10.5,4,5,",
    "r2,D1,D1_R,20,3,,1",
    "r3,D2,D2_U,7.25,5,4,4",
]


def write(tmp_path, lines, name="survey.csv", newline="\n", raw: bytes | None = None):
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(newline.join(lines) + newline, encoding="utf-8")
    return path


def test_reads_answers_weights_and_labels(tmp_path):
    data = analysis.read_csv(write(tmp_path, [HEADER] + GOOD))
    assert data.items == ("q01", "q02", "q03")
    assert data.answers.tolist() == [[4, 5, 0], [3, 0, 1], [5, 4, 4]]
    assert data.weights.tolist() == [10.5, 20.0, 7.25]
    assert data.districts == ("D1", "D2") and data.district.tolist() == [0, 0, 1]
    assert data.strata == ("D1_R", "D1_U", "D2_U") and data.stratum.tolist() == [1, 0, 2]
    assert data.psu is None


@pytest.mark.parametrize("line, column, fragment", [
    ("r9,D1,D1_U,0,4,5,1", "weight", "'0' is not a number > 0"),
    ("r9,D1,D1_U,-3,4,5,1", "weight", "'-3' is not a number > 0"),
    ("r9,D1,D1_U,abc,4,5,1", "weight", "'abc' is not a number > 0"),
    ("r9,D1,D1_U,,4,5,1", "weight", "'' is not a number > 0"),
    ("r9,D1,D1_U,nan,4,5,1", "weight", "'nan' is not a number > 0"),
    ("r9,D1,D1_U,inf,4,5,1", "weight", "'inf' is not a number > 0"),
    ("r9,D1,D1_U,1,6,5,1", "q01", "'6' is not an answer 1..5"),
    ("r9,D1,D1_U,1,4,x,1", "q02", "'x' is not an answer 1..5"),
    ("r9,D1,D1_U,1,4,5,4.0", "q03", "'4.0' is not an answer 1..5"),
    ("r9,D1,D1_U,1,0,5,1", "q01", "'0' is not an answer 1..5"),
    ("r9,,D1_U,1,4,5,1", "district", "empty"),
    ("r9,D1,,1,4,5,1", "stratum", "empty"),
])
def test_bad_value_is_refused_naming_line_and_column(tmp_path, line, column, fragment):
    path = write(tmp_path, [HEADER] + GOOD + [line])
    with pytest.raises(InputError) as err:
        analysis.read_csv(path)
    message = str(err.value)
    assert "line 5" in message and f"column {column}" in message and fragment in message


def test_line_with_wrong_number_of_fields_is_refused(tmp_path):
    path = write(tmp_path, [HEADER, GOOD[0], "r2,D1,D1_R,20,3,1", GOOD[2]])
    with pytest.raises(InputError, match=r"line 3: 6 fields, expected 7"):
        analysis.read_csv(path)


@pytest.mark.parametrize("missing", ["district", "stratum", "weight"])
def test_missing_design_column_is_refused(tmp_path, missing):
    cols = HEADER.split(",")
    keep = [i for i, c in enumerate(cols) if c != missing]
    lines = [",".join(cols[i] for i in keep)] + [",".join(r.split(",")[i] for i in keep) for r in GOOD]
    with pytest.raises(InputError, match=rf"line 1: missing column '{missing}'"):
        analysis.read_csv(write(tmp_path, lines))


def test_header_only_and_no_criteria_are_refused(tmp_path):
    with pytest.raises(InputError, match="no respondents"):
        analysis.read_csv(write(tmp_path, [HEADER]))
    with pytest.raises(InputError, match="no criterion columns"):
        analysis.read_csv(write(tmp_path, ["district,stratum,weight", "D1,S,1"]))


def test_fpc_column_is_refused_rather_than_ignored(tmp_path):
    lines = [HEADER + ",fpc"] + [r + ",100" for r in GOOD]
    with pytest.raises(InputError, match="column fpc: a finite population correction is not supported"):
        analysis.read_csv(write(tmp_path, lines))


def test_quoted_fields_crlf_bom_and_column_order_read_like_plain_input(tmp_path):
    plain = analysis.read_csv(write(tmp_path, [HEADER] + GOOD, "a.csv"))
    crlf = analysis.read_csv(write(tmp_path, [HEADER] + GOOD, "b.csv", newline="\r\n"))
    bom = analysis.read_csv(write(tmp_path, [], "c.csv", raw=("\ufeff" + "\n".join([HEADER] + GOOD)).encode()))
    quoted = analysis.read_csv(write(tmp_path, ['"respondent_id","district","stratum","weight","q01","q02","q03"']
                                     + ['"r1","D1","D1_U","10.5","4","5",""', '"r2","D1","D1_R",20,3,,1',
                                        '"r3","D2","D2_U",7.25,5,4,4'], "d.csv"))
    reordered = analysis.read_csv(write(tmp_path, ["q03,weight,q01,stratum,district,q02"]
                                        + [",10.5,4,D1_U,D1,5", "1,20,3,D1_R,D1,", "4,7.25,5,D2_U,D2,4"], "e.csv"))
    for other in (crlf, bom, quoted):
        assert np.array_equal(other.answers, plain.answers)
        assert np.array_equal(other.weights, plain.weights)
        assert other.districts == plain.districts and other.strata == plain.strata
    assert reordered.items == ("q03", "q01", "q02")
    assert reordered.answers[:, [1, 2, 0]].tolist() == plain.answers.tolist()


def test_quoted_file_is_checked_as_strictly(tmp_path):
    path = write(tmp_path, [HEADER, '"r1","D1","D1_U","-1","4","5",""'])
    with pytest.raises(InputError, match=r"line 2, column weight: '-1' is not a number > 0"):
        analysis.read_csv(path)


def test_weights_are_read_exactly_as_python_floats(tmp_path):
    weights = ["999.395541", "0.1", "12345678901234.5", "1e3", "3", ".5", "7."]
    lines = [HEADER] + [f"r{i},D1,S,{w},4,4,4" for i, w in enumerate(weights)]
    data = analysis.read_csv(write(tmp_path, lines))
    assert data.weights.tolist() == [float(w) for w in weights]


def test_psu_labels_are_nested_in_strata(tmp_path):
    lines = ["district,stratum,psu,weight,q01", "D1,A,c1,1,4", "D1,A,c1,1,4", "D1,B,c1,1,4", "D1,B,c2,1,4"]
    data = analysis.read_csv(write(tmp_path, lines))
    # the same label in two strata is two PSUs (R: nest = TRUE)
    assert len(set(data.psu.tolist())) == 3 and data.psu[0] == data.psu[1] != data.psu[2]


def test_long_file_is_read_in_blocks_with_the_right_line_numbers(tmp_path, monkeypatch):
    from analysis import inputs
    monkeypatch.setattr(inputs, "CHUNK_BYTES", 64)
    lines = [HEADER] + [f"r{i},D{i % 3},S{i % 2},{1 + i % 7},{1 + i % 5},,{1 + (i * 3) % 5}" for i in range(400)]
    data = analysis.read_csv(write(tmp_path, lines))
    assert data.n == 400 and data.answers[399].tolist() == [1 + 399 % 5, 0, 1 + (399 * 3) % 5]
    lines[300] = lines[300].replace(",D", ",D").rsplit(",", 1)[0] + ",9"
    with pytest.raises(InputError, match=r"line 301, column q03: '9'"):
        analysis.read_csv(write(tmp_path, lines, "bad.csv"))


class TestFactors:
    def test_factor_file_gives_membership_and_criterion_weights(self, tmp_path):
        survey = write(tmp_path, [HEADER] + GOOD)
        f = tmp_path / "factors.csv"
        f.write_text("item,factor,weight\nq01,A,2\nq02,A,\nq03,B,0.5\n")
        data = analysis.read_csv(survey, factors=f)
        assert dict(data.factor_of) == {"q01": "A", "q02": "A", "q03": "B"}
        assert data.item_weights.tolist() == [2.0, 1.0, 0.5]
        assert data.factors == ("A", "B")

    @pytest.mark.parametrize("text, fragment", [
        ("item,factor\nq01,A\nq09,B\n", "line 3, column item: unknown criterion 'q09'"),
        ("item,factor\nq01,A\nq01,B\n", "line 3, column item: 'q01' is listed twice"),
        ("item,factor\nq01,\n", "line 2, column factor: empty factor for 'q01'"),
        ("item,group\nq01,A\n", "missing column 'factor'"),
        ("item,factor,weight\nq01,A,0\n", "line 2, column weight: '0' is not a number > 0"),
        ("item,factor,weight\nq01,A,heavy\n", "line 2, column weight: 'heavy' is not a number > 0"),
    ])
    def test_bad_factor_file_is_refused(self, tmp_path, text, fragment):
        survey = write(tmp_path, [HEADER] + GOOD)
        f = tmp_path / "factors.csv"
        f.write_text(text)
        with pytest.raises(InputError) as err:
            analysis.read_csv(survey, factors=f)
        assert fragment in str(err.value) and "factors.csv" in str(err.value)


def test_reference_survey_reads_with_its_design():
    data = analysis.read_csv(FIXTURES / "clustered/survey.csv", factors=FIXTURES / "clustered/factors.csv")
    assert data.n == 972 and len(data.items) == 26 and data.psu is not None
    # 80 clusters of 12 and the two 6-respondent clusters of D6_tiny (R: df = 82 PSUs - 10 strata = 72)
    assert len(set(data.psu.tolist())) == 82 and data.districts == ("D1", "D2", "D3", "D4", "D6_tiny")
