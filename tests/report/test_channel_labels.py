"""The report names channels as the staff pages do, without analysis/ importing survey/."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analysis.report.model import CHANNEL_LABELS, CHANNELS
from survey import labels

ANALYSIS = Path(__file__).resolve().parents[2] / "analysis"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_report_names_every_channel_as_the_staff_pages_do(lang):
    assert CHANNELS == labels.CHANNELS
    assert {code: text[lang] for code, text in CHANNEL_LABELS.items()} == {
        code: labels.channel_label(code, lang) for code in labels.CHANNELS}


def _imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_no_analysis_module_imports_the_web_app():
    offenders = sorted(
        f"{path.relative_to(ANALYSIS.parent)}: {name}"
        for path in ANALYSIS.rglob("*.py")
        for name in _imported_modules(path)
        if name == "survey" or name.startswith("survey."))
    assert not offenders, offenders
