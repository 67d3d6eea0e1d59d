"""The national table from provincial summaries, exactly as from the pooled microdata.

:func:`merge_summaries` takes :class:`~analysis.summary.Summary` objects (one or
more per province, covering disjoint units and strata) and returns the same
:class:`~analysis.indices.IndexTable` as :func:`analysis.compute_table` on all
their respondents pooled, plus one ``province`` row per province and measure:

* ``level = district``: every unit of every province (the unit rows of the
  summaries: a unit is a domain whose variance only involves its own strata, so
  they are already final);
* ``level = province``: each province as a domain of the national design (its
  whole sums; several summaries of one province are merged first);
* ``level = overall`` (``district = ALL``): the nation.

Ranks are among all units of the nation (``district``) and among provinces
(``province``). Equal to the pooled computation to ~1e-15 (the tests check 1e-12).

Refused, with the reason: summaries of different questionnaires or versions,
criteria, factors, criterion weights or ``satisfied_from``; different lonely-PSU
treatments; a unit or a stratum in two summaries; a summary whose weighting is
not mergeable; and raking to *national* margins (:data:`NATIONAL_RAKING`).
"""
from __future__ import annotations

import numpy as np

from ._blas import single_threaded_blas
from .accumulate import _layout
from .measures import _rows
from .table import IndexTable, finish_table
from .inputs import SurveyData
from .summary import FORMAT_VERSION, ROW_FIELDS, ROW_LABELS, Summary, SummaryError, Whole

__all__ = ["merge_summaries", "check_compatible", "NATIONAL_RAKING"]

NATIONAL_RAKING = (
    "raking to national margins cannot be computed from summaries: raked weights are found by iterative "
    "fitting in which every province's respondents move every other province's weights, so the national "
    "weights (and every sum built from them) are not a function of the provinces' summaries. Rake or "
    "post-stratify within each province (summarize --db ... --weights rake), which merges exactly, or "
    "compute the national table from the pooled microdata (indices --parquet DIR --dask)")


def _describe_q(h: dict) -> str:
    q = h.get("questionnaire") or {}
    vs = q.get("versions") or []
    return f"questionnaire {q.get('id') or '(from CSV)'}" + (f" version(s) {', '.join(map(str, vs))}" if vs else "") \
        + f" [criteria fingerprint {h.get('fingerprint')}]"


def check_compatible(summaries: list[Summary]) -> None:
    """Raise :class:`SummaryError` naming the files if the summaries cannot be merged exactly."""
    if not summaries:
        raise SummaryError("nothing to merge: give at least one summary")
    first = summaries[0]
    h0 = first.header
    for s in summaries:
        if s.header.get("format_version") != FORMAT_VERSION:
            raise SummaryError(f"{s.name}: summary format version {s.header.get('format_version')}, this program "
                               f"merges version {FORMAT_VERSION}; re-run summarize with this version")
        w = s.header.get("weighting") or {}
        if not w.get("mergeable", False):
            raise SummaryError(f"{s.name}: its weighting ({w.get('scheme')}: {w.get('description')}) cannot be "
                               f"merged exactly: {w.get('why_not') or NATIONAL_RAKING}")
    for s in summaries[1:]:
        h = s.header
        q0, q = h0.get("questionnaire") or {}, h.get("questionnaire") or {}
        if (q0.get("id"), q0.get("versions")) != (q.get("id"), q.get("versions")) or \
                h0.get("fingerprint") != h.get("fingerprint"):
            raise SummaryError(
                f"mismatched questionnaire versions: {first.name} was made with {_describe_q(h0)}, {s.name} with "
                f"{_describe_q(h)}; a national index pools one questionnaire version (the same criteria, "
                f"factors, criterion weights and satisfied_from): re-summarize the provinces for one version")
        for key, what in (("items", "criteria"), ("factor_of", "factors"), ("item_weights", "criterion weights"),
                          ("satisfied_from", "satisfied_from")):
            if h0.get(key) != h.get(key):
                raise SummaryError(f"mismatched questionnaire versions: {first.name} and {s.name} differ in their "
                                   f"{what}; re-summarize the provinces for one questionnaire version")
        if h0.get("lonely_psu") != h.get("lonely_psu"):
            raise SummaryError(f"{first.name} treats lonely PSUs as {h0.get('lonely_psu')!r}, {s.name} as "
                               f"{h.get('lonely_psu')!r}: summarize every province with the same --lonely-psu")
    owner: dict[str, str] = {}
    for s in summaries:
        for d in s.districts:
            if d in owner:
                raise SummaryError(
                    f"overlapping units: unit {d!r} is in both {owner[d]} and {s.name}; each unit must be in exactly "
                    f"one summary (the same province or period twice would count its respondents twice, and each "
                    f"summary's weights are calibrated to the unit's population on their own)")
            owner[d] = s.name
    sowner: dict[str, str] = {}
    for s in summaries:
        for st in s.strata:
            if st in sowner:
                raise SummaryError(
                    f"overlapping strata: stratum {st!r} is in both {sowner[st]} and {s.name}; a stratum must be "
                    f"summarised whole (its variance factor depends on all its PSUs): relabel the strata of each "
                    f"province (e.g. prefix the province code) or summarize them together")
            sowner[st] = s.name


def _engine_shape(h: dict):
    """The engine's layout, criterion weights and set membership from a header."""
    items = tuple(h["items"])
    J = len(items)
    data = SurveyData(items=items, answers=np.zeros((0, J), dtype=np.uint8), weights=np.zeros(0),
                      district=np.zeros(0, dtype=np.intp), districts=(), stratum=np.zeros(0, dtype=np.intp),
                      strata=(), factor_of=dict(h["factor_of"]), item_weights=np.asarray(h["item_weights"]),
                      satisfied_from=int(h["satisfied_from"]))
    lay = _layout(data)
    iw = data.item_weights[lay.order]
    NS = len(lay.sets)
    membership = np.zeros((J, NS))
    for s, (_, members) in enumerate(lay.sets):
        for b_ in members:
            lo_, hi_ = lay.base[b_]
            membership[lo_:hi_, s] = iw[lo_:hi_]
    return data, lay, iw, membership


def merge_summaries(summaries: list[Summary], *, level: float = 0.95, target: float | None = 0.80,
                    ci_method: str = "logit", provinces: bool = True, rake_national=None) -> IndexTable:
    """The national table (see the module docstring)."""
    with single_threaded_blas():   # small matrices: BLAS threads only cost (and spin on a busy machine)
        return _merge(summaries, level=level, target=target, ci_method=ci_method, provinces=provinces,
                      rake_national=rake_national)


def _merge(summaries, *, level, target, ci_method, provinces, rake_national) -> IndexTable:
    if rake_national is not None:
        raise SummaryError(NATIONAL_RAKING)
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    if target is not None and not 0 < target < 1:
        raise ValueError(f"target must be a share between 0 and 1 (e.g. 0.80), got {target!r}")
    check_compatible(summaries)
    h0 = summaries[0].header
    data, lay, iw, membership = _engine_shape(h0)
    top = data.satisfied_from
    average = h0.get("lonely_psu") == "average"     # the strata counts are summed over provinces (exact)
    by_province: dict[str, list[Summary]] = {}
    for s in summaries:
        by_province.setdefault(s.province, []).append(s)
    province_wholes = {p: Whole.combine([s.whole for s in parts], top, membership)
                       for p, parts in sorted(by_province.items())}
    nation = Whole.combine(list(province_wholes.values()), top, membership)
    parts: dict[str, list] = {}

    def add(lv: str, name: str, part: dict) -> None:
        m = len(part.get("measure", ()))
        parts.setdefault("level", []).append(np.full(m, lv, dtype=object))
        parts.setdefault("district", []).append(np.full(m, name, dtype=object))
        for k, v in part.items():
            parts.setdefault(k, []).append(np.asarray(v, dtype=object if k in ROW_LABELS else float))

    add("overall", "ALL", _rows(nation.level(lay, iw, top, membership), lay, data, iw, average=average))
    if provinces:
        for p, whole in province_wholes.items():
            add("province", p, _rows(whole.level(lay, iw, top, membership), lay, data, iw, average=average))
    # the units: every summary's rows, units in label order (each unit's measures stay in engine order)
    unit_cols = {c: np.concatenate([s.rows[c] for s in summaries]) for c in ("district",) + ROW_LABELS + ROW_FIELDS}
    order = np.argsort(unit_cols["district"].astype(str), kind="stable")
    add("district", "", {c: v[order] for c, v in unit_cols.items() if c != "district"})
    parts["district"][-1] = unit_cols["district"][order]
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    notes = tuple(f"merged {s.name}: province {s.province}, {s.header.get('n_respondents')} responses, "
                  f"{len(s.districts)} unit(s)" for s in summaries)
    table = finish_table(cols, level=level, target=target, ci_method=ci_method, notes=notes)
    _rank_provinces(table, ci_method)
    return table


def _rank_provinces(table, ci_method: str) -> None:
    """Ranks among provinces (the engine ranks the ``district`` level only)."""
    from .judgements import rank_with_range

    c = table.columns
    if ci_method == "logit":
        lo = np.where(np.isnan(c["ci_logit_l"]), c["ci_kg_l"], c["ci_logit_l"])
        hi = np.where(np.isnan(c["ci_logit_u"]), c["ci_kg_u"], c["ci_logit_u"])
    else:
        lo, hi = c["ci_kg_l"], c["ci_kg_u"]
    is_p = c["level"] == "province"
    for measure in dict.fromkeys(c["measure"][is_p]):
        sel = np.flatnonzero(is_p & (c["measure"] == measure))
        r, rb, rw = rank_with_range(c["p"][sel], lo[sel], hi[sel])
        c["rank"][sel], c["rank_best"][sel], c["rank_worst"][sel] = r, rb, rw
