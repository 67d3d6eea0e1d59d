"""A report is written whole or not at all."""
import pytest

from analysis.report import build, pdf
from analysis.report.build import FILES, write_report


def test_a_failure_midway_leaves_no_output_folder_and_no_partial_files(inputs, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pdf, "render", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(inputs, "vi", tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_when_rewriting_a_report_keeps_the_previous_files_as_they_were(inputs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    for name in FILES:
        (out / name).write_text(f"previous {name}")
    (out / "notes.txt").write_text("mine")
    monkeypatch.setattr(build.xlsx, "render", lambda *a, **k: (_ for _ in ()).throw(OSError("no space")))
    with pytest.raises(OSError):
        write_report(inputs, "en", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert {p.name: p.read_text() for p in out.iterdir()} == {
        **{name: f"previous {name}" for name in FILES}, "notes.txt": "mine"}


def test_rewriting_a_report_replaces_its_files_leaves_others_alone_and_reports_progress(inputs, tmp_path):
    seen = []
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("old")
    (out / "notes.txt").write_text("mine")
    made = write_report(inputs, "en", out, progress=lambda stage, done: seen.append((stage, done)))
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert made.files["report.pdf"].read_bytes().startswith(b"%PDF")
    stages = [s for s, _ in seen]
    assert stages == ["charts", "html", "pdf", "xlsx", "csv", "done"]
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_an_output_path_that_is_a_file_is_refused_before_anything_is_written(inputs, tmp_path):
    target = tmp_path / "report"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        write_report(inputs, "vi", target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_fonts_read_from_memory_draw_the_same_report_as_fonts_read_from_disk(inputs, tmp_path, monkeypatch):
    """figures.style() lets matplotlib read the report's font from memory (it is much faster than
    from disk); the HTML's charts and the PDF must be the very same bytes, Vietnamese diacritics
    included, and matplotlib's own font loader must be back in place afterwards."""
    from matplotlib import font_manager

    from analysis.report import figures

    original = font_manager._get_font
    assert figures._can_read_fonts_from_memory()
    fast = write_report(inputs, "vi", tmp_path / "memory")
    assert font_manager._get_font is original
    find = font_manager.fontManager._find_fonts_by_props
    with figures.style():
        assert font_manager._get_font is not original          # the stand-in is really used
        with figures.style():                                  # nested (the lock is re-entrant)
            pass
        assert font_manager._get_font is not original
        assert "_find_fonts_by_props" in vars(font_manager.fontManager)
    assert font_manager._get_font is original and "_find_fonts_by_props" not in vars(font_manager.fontManager)
    assert font_manager.fontManager._find_fonts_by_props == find
    monkeypatch.setattr(figures, "_can_read_fonts_from_memory", lambda: False)
    slow = write_report(inputs, "vi", tmp_path / "disk")
    for name in ("report.html", "report.pdf", "indices.csv"):
        assert fast.files[name].read_bytes() == slow.files[name].read_bytes(), name
    assert "Chỉ số" in fast.files["report.html"].read_text(encoding="utf-8")


def test_the_workbook_s_cells_are_the_same_xml_as_openpyxl_writes_them(inputs, tmp_path, monkeypatch):
    """xlsx.render writes plain cells' XML itself (openpyxl's pure-Python writer is slow): every sheet
    must be the very bytes openpyxl writes -- escapes, spaces kept, booleans, empty styled cells,
    formulas and dates left to openpyxl -- for the report's workbook and for awkward cells."""
    import contextlib
    import zipfile
    from datetime import datetime

    from openpyxl import Workbook
    from openpyxl.styles import Font

    from analysis.report import xlsx
    from analysis.report.i18n import Translator
    from analysis.report.model import build_model

    def awkward(path):
        wb = Workbook()
        ws = wb.active
        ws.append([" leading", "trailing ", "  ", "", "a & b < c > d \"e\" 'f'", "Thủ Đức\ttab\nnewline",
                   True, False, 0, -0.0, 1e-300, 123456789012345678, 0.1 + 0.2, float("nan"), None,
                   "=1+2", datetime(2026, 1, 2, 3, 4, 5)])
        ws.cell(row=2, column=3).font = Font(bold=True)        # an empty cell with a style
        with xlsx._plain_cells_written_directly():
            wb.save(path)

    def sheets(path):
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")}

    report = build_model(inputs)
    xlsx.render(report, Translator("vi"), tmp_path / "fast.xlsx")
    awkward(tmp_path / "fast-awkward.xlsx")
    monkeypatch.setattr(xlsx, "_plain_cells_written_directly", contextlib.nullcontext)
    xlsx.render(report, Translator("vi"), tmp_path / "openpyxl.xlsx")
    awkward(tmp_path / "openpyxl-awkward.xlsx")
    for fast, slow in (("fast.xlsx", "openpyxl.xlsx"), ("fast-awkward.xlsx", "openpyxl-awkward.xlsx")):
        a, b = sheets(tmp_path / fast), sheets(tmp_path / slow)
        assert len(a) > 1 if fast == "fast.xlsx" else len(a) == 1
        assert a == b, fast
