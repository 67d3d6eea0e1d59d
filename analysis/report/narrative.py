"""The report's sentences (summary, caveats, methodology), shared by the HTML and the PDF."""
from __future__ import annotations

from collections import Counter

from .charts import FEW_MARK
from .i18n import Translator
from .model import Report


def units_text(report: Report, t: Translator) -> str:
    names = [t.text(u.estimate.label) for u in report.units]
    return ", ".join(names) if len(names) <= 8 else t("n_units", n=len(names))


def _kish(report: Report) -> float:
    """Kish's effective sample size of all the responses used: the figure the weighting table prints."""
    w = getattr(report.weighting, "n_eff_kish", None)
    return w if w is not None and w == w else report.overall.n_eff


def summary_lines(report: Report, t: Translator) -> list[str]:
    o = report.overall
    lines = [t("summary_overall", p=t.percent(o.p), low=t.percent(o.low), high=t.percent(o.high),
               n=t.number(o.n), n_eff=t.number(_kish(report)))]
    if report.target is not None:
        lines.append(t(f"summary_target_{o.judgement}", target=t.percent(report.target, 0)))
    inputs = report.inputs
    if inputs.compare_period is not None:
        period = t.period(inputs.compare_period.start, inputs.compare_period.end)
        ch = report.overall_change
        if ch is None:
            lines.append(t("summary_no_compare", period=period))
        else:
            verdict = t("change_significant" if ch.significant else "change_not_significant")
            lines.append(t("summary_change", period=period, previous=t.percent(ch.previous.p), diff=t.points(ch.diff),
                           low=t.points(ch.low), high=t.points(ch.high), verdict=verdict))
    if report.target is not None and report.units:
        tally = Counter(u.estimate.judgement for u in report.units)
        lines.append(t("summary_units", total=len(report.units), above=tally["above"], below=tally["below"],
                       inconclusive=tally["inconclusive"], unreliable=tally["unreliable"]))
    lowest = [e for e in report.criteria if not e.few][:3]
    if lowest:
        lines.append(t("summary_lowest", items="; ".join(
            f"{e.key} {t.text(e.label)} ({t.percent(e.p)})" for e in lowest)))
    return lines


def caveats(report: Report, t: Translator) -> list[str]:
    out = [t("caveat_index"), t("caveat_ci")]
    if report.few_units or any(e.few for e in report.criteria):
        out.append(t("caveat_few", mark=FEW_MARK))
    w = report.weighting
    if w.method == "none":
        out.append(t("caveat_no_weights"))
    else:
        out.append(t("caveat_weights", method=t(f"weighting_method_{w.method}")))
    excluded = sum(report.inputs.exclusions.values())
    if excluded:
        out.append(t("caveat_excluded", n=t.number(excluded)))
    if report.inputs.other_questionnaires:
        out.append(t("caveat_other_questionnaires", listing=other_questionnaires(report, t)))
    return out


def other_questionnaires(report: Report, t: Translator) -> str:
    """The period's questionnaires this report is not about, with their responses ("" when none)."""
    return "; ".join(t("other_questionnaire_item", title=t.text(o["title"]), id=o["id"],
                       n=t.number(o["responses"])) for o in report.inputs.other_questionnaires)


def counts_line(report: Report, t: Translator) -> str:
    responses = sum(r.responses for r in report.counts)
    excluded = sum(r.excluded for r in report.counts)
    return t("counts_total", responses=t.number(responses), excluded=t.number(excluded),
             used=t.number(sum(r.used for r in report.counts)))


def methodology(report: Report, t: Translator) -> list[tuple[str, str]]:
    q = report.questionnaire
    weighted = any(c.weight != 1 for c in q.criteria)
    w = report.weighting
    engine = report.inputs.engine.get("version")
    return [
        (t("m_index_title"), t("m_index", top=q.scale.satisfied_from, items=len(q.criteria),
                                weights=t("m_weights_given" if weighted else "m_weights_equal"))),
        (t("m_variance_title"), t("m_variance", level="95 %")),
        (t("m_weighting_title"), t("m_weighting_calibrated" if report.inputs.engine.get("calibrated")
                                    else "m_weighting", method=t(f"weighting_method_{w.method}"))),
        (t("m_lonely_title"), _lonely(report, t)),
        (t("m_items_title"), _items(report, t)),
        (t("m_flags_title"), t("m_flags")),
        (t("m_target_title"), t("m_target")),
        (t("m_excluded_title"), t("m_excluded")),
        (t("m_software_title"), t("m_software", engine=f" ({engine})" if engine else "")),
    ]


def _lonely(report: Report, t: Translator) -> str:
    """Which strata had a single PSU and how the variance handled them."""
    engine = report.inputs.engine
    label = {u.estimate.key: t.text(u.estimate.label) for u in report.units}     # strata are units, by default
    lonely = [label.get(str(s), str(s)) for s in engine.get("lonely_strata", ())]
    how = t("m_lonely_" + engine.get("lonely_psu", "adjust"))
    if not lonely:
        return t("m_lonely_none", how=how)
    names = ", ".join(lonely[:20]) + (" …" if len(lonely) > 20 else "")
    return t("m_lonely", n=t.number(len(lonely)), names=names, how=how)


def _items(report: Report, t: Translator) -> str:
    """Units whose index is over fewer criteria than the questionnaire's (``items_used < items_expected``)."""
    short = []
    for u in report.units:
        row = u.estimate.row
        try:
            used, expected = int(float(row.get("items_used"))), int(float(row.get("items_expected")))
        except (TypeError, ValueError):
            continue
        if used < expected:
            short.append(t("m_items_unit", unit=t.text(u.estimate.label), used=used, expected=expected))
    rule = t("m_items_rule")
    if not short:
        return rule + " " + t("m_items_none")
    return rule + " " + t("m_items_some", n=t.number(len(short)), units="; ".join(short[:20])
                          + (" …" if len(short) > 20 else ""))


def log_lines(report: Report) -> list[str]:
    """What the analysis module did, in its own words (period, versions, weighting, counts)."""
    return [str(line) for line in report.inputs.engine.get("notes", ()) if not str(line).startswith("database:")]
