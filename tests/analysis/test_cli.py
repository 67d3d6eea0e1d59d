"""`python -m analysis`: help with examples, clear errors without tracebacks or partial output,
the progress bar, standard output."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.__main__ import build_parser, main

from .conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
BASIC = [str(FIXTURES / "basic/survey.csv"), "--factors", str(FIXTURES / "basic/factors.csv")]


def subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("name", ["indices", "change"])
def test_every_command_has_help_with_an_example(name):
    text = subcommands()[name].format_help()
    assert "Example:" in text and f"python -m analysis {name}" in text
    assert "Example:" in build_parser().format_help()


def test_real_process_writes_the_table_and_exits_zero(tmp_path):
    out = tmp_path / "out.csv"
    proc = subprocess.run([sys.executable, "-m", "analysis", "indices", *BASIC, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 315 rows (6 units, 45 measures)" in proc.stderr
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 315 and rows[0]["measure"] == "q01" and rows[0]["district"] == "ALL"


def test_bad_input_exits_2_naming_line_and_column_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    text = (FIXTURES / "basic/survey.csv").read_text().splitlines()
    text[10] = text[10].replace(text[10].split(",")[3], "-2", 1)
    bad.write_text("\n".join(text) + "\n")
    out = tmp_path / "out.csv"
    assert main(["indices", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "line 11, column weight: '-2' is not a number > 0" in err
    assert "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


@pytest.mark.parametrize("args, fragment", [
    (["indices", "--out", "x.csv"], "give either INPUT.csv or --db PATH"),
    (["indices", "a.csv", "--db", "b.sqlite3", "--out", "x.csv"], "give either INPUT.csv or --db PATH"),
    (["indices", *BASIC, "--from", "2024-01-01", "--out", "x.csv"], "--from only apply to --db input"),
    (["indices", *BASIC, "--weights", "rake", "--out", "x.csv"], "--weights only apply to --db input"),
    (["indices", str(FIXTURES / "basic/survey.csv"), "--out", "/nonexistent/dir/x.csv"], "no such directory"),
    (["indices", "missing.csv", "--out", "x.csv"], "cannot read"),
])
def test_usage_mistakes_are_explained(args, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert fragment in capsys.readouterr().err


@pytest.mark.parametrize("level", ["95", "0", "abc"])
def test_level_must_be_a_probability(level, capsys):
    with pytest.raises(SystemExit):
        main(["indices", *BASIC, "--level", level, "--out", "-"])
    assert "--level" in capsys.readouterr().err


def test_progress_bar_goes_to_stderr_and_quiet_silences_it(tmp_path, capsys):
    assert main(["indices", *BASIC, "--out", str(tmp_path / "a.csv"), "--progress"]) == 0
    err = capsys.readouterr().err
    assert "reading survey.csv: 100%" in err and "estimating: 100%" in err
    assert main(["indices", *BASIC, "--out", str(tmp_path / "b.csv"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_out_dash_writes_to_standard_output(capsys):
    assert main(["indices", *BASIC, "--out", "-", "--quiet", "--no-overall"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("level,district,measure,measure_type,factor,n,sum_w,df,p,se,")
    assert len(lines) == 1 + 6 * 45 and not any(line.startswith("overall") for line in lines[1:])
