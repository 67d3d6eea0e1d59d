"""The one function every text cell of every workbook and CSV the platform writes goes through.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return before one) as a formula: a unit named ``=1+2+cmd|' /C calc'!A0`` would run in
whoever opens the report. openpyxl even stores such a string as a formula itself. :func:`inert`
puts an apostrophe before such text, so it is shown, never run; numbers are not text and never
pass through it. Writers: the report workbook and ``indices.csv`` (analysis/report), the
engine's CSV outputs (analysis/table.py, ``change``, ``former``), the staff exports
(survey/staff/exports.py, which imports this module: analysis never imports survey).
"""
from __future__ import annotations

import re
from typing import Any

FORMULA_START = frozenset("=+-@\t\r")
_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def inert(value: str | None) -> str | None:
    """Text a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    if value and value[0] in FORMULA_START:
        return "'" + value
    return value


def cell(value: Any) -> Any:
    """A workbook or CSV cell: text made inert, anything else (numbers, booleans, None) as is."""
    return inert(value) if isinstance(value, str) else value


def csv_text(value: str | None) -> str:
    """A text cell for a hand-written CSV line: inert, and quoted when it holds a comma, quote or line break."""
    if value is None:
        return ""
    value = inert(value)
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value
