"""The PDF and indices.csv written by forked child processes while the parent writes the others (the CLI's way).

The files must be exactly those of the one-process way, and a child that fails -- by an exception,
or by dying -- must fail the whole report with its message and write nothing.
"""
import os
import signal
import subprocess

import openpyxl
import pytest

from analysis.report import build, pdf
from analysis.report.build import FILES, PARALLEL_ENV, ReportChildError, write_report

from .conftest import require

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the parallel report needs os.fork")


def _cells(path):
    book = openpyxl.load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


def _pdf_text(path):
    return subprocess.run([require("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_the_parallel_report_is_the_same_four_files_as_the_one_process_report(inputs, tmp_path, monkeypatch):
    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    one = write_report(inputs, "vi", tmp_path / "one")
    seen = []
    two = write_report(inputs, "vi", tmp_path / "two", parallel=True,
                       progress=lambda stage, done: seen.append((stage, done)))
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(FILES)
    assert (tmp_path / "two" / "indices.csv").read_bytes() == (tmp_path / "one" / "indices.csv").read_bytes()
    assert (tmp_path / "two" / "report.html").read_text(encoding="utf-8") == \
        (tmp_path / "one" / "report.html").read_text(encoding="utf-8")
    assert _cells(tmp_path / "two" / "indices.xlsx") == _cells(tmp_path / "one" / "indices.xlsx")
    text = _pdf_text(tmp_path / "two" / "report.pdf")
    assert text == _pdf_text(tmp_path / "one" / "report.pdf")
    assert "Huyện Cần Giờ" in text
    assert two.pdf_pages == one.pdf_pages and len(two.pdf_pages) > 3
    assert two.sheets == one.sheets
    # The PDF is begun at once in the child; the parent writes the rest, then waits for it.
    assert [s for s, _ in seen] == ["charts", "html", "xlsx", "csv", "pdf", "done"]
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert two.seconds["pdf"] > 0


def _previous(out):
    out.mkdir()
    for name in FILES:
        (out / name).write_text(f"previous {name}")
    (out / "notes.txt").write_text("mine")


def _untouched(tmp_path, out):
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]        # no partial folder left behind
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        **{name: f"previous {name}" for name in FILES}, "notes.txt": "mine"}


def test_a_pdf_renderer_failing_in_the_child_fails_the_report_with_its_message(inputs, tmp_path, monkeypatch):
    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    parent = os.getpid()

    def broken(report, t, path):
        path.write_bytes(b"%PDF-1.4 half")
        raise RuntimeError(f"font DejaVuSans not found (in process {os.getpid()})")

    monkeypatch.setattr(pdf, "render", broken)
    out = tmp_path / "out"
    _previous(out)
    with pytest.raises(RuntimeError, match="font DejaVuSans not found") as failure:
        write_report(inputs, "en", out, parallel=True)
    assert f"(in process {parent})" not in str(failure.value)           # it did fail in the child
    _untouched(tmp_path, out)


def test_a_pdf_renderer_killed_in_the_child_fails_the_report_and_writes_nothing(inputs, tmp_path, monkeypatch):
    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    parent = os.getpid()

    def dies(report, t, path):
        if os.getpid() == parent:               # never kill the test run itself
            raise AssertionError("the PDF was rendered in the parent process")
        path.write_bytes(b"%PDF-1.4 half")
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(pdf, "render", dies)
    out = tmp_path / "out"
    _previous(out)
    with pytest.raises(ReportChildError, match="the PDF renderer .* was killed by signal SIGKILL"):
        write_report(inputs, "vi", out, parallel=True)
    _untouched(tmp_path, out)


def test_the_csv_writer_failing_in_its_child_fails_the_report(inputs, tmp_path, monkeypatch):
    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    parent = os.getpid()

    def full(path):
        path.write_text("district,")
        raise OSError(f"No space left on device (process {os.getpid()})")

    out = tmp_path / "out"
    _previous(out)
    with pytest.raises(OSError, match="No space left on device") as failure:
        write_report(inputs, "vi", out, parallel=True, write_indices=full)
    assert f"(process {parent})" not in str(failure.value)
    _untouched(tmp_path, out)


def test_a_failure_in_the_parent_stops_the_child_and_writes_nothing(inputs, tmp_path, monkeypatch):
    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    monkeypatch.setattr(build.xlsx, "render", lambda *a, **k: (_ for _ in ()).throw(OSError("no space")))
    children = []
    real_start = build._Child.start

    def start(*args):
        child = real_start(*args)
        children.append(child.pid)
        return child

    monkeypatch.setattr(build._Child, "start", start)
    out = tmp_path / "out"
    _previous(out)
    with pytest.raises(OSError, match="no space"):
        write_report(inputs, "en", out, parallel=True)
    _untouched(tmp_path, out)
    assert len(children) == 2                   # the PDF renderer and the CSV writer
    for pid in children:
        with pytest.raises(ChildProcessError):  # stopped and reaped: no zombie left
            os.waitpid(pid, os.WNOHANG)


def test_the_environment_variable_keeps_the_pdf_in_the_same_process(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv(PARALLEL_ENV, "0")
    rendered_in = []
    real = pdf.render

    def render(report, t, path):
        rendered_in.append(os.getpid())
        return real(report, t, path)

    monkeypatch.setattr(pdf, "render", render)
    seen = []
    write_report(inputs, "en", tmp_path / "out", parallel=True, progress=lambda stage, done: seen.append(stage))
    assert rendered_in == [os.getpid()]
    assert seen == ["charts", "html", "pdf", "xlsx", "csv", "done"]


def _without_clock(inputs):
    import re
    from dataclasses import replace

    engine = {k: v for k, v in inputs.engine.items() if k != "seconds"}
    text = repr(replace(inputs, generated_at=None, engine=engine))
    assert len(text) > 10_000
    return re.sub(r" at 0x[0-9a-f]+>", ">", text)      # objects printed by address


def test_the_scan_in_a_child_process_gathers_the_same_numbers(survey_db, monkeypatch):
    from datetime import date

    from analysis.report import gather as gathering

    scans = []
    real = gathering._Scan

    class Counted(real):
        def __init__(self, *args, **kwargs):
            scans.append(os.getpid())
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(gathering, "_Scan", Counted)
    request = gathering.ReportRequest(db=survey_db, date_from=date(2024, 1, 1), date_to=date(2024, 6, 30),
                                      compare_from=date(2024, 1, 1), compare_to=date(2024, 3, 31))
    one, table_one = gathering.gather(request)
    assert scans == [os.getpid()]
    seen = []
    two, table_two = gathering.gather(request, parallel=True, progress=lambda stage, done: seen.append(stage))
    assert scans == [os.getpid()]           # the second scan ran in the child (which does not see this patch)
    assert _without_clock(two) == _without_clock(one)
    assert repr(list(table_two.rows())) == repr(list(table_one.rows()))
    assert "scanning" in seen and seen.index("estimating") < len(seen) - 1 - seen[::-1].index("scanning")


def _request(survey_db):
    from datetime import date

    from analysis.report import gather as gathering

    return gathering.ReportRequest(db=survey_db, date_from=date(2024, 1, 1), date_to=date(2024, 6, 30),
                                   compare_from=date(2024, 1, 1), compare_to=date(2024, 3, 31))


def test_make_report_writes_indices_csv_while_the_breakdowns_are_computed(survey_db, tmp_path, monkeypatch):
    from analysis.report import domains, make_report

    monkeypatch.setenv(PARALLEL_ENV, "0")
    one = make_report(_request(survey_db), "vi", tmp_path / "one", parallel=True)
    monkeypatch.delenv(PARALLEL_ENV)
    order = []
    real_start, real_index_by = build.EarlyFile.start, domains.index_by

    def start(out, write):
        order.append("indices.csv")
        early = real_start(out, write)
        order.append(early.child.pid)
        return early

    monkeypatch.setattr(build.EarlyFile, "start", staticmethod(start))
    monkeypatch.setattr(domains, "index_by", lambda *a, **k: order.append("breakdown") or real_index_by(*a, **k))
    two = make_report(_request(survey_db), "vi", tmp_path / "two", parallel=True)
    assert order[0] == "indices.csv" and "breakdown" in order     # begun before the first breakdown
    assert order[1] != os.getpid()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]   # no hidden file left beside them
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(FILES)
    assert (tmp_path / "two" / "indices.csv").read_bytes() == (tmp_path / "one" / "indices.csv").read_bytes()
    assert len((tmp_path / "two" / "indices.csv").read_bytes().splitlines()) > 100
    assert two.sheets == one.sheets and two.pdf_pages == one.pdf_pages
    assert "csv" in two.seconds and "waiting for indices.csv" in two.seconds


def test_a_report_failing_after_indices_csv_was_begun_leaves_nothing(survey_db, tmp_path, monkeypatch):
    from analysis.report import make_report

    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    children = []
    real_start = build.EarlyFile.start

    def start(out, write):
        early = real_start(out, write)
        children.append(early.child.pid)
        return early

    monkeypatch.setattr(build.EarlyFile, "start", staticmethod(start))
    monkeypatch.setattr(build, "build_model", lambda inputs: (_ for _ in ()).throw(MemoryError("model")))
    out = tmp_path / "out"
    _previous(out)
    with pytest.raises(MemoryError, match="model"):
        make_report(_request(survey_db), "en", out, parallel=True)
    _untouched(tmp_path, out)               # neither the early indices.csv nor a partial folder beside it
    assert len(children) == 1
    with pytest.raises(ChildProcessError):  # stopped and reaped
        os.waitpid(children[0], os.WNOHANG)


def test_the_early_indices_csv_failing_in_its_child_fails_the_report(survey_db, tmp_path, monkeypatch):
    from analysis.report import make_report
    from analysis.table import IndexTable

    monkeypatch.delenv(PARALLEL_ENV, raising=False)

    def full(self, path, **kwargs):
        open(path, "w").write("district,")
        raise OSError("No space left on device")

    monkeypatch.setattr(IndexTable, "to_csv", full)
    out = tmp_path / "out"
    _previous(out)
    with pytest.raises(OSError, match="No space left on device"):
        make_report(_request(survey_db), "en", out, parallel=True)
    _untouched(tmp_path, out)
