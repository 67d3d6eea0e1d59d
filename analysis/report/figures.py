"""The report's figures: ``matplotlib.figure.Figure`` objects built from a :class:`~.model.Report`.

No pyplot anywhere (its global figure registry leaks in a server); the font
(DejaVu Sans, which has every Vietnamese diacritic) and output settings are
applied with ``rc_context`` under a lock, because rcParams are process-wide
and the dashboard may build a report in a background thread.
"""
from __future__ import annotations

import functools
import inspect
import io
import re
import threading
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from . import charts
from .i18n import STRINGS, Translator
from .model import BREAKDOWNS, CHANNEL_LABELS, Estimate, Report

FONT = "DejaVu Sans"
RC = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9,
    "svg.fonttype": "path",      # glyphs as paths: the HTML needs no font at all
    "svg.hashsalt": "sipas-report",
    "pdf.fonttype": 42,          # embedded TrueType subset: text stays searchable in the PDF
    "hatch.linewidth": 0.6,
    "figure.dpi": 100,
    "savefig.dpi": 150,
}
_LOCK = threading.RLock()
WIDTH = 7.3          # inches: an A4 page's text width


@contextmanager
def style() -> Iterator[None]:
    """Build and save figures with the report's fonts and settings (thread-safe)."""
    with _LOCK, matplotlib.rc_context(RC), _fonts_in_memory():
        yield


class _FontBytes:
    """A font file's bytes for FreeType to read from memory; ``str()`` is the file's path.

    matplotlib's ``FT2Font`` reads a font through Python ``seek``/``read`` calls, some for every glyph
    it loads; on a file opened from disk each is a system call through a buffered reader, and they
    made most of the time of laying out a string (about 1.5 ms each; thousands per report). From an
    in-memory copy the same bytes come several times faster. The font's ``fname`` is this object;
    the PDF backend keys and embeds the font by ``FontPath(font.fname)``, i.e. ``str()``: the path.
    """

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as handle:
            buffer = io.BytesIO(handle.read())
        self.seek, self.read = buffer.seek, buffer.read

    def __str__(self) -> str:
        return self.path


@functools.lru_cache(64)
def _get_font_in_memory(font_filepaths, *, _kerning_factor, thread_id, enable_last_resort):
    """``matplotlib.font_manager._get_font`` with the first font read from memory (see :class:`_FontBytes`).

    The fallback fonts (the Last Resort font: glyphs DejaVu Sans lacks) stay on disk."""
    from matplotlib import ft2font

    (first_path, first_index), *rest = font_filepaths
    fallbacks = [ft2font.FT2Font(path, face_index=index, _kerning_factor=_kerning_factor) for path, index in rest]
    last_resort = font_manager._cached_realpath(
        matplotlib.cbook._get_data_path("fonts", "ttf", "LastResortHE-Regular.ttf"))
    if (last_resort, 0) in font_filepaths:
        return font_manager._get_font.__wrapped__(font_filepaths, _kerning_factor=_kerning_factor,
                                                  thread_id=thread_id, enable_last_resort=enable_last_resort)
    if enable_last_resort:
        fallbacks.append(ft2font.FT2Font(last_resort, _kerning_factor=_kerning_factor, _warn_if_used=True))
    return ft2font.FT2Font(_FontBytes(first_path), face_index=first_index, _fallback_list=fallbacks,
                           _kerning_factor=_kerning_factor)


def _can_read_fonts_from_memory() -> bool:
    """Whether this matplotlib's private ``_get_font`` is the one :func:`_get_font_in_memory` stands in for."""
    original = getattr(font_manager, "_get_font", None)
    try:
        parameters = list(inspect.signature(original).parameters)
    except (TypeError, ValueError):
        return False
    return (parameters == ["font_filepaths", "_kerning_factor", "thread_id", "enable_last_resort"]
            and hasattr(original, "__wrapped__") and hasattr(font_manager, "_cached_realpath"))


@contextmanager
def _fonts_in_memory() -> Iterator[None]:
    """While drawing the report, matplotlib reads the report's font from memory (same bytes, same glyphs)
    and looks up which file a style of text uses once."""
    if not _can_read_fonts_from_memory():
        yield
        return
    original = font_manager._get_font
    font_manager._get_font = _get_font_in_memory
    manager = font_manager.fontManager
    find = manager._find_fonts_by_props
    found: dict[tuple, list] = {}

    def find_remembered(prop, *args, **kwargs):
        """The font files of ``prop``, looked up once per style of text while the report is drawn.

        matplotlib looks them up for every string it measures or draws, reading eleven rcParams each
        time (which the report's ``rc_context`` holds fixed); a report does it some 20,000 times."""
        if not isinstance(prop, FontProperties):
            return find(prop, *args, **kwargs)
        key = (tuple(prop.get_family()), prop.get_style(), prop.get_variant(), prop.get_weight(),
               prop.get_stretch(), prop.get_size(), prop.get_file(), prop.get_math_fontfamily(),
               args, tuple(sorted(kwargs.items())))
        if key not in found:
            found[key] = find(prop, *args, **kwargs)
        return list(found[key])

    before = vars(manager).get("_find_fonts_by_props")      # a style() inside a style(): the outer one's
    manager._find_fonts_by_props = find_remembered
    try:
        yield
    finally:
        font_manager._get_font = original
        if before is None:
            del manager._find_fonts_by_props
        else:
            manager._find_fonts_by_props = before


def new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _container(into, height: float):
    """Draw into ``into`` (a Figure or SubFigure, e.g. part of a PDF page) or a new figure ``height`` inches tall."""
    return new_figure(WIDTH, height) if into is None else into


def short(text: str, width: int = 58) -> str:
    return textwrap.shorten(text, width=width, placeholder="…")


def distinct_short(texts: Sequence[str], width: int = 58) -> list[str]:
    """Short labels that stay distinguishable: texts that would shorten to the same label (e.g. three
    criteria that differ only in their last words) keep their first words and the words that differ.

    >>> distinct_short(["Trang thiết bị tại Bộ phận tiếp nhận và trả kết quả đầy đủ",
    ...                 "Trang thiết bị tại Bộ phận tiếp nhận và trả kết quả hiện đại"], 40)
    ['Trang thiết bị … đầy đủ', 'Trang thiết bị … hiện đại']
    """
    out = [short(x, width) for x in texts]
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(out):
        groups.setdefault(label, []).append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        words = [texts[i].split() for i in members]
        common = 0
        while all(len(w) > common for w in words) and len({w[common] for w in words}) == 1:
            common += 1
        for i, w in zip(members, words):
            head = " ".join(w[:min(3, common)])
            tail = " ".join(w[common:]) or " ".join(w[-2:])
            out[i] = short(f"{head} … {tail}", width)
    return out


@dataclass(frozen=True)
class Chart:
    """One chart of the report: a stable key, its title and alt text, and the figure."""

    key: str
    title: str
    alt: str
    figure: Figure


def _interval_args(estimates: list[Estimate]) -> dict:
    return dict(value=[100 * e.p for e in estimates], low=[100 * e.low for e in estimates],
                high=[100 * e.high for e in estimates], few=[e.few for e in estimates],
                judgement=[e.judgement for e in estimates])


def _legend(report: Report, t: Translator) -> dict[str, str]:
    legend = {"few": t("legend_few", mark=charts.FEW_MARK),
              "reference": t("legend_reference", value=t.percent(report.overall.p))}
    if report.target is not None:
        legend["target"] = t("legend_target", target=t.percent(report.target, 0))
        legend.update({k: t(f"j_{k}") for k in ("above", "below", "inconclusive")})
    return legend


def _target(report: Report) -> float | None:
    return None if report.target is None else 100 * report.target


PER_CHART = 40            # at most this many units per forest plot or heatmap: legible labels on a page
MAX_CHARTS = 10           # beyond PER_CHART * MAX_CHARTS units, chart the best and the worst only
EDGE = 30                 # ... this many of each


def unit_parts(n: int) -> list[tuple[int, int]]:
    """The slices of the ranked units that get a chart each: all of them, over charts of equal size
    of at most :data:`PER_CHART` (168 units: 5 charts of 34 or 33), or, for more than 400, the 30
    best and the 30 worst (3,321 units: the full ranking stays in the table and the workbook)."""
    if n <= PER_CHART:
        return [(0, n)]
    if n <= PER_CHART * MAX_CHARTS:
        k = -(-n // PER_CHART)
        bounds = [round(i * n / k) for i in range(k + 1)]
        return list(zip(bounds[:-1], bounds[1:]))
    return [(0, EDGE), (n - EDGE, n)]


def _part_key(key: str, i: int) -> str:
    return key if i == 0 else f"{key}-{i + 1}"


def _part_title(title: str, t: Translator, lo: int, hi: int, n: int) -> str:
    if (lo, hi) == (0, n):
        return title
    return f"{title} ({t('ranks_part', first=lo + 1, last=hi, n=n)})"


def forest(report: Report, t: Translator, into=None, part: tuple[int, int] | None = None) -> Chart:
    lo, hi = part or (0, len(report.units))
    units = [u.estimate for u in report.units[lo:hi]]
    fig = _container(into, 1.4 + 0.27 * max(len(units), 3))
    ax = fig.add_subplot()
    o = report.overall
    charts.interval_plot(ax, [t.text(e.label) for e in units], **_interval_args(units), target=_target(report),
                         reference=(100 * o.p, 100 * o.low, 100 * o.high), xlabel=t("x_index"),
                         legend=_legend(report, t))
    index = unit_parts(len(report.units)).index(part) if part else 0
    return Chart(_part_key("forest", index), _part_title(t("s_forest"), t, lo, hi, len(report.units)),
                 t("fig_forest_alt"), fig)


def forests(report: Report, t: Translator) -> list[Chart]:
    return [forest(report, t, part=part) for part in unit_parts(len(report.units))]


def heatmaps(report: Report, t: Translator) -> list[Chart]:
    return [heatmap(report, t, part=part) for part in unit_parts(len(report.units))]


def heatmap(report: Report, t: Translator, into=None, part: tuple[int, int] | None = None) -> Chart:
    q = report.questionnaire
    lo, hi = part or (0, len(report.units))
    units = [u.estimate for u in report.units[lo:hi]]
    factors = [f for f in q.factors if report.factor_units.get(f.code)]
    values = np.full((len(units), len(factors)), np.nan)
    few = np.zeros(values.shape, bool)
    for c, f in enumerate(factors):
        for r, u in enumerate(units):
            cell = report.factor_units[f.code].get(u.key)
            if cell is not None:
                values[r, c] = 100 * cell.p
                few[r, c] = cell.few or u.few
    finite = values[np.isfinite(values)]
    vmin = float(np.floor(finite.min() / 10) * 10) if finite.size else 0.0
    vmax = float(np.ceil(finite.max() / 10) * 10) if finite.size else 100.0
    if vmax - vmin < 20:
        vmin, vmax = max(0.0, vmin - 10), min(100.0, vmax + 10)
    width = max(8, 66 // max(len(factors), 1))       # characters per line of a column label
    fig = _container(into, 2.2 + 0.26 * max(len(units), 3))
    ax = fig.add_subplot()
    columns = [f"{f.code}\n" + "\n".join(textwrap.wrap(short(t.text(f.text), 44), width)) for f in factors]
    charts.heatmap(ax, values, [t.text(u.label) for u in units], columns, few=few, vmin=vmin, vmax=vmax,
                   colorbar_label=t("colorbar_index"), few_label=t("legend_few", mark=charts.FEW_MARK),
                   fmt=lambda v: t.number(v, 1))
    index = unit_parts(len(report.units)).index(part) if part else 0
    return Chart(_part_key("heatmap", index), _part_title(t("s_heatmap"), t, lo, hi, len(report.units)),
                 t("fig_heatmap_alt"), fig)


def criteria(report: Report, t: Translator, into=None) -> Chart:
    items = list(report.criteria)
    fig = _container(into, 1.4 + 0.25 * max(len(items), 3))
    ax = fig.add_subplot()
    o = report.overall
    labels = distinct_short([t.text(e.label) for e in items])
    charts.interval_plot(ax, [f"{e.key} {label}" for e, label in zip(items, labels)], **_interval_args(items),
                         target=_target(report), reference=(100 * o.p, 100 * o.low, 100 * o.high),
                         xlabel=t("x_index"), legend=_legend(report, t))
    return Chart("criteria", t("s_criteria"), t("fig_criteria_alt"), fig)


def distributions(report: Report, t: Translator, into=None) -> Chart:
    q = report.questionnaire
    dists = list(report.distributions)
    shares = np.array([[100 * s for s in d.shares] for d in dists]) if dists else np.zeros((0, 5))
    labels = [f"{d.key} {short(t.text(d.label), 34)}" if d.key != "ALL" else t.text(d.label) for d in dists]
    scale = [f"{v} {t.text(q.scale.labels[v])}" for v in q.scale.values]
    fig = _container(into, 1.6 + 0.35 * max(len(dists), 3))
    ax = fig.add_subplot()
    charts.stacked_shares(ax, labels, shares, scale, xlabel=t("x_share"))
    return Chart("distributions", t("s_distributions"), t("fig_distributions_alt"), fig)


def breakdown(report: Report, t: Translator, dimension: str, into=None) -> Chart | None:
    o = report.overall
    estimates = list(report.breakdowns.get(dimension, ()))
    if not estimates:
        return None
    fig = _container(into, 1.3 + 0.27 * max(len(estimates), 3))
    ax = fig.add_subplot()
    charts.interval_plot(ax, [short(t.text(e.label), 40) for e in estimates], **_interval_args(estimates),
                         target=_target(report), reference=(100 * o.p, 100 * o.low, 100 * o.high),
                         xlabel=t("x_index"), legend=_legend(report, t))
    return Chart(f"breakdown-{dimension}", t(f"dim_{dimension}_title"),
                 t("fig_breakdown_alt", dimension=t(f"dim_{dimension}")), fig)


def breakdowns(report: Report, t: Translator) -> list[Chart]:
    return [c for c in (breakdown(report, t, d) for d in BREAKDOWNS) if c is not None]


def counts(report: Report, t: Translator, into=None) -> Chart | None:
    rows = list(report.counts)
    if len(rows) > PER_CHART * MAX_CHARTS:      # thousands of bars say nothing: the table has the numbers
        return None
    channels = [c for c in CHANNEL_LABELS if any(r.by_channel.get(c) for r in rows)]
    data = np.array([[r.by_channel.get(c, 0) for c in channels] for r in rows], dtype=float) \
        if rows and channels else np.zeros((len(rows), 1))
    few = {u.estimate.key for u in report.units if u.estimate.few}
    fig = _container(into, 1.2 + 0.25 * max(len(rows), 3))
    ax = fig.add_subplot()
    charts.stacked_counts(ax, [t.text(r.label) for r in rows], data,
                          [t.text(CHANNEL_LABELS[c]) for c in channels] or ["–"], xlabel=t("x_responses"),
                          few=[r.key in few for r in rows])
    return Chart("counts", t("s_counts"), t("fig_counts_alt"), fig)


def margins(report: Report, t: Translator, into=None) -> Chart | None:
    """Fit of the weights to the margins over all units (one panel per dimension)."""
    w = report.weighting
    overall = [m for m in w.margins if m.unit == "ALL"]
    if not overall:
        return None
    by_dim: dict[str, list] = {}
    for m in overall:
        by_dim.setdefault(m.dimension, []).append(m)
    fig = _container(into, 0.9 + 0.3 * sum(len(v) + 1 for v in by_dim.values()))
    axes = fig.subplots(len(by_dim), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [len(v) for v in by_dim.values()]})[:, 0]
    for i, (ax, (dim, ms)) in enumerate(zip(axes, by_dim.items())):
        charts.margin_fit(ax, [_category_label(report, dim, m.category, t) for m in ms],
                          [100 * m.population for m in ms], [100 * m.sample_share for m in ms],
                          [100 * m.weighted_share for m in ms],
                          series_labels=[t("legend_population"), t("legend_sample"), t("legend_weighted")],
                          xlabel=t("x_population_share"), legend=i == 0)
        ax.set_title(_dimension_label(dim, t).capitalize())
    return Chart("margins", t("margins_title"), t("fig_margins_alt"), fig)


def _dimension_label(dim: str, t: Translator) -> str:
    key = f"dim_{dim}"
    return t(key) if key in STRINGS else dim


def _category_label(report: Report, dim: str, code: str, t: Translator) -> str:
    question = next((r for r in report.questionnaire.respondent if r.code == dim), None)
    if question:
        for o in question.options:
            if o.code == code:
                return t.text(o.text)
    return code


BUILDERS: tuple[Callable[[Report, Translator], Chart | list[Chart] | None], ...] = (
    forests, heatmaps, criteria, distributions, breakdowns, counts, margins)


def all_charts(report: Report, t: Translator) -> dict[str, Chart]:
    """Every chart of the report, by key. Call inside :func:`style`."""
    out: dict[str, Chart] = {}
    for build in BUILDERS:
        made = build(report, t)
        for chart in (made if isinstance(made, list) else [made] if made else []):
            out[chart.key] = chart
    return out


# -- output ------------------------------------------------------------------

_SVG_ID = re.compile(r'\bid="([^"]+)"')


def to_svg(fig: Figure, prefix: str) -> str:
    """The figure as an ``<svg>`` element to paste into HTML.

    The XML prolog, DOCTYPE, metadata and namespace URLs are dropped (an
    inline SVG in HTML needs none of them, and the report must hold no
    outside reference), and every id is prefixed so that several charts can
    share one page without clashing.
    """
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg, count=0)
    ids = set(_SVG_ID.findall(svg))
    svg = _SVG_ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"',
                 lambda m: f'href="#{prefix}-{m.group(2)}"' if m.group(2) in ids else m.group(0), svg)
    svg = re.sub(r"url\(#([^)]+)\)",
                 lambda m: f"url(#{prefix}-{m.group(1)})" if m.group(1) in ids else m.group(0), svg)
    return svg.replace("<svg ", '<svg role="img" ', 1)


def to_png(fig: Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
