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
import pickle
import signal
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
                 start: float = 0.0, write_indices: Callable[[Path], None] | None = None,
                 parallel: bool = False, indices: EarlyFile | None = None) -> ReportFiles:
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
    parallel
        Render the PDF and write ``indices.csv`` in two forked child
        processes while this process writes the HTML and the workbook (the
        files are the same; with two cores the writing takes some 40 % of
        its one-process time).
        Only where ``os.fork`` exists and ``SIPAS_REPORT_PARALLEL`` is not
        ``0``; else everything runs in this process. A failure in the child
        (an exception, a crash, a signal) fails the report with the child's
        message and writes nothing. Meant for a single-threaded command
        (``python -m analysis report``): the dashboard's report job, in a
        thread of a server process, leaves it off.
    indices
        ``indices.csv`` already being written by :meth:`EarlyFile.start` (begun
        as soon as the engine table was ready, while the rest of the report was
        computed): waited for and moved into place instead of writing it here.
        If the report fails, it is discarded with the rest.
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
    pdf_child: _Child | None = None
    try:
        if _use_fork(parallel):  # the PDF and indices.csv in children, begun now; the parent does the rest
            pdf_child = _Child.start("the PDF renderer", _render_pdf, report, t, tmp / "report.pdf")
            if indices is None:
                indices = EarlyFile.begin(tmp / "indices.csv", write_indices, inputs)
        clock = time.perf_counter()
        with figures.style():
            charts = figures.all_charts(report, t)
            seconds["charts"] = time.perf_counter() - clock
            step("charts", "html")
            clock = time.perf_counter()
            (tmp / "report.html").write_text(html.render(report, t, charts), encoding="utf-8")
            del charts
            seconds["html"] = time.perf_counter() - clock
            if pdf_child is None:
                step("html", "pdf")
                pages, seconds["pdf"] = _render_pdf(report, t, tmp / "report.pdf")
                step("pdf", "xlsx")
            else:
                step("html", "xlsx")
        clock = time.perf_counter()
        sheets = xlsx.render(report, t, tmp / "indices.xlsx")
        seconds["xlsx"] = time.perf_counter() - clock
        step("xlsx", "csv")
        clock = time.perf_counter()
        if indices is None:
            _, seconds["csv"] = _write_indices(inputs, write_indices, tmp / "indices.csv")
        else:               # a child's, begun with the PDF's or earlier: usually finished by now
            seconds["csv"] = indices.move_to(tmp / "indices.csv")
            seconds["waiting for indices.csv"] = time.perf_counter() - clock
        if pdf_child is None:
            step("csv", "done")
        else:
            step("csv", "pdf")
            pages, seconds["pdf"] = pdf_child.wait()
            seconds["waiting for the children"] = time.perf_counter() - clock
            step("pdf", "done")
        _move_into_place(tmp, out)
    except BaseException:
        if pdf_child is not None:
            pdf_child.kill()
        if indices is not None:
            indices.discard()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ReportFiles(out, {name: out / name for name in FILES}, pages, sheets, report, seconds)


PARALLEL_ENV = "SIPAS_REPORT_PARALLEL"
"""Set to ``0`` to render the PDF in the same process even where ``parallel=True`` (e.g. to compare)."""


def _use_fork(parallel: bool) -> bool:
    return bool(parallel) and hasattr(os, "fork") and os.environ.get(PARALLEL_ENV, "1") != "0"


def _render_pdf(report: Report, t: Translator, path: Path) -> tuple[list[str], float]:
    """``report.pdf``: its pages and the seconds it took."""
    clock = time.perf_counter()
    with figures.style():
        pages = pdf.render(report, t, path)
    return pages, time.perf_counter() - clock


def _write_indices(inputs: ReportInputs, write_indices: Callable[[Path], None] | None,
                   path: Path) -> tuple[None, float]:
    """``indices.csv`` and the seconds it took."""
    clock = time.perf_counter()
    if write_indices is not None:
        write_indices(path)
    else:
        write_csv(inputs.table, path)
    return None, time.perf_counter() - clock


class EarlyFile:
    """``indices.csv`` written by a forked child as soon as the engine table is ready.

    The table is final before the breakdowns, the comparison and the report's model are computed
    (some seconds with thousands of units), so :func:`analysis.report.make_report` starts the
    CSV then, on the second processor, and :func:`write_report` moves the finished file into the
    report's folder with the others. The file is written next to the output folder under a
    hidden name, never into it; :meth:`discard` removes it if the report fails.
    """

    def __init__(self, path: Path, child: _Child):
        self.path, self.child = path, child

    @classmethod
    def begin(cls, path: Path, write: Callable[[Path], None] | None, inputs: ReportInputs | None = None
              ) -> EarlyFile:
        """Begin ``write(path)`` (default: :func:`write_csv` of ``inputs.table``) in a forked child."""
        return cls(path, _Child.start("the indices.csv writer", _write_indices, inputs, write, path))

    @classmethod
    def start(cls, out: str | Path, write: Callable[[Path], None]) -> EarlyFile | None:
        """Begin writing ``write(path)`` beside the folder ``out``; None where that cannot be done (no fork, no folder yet)."""
        out = Path(out)
        if not _use_fork(True) or not out.parent.is_dir() or (out.exists() and not out.is_dir()):
            return None
        return cls.begin(out.parent / f".{out.name}.indices-{uuid.uuid4().hex[:12]}.csv.partial", write)

    def move_to(self, dest: Path) -> float:
        """Wait for the child and move its file to ``dest``; the seconds the writing took."""
        _, seconds = self.child.wait()
        if self.path != dest:
            os.replace(self.path, dest)
        return seconds

    def discard(self) -> None:
        """Stop the child if it still runs and remove what it wrote."""
        self.child.kill()
        self.path.unlink(missing_ok=True)


class ReportChildError(RuntimeError):
    """A report's child process (the PDF renderer, the CSV writer) died without saying why (a crash or a signal)."""


class _Child:
    """``work(*args)`` in a forked child process; its result or its error come back by a pipe."""

    def __init__(self, what: str, pid: int, fd: int):
        self.what, self.pid, self.fd, self.reaped = what, pid, fd, False

    @classmethod
    def start(cls, what: str, work: Callable[..., Any], *args: Any) -> "_Child":
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:                                    # the child: work, send the outcome, leave at once
            code = 0
            try:
                os.close(read)
                try:
                    outcome = ("ok", work(*args))
                except BaseException as exc:            # noqa: BLE001 -- every failure goes to the parent
                    code = 1
                    try:
                        pickle.loads(pickle.dumps(exc))
                        outcome = ("error", exc)
                    except Exception:
                        outcome = ("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
                with os.fdopen(write, "wb") as pipe:
                    pickle.dump(outcome, pipe)
            except BaseException:
                code = 2
            finally:
                os._exit(code)                          # no atexit handlers, no flushing of the parent's buffers
        os.close(write)
        return cls(what, pid, read)

    def wait(self) -> Any:
        """The child's result; raises the child's exception if it failed."""
        try:
            with os.fdopen(self.fd, "rb") as pipe:
                data = pipe.read()
        finally:
            _, status = os.waitpid(self.pid, 0)
            self.reaped = True
        if data:
            try:
                kind, value = pickle.loads(data)
            except Exception:
                kind, value = "error", ReportChildError(f"{self.what} sent an unreadable result")
        elif os.WIFSIGNALED(status):
            kind, value = "error", ReportChildError(
                f"{self.what} (process {self.pid}) was killed by signal "
                f"{signal.Signals(os.WTERMSIG(status)).name}")
        else:
            kind, value = "error", ReportChildError(
                f"{self.what} (process {self.pid}) exited with status {os.waitstatus_to_exitcode(status)} "
                "without a result")
        if kind != "ok":
            raise value
        return value

    def kill(self) -> None:
        """Stop the child (the parent failed) and reap it."""
        if self.reaped:
            return
        self.reaped = True
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


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
