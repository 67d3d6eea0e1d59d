"""Write a report's four files, all or nothing.

:func:`write_report` renders ``report.html``, ``report.pdf``,
``indices.xlsx`` and ``indices.csv`` into a temporary folder next to the
output folder and moves them into place only when all four are complete; if
anything fails, the temporary folder is removed and the output folder is left
as it was.
"""
from __future__ import annotations

import csv
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cells import inert
from . import figures, html, pdf, xlsx
from .i18n import Translator
from .model import Report, ReportInputs, build_model

FILES = ("report.html", "report.pdf", "indices.xlsx", "indices.csv")

Progress = Callable[[str, float], None]
"""``progress(stage, fraction_done)``: the stage under way and the share (0..1) of the whole job done."""

# Share of the rendering time each stage takes (measured on 1,000,000 responses and 22 units).
_RENDER_STAGES = (("charts", 0.15), ("html", 0.15), ("pdf", 0.5), ("xlsx", 0.15), ("csv", 0.05))


@dataclass
class ReportFiles:
    """What :func:`write_report` made: the files, the PDF's pages, the workbook's sheets, timings."""

    folder: Path
    files: dict[str, Path]
    pdf_pages: list[str]
    sheets: list[str]
    report: Report
    seconds: dict[str, float] = field(default_factory=dict)


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path, columns: Sequence[str] | None = None) -> None:
    """The indices table as CSV: the engine's columns, numbers in full precision, NA empty, flags TRUE/FALSE."""
    rows = list(rows)
    columns = list(columns or (rows[0].keys() if rows else ()))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_csv_cell(r.get(c)) for c in columns])


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return inert(str(value))


def write_report(inputs: ReportInputs, lang: str, out: str | Path, *, progress: Progress | None = None,
                 start: float = 0.0, write_indices: Callable[[Path], None] | None = None) -> ReportFiles:
    """Render the report of ``inputs`` in ``lang`` into the folder ``out``.

    Parameters
    ----------
    inputs
        The analysis tables and counts (see :func:`analysis.report.gather.gather`).
    lang
        ``"vi"`` or ``"en"``.
    out
        Output folder; created if missing. Existing files of the same names are
        replaced, other files are left alone.
    progress
        Called as ``progress(stage, fraction)``; rendering reports fractions
        from ``start`` to 1.
    write_indices
        Writes ``indices.csv`` to the given path (the engine's own CSV writer,
        so the file is byte for byte what ``python -m analysis indices``
        writes); default: :func:`write_csv` of ``inputs.table``.
    """
    t = Translator(lang)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder")
    report = build_model(inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()     # (not mkdtemp: its 0700 mode would stick to a new output folder)
    seconds: dict[str, float] = {}
    done = start
    weights = dict(_RENDER_STAGES)

    def step(finished: str, next_stage: str) -> None:
        """``finished`` is done; report ``next_stage`` as under way."""
        nonlocal done
        done += (1 - start) * weights[finished]
        if progress:
            progress(next_stage, min(done, 1.0))

    if progress:
        progress("charts", start)
    try:
        clock = time.perf_counter()
        with figures.style():
            charts = figures.all_charts(report, t)
            seconds["charts"] = time.perf_counter() - clock
            step("charts", "html")
            clock = time.perf_counter()
            (tmp / "report.html").write_text(html.render(report, t, charts), encoding="utf-8")
            del charts
            seconds["html"] = time.perf_counter() - clock
            step("html", "pdf")
            clock = time.perf_counter()
            pages = pdf.render(report, t, tmp / "report.pdf")
            seconds["pdf"] = time.perf_counter() - clock
            step("pdf", "xlsx")
        clock = time.perf_counter()
        sheets = xlsx.render(report, t, tmp / "indices.xlsx")
        seconds["xlsx"] = time.perf_counter() - clock
        step("xlsx", "csv")
        clock = time.perf_counter()
        if write_indices is not None:
            write_indices(tmp / "indices.csv")
        else:
            write_csv(inputs.table, tmp / "indices.csv")
        seconds["csv"] = time.perf_counter() - clock
        step("csv", "done")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ReportFiles(out, {name: out / name for name in FILES}, pages, sheets, report, seconds)


def _move_into_place(tmp: Path, out: Path) -> None:
    """Put the finished files in ``out``: one rename of the folder when ``out`` is new, else one per file."""
    for name in FILES:
        if not (tmp / name).is_file() or (tmp / name).stat().st_size == 0:
            raise RuntimeError(f"{name} was not written")
    if not out.exists():
        try:
            os.rename(tmp, out)
            return
        except OSError:
            out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        os.replace(tmp / name, out / name)
    shutil.rmtree(tmp, ignore_errors=True)
