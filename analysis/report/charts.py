"""The report's charts: one function per chart, each draws on an ``ax`` and returns it.

Charts never create figures or touch pyplot: :mod:`analysis.report.figures`
builds ``matplotlib.figure.Figure`` objects (no global state, safe in a server
thread) and calls these. Every chart stays readable in greyscale: meaning is
carried by marker shape, fill and hatching as well as by colour, and the
colours are the Okabe–Ito palette or colour-blind-safe ColorBrewer / cividis
ramps. Values are percentages (0–100). Estimates marked ``few`` (too few
responses or too small an effective sample to be reliable) are drawn hollow or
hatched and their labels carry :data:`FEW_MARK`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

# Okabe & Ito (2008), "Color Universal Design".
BLACK, ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
GREY = "#8c8c8c"
FEW_MARK = "†"

# A judgement against the target -> (marker, colour). Shape alone tells them apart in greyscale.
JUDGEMENT_STYLE = {
    "above": ("^", BLUE),
    "below": ("v", VERMILLION),
    "inconclusive": ("o", BLACK),
    "unreliable": ("o", GREY),
}
# Scores 1..5: ColorBrewer RdBu (colour-blind safe), plus a hatch per score for greyscale.
SCORE_COLOURS = ("#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac")
SCORE_HATCHES = ("xxx", "///", "", "...", "")
# Channels and other categories: Okabe–Ito colours with hatches.
SERIES_COLOURS = (BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, YELLOW, BLACK)
SERIES_HATCHES = ("", "///", "...", "xxx", "\\\\\\", "ooo", "---", "+++")


def _columns(labels: Sequence[str], width: int = 100) -> int:
    """How many legend columns fit across a page-wide figure for these labels."""
    longest = max((len(label) for label in labels), default=1) + 6
    return max(1, min(len(labels), width // longest))


def _label(text: str, few: bool) -> str:
    return f"{text} {FEW_MARK}" if few else text


def interval_plot(ax: Axes, labels: Sequence[str], value: Sequence[float], low: Sequence[float],
                  high: Sequence[float], *, few: Sequence[bool] | None = None,
                  judgement: Sequence[str] | None = None, target: float | None = None,
                  reference: tuple[float, float, float] | None = None, xlabel: str = "",
                  legend: dict[str, str] | None = None) -> Axes:
    """Point estimates with confidence intervals, one row per label, first label on top.

    The forest plot of units, the ranked criteria and the breakdowns all use it.

    Parameters
    ----------
    labels, value, low, high
        One entry per row; ``low``/``high`` may be NaN when no interval exists.
    few
        Rows to mark as unreliable: hollow marker, dashed interval, label ending in ``†``.
    judgement
        Per row, a key of :data:`JUDGEMENT_STYLE` (marker shape and colour).
    target
        Draws a dashed vertical line at the target.
    reference
        ``(estimate, low, high)`` of a reference value (the overall index),
        drawn as a dotted line on a light band.
    legend
        Legend texts: keys ``target``, ``reference``, ``few`` and the judgement keys.
    """
    n = len(labels)
    value, low, high = (np.asarray(a, dtype=float) for a in (value, low, high))
    few = np.zeros(n, bool) if few is None else np.asarray(few, bool)
    judgement = list(judgement) if judgement is not None else ["inconclusive"] * n
    legend = legend or {}
    y = np.arange(n)[::-1]
    if reference is not None:
        ax.axvspan(reference[1], reference[2], color="#e6e6e6", zorder=0)
        ax.axvline(reference[0], color=GREY, linestyle=":", linewidth=1.2, zorder=1)
    if target is not None:
        ax.axvline(target, color=VERMILLION, linestyle="--", linewidth=1.4, zorder=1)
    for i in range(n):
        if np.isnan(value[i]):
            continue
        marker, colour = JUDGEMENT_STYLE.get(judgement[i], JUDGEMENT_STYLE["inconclusive"])
        if few[i]:
            marker, colour = "o", GREY
        if not np.isnan(low[i]) and not np.isnan(high[i]):
            ax.hlines(y[i], low[i], high[i], color=colour, linewidth=1.6,
                      linestyle=(0, (2, 1.5)) if few[i] else "-", zorder=2)
        ax.plot(value[i], y[i], marker=marker, markersize=7, color=colour,
                markerfacecolor="white" if few[i] else colour, markeredgewidth=1.5, zorder=3,
                linestyle="none")
    ax.set_yticks(y, [_label(t, f) for t, f in zip(labels, few)])
    ax.set_ylim(-0.7, n - 0.3)
    finite = np.concatenate([a[np.isfinite(a)] for a in (value, low, high)] +
                            ([np.array([target])] if target is not None else []))
    if finite.size:
        lo, hi = finite.min(), finite.max()
        pad = max(2.0, 0.06 * (hi - lo))
        ax.set_xlim(max(0.0, lo - pad), min(100.0, hi + pad) if hi + pad > lo else lo + 1)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = []
    for key in ("above", "inconclusive", "below"):
        if key in legend and key in judgement:
            marker, colour = JUDGEMENT_STYLE[key]
            handles.append(Line2D([], [], marker=marker, color=colour, linestyle="-", label=legend[key]))
    if "few" in legend and few.any():
        handles.append(Line2D([], [], marker="o", color=GREY, markerfacecolor="white",
                              linestyle=(0, (2, 1.5)), label=legend["few"]))
    if target is not None and "target" in legend:
        handles.append(Line2D([], [], color=VERMILLION, linestyle="--", label=legend["target"]))
    if reference is not None and "reference" in legend:
        handles.append(Line2D([], [], color=GREY, linestyle=":", label=legend["reference"]))
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08 - 0.5 / max(n, 4)),
                  ncols=_columns([h.get_label() for h in handles]), frameon=False, fontsize="small")
    return ax


def heatmap(ax: Axes, values: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], *,
            few: np.ndarray | None = None, vmin: float = 0.0, vmax: float = 100.0,
            colorbar_label: str = "", few_label: str | None = None,
            fmt: Callable[[float], str] = "{:.1f}".format) -> Axes:
    """A table of percentages as shaded cells, each cell also printed as a number.

    ``values`` has one row per unit and one column per factor; NaN cells are
    left white. Cells in ``few`` are hatched and their number is printed in
    grey. The ramp is cividis: colour-blind safe and monotone in lightness,
    so the shading survives greyscale printing.
    """
    values = np.asarray(values, dtype=float)
    few = np.zeros(values.shape, bool) if few is None else np.asarray(few, bool)
    cmap = _cividis()
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto",
                      interpolation="nearest")
    rows, cols = values.shape
    norm = image.norm
    for r in range(rows):
        for c in range(cols):
            v = values[r, c]
            if np.isnan(v):
                continue
            if few[r, c]:
                ax.add_patch(_hatched_cell(c, r))
            rgba = cmap(norm(v))
            luminance = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
            ax.text(c, r, fmt(v), ha="center", va="center", fontsize="x-small",
                    color="black" if luminance > 0.5 else "white",
                    fontstyle="italic" if few[r, c] else "normal",
                    bbox=dict(boxstyle="square,pad=0.1", facecolor="white", edgecolor="none")
                    if few[r, c] else None)
    ax.set_xticks(range(cols), col_labels, fontsize="small")
    ax.xaxis.tick_top()
    ax.set_yticks(range(rows), [_label(t, bool(f)) for t, f in zip(row_labels, few.any(axis=1))])
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.0)
    ax.tick_params(which="minor", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    colorbar = ax.figure.colorbar(image, ax=ax, shrink=0.6, pad=0.02)
    colorbar.set_label(colorbar_label)
    if few_label and few.any():
        ax.legend(handles=[Patch(facecolor="white", edgecolor=GREY, hatch="///", label=few_label)],
                  loc="upper center", bbox_to_anchor=(0.5, -0.02), frameon=False, fontsize="small")
    return ax


def _hatched_cell(c: int, r: int) -> Patch:
    return Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor="none", edgecolor="white", hatch="///",
                     linewidth=0)


def _cividis():
    return colormaps["cividis"].with_extremes(bad="white")


def stacked_shares(ax: Axes, labels: Sequence[str], shares: np.ndarray, category_labels: Sequence[str], *,
                   colours: Sequence[str] = SCORE_COLOURS, hatches: Sequence[str] = SCORE_HATCHES,
                   xlabel: str = "", few: Sequence[bool] | None = None, min_label: float = 6.0) -> Axes:
    """Horizontal 100 % stacked bars (one per label, first on top), e.g. the 1–5 answers per factor.

    ``shares`` has one row per label and one column per category, in percent.
    Segments of at least ``min_label`` percent are labelled with their value.
    """
    shares = np.asarray(shares, dtype=float)
    n, k = shares.shape
    few = np.zeros(n, bool) if few is None else np.asarray(few, bool)
    y = np.arange(n)[::-1]
    left = np.zeros(n)
    for j in range(k):
        colour = colours[j % len(colours)]
        bars = ax.barh(y, shares[:, j], left=left, color=colour, hatch=hatches[j % len(hatches)],
                       edgecolor="white", linewidth=0.8, label=category_labels[j], height=0.7)
        rgb = bars.patches[0].get_facecolor() if bars.patches else (1, 1, 1, 1)
        dark = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] < 0.5
        for i in range(n):
            if shares[i, j] >= min_label:
                ax.text(left[i] + shares[i, j] / 2, y[i], f"{shares[i, j]:.0f}", ha="center", va="center",
                        fontsize="x-small", color="white" if dark else "black",
                        bbox=dict(boxstyle="round,pad=0.15", facecolor=colour, edgecolor="none"))
        left += np.nan_to_num(shares[:, j])
    ax.set_yticks(y, [_label(t, f) for t, f in zip(labels, few)])
    ax.set_xlim(0, 100)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1 - 0.4 / max(n, 3)),
              ncols=_columns(list(category_labels)), frameon=False, fontsize="small")
    return ax


def stacked_counts(ax: Axes, labels: Sequence[str], counts: np.ndarray, series_labels: Sequence[str], *,
                   xlabel: str = "", few: Sequence[bool] | None = None) -> Axes:
    """Horizontal stacked bars of counts (one bar per label, one segment per series)."""
    counts = np.asarray(counts, dtype=float)
    n, k = counts.shape
    few = np.zeros(n, bool) if few is None else np.asarray(few, bool)
    y = np.arange(n)[::-1]
    left = np.zeros(n)
    for j in range(k):
        ax.barh(y, counts[:, j], left=left, color=SERIES_COLOURS[j % len(SERIES_COLOURS)],
                hatch=SERIES_HATCHES[j % len(SERIES_HATCHES)], edgecolor="white", linewidth=0.6,
                label=series_labels[j], height=0.7)
        left += counts[:, j]
    for i in range(n):
        ax.text(left[i], y[i], f" {int(left[i]):,}".replace(",", "\u202f"), va="center", fontsize="x-small")
    ax.set_yticks(y, [_label(t, f) for t, f in zip(labels, few)])
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(0, max(1.0, left.max()) * 1.15)
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{int(v):,}".replace(",", "\u202f"))
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=_columns(list(series_labels)), frameon=False,
              fontsize="small")
    return ax


def margin_fit(ax: Axes, labels: Sequence[str], population: Sequence[float], sample: Sequence[float],
               weighted: Sequence[float], *, series_labels: Sequence[str], xlabel: str = "",
               legend: bool = True) -> Axes:
    """Population share, raw sample share and weighted sample share per category (percent).

    How well the weights reproduce the margins: weighted markers sit on the
    population bars when the fit is good.
    """
    n = len(labels)
    y = np.arange(n)[::-1]
    ax.barh(y, population, color="#d9d9d9", edgecolor=GREY, height=0.7, label=series_labels[0])
    ax.plot(sample, y, linestyle="none", marker="o", markerfacecolor="white", color=ORANGE,
            markeredgewidth=1.5, label=series_labels[1])
    ax.plot(weighted, y, linestyle="none", marker="D", markersize=5, color=BLUE, label=series_labels[2])
    ax.set_yticks(y, labels)
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, max(max(population, default=0), max(sample, default=0), max(weighted, default=0), 1) * 1.15)
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if legend:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncols=3, frameon=False, fontsize="small")
    return ax
