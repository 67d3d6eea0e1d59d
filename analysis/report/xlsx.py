"""The workbook: one sheet per report table, raw numbers with number formats, headers frozen.

Cells hold the analysis engine's numbers unrounded (a proportion 0.8233 is
stored as 0.8233 and shown as 82.3 %), so an analyst can compute with them
and every number equals the analysis output to the 16 significant digits an
XLSX cell is written with. A first sheet says what the
workbook is; the last holds the engine's full table, as ``indices.csv``.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.compat import safe_string
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from ..cells import cell as _inert
from . import narrative
from . import tables as T
from .i18n import Translator
from .model import Report

NUMBER_FORMATS = {
    "int": "#,##0",
    "pct": "0.0%",
    "pp": "+0.0%;-0.0%;0.0%",
    "num0": "#,##0",
    "num1": "0.0",
    "num2": "0.00",
}
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="F0F0F0")
HEADER_BORDER = Border(bottom=Side(style="medium", color="000000"))
FEW_FONT = Font(italic=True, color="6E6E6E")
FEW_FILL = PatternFill("lightUp", fgColor="DDDDDD", bgColor="FFFFFF")
TOTAL_FONT = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)


MAX_RAW_ROWS = 100_000       # rows of the engine's table copied into the workbook (22 units: ~1,700)


def _cell_value(value: Any) -> Any:
    if isinstance(value, T.Cell):
        value = value.value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _raw(value: Any) -> Any:
    """A cell of the engine's table as Excel should hold it (numbers as numbers, TRUE/FALSE as booleans)."""
    if isinstance(value, str):
        text = value.strip()
        if text in ("TRUE", "FALSE"):
            return text == "TRUE"
        if text in ("", "NA", "nan", "NaN"):
            return None
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _append(ws, values) -> None:
    """Every row of the workbook goes in here: its text made inert (a unit named '=1+2' is text, never a
    formula -- openpyxl would store it as one)."""
    ws.append([_inert(v) for v in values])


def _sheet_name(name: str, used: set[str]) -> str:
    clean = "".join("-" if ch in "[]:*?/\\" else ch for ch in name)[:31]
    candidate, k = clean, 2
    while candidate.lower() in used:
        suffix = f" ({k})"
        candidate = clean[:31 - len(suffix)] + suffix
        k += 1
    used.add(candidate.lower())
    return candidate


def _write_table(ws, table: T.Table, first_row: int = 1) -> None:
    _append(ws, [c.title for c in table.columns])
    for col, _c in enumerate(table.columns, start=1):
        cell = ws.cell(row=first_row, column=col)
        cell.font, cell.fill, cell.border = HEADER_FONT, HEADER_FILL, HEADER_BORDER
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r, row in enumerate(table.rows):
        _append(ws, [_cell_value(v) for v in row])
        excel_row = first_row + 1 + r
        for col, (c, value) in enumerate(zip(table.columns, row), start=1):
            kind = value.kind if isinstance(value, T.Cell) else c.kind
            cell = ws.cell(row=excel_row, column=col)
            if kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[kind]
            if r in table.few:
                cell.font, cell.fill = FEW_FONT, FEW_FILL
            if table.total_row and r == len(table.rows) - 1:
                cell.font = TOTAL_FONT
    ws.freeze_panes = ws.cell(row=first_row + 1, column=2 if len(table.columns) > 3 else 1)
    for col, c in enumerate(table.columns, start=1):
        longest = max([len(str(_cell_value(row[col - 1]) or "")) for row in table.rows] + [8])
        width = min(max(longest, min(len(c.title), 18)) + 2, 60 if c.kind == "text" else 16)
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.auto_filter.ref = ws.dimensions if table.rows else None


def render(report: Report, t: Translator, path: str | Path) -> list[str]:
    """Write the workbook to ``path``; return its sheet names in order."""
    wb = Workbook()
    used: set[str] = set()
    about = wb.active
    about.title = _sheet_name(t("sheet_about"), used)
    inputs = report.inputs
    q = report.questionnaire
    _append(about, [t("title")])
    about["A1"].font = TITLE_FONT
    facts = [(t("period"), t.period(inputs.period.start, inputs.period.end))]
    if inputs.compare_period:
        facts.append((t("compare_period"), t.period(inputs.compare_period.start, inputs.compare_period.end)))
    facts += [(t("units_in_report"), ", ".join(t.text(u.estimate.label) for u in report.units)),
              (t("questionnaire"), t("questionnaire_version", title=t.text(q.title), id=q.id, version=q.version))]
    if inputs.other_questionnaires:
        facts.append((t("other_questionnaires"), narrative.other_questionnaires(report, t)))
    if report.target is not None:
        facts.append((t("target"), t.percent(report.target, 0)))
    if inputs.generated_at:
        facts.append((t("generated"), t.date(inputs.generated_at)))
    if inputs.source:
        facts.append((t("source"), inputs.source))
    _append(about, [])
    for key, value in facts:
        _append(about, [key, value])
    _append(about, [])
    _append(about, [t("caveats")])
    about.cell(row=about.max_row, column=1).font = HEADER_FONT
    for line in narrative.caveats(report, t):
        _append(about, [line])
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 100
    for table in T.all_tables(report, t):
        ws = wb.create_sheet(_sheet_name(table.key, used))
        _write_table(ws, table)
    ws = wb.create_sheet(_sheet_name("Indices", used))
    if len(report.inputs.table) > MAX_RAW_ROWS:   # thousands of units: millions of cells; indices.csv holds them all
        _append(ws, [t("indices_in_csv", n=f"{len(report.inputs.table):,}")])
    else:
        raw = T.indices(report, t)
        _append(ws, [c.key for c in raw.columns])
        for col in range(1, len(raw.columns) + 1):
            ws.cell(row=1, column=col).font = HEADER_FONT
        for row in raw.rows:
            _append(ws, [_raw(v) for v in row])
        ws.freeze_panes = "D2"
    wb.properties.title = t("title")
    wb.properties.creator = "sipas-survey analysis.report"
    if inputs.generated_at:
        wb.properties.created = inputs.generated_at.replace(tzinfo=None)
        wb.properties.modified = inputs.generated_at.replace(tzinfo=None)
    with _plain_cells_written_directly():
        wb.save(path)
    return wb.sheetnames


def _plain_cell_xml(write_element: Any, xf: Any, worksheet: Any, cell: Any, styled: Any = None) -> None:
    """openpyxl's ``<c>`` element of a number, text, boolean or empty cell, written as the text its
    ElementTree writer makes of it (the same bytes; tests/report/test_outputs.py compares them).

    Without lxml, openpyxl builds an Element per cell and serialises it in pure Python (three quarters
    of the workbook's time with 94,000 cells); other cells (formulas, rich text, dates) still go there.
    """
    from openpyxl.cell._writer import _set_attributes

    kind = cell.data_type
    value = cell._value
    if kind not in ("n", "s", "b") or not (value is None or isinstance(value, (str, int, float))) \
            or not getattr(xf, "_element_stack", None) or cell.hyperlink is not None:
        write_element(xf, worksheet, cell, styled)
        return
    value, attributes = _set_attributes(cell, styled)
    start = "<c" + "".join(f' {k}="{ET._escape_attrib(v)}"' for k, v in attributes.items())
    if value is None or value == "":
        xf._file(start + " />")
    elif kind == "s":
        stripped = value.strip()
        space = ' xml:space="preserve"' if stripped and value != stripped else ""
        xf._file(f"{start}><is><t{space}>{ET._escape_cdata(value)}</t></is></c>")
    else:
        text = safe_string(value)       # NaN and infinities: "", an empty <v />
        xf._file(f"{start}><v>{ET._escape_cdata(text)}</v></c>" if text else f"{start}><v /></c>")


@contextmanager
def _plain_cells_written_directly():
    """While saving: openpyxl writes plain cells with :func:`_plain_cell_xml` (not when it has lxml)."""
    from openpyxl.cell import _writer as cell_writer
    from openpyxl.worksheet import _writer as sheet_writer

    original = sheet_writer.write_cell
    if original is not cell_writer.etree_write_cell:
        yield
        return
    sheet_writer.write_cell = lambda *args: _plain_cell_xml(original, *args)
    try:
        yield
    finally:
        sheet_writer.write_cell = original
