"""The self-contained HTML report: one file, charts as inline SVG, CSS inline, no outside reference.

The file is a download an analyst mails or prints, so it must open anywhere,
offline: no fonts, scripts, images or styles are fetched (the charts' text is
drawn as paths, so no font is needed either).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import jinja2
from markupsafe import Markup, escape

from . import narrative
from . import tables as T
from .figures import Chart, to_svg
from .i18n import Translator
from .model import Report

JUDGEMENT_MARKS = {"above": "▲", "below": "▼", "inconclusive": "●", "unreliable": "○"}

CSS = """
@page { size: A4; margin: 16mm 14mm; }
:root { --ink: #1a1a1a; --muted: #5a5a5a; --rule: #d0d0d0; --band: #f3f3f3; --blue: #0072B2; --red: #D55E00; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Noto Sans", "Segoe UI", Arial, sans-serif; color: var(--ink); margin: 0 auto;
       max-width: 62rem; padding: 1.5rem; line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.6rem; margin: 0 0 .8rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid var(--ink); padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.toc-title { font-size: 1rem; border: 0; margin: .8rem 0 .2rem; }
.toc { margin: 0; padding-left: 1.4rem; columns: 2; }
.headline { display: flex; gap: 1.5rem; flex-wrap: wrap; align-items: flex-start; }
.big { border: 2px solid var(--ink); padding: .8rem 1.1rem; min-width: 15rem; display: flex; flex-direction: column; gap: .2rem; }
.big .label { color: var(--muted); }
.big .value { font-size: 2.4rem; font-weight: bold; }
.findings { flex: 1; min-width: 18rem; margin: 0; padding-left: 1.2rem; }
.findings li { margin-bottom: .35rem; }
.badge { display: inline-block; padding: .1rem .5rem; border: 1.5px solid currentColor; font-weight: bold; width: max-content; }
.j-above { color: var(--blue); } .j-below { color: var(--red); } .j-inconclusive { color: var(--ink); }
.j-unreliable { color: var(--muted); font-style: italic; }
.caveats { background: var(--band); border-left: 4px solid var(--ink); padding: .4rem 1rem; margin-top: 1rem; }
.caveats h3 { margin-top: .4rem; }
.note { color: var(--muted); }
.table-wrap { overflow-x: auto; margin: .8rem 0; }
table { border-collapse: collapse; font-size: .85rem; width: 100%; }
caption { text-align: left; font-weight: bold; padding-bottom: .3rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .25rem .45rem; vertical-align: top; }
th { text-align: left; background: var(--band); border-bottom: 2px solid var(--ink); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
td:first-child { min-width: 11rem; }
tr.few td { color: var(--muted); font-style: italic; background: repeating-linear-gradient(135deg, transparent 0 6px, #eeeeee 6px 8px); }
tr.total td { font-weight: bold; border-top: 2px solid var(--ink); }
figure { margin: 1rem 0; page-break-inside: avoid; break-inside: avoid; }
figure svg { width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .85rem; }
details { margin: .6rem 0; }
summary { cursor: pointer; color: var(--muted); }
.log { font-family: "DejaVu Sans Mono", monospace; font-size: .8rem; color: var(--muted); }
footer { margin-top: 3rem; color: var(--muted); font-size: .8rem; border-top: 1px solid var(--rule); }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  section { break-before: page; }
  details { display: block; } details > summary { display: none; }
  .toc { columns: 1; }
  a { color: inherit; text-decoration: none; }
}
"""


@dataclass
class _Breakdown:
    dimension: str
    title: str
    table: T.Table


def _render_table(table: T.Table, t: Translator) -> Markup:
    """A :class:`~.tables.Table` as an HTML table; adjacent CI low/high columns become one 'a – b' column."""
    merged = T.display_columns(table, t)
    out = [f'<div class="table-wrap"><table id="t-{escape(_slug(table.key))}">']
    out.append("<thead><tr>" + "".join(
        f'<th scope="col" class="{"num" if kind != "text" else ""}">{escape(title)}</th>'
        for title, _, kind in merged) + "</tr></thead><tbody>")
    for r, row in enumerate(table.rows):
        classes = []
        if r in table.few:
            classes.append("few")
        if table.total_row and r == len(table.rows) - 1:
            classes.append("total")
        cells = []
        for _title, idx, kind in merged:
            first = row[idx[0]]
            numeric = (first.kind if isinstance(first, T.Cell) else kind) != "text"
            text = T.display_cell(row, idx, table, t)
            cells.append(f'<td class="{"num" if numeric else ""}">{escape(text)}</td>')
        out.append(f'<tr class="{" ".join(classes)}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return Markup("".join(out))


def _slug(text: str) -> str:
    return "".join(ch.lower() if ch.isalnum() else "-" for ch in text)


def _render_figure(chart: Chart | None, svg: str | None) -> Markup:
    if chart is None or svg is None:
        return Markup("")
    svg = svg.replace('<svg role="img" ', f'<svg role="img" aria-label="{escape(chart.alt)}" ', 1)
    return Markup(f"<figure>{svg}<figcaption>{escape(chart.title)}. {escape(chart.alt)}</figcaption></figure>")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (resources.files(__package__) / "templates" / name)
                                     .read_text(encoding="utf-8")),
        autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def render(report: Report, t: Translator, charts: dict[str, Chart]) -> str:
    """The whole report as one HTML document (call inside :func:`~.figures.style`)."""
    svgs = {key: to_svg(chart.figure, f"fig-{key}") for key, chart in charts.items()}
    breakdowns = [_Breakdown(b.dimension, b.title, b) for b in T.breakdowns(report, t)]
    tables = {
        "summary": T.summary(report, t), "units": T.units(report, t), "factor_units": T.factor_units(report, t),
        "criteria": T.criteria(report, t), "distributions": T.distributions(report, t),
        "breakdowns": breakdowns, "counts": T.counts(report, t), "weighting": T.weighting(report, t, per_unit=False),
        "margins": T.margins(report, t, per_unit=False), "exclusions": T.exclusions(report, t),
        "small_areas": T.small_areas(report, t),
        "former": T.former(report, t),
    }
    sections = [("summary", t("s_summary")), ("units", t("s_units"))] + \
        ([("former", t("s_former"))] if tables["former"] else []) + \
        ([("small-areas", t("s_small_areas"))] if report.small_areas else []) + [("heatmap", t("s_heatmap")),
                ("criteria", t("s_criteria")), ("distributions", t("s_distributions")),
                ("breakdowns", t("s_breakdowns")), ("counts", t("s_counts")), ("methodology", t("s_methodology"))]
    if report.inputs.sample is not None:    # a period with a sampling frame: the two kinds of evidence
        sections.insert(1, ("sample", t("s_sample")))
        sections.insert(-2, ("feedback", t("s_feedback")))
    template = _environment().get_template("report.html.j2")
    return template.render(
        t=t, report=report, q=report.questionnaire, css=Markup(CSS), sections=sections, tables=tables,
        charts={k: chart for k, chart in charts.items()} | {"margins": charts.get("margins"), "counts": charts.get("counts")},
        marks=JUDGEMENT_MARKS, units_text=narrative.units_text(report, t),
        summary_lines=narrative.summary_lines(report, t), caveats=narrative.caveats(report, t),
        counts_line=narrative.counts_line(report, t), methodology=narrative.methodology(report, t),
        log=narrative.log_lines(report) if t.lang == "en" else [],  # the engine's log is English
        table=lambda tab: _render_table(tab, t), former_caveats=T.former_caveats(report, t),
        figure=lambda chart: _render_figure(chart, svgs.get(chart.key) if chart else None),
    )
