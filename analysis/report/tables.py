"""The report's tables, defined once for every output format.

Each table holds raw values (proportions, counts) and a *kind* per column
that says how to show them: the HTML and PDF renderers format them as text in
the report's language; the XLSX writer stores the raw number and applies a
number format, so an analyst can compute with the workbook and every number in
it is exactly the analysis engine's.
"""
from __future__ import annotations

import math
from datetime import date
from dataclasses import dataclass, field
from typing import Any

from .i18n import STRINGS, Translator
from .model import BREAKDOWNS, CHANNEL_LABELS, Estimate, Report

# Column kinds: text; int (a count); pct (a proportion shown as a percentage);
# pp (a difference of proportions shown in percentage points); num1/num2 (plain numbers).
KINDS = ("text", "int", "pct", "pp", "num0", "num1", "num2")


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = "text"
    detail: bool = False          # only in the workbook, not in the HTML/PDF tables

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass(frozen=True)
class Cell:
    """A value whose kind differs from its column's (e.g. one statistic per row)."""

    value: Any
    kind: str


@dataclass
class Table:
    key: str                      # stable id, also the XLSX sheet name (<= 31 characters)
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    few: set[int] = field(default_factory=set)     # rows of estimates with too few responses
    note: str = ""
    total_row: bool = False                         # the last row is a total
    dimension: str = ""                             # breakdown tables: channel, field, respondent_type

    def column(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)

    def values(self, key: str) -> list[Any]:
        i = self.column(key)
        return [r[i] for r in self.rows]


def format_value(value: Any, kind: str, t: Translator) -> str:
    if isinstance(value, Cell):
        return format_value(value.value, value.kind, t)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "text":
        return str(value)
    if kind == "int":
        return t.number(int(value))
    if kind == "pct":
        return t.pct_value(value)
    if kind == "pp":
        return t.points(value)
    if kind == "num0":
        return t.number(value, 0)
    if kind == "num1":
        return t.number(value, 1)
    return t.number(value, 2)


def _blank(value: Any) -> bool:
    if isinstance(value, Cell):
        value = value.value
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def display_columns(table: Table, t: Translator) -> list[tuple[str, list[int], str]]:
    """The columns the HTML and PDF show: ``(title, column indexes, kind)``.

    Workbook-only (``detail``) columns and columns with no value in any row are
    left out; an interval's low and high columns become one "a – b" column.
    """
    cols = table.columns
    shown = [i for i, c in enumerate(cols)
             if not c.detail and not all(_blank(row[i]) for row in table.rows)]
    merged = []
    k = 0
    while k < len(shown):
        i = shown[k]
        c = cols[i]
        if c.key.endswith("low") and k + 1 < len(shown) and cols[shown[k + 1]].key.endswith("high"):
            title = {"ci_low": "c_ci", "sae_low": "c_sae_ci"}.get(c.key, "c_change_ci")
            merged.append((t(title), [i, shown[k + 1]], c.kind))
            k += 2
        else:
            merged.append((c.title, [i], c.kind))
            k += 1
    return merged


def display_cell(row: list[Any], idx: list[int], table: Table, t: Translator) -> str:
    """The text of one display column of ``row`` (see :func:`display_columns`)."""
    values = [row[j] for j in idx]
    if len(idx) == 2:
        if all(_blank(v) for v in values):
            return "–"
        return " – ".join(format_value(v, table.columns[j].kind, t) for v, j in zip(values, idx))
    return format_value(values[0], table.columns[idx[0]].kind, t)


def _estimate_columns(t: Translator, *, judgement: bool = True) -> list[Column]:
    cols = [Column("p", t("c_index"), "pct"), Column("ci_low", t("c_ci_low"), "pct"),
            Column("ci_high", t("c_ci_high"), "pct"), Column("n", t("c_n"), "int"),
            Column("n_eff", t("c_n_eff"), "num0"), Column("deff", t("c_deff"), "num2", detail=True),
            Column("flags", t("c_flags"))]
    if judgement:
        cols.append(Column("judgement", t("c_judgement")))
    return cols


def _estimate_cells(e: Estimate, t: Translator, *, judgement: bool = True) -> list[Any]:
    cells = [e.p, e.low, e.high, e.n, e.n_eff, e.deff, t.flags(e.flags)]
    if judgement:
        cells.append(t(f"j_{e.judgement}"))
    return cells


def _label(e: Estimate, t: Translator) -> str:
    from .charts import FEW_MARK

    return f"{t.text(e.label)} {FEW_MARK}" if e.few else t.text(e.label)


def summary(report: Report, t: Translator) -> Table:
    judged = report.target is not None
    table = Table("Summary" if t.lang == "en" else "Tóm tắt", t("s_summary"),
                  [Column("measure", t("c_item"))] + _estimate_columns(t, judgement=judged))
    compare = report.overall_change is not None
    if compare:
        table.columns += [Column("previous", t("c_previous"), "pct"), Column("change", t("c_change"), "pp"),
                          Column("change_low", t("c_ci_low"), "pp"), Column("change_high", t("c_ci_high"), "pp")]
    for e in (report.overall, *report.factors):
        label = t("overall_index") if e is report.overall else f"{e.key} {t.text(e.label)}"
        row = [label] + _estimate_cells(e, t, judgement=judged)
        if compare:
            ch = report.overall_change if e is report.overall else None
            row += [ch.previous.p, ch.diff, ch.low, ch.high] if ch else [None] * 4
        if e.few:
            table.few.add(len(table.rows))
        table.rows.append(row)
    return table


def validity(unit: dict, t: Translator) -> str:
    """When a unit is valid, as the report says it: 'until 30/06/2025', 'from 01/07/2025' ('' if always)."""
    start, end = unit.get("valid_from"), unit.get("valid_to")
    day = (lambda v: t.date(date.fromisoformat(v)))
    if start and end:
        return t("valid_between", start=day(start), end=day(end))
    if end:
        return t("valid_until", date=day(end))
    if start:
        return t("valid_from", date=day(start))
    return ""


def unit_sets(report: Report, t: Translator) -> list[tuple[str, int]]:
    """(validity, number of units) of the reported units, when they are not all valid over the same days."""
    counts: dict[str, int] = {}
    for u in report.inputs.units:
        counts[validity(u, t)] = counts.get(validity(u, t), 0) + 1
    return sorted(counts.items()) if len(counts) > 1 else []


def units_note(report: Report, t: Translator) -> str:
    note = t("text_units")
    sets = unit_sets(report, t)
    if sets:
        note += " " + t("text_units_periods", sets="; ".join(t("unit_set", n=n, valid=v or "–") for v, n in sets))
    from .figures import EDGE, PER_CHART, MAX_CHARTS
    if len(report.units) > PER_CHART * MAX_CHARTS:
        note += " " + t("text_units_edge", n=len(report.units), edge=EDGE)
    return note


def units(report: Report, t: Translator) -> Table:
    judged = report.target is not None
    compare = report.inputs.compare_table is not None
    periods = bool(unit_sets(report, t))
    valid_of = {u["slug"]: validity(u, t) for u in report.inputs.units}
    table = Table("Units" if t.lang == "en" else "Đơn vị", t("s_units"),
                  [Column("rank", t("c_rank"), "int"), Column("unit", t("c_unit")), Column("slug", t("c_code"), detail=True)]
                  + ([Column("valid", t("c_valid"))] if periods else [])
                  + _estimate_columns(t, judgement=judged), note=units_note(report, t))
    if compare:
        table.columns += [Column("previous", t("c_previous"), "pct"), Column("change", t("c_change"), "pp"),
                          Column("change_low", t("c_ci_low"), "pp"), Column("change_high", t("c_ci_high"), "pp")]
    for u in report.units:
        e = u.estimate
        row = [u.rank, _label(e, t), e.key] + ([valid_of.get(e.key, "")] if periods else []) \
            + _estimate_cells(e, t, judgement=judged)
        if compare:
            ch = u.change
            row += [ch.previous.p, ch.diff, ch.low, ch.high] if ch else [None] * 4
        if e.few:
            table.few.add(len(table.rows))
        table.rows.append(row)
    return table


def former(report: Report, t: Translator) -> Table | None:
    """New units grouped by former unit: the area's index now beside the former unit's own (None without a crosswalk)."""
    rows = list(report.inputs.former)
    if not rows:
        return None
    before = t("former_before_compare") if report.inputs.compare_period else t("former_before_same")
    table = Table("Former units" if t.lang == "en" else "Đơn vị cũ", t("s_former"),
                  [Column("former", t("c_former")), Column("slug", t("c_code"), detail=True),
                   Column("new_units", t("c_new_units"), "int"), Column("index_now", t("c_area_now"), "pct"),
                   Column("ci_low_now", t("c_ci_low"), "pct"), Column("ci_high_now", t("c_ci_high"), "pct"),
                   Column("n_now", t("c_n_now"), "int"), Column("index_before", t("c_former_before"), "pct"),
                   Column("ci_low_before", t("c_ci_low"), "pct"), Column("ci_high_before", t("c_ci_high"), "pct"),
                   Column("n_before", t("c_n_before"), "int"), Column("change", t("c_change"), "pp"),
                   Column("change_ci_low", t("c_ci_low"), "pp"), Column("change_ci_high", t("c_ci_high"), "pp"),
                   Column("caveat", t("c_caveat"), detail=True)],
                  note=t("text_former", before=before))
    for r in rows:
        f = r["former"]
        name = f.name_vi if t.lang == "vi" else f.name_en
        table.rows.append([name + (" *" if r["caveat"] else ""), f.slug, r["new_units"], r["index_now"],
                           r["ci_low_now"], r["ci_high_now"], r["n_now"], r["index_before"], r["ci_low_before"],
                           r["ci_high_before"], r["n_before"], r["change"], r["change_ci_low"], r["change_ci_high"],
                           f.caveat(t.lang)])
        if r["n_now"] < 30 or (r["n_before"] and r["n_before"] < 30):
            table.few.add(len(table.rows) - 1)
    return table


def former_caveats(report: Report, t: Translator) -> list[str]:
    """The partial-transfer caveat of each group it applies to, in the report's language."""
    return [r["former"].caveat(t.lang) for r in report.inputs.former if r["caveat"]]


def small_areas(report: Report, t: Translator) -> Table:
    """Direct and small-area estimates side by side, ranked by the small-area estimate."""
    table = Table("Small areas" if t.lang == "en" else "Ước lượng vùng nhỏ", t("s_small_areas"),
                  [Column("rank", t("c_rank"), "int"), Column("rank_range", t("c_rank_range")),
                   Column("unit", t("c_unit")), Column("slug", t("c_code"), detail=True), Column("n", t("c_n"), "int"),
                   Column("p", t("c_direct"), "pct"), Column("ci_low", t("c_ci_low"), "pct"),
                   Column("ci_high", t("c_ci_high"), "pct"),
                   Column("sae", t("c_sae"), "pct"), Column("sae_low", t("c_ci_low"), "pct"),
                   Column("sae_high", t("c_ci_high"), "pct"),
                   Column("direct_weight", t("c_direct_weight"), "pct"), Column("preferred", t("c_use"))],
                  note=t("text_small_areas"))
    for a in report.small_areas:
        e = a.direct
        span = "" if a.rank is None else f"{a.rank_best}–{a.rank_worst}"
        table.rows.append([a.rank, span, _label(e, t), e.key, e.n, e.p, e.low, e.high, a.sae, a.low, a.high,
                           a.direct_weight, t("use_direct" if a.direct_preferred else "use_sae")])
        if a.rank is None:
            table.few.add(len(table.rows) - 1)
    return table


def factor_units(report: Report, t: Translator) -> Table:
    q = report.questionnaire
    factors = [f for f in q.factors if report.factor_units.get(f.code)]
    table = Table("Factors x units" if t.lang == "en" else "Yếu tố x đơn vị", t("s_heatmap"),
                  [Column("unit", t("c_unit")), Column("slug", t("c_code"), detail=True)]
                  + [Column(f.code, f"{f.code} {t.text(f.text)}", "pct") for f in factors],
                  note=t("text_heatmap"))
    for u in report.units:
        cells = [report.factor_units[f.code].get(u.estimate.key) for f in factors]
        if u.estimate.few or any(c is not None and c.few for c in cells):
            table.few.add(len(table.rows))
        table.rows.append([_label(u.estimate, t), u.estimate.key] + [c.p if c else None for c in cells])
    return table


def criteria(report: Report, t: Translator) -> Table:
    judged = report.target is not None
    table = Table("Criteria" if t.lang == "en" else "Tiêu chí", t("s_criteria"),
                  [Column("code", t("c_code")), Column("criterion", t("c_criterion")),
                   Column("factor", t("c_factor"))] + _estimate_columns(t, judgement=judged),
                  note=t("text_criteria"))
    q = report.questionnaire
    for e in report.criteria:
        if e.few:
            table.few.add(len(table.rows))
        table.rows.append([e.key, t.text(e.label), q.criterion(e.key).factor] + _estimate_cells(e, t, judgement=judged))
    return table


def distributions(report: Report, t: Translator) -> Table:
    q = report.questionnaire
    values = list(q.scale.values)
    table = Table("Answers 1-5" if t.lang == "en" else "Phân bố 1-5", t("s_distributions"),
                  [Column("factor", t("c_factor"))]
                  + [Column(f"share_{v}", f"{v} {t.text(q.scale.labels[v])} (%)", "pct") for v in values]
                  + [Column("satisfied", f"{q.scale.satisfied_from}–{q.scale.max} (%)", "pct"),
                     Column("n", t("c_n"), "int")],
                  note=t("text_distributions"))
    for d in report.distributions:
        label = t.text(d.label) if d.key == "ALL" else f"{d.key} {t.text(d.label)}"
        satisfied = sum(s for v, s in zip(values, d.shares) if v >= q.scale.satisfied_from)
        table.rows.append([label, *d.shares, satisfied, d.n])
    return table


SHEET_NAMES = {"channel": ("Theo kênh", "By channel"), "field": ("Theo lĩnh vực", "By field"),
               "respondent_type": ("Theo đối tượng", "By respondent group")}


def breakdowns(report: Report, t: Translator) -> list[Table]:
    judged = report.target is not None
    out = []
    for dimension in BREAKDOWNS:
        estimates = report.breakdowns.get(dimension)
        if not estimates:
            continue
        vi, en = SHEET_NAMES[dimension]
        table = Table(en if t.lang == "en" else vi, t(f"dim_{dimension}_title"),
                      [Column("category", t("c_category")), Column("code", t("c_code"), detail=True)]
                      + _estimate_columns(t, judgement=judged), note=t("text_breakdowns"), dimension=dimension)
        for e in estimates:
            if e.few:
                table.few.add(len(table.rows))
            table.rows.append([_label(e, t), e.key] + _estimate_cells(e, t, judgement=judged))
        out.append(table)
    return out


def counts(report: Report, t: Translator) -> Table:
    channels = [c for c in CHANNEL_LABELS if any(r.by_channel.get(c) for r in report.counts)]
    table = Table("Responses" if t.lang == "en" else "Số phiếu", t("s_counts"),
                  [Column("unit", t("c_unit")), Column("slug", t("c_code"), detail=True),
                   Column("responses", t("c_responses"), "int"), Column("excluded", t("c_excluded"), "int"),
                   Column("used", t("c_used"), "int")]
                  + [Column(c, t.text(CHANNEL_LABELS[c]), "int") for c in channels])
    few = {u.estimate.key for u in report.units if u.estimate.few}
    for r in report.counts:
        if r.key in few:
            table.few.add(len(table.rows))
        label = f"{t.text(r.label)} †" if r.key in few else t.text(r.label)
        table.rows.append([label, r.key, r.responses, r.excluded, r.used] + [r.by_channel.get(c, 0) for c in channels])
    rows = table.rows
    table.total_row = True
    table.rows.append([t("c_total"), ""] + [sum(r[i] for r in rows) for i in range(2, len(table.columns))])
    return table


def weighting(report: Report, t: Translator, *, per_unit: bool = True) -> Table:
    """The weights in figures. ``per_unit=False`` (the PDF and HTML, which print only the margins over all
    units) quotes the largest gap of those printed margins, so that the figure is visible where quoted."""
    w = report.weighting
    method = t(f"weighting_method_{w.method}")
    method = method[0].upper() + method[1:]
    table = Table("Weighting" if t.lang == "en" else "Gia quyền", t("weighting_title"),
                  [Column("statistic", t("c_item")), Column("value", t("c_value"), "num2")])
    rows: list[list[Any]] = [[t("w_method"), Cell(method, "text")]]
    if w.method != "none":
        rows += [[t("w_min"), w.weight_min], [t("w_max"), w.weight_max], [t("w_mean"), w.weight_mean],
                 [t("w_ratio"), w.weight_max / w.weight_min if w.weight_min else math.nan],
                 [t("w_deff_kish"), w.deff_kish], [t("w_n_eff_kish"), Cell(w.n_eff_kish, "num0")],
                 [t("w_fit"), Cell(w.max_abs_error, "pp")] if per_unit else
                 [t("w_fit_shown"), Cell(max((abs(m.weighted_share - m.population) for m in w.margins
                                              if m.unit == "ALL"), default=math.nan), "pp")]]
        if w.iterations is not None:
            rows.append([t("w_iterations"), Cell(w.iterations, "int")])
        if w.converged is not None:
            rows.append([t("w_converged"), Cell(t("yes") if w.converged else t("no"), "text")])
        if w.trimmed:
            rows.append([t("w_trimmed"), Cell(w.trimmed, "int")])
    table.rows = rows
    return table


def margins(report: Report, t: Translator, *, per_unit: bool = True) -> Table:
    """The weighting margins and their fit; ``per_unit=False`` keeps only the margins over all units."""
    table = Table("Margins" if t.lang == "en" else "Biên dân số", t("margins_title"),
                  [Column("dimension", t("c_margin")), Column("unit", t("c_unit")), Column("category", t("c_category")),
                   Column("population", t("c_population_share"), "pct"), Column("sample_n", t("c_sample_n"), "int"),
                   Column("sample", t("c_sample_share"), "pct"), Column("weighted", t("c_weighted_share"), "pct"),
                   Column("gap", t("c_gap"), "pp")])
    names = {str(c.key): t.text(c.label) for c in report.counts}
    categories = {r.code: {o.code: t.text(o.text) for o in r.options} for r in report.questionnaire.respondent}
    for m in report.weighting.margins:
        if not per_unit and m.unit != "ALL":
            continue
        table.rows.append([t(f"dim_{m.dimension}") if f"dim_{m.dimension}" in STRINGS else m.dimension,
                           t("all_units_short") if m.unit == "ALL" else names.get(m.unit, m.unit),
                           categories.get(m.dimension, {}).get(m.category, m.category),
                           m.population, m.sample_n, m.sample_share, m.weighted_share,
                           m.weighted_share - m.population])
    return table


def exclusions(report: Report, t: Translator) -> Table:
    table = Table("Excluded" if t.lang == "en" else "Phiếu bị loại", t("exclusions_title"),
                  [Column("reason", t("c_reason")), Column("count", t("c_count"), "int")])
    for reason, count in sorted(report.inputs.exclusions.items(), key=lambda kv: (-kv[1], kv[0])):
        table.rows.append([reason or t("reason_unknown"), count])
    return table


def indices(report: Report, t: Translator) -> Table:
    """The analysis engine's full table, every column, as ``indices.csv`` holds it."""
    rows = list(report.inputs.table)
    keys = list(rows[0].keys()) if rows else []
    table = Table("Indices", "indices.csv", [Column(k, k, "text") for k in keys])
    for r in rows:
        table.rows.append([r[k] for k in keys])
    return table


def all_tables(report: Report, t: Translator) -> list[Table]:
    """Every table of the report, in report order (the XLSX sheets)."""
    out = [summary(report, t), units(report, t), *([former(report, t)] if report.inputs.former else []),
           *([small_areas(report, t)] if report.small_areas else []), factor_units(report, t), criteria(report, t),
           distributions(report, t), *breakdowns(report, t), counts(report, t), weighting(report, t),
           margins(report, t), exclusions(report, t)]
    return out


