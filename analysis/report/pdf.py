"""The PDF report: A4 pages drawn with matplotlib (``PdfPages`` + ``Figure``), no other dependency.

Text pages are laid out by :class:`Pages`: a cursor moves down the page,
text is wrapped by measuring it in the embedded font (DejaVu Sans, which has
every Vietnamese diacritic), tables break across pages and repeat their
header, and charts take a slot of the page drawn by the same chart functions
as the HTML. :func:`render` returns the title of every page it wrote, so a
test can check that the PDF holds exactly those pages.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from matplotlib import font_manager, ft2font
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from . import figures, narrative
from . import tables as T
from .html import JUDGEMENT_MARKS
from .i18n import Translator
from .model import BREAKDOWNS, Report

PAGE_W, PAGE_H = 8.27, 11.69          # A4, inches
LEFT, RIGHT, TOP, BOTTOM = 0.75, 0.75, 0.7, 0.75
TEXT_W = PAGE_W - LEFT - RIGHT
INK, MUTED, RULE, BAND = "#1a1a1a", "#5a5a5a", "#c8c8c8", "#f0f0f0"


@lru_cache(maxsize=4)
def _face(bold: bool, italic: bool) -> ft2font.FT2Font:
    prop = FontProperties(family=figures.FONT, weight="bold" if bold else "normal",
                          style="oblique" if italic else "normal")
    return ft2font.FT2Font(font_manager.findfont(prop, fallback_to_default=False))


_NO_HINTING = getattr(getattr(ft2font, "LoadFlags", None), "NO_HINTING", None) or ft2font.LOAD_NO_HINTING


@lru_cache(maxsize=8192)
def _advance(char: str, bold: bool, italic: bool) -> float:
    """Advance width of one character at 1 pt, in inches."""
    face = _face(bold, italic)
    face.set_size(100, 72)
    glyph = face.load_char(ord(char), flags=_NO_HINTING)
    return glyph.linearHoriAdvance / 65536 / 100 / 72


def text_width(text: str, size: float, bold: bool = False, italic: bool = False) -> float:
    """Width of ``text`` in inches at ``size`` points in the report's font (sum of advances, no kerning)."""
    return size * sum(_advance(ch, bold, italic) for ch in text)


def wrap(text: str, width: float, size: float, bold: bool = False, italic: bool = False) -> list[str]:
    """Greedy word wrap to ``width`` inches; a word longer than the line is cut."""
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, size, bold, italic) <= width + 1e-6:
                line = candidate
                continue
            if line:
                lines.append(line)
            while text_width(word, size, bold, italic) > width + 1e-6 and len(word) > 1:
                cut = len(word)
                while cut > 1 and text_width(word[:cut], size, bold, italic) > width + 1e-6:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


def _line_height(size: float) -> float:
    return size * 1.3 / 72


@dataclass
class _Slot:
    top: float
    height: float
    draw: Callable


@dataclass
class _Page:
    figure: Figure
    title: str
    slots: list[_Slot] = field(default_factory=list)


class Pages:
    """Writes A4 pages into a :class:`PdfPages`; the cursor ``y`` is inches from the top edge."""

    def __init__(self, pdf: PdfPages, t: Translator, footer: str):
        self.pdf, self.t, self.footer = pdf, t, footer
        self.page: _Page | None = None
        self.titles: list[str] = []
        self.y = TOP

    # -- pages ---------------------------------------------------------------
    def new_page(self, title: str) -> None:
        self.finish_page()
        fig = Figure(figsize=(PAGE_W, PAGE_H))     # text pages need no layout engine (it costs a second draw)
        self.page = _Page(fig, title)
        self.titles.append(title)
        self.y = TOP
        number = len(self.titles)
        fig.text(LEFT / PAGE_W, 0.4 / PAGE_H, self.footer, fontsize=7, color=MUTED, va="bottom")
        fig.text(1 - RIGHT / PAGE_W, 0.4 / PAGE_H, self.t("page", page=number), fontsize=7, color=MUTED,
                 va="bottom", ha="right")
        # running head: the page's section, so every page says what it is
        fig.text(1 - RIGHT / PAGE_W, 1 - 0.4 / PAGE_H, title, fontsize=7, color=MUTED, va="top", ha="right")

    def finish_page(self) -> None:
        if self.page is None:
            return
        page = self.page
        if page.slots:
            # rect: the charts (tick labels included) stay inside the page's printable margins
            page.figure.set_layout_engine("constrained", w_pad=0.05, h_pad=0.0, hspace=0.0, wspace=0.0,
                                          rect=(LEFT / PAGE_W, 0.0, TEXT_W / PAGE_W, 1.0))
            bounds, rows = [], []
            y = 0.0
            for slot in sorted(page.slots, key=lambda s: s.top):
                bounds.append(slot.top - y)
                rows.append(None)
                bounds.append(slot.height)
                rows.append(slot)
                y = slot.top + slot.height
            bounds.append(max(PAGE_H - y, 0.01))
            rows.append(None)
            grid = page.figure.add_gridspec(len(bounds), 1, height_ratios=[max(b, 0.001) for b in bounds],
                                            left=LEFT / PAGE_W, right=1 - RIGHT / PAGE_W,
                                            hspace=0)
            for i, slot in enumerate(rows):
                if slot is not None:
                    slot.draw(page.figure.add_subfigure(grid[i]))
        self.pdf.savefig(page.figure)
        self.page = None

    def room(self) -> float:
        return PAGE_H - BOTTOM - self.y

    def ensure(self, height: float, title: str | None = None) -> None:
        if self.page is None or height > self.room():
            self.new_page(title or (self.page.title if self.page else ""))

    # -- text ----------------------------------------------------------------
    def text(self, text: str, size: float = 9, *, bold: bool = False, italic: bool = False, color: str = INK,
             indent: float = 0.0, after: float = 0.06, bullet: str | None = None) -> None:
        width = TEXT_W - indent - (0.18 if bullet else 0)
        lines = wrap(text, width, size, bold, italic)
        lh = _line_height(size)
        for i, line in enumerate(lines):
            self.ensure(lh)
            x = LEFT + indent + (0.18 if bullet else 0)
            if bullet and i == 0:
                self.page.figure.text((LEFT + indent) / PAGE_W, 1 - self.y / PAGE_H, bullet, fontsize=size,
                                      va="top", color=color)
            self.page.figure.text(x / PAGE_W, 1 - self.y / PAGE_H, line, fontsize=size, va="top", color=color,
                                  weight="bold" if bold else "normal", style="italic" if italic else "normal")
            self.y += lh
        self.y += after

    def heading(self, text: str, level: int = 1) -> None:
        size = {0: 17, 1: 13, 2: 10.5}[level]
        needed = _line_height(size) * 2 + (0.9 if level < 2 else 0.5)   # keep a heading with what follows
        if self.page is None or needed > self.room():
            # a sub-heading that moves to a new page keeps its section's running head
            self.new_page(text if level < 2 or self.page is None else self.page.title)
        self.y += 0.1 if level else 0
        self.text(text, size, bold=True, after=0.04)
        if level == 1:
            self.page.figure.add_artist(_rule(self.y, 1.2))
            self.y += 0.12

    def facts(self, pairs: list[tuple[str, str]], size: float = 9) -> None:
        key_w = max(text_width(k, size) for k, _ in pairs) + 0.2
        lh = _line_height(size)
        for key, value in pairs:
            lines = wrap(value, TEXT_W - key_w, size)
            self.ensure(lh * len(lines))
            self.page.figure.text(LEFT / PAGE_W, 1 - self.y / PAGE_H, key, fontsize=size, va="top", color=MUTED)
            for line in lines:
                self.page.figure.text((LEFT + key_w) / PAGE_W, 1 - self.y / PAGE_H, line, fontsize=size, va="top")
                self.y += lh
            self.y += 0.03
        self.y += 0.08

    # -- tables ----------------------------------------------------------------
    def table(self, table: T.Table, size: float | None = None) -> None:
        t = self.t
        columns = T.display_columns(table, t)
        if not columns:       # e.g. the margins table when no unit has population margins: nothing to draw
            return
        rows = [[T.display_cell(row, idx, table, t) for _title, idx, _kind in columns] for row in table.rows]
        numeric = [kind != "text" for _title, _idx, kind in columns]
        pad = 0.06

        def layout(size: float):
            widths, fits = _column_widths(columns, rows, numeric, size, pad)
            lh = _line_height(size)
            header = [wrap(title, widths[c] - 2 * pad, size, bold=True) for c, (title, _i, _k) in enumerate(columns)]
            header_h = lh * max(len(h) for h in header) + 0.08
            wrapped = [[wrap(cell, widths[c] - 2 * pad, size, italic=r in table.few) if not numeric[c] else [cell]
                        for c, cell in enumerate(cells)] for r, cells in enumerate(rows)]
            heights = [lh * max(len(w) for w in ws) + 0.06 for ws in wrapped]
            return fits, widths, lh, header, header_h, wrapped, heights

        # The largest font whose columns fit the width; a smaller one (down to 6 pt) if that keeps the
        # table on the rest of this page, or on one page, instead of spilling a few rows onto the next.
        sizes = (size,) if size else (7.5, 7.0, 6.5, 6.0, 5.5)
        candidates = [(s_, layout(s_)) for s_ in sizes]
        fitting = [(s_, lay) for s_, lay in candidates if lay[0]] or candidates[-1:]
        room = self.room() if self.page is not None else PAGE_H - TOP - BOTTOM
        full_page = PAGE_H - TOP - BOTTOM - 0.3
        size, lay = fitting[0]
        for limit in (room, full_page):
            fits_here = [(s_, l_) for s_, l_ in fitting if s_ >= 6.0 and l_[4] + sum(l_[6]) <= limit]
            if fits_here:
                size, lay = fits_here[0]
                break
        _fits, widths, lh, header, header_h, wrapped_rows, heights = lay
        if self.page is not None and header_h + sum(heights) > self.room() and \
                header_h + sum(heights) <= full_page and self.room() < full_page / 2:
            self.new_page(self.page.title)          # start on a fresh page rather than split a short table

        def draw_header() -> None:
            fig = self.page.figure
            fig.add_artist(Rectangle((LEFT / PAGE_W, 1 - (self.y + header_h) / PAGE_H), sum(widths) / PAGE_W,
                                     header_h / PAGE_H, transform=fig.transFigure, facecolor=BAND, edgecolor="none"))
            x = LEFT
            for c, lines in enumerate(header):
                for k, line in enumerate(lines):
                    fig.text((x + (widths[c] - pad if numeric[c] else pad)) / PAGE_W,
                             1 - (self.y + 0.04 + k * lh) / PAGE_H, line, fontsize=size, weight="bold", va="top",
                             ha="right" if numeric[c] else "left")
                x += widths[c]
            self.y += header_h
            fig.add_artist(_rule(self.y, 1.0, sum(widths)))

        if self.page is None or header_h + 2 * lh > self.room():
            self.new_page(self.page.title if self.page else table.title)
        draw_header()
        for r, (wrapped, height) in enumerate(zip(wrapped_rows, heights)):
            few = r in table.few
            if height > self.room():
                self.new_page(self.page.title)
                draw_header()
            fig = self.page.figure
            if few:
                fig.add_artist(Rectangle((LEFT / PAGE_W, 1 - (self.y + height) / PAGE_H), sum(widths) / PAGE_W,
                                         height / PAGE_H, transform=fig.transFigure, facecolor="none",
                                         edgecolor="#dddddd", hatch="////", linewidth=0))
            x = LEFT
            for c, lines in enumerate(wrapped):
                for k, line in enumerate(lines):
                    fig.text((x + (widths[c] - pad if numeric[c] else pad)) / PAGE_W,
                             1 - (self.y + 0.03 + k * lh) / PAGE_H, line, fontsize=size, va="top",
                             ha="right" if numeric[c] else "left", color=MUTED if few else INK,
                             style="italic" if few else "normal",
                             bbox=dict(facecolor="white", edgecolor="none", pad=0.3) if few else None)
                x += widths[c]
            self.y += height
            fig.add_artist(_rule(self.y, 0.4, sum(widths), RULE))
        self.y += 0.15

    # -- charts ----------------------------------------------------------------
    def chart(self, draw: Callable, height: float, title: str | None = None) -> None:
        height = min(height, PAGE_H - TOP - BOTTOM - 0.8)
        self.ensure(height, title)
        self.page.slots.append(_Slot(self.y, height, draw))
        self.y += height + 0.1


def _rule(y: float, width_pt: float, length: float = TEXT_W, colour: str = INK) -> Line2D:
    """A horizontal line ``y`` inches from the top (added with ``fig.add_artist``: figure coordinates)."""
    return Line2D([LEFT / PAGE_W, (LEFT + length) / PAGE_W], [1 - y / PAGE_H] * 2, linewidth=width_pt, color=colour)


def _column_widths(columns, rows, numeric, size: float, pad: float) -> tuple[list[float], bool]:
    """Column widths (inches) that fit the text width: numbers never wrap, headers and text columns do.

    Returns the widths and whether they fit without squeezing a column below
    its longest word (if not, the caller tries a smaller font).
    """
    widths = []
    for c, (title, _idx, _kind) in enumerate(columns):
        longest_word = max((text_width(w, size, bold=True) for w in title.split()), default=0.0)
        cells = max((text_width(r[c], size) for r in rows), default=0.0)
        if numeric[c]:
            # a long header ("Trọng số của số liệu trực tiếp (%)") wraps to at most about three lines
            widths.append(max(cells, longest_word, _header_width(title, size, 3)) + 2 * pad)
        else:
            cell_words = max((text_width(w, size) for r in rows for w in r[c].split()), default=0.0)
            widths.append([max(cells, longest_word) + 2 * pad, max(cell_words, longest_word, 0.8) + 2 * pad])
    fixed = sum(w for w in widths if not isinstance(w, list))
    text = [w for w in widths if isinstance(w, list)]
    left = TEXT_W - fixed
    if text:
        natural = sum(w[0] for w in text)
        if natural <= left:
            share = [w[0] for w in text]
        else:
            # give each text column at least its longest word, the rest in proportion to its natural width
            floor = sum(w[1] for w in text)
            extra = max(left - floor, 0.0)
            spread = sum(w[0] - w[1] for w in text) or 1.0
            share = [w[1] + extra * (w[0] - w[1]) / spread for w in text]
        it = iter(share)
        widths = [next(it) if isinstance(w, list) else w for w in widths]
    spare = TEXT_W - sum(widths)
    if spare > 0:
        # let numeric headers wrap less
        for c, (title, _idx, _kind) in enumerate(columns):
            if numeric[c] and spare > 0:
                grow = min(max(text_width(title, size, bold=True) + 2 * pad - widths[c], 0.0), spare, 0.5)
                widths[c] += grow
                spare -= grow
    total = sum(widths)
    return ([w * TEXT_W / total for w in widths], False) if total > TEXT_W + 1e-9 else (widths, True)


def _header_width(title: str, size: float, lines: int) -> float:
    """The narrowest width (inches) at which ``title`` wraps to at most ``lines`` lines (bold, ``size`` pt)."""
    words = title.split()
    if len(words) <= lines:
        return 0.0
    low = max(text_width(w, size, bold=True) for w in words)
    high = text_width(title, size, bold=True)
    while high - low > 0.01:
        mid = (low + high) / 2
        if len(wrap(title, mid, size, bold=True)) <= lines:
            high = mid
        else:
            low = mid
    return high


def _chart_height(key: str, report: Report, part: tuple[int, int] | None = None) -> float:
    shown = (part[1] - part[0]) if part else len(report.units)
    n = {"forest": shown, "heatmap": shown, "criteria": len(report.criteria),
         "distributions": len(report.distributions), "counts": len(report.counts)}.get(key)
    if key.startswith("breakdown-"):
        n = len(report.breakdowns.get(key.split("-", 1)[1], ()))
    if key == "margins":
        dims: dict[str, int] = {}
        for m in report.weighting.margins:
            if m.unit == "ALL":
                dims[m.dimension] = dims.get(m.dimension, 0) + 1
        return 1.0 + 0.3 * sum(v + 1 for v in dims.values())
    base, per = {"forest": (1.5, 0.3), "heatmap": (2.4, 0.3), "criteria": (1.6, 0.27), "distributions": (1.8, 0.42),
                 "counts": (1.3, 0.28)}.get(key, (1.4, 0.3))
    return base + per * max(n or 0, 3)


def render(report: Report, t: Translator, path: str | Path) -> list[str]:
    """Write the PDF report to ``path``; return the title of every page (call inside ``figures.style()``)."""
    inputs = report.inputs
    q = report.questionnaire
    period = t.period(inputs.period.start, inputs.period.end)
    footer = f"{t('title')} · {period}"
    metadata = {"Title": f"{t('title')} · {period}", "Subject": t.text(q.title), "Creator": "sipas-survey analysis.report",
                "CreationDate": inputs.generated_at or datetime.now().astimezone()}
    with PdfPages(path, metadata=metadata) as pdf:
        pages = Pages(pdf, t, footer)
        # 1. title and summary
        pages.new_page(t("s_summary"))
        pages.text(t("title"), 17, bold=True, after=0.15)
        facts = [(t("period"), period)]
        if inputs.compare_period:
            facts.append((t("compare_period"), t.period(inputs.compare_period.start, inputs.compare_period.end)))
        facts.append((t("units_in_report"), narrative.units_text(report, t)))
        facts.append((t("questionnaire"), t("questionnaire_version", title=t.text(q.title), id=q.id, version=q.version)))
        if inputs.other_questionnaires:
            facts.append((t("other_questionnaires"), narrative.other_questionnaires(report, t)))
        if report.target is not None:
            facts.append((t("target"), t.percent(report.target, 0)))
        if inputs.generated_at:
            facts.append((t("generated"), t.date(inputs.generated_at)))
        if inputs.source:
            facts.append((t("source"), inputs.source))
        pages.facts(facts)
        pages.heading(t("s_summary"))
        o = report.overall
        pages.text(f"{t('overall_index')}: {t.percent(o.p)}", 15, bold=True, after=0.02)
        line = f"{t('ci_label')}: {t.percent(o.low)} – {t.percent(o.high)}"
        if report.target is not None:
            line += f"   {JUDGEMENT_MARKS[o.judgement]} {t('j_' + o.judgement)}"
        pages.text(line, 10, after=0.12)
        for sentence in narrative.summary_lines(report, t):
            pages.text(sentence, 9, bullet="•")
        pages.y += 0.05
        pages.heading(t("caveats"), 2)
        for sentence in narrative.caveats(report, t):
            pages.text(sentence, 8.5, bullet="•", color=INK)
        pages.heading(t("summary_factors"), 2)
        pages.table(T.summary(report, t))

        # 2. units: table, forest plot, heatmap
        pages.new_page(t("s_units"))
        pages.heading(t("s_units"))
        units_table = T.units(report, t)
        pages.text(units_table.note, 8.5, color=MUTED)
        parts = figures.unit_parts(len(report.units))
        if len(parts) == 2 and parts[0][1] < parts[1][0]:     # thousands of units: the best and the worst here
            units_table.rows = units_table.rows[:parts[0][1]] + units_table.rows[parts[1][0]:]
            units_table.few = {i if i < parts[0][1] else i - (parts[1][0] - parts[0][1]) for i in units_table.few
                               if i < parts[0][1] or i >= parts[1][0]}
        pages.table(units_table)
        former_table = T.former(report, t)
        if former_table is not None:
            pages.new_page(t("s_former"))
            pages.heading(t("s_former"))
            pages.text(former_table.note, 8.5, color=MUTED)
            pages.table(former_table)
            for line in T.former_caveats(report, t):
                pages.text("* " + line, 8.5, color=INK)
        if report.small_areas:
            # direct and small-area estimates side by side, by small-area rank: every unit over as many pages
            # as it takes (168 wards: about 5); beyond 400 units, the best and the worst (the workbook has all)
            sae_table = T.small_areas(report, t)
            pages.new_page(t("s_small_areas"))
            pages.heading(t("s_small_areas"))
            pages.text(t("text_small_areas_plain"), 9)
            pages.text(sae_table.note, 8.5, color=MUTED)
            shown = len(sae_table.rows)
            if shown > figures.PER_CHART * figures.MAX_CHARTS:
                more = shown - 2 * figures.EDGE
                keep = list(range(figures.EDGE)) + list(range(shown - figures.EDGE, shown))
                sae_table.few = {k for k, i in enumerate(keep) if i in sae_table.few}
                sae_table.rows = [sae_table.rows[i] for i in keep]
                pages.text(t("sae_rows_edges", edge=figures.EDGE, n=t.number(shown), more=t.number(more)),
                           8.5, color=MUTED)
            else:
                pages.text(t("sae_rows_all", n=t.number(shown)), 8.5, color=MUTED)
            pages.table(sae_table)
        for key, title, build in (("forest", t("s_forest"), figures.forest), ("heatmap", t("s_heatmap"), figures.heatmap)):
            for part in parts:
                heading = title if part == (0, len(report.units)) else \
                    f"{title} ({t('ranks_part', first=part[0] + 1, last=part[1], n=len(report.units))})"
                pages.new_page(heading)
                pages.heading(heading)
                if key == "heatmap":
                    pages.text(t("text_heatmap"), 8.5, color=MUTED)
                pages.chart(lambda sub, build=build, part=part: build(report, t, into=sub, part=part),
                            _chart_height(key, report, part))

        # 3. criteria, lowest first
        pages.new_page(t("s_criteria"))
        pages.heading(t("s_criteria"))
        pages.text(t("text_criteria"), 8.5, color=MUTED)
        pages.chart(lambda sub: figures.criteria(report, t, into=sub), _chart_height("criteria", report))
        pages.new_page(t("s_criteria"))
        pages.table(T.criteria(report, t))

        # 4. answer distributions
        pages.new_page(t("s_distributions"))
        pages.heading(t("s_distributions"))
        pages.text(t("text_distributions"), 8.5, color=MUTED)
        pages.chart(lambda sub: figures.distributions(report, t, into=sub), _chart_height("distributions", report))
        pages.table(T.distributions(report, t))

        # 5. breakdowns: one page per dimension
        breakdown_tables = {tab.dimension: tab for tab in T.breakdowns(report, t)}
        for dimension in BREAKDOWNS:
            if not report.breakdowns.get(dimension):
                continue
            title = t(f"dim_{dimension}_title")
            pages.new_page(title)
            if dimension == BREAKDOWNS[0] or len(pages.titles) == 1:
                pages.heading(t("s_breakdowns"))
                pages.text(t("text_breakdowns"), 8.5, color=MUTED)
            pages.heading(title, 2)
            pages.chart(lambda sub, d=dimension: figures.breakdown(report, t, d, into=sub),
                        _chart_height(f"breakdown-{dimension}", report))
            pages.table(breakdown_tables[dimension])

        # 6. responses and weighting
        pages.new_page(t("s_counts"))
        pages.heading(t("s_counts"))
        pages.text(narrative.counts_line(report, t), 9)
        counts_table = T.counts(report, t)
        if len(counts_table.rows) > figures.PER_CHART * figures.MAX_CHARTS:   # thousands of units: see the workbook
            more = len(counts_table.rows) - 2 * figures.EDGE
            counts_table.rows = counts_table.rows[:figures.EDGE] + counts_table.rows[-figures.EDGE:]
            counts_table.few = set()
            pages.text(t("rows_left_out", n=more), 8.5, color=MUTED)
        pages.table(counts_table)
        pages.new_page(t("s_counts"))
        pages.heading(t("s_counts"))
        if len(report.counts) <= figures.PER_CHART * figures.MAX_CHARTS:
            pages.chart(lambda sub: figures.counts(report, t, into=sub), _chart_height("counts", report))
        pages.new_page(t("weighting_title"))
        pages.heading(t("weighting_title"))
        pages.table(T.weighting(report, t, per_unit=False))
        if any(m.unit == "ALL" for m in report.weighting.margins):
            pages.heading(t("margins_title"), 2)
            pages.chart(lambda sub: figures.margins(report, t, into=sub), _chart_height("margins", report))
        pages.table(T.margins(report, t, per_unit=False))

        # 7. methodology
        pages.new_page(t("s_methodology"))
        pages.heading(t("s_methodology"))
        for title, text in narrative.methodology(report, t):
            pages.heading(title, 2)
            pages.text(text, 8.5)       # the whole method on one page
        pages.heading(t("exclusions_title"), 2)
        exclusions = T.exclusions(report, t)
        if exclusions.rows:
            pages.table(exclusions)
        else:
            pages.text(t("no_exclusions"), 9)
        log = narrative.log_lines(report) if t.lang == "en" else []   # the engine's log is English
        if log:
            pages.heading(t("m_log_title"), 2)
            for line in log:
                pages.text(line, 7.5, color=MUTED, bullet="·")
        pages.finish_page()
    return pages.titles
