"""The report model: every number a report shows, taken from the analysis tables.

:func:`build_model` turns :class:`ReportInputs` (the analysis engine's tables
for the period, the comparison period and the breakdowns, plus the response
counts, 1–5 distributions and weighting summary) into a :class:`Report`.
Nothing here computes an estimate: it selects rows, judges them against the
target, compares periods and sorts. The renderers (HTML, PDF, XLSX) only read
a :class:`Report`, so every number they print comes from the same place.

Rows are dicts with the columns of the engine's indices table (see
docs/analysis.md): ``level, district, measure, measure_type, factor, n,
sum_w, df, p, se, ci_logit_l, ci_logit_u, ci_kg_l, ci_kg_u, deff,
n_eff_deff, ..., flag_n_lt_30, flag_neff_lt_30, flag_cv_gt_30,
nchs_suppress, nchs_review``. ``district`` holds the domain value (a unit
slug, a channel, a field code) or ``ALL`` on the overall row.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from scipy import stats

from questionnaires.loader import Questionnaire, Text

INDEX = "INDEX:ITEM_AVG"
OVERALL = "ALL"
FLAGS = ("flag_n_lt_30", "flag_neff_lt_30", "flag_cv_gt_30", "nchs_suppress", "nchs_review", "flag_items_missing")
# An estimate with any of these is "too few responses": not judged, not ranked, drawn hollow.
UNRELIABLE_FLAGS = ("flag_n_lt_30", "flag_neff_lt_30", "nchs_suppress", "flag_items_missing")
"""Rows not judged or ranked: too few responses, or (``flag_items_missing``) an index over fewer criteria
than the questionnaire's."""
JUDGEMENTS = ("above", "inconclusive", "below", "unreliable")
BREAKDOWNS = ("channel", "field", "respondent_type")
LEVEL = 0.95


def factor_measure(code: str) -> str:
    return f"FACTOR:{code}:ITEM_AVG"


def _number(value: Any) -> float:
    """A table cell as a float; empty, None and NA are NaN."""
    if value is None or value == "" or value == "NA":
        return math.nan
    return float(value)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().upper() in ("TRUE", "1", "T", "YES")
    return bool(value) and not (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Estimate:
    """One row of an analysis table, as the report shows it.

    ``p``, ``low`` and ``high`` are proportions (0–1). The interval is the
    logit interval (R ``svyciprop(method="logit")``); where it does not
    exist (p is 0 or 1) the Korn–Graubard interval is used and
    ``interval`` says ``"kg"``. ``n_eff`` is n / deff (the number of simple
    random responses worth as much as these), or Kish's n_eff from the
    weights where the design effect is undefined.
    """

    key: str
    label: Text
    p: float
    low: float
    high: float
    se: float
    n: int
    n_eff: float
    df: float
    deff: float
    flags: tuple[str, ...]
    interval: str
    judgement: str
    row: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def few(self) -> bool:
        return any(f in UNRELIABLE_FLAGS for f in self.flags)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], key: str, label: Text, target: float | None) -> Estimate:
        p = _number(row.get("p"))
        low, high, interval = _number(row.get("ci_logit_l")), _number(row.get("ci_logit_u")), "logit"
        if math.isnan(low) or math.isnan(high):
            low, high, interval = _number(row.get("ci_kg_l")), _number(row.get("ci_kg_u")), "kg"
        deff = _number(row.get("deff"))
        # One effective sample size throughout the report: Kish's, (Σw)²/Σw² -- the number of equally
        # weighted responses the weighted ones are worth. (n / deff can exceed n when the estimator's
        # variance is small, which reads as a contradiction next to n; it stays in the XLSX/CSV.)
        n_eff = _number(row.get("n_eff_kish"))
        if math.isnan(n_eff):
            n_eff = _number(row.get("n_eff_deff"))
        flags = tuple(f for f in FLAGS if _flag(row.get(f)))
        n = row.get("n")
        est = cls(key=key, label=label, p=p, low=low, high=high, se=_number(row.get("se")),
                  n=int(float(n)) if n not in (None, "") else 0, n_eff=n_eff, df=_number(row.get("df")),
                  deff=deff, flags=flags, interval=interval, judgement="", row=row)
        object.__setattr__(est, "judgement", judge(est, target))
        return est


VS_TARGET = {"above": "above", "below": "below", "not distinguishable": "inconclusive"}


def judge(est: Estimate, target: float | None) -> str:
    """Where an estimate stands against ``target`` (a proportion).

    ``above``: the whole confidence interval lies above the target;
    ``below``: the whole interval lies below it; ``inconclusive``: the
    interval contains the target (the data cannot tell); ``unreliable``:
    too few responses to judge (see :data:`UNRELIABLE_FLAGS`). The engine's
    ``vs_target`` column is used where the table has it (same rule).
    """
    if est.few or math.isnan(est.p):
        return "unreliable"
    if target is None:
        return "inconclusive"
    engine = est.row.get("vs_target")
    if engine in VS_TARGET and _number(est.row.get("target")) == target:
        return VS_TARGET[engine]
    if not math.isnan(est.low) and est.low > target:
        return "above"
    if not math.isnan(est.high) and est.high < target:
        return "below"
    return "inconclusive"


@dataclass(frozen=True)
class Change:
    """Difference between this period's estimate and the comparison period's (``current - previous``).

    The two periods are independent samples (different respondents), so
    se(d) = √(se₁² + se₀²), with Welch–Satterthwaite degrees of freedom
    (v₁ + v₀)² / (v₁²/df₁ + v₀²/df₀) for the t interval — the engine's
    ``analysis.judgements.period_change``.
    """

    current: Estimate
    previous: Estimate
    diff: float
    se: float
    df: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high)) and (self.low > 0 or self.high < 0)


def change(current: Estimate, previous: Estimate, level: float = LEVEL) -> Change:
    v1, v0 = current.se ** 2, previous.se ** 2
    diff = current.p - previous.p
    se = math.sqrt(v1 + v0)
    if math.isnan(se) or se == 0 or not previous.df > 0 or not current.df > 0:
        return Change(current, previous, diff, se, math.nan, math.nan, math.nan)
    df = (v1 + v0) ** 2 / (v1 ** 2 / current.df + v0 ** 2 / previous.df)
    q = float(stats.t.ppf(0.5 + level / 2, df))
    return Change(current, previous, diff, se, df, diff - q * se, diff + q * se)


@dataclass(frozen=True)
class Distribution:
    """Weighted shares of the answers min..max (proportions summing to 1) for one factor or criterion.

    The shares are averaged over the factor's criteria, like the index, so the
    satisfied shares (4 + 5) add up to the factor index.
    """

    key: str
    label: Text
    shares: tuple[float, ...]
    n: int


@dataclass(frozen=True)
class UnitCounts:
    """Responses of one unit in the period: received, excluded by staff, used in the indices, by channel."""

    key: str
    label: Text
    responses: int
    excluded: int
    used: int
    by_channel: Mapping[str, int]


@dataclass(frozen=True)
class MarginFit:
    """One weighting margin category: population share vs. the sample's shares before and after weighting."""

    dimension: str
    unit: str            # a unit slug, or ALL for a margin over all units
    category: str
    population: float
    sample_n: int
    sample_share: float
    weighted_share: float


@dataclass(frozen=True)
class Weighting:
    method: str                       # "raking", "poststratification" or "none"
    dimensions: tuple[str, ...]
    margins: tuple[MarginFit, ...]
    weight_min: float
    weight_max: float
    weight_mean: float
    deff_kish: float
    n_eff_kish: float
    iterations: int | None = None
    converged: bool | None = None
    trimmed: int = 0
    notes: tuple[str, ...] = ()

    @property
    def max_abs_error(self) -> float:
        """Largest gap between a weighted share and its population share (proportion)."""
        return max((abs(m.weighted_share - m.population) for m in self.margins), default=0.0)


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __str__(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


@dataclass(frozen=True)
class ReportInputs:
    """What the analysis engine and the database give a report (see :mod:`analysis.report.gather`).

    ``table`` is the full indices table of the period with units as domains;
    ``breakdowns`` maps a respondent/response column (``channel``,
    ``field``, ``respondent_type``) to the indices table with that column's
    categories as domains. The 1–5 distributions are the table's
    ``share_1``..``share_5`` columns of the overall factor and index rows.
    """

    questionnaire: Questionnaire
    period: Period
    units: Sequence[Mapping[str, Any]]                  # slug, name_vi, name_en, valid_from, valid_to (reported)
    table: Sequence[Mapping[str, Any]]
    breakdowns: Mapping[str, Sequence[Mapping[str, Any]]]
    counts: Sequence[UnitCounts]
    weighting: Weighting
    exclusions: Mapping[str, int]                       # excluded_reason -> count
    target: float | None = 0.80
    compare_period: Period | None = None
    compare_table: Sequence[Mapping[str, Any]] | None = None
    generated_at: datetime | None = None
    source: str = ""                                    # database file name
    engine: Mapping[str, Any] = field(default_factory=dict)   # method details for the methodology section
    # A period with a sampling frame: the index above comes from its probability sample;
    # ``sample`` has its size and AAPOR response rates (analysis.frame.frame_summary) and
    # ``feedback`` the kiosk and open-link responses' unweighted index rows (kept apart).
    sample: Mapping[str, Any] | None = None
    feedback: Sequence[Mapping[str, Any]] | None = None
    # New units grouped by former unit (analysis.crosswalk.compare_former rows, each with its
    # FormerUnit under "former"); empty without a crosswalk or when no group has responses.
    former: Sequence[Mapping[str, Any]] = ()
    # The period's other questionnaires (id, title, responses, excluded), most responses first: not in
    # any figure of this report, named so that they are reported separately (issue 12 item 4).
    other_questionnaires: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class UnitRow:
    estimate: Estimate
    rank: int | None              # None when not ranked (too few responses)
    change: Change | None


@dataclass(frozen=True)
class Report:
    inputs: ReportInputs
    overall: Estimate
    overall_change: Change | None
    factors: tuple[Estimate, ...]                       # overall factor indices, questionnaire order
    units: tuple[UnitRow, ...]                          # ranked first (highest first), then unranked
    factor_units: Mapping[str, Mapping[str, Estimate]]  # factor code -> unit slug -> estimate
    criteria: tuple[Estimate, ...]                      # overall, lowest first
    distributions: tuple[Distribution, ...]             # per factor, questionnaire order, then ALL
    breakdowns: Mapping[str, tuple[Estimate, ...]]      # dimension -> categories (questionnaire order)
    counts: tuple[UnitCounts, ...]
    weighting: Weighting
    small_areas: tuple["SmallArea", ...] = ()           # by small-area rank (empty without --sae)

    @property
    def questionnaire(self) -> Questionnaire:
        return self.inputs.questionnaire

    @property
    def target(self) -> float | None:
        return self.inputs.target

    @property
    def few_units(self) -> tuple[UnitRow, ...]:
        return tuple(u for u in self.units if u.rank is None)


class ReportError(ValueError):
    """The report cannot be made from these inputs; the message says why, for the analyst."""


def _index(rows: Sequence[Mapping[str, Any]]) -> Mapping[tuple[str, str], Mapping[str, Any]]:
    if hasattr(rows, "by_key"):          # analysis.table.RowView: rows made only when read
        return rows.by_key()
    return {(str(r["district"]), str(r["measure"])): r for r in rows}


def build_model(inputs: ReportInputs) -> Report:
    """Select, judge, compare and sort the analysis rows into a :class:`Report`."""
    q = inputs.questionnaire
    target = inputs.target
    rows = _index(inputs.table)
    overall_row = rows.get((OVERALL, INDEX))
    if overall_row is None:
        raise ReportError("the analysis table has no overall index row (INDEX:ITEM_AVG for ALL): "
                          "there are no usable answers in this period")
    title = Text("Toàn bộ các đơn vị", "All units")
    overall = Estimate.from_row(overall_row, OVERALL, title, target)
    overall_change = None
    previous_rows = _index(inputs.compare_table) if inputs.compare_table is not None else None
    if previous_rows is not None:
        prev = previous_rows.get((OVERALL, INDEX))
        if prev is not None:
            overall_change = change(overall, Estimate.from_row(prev, OVERALL, title, target))
    factors = tuple(Estimate.from_row(rows[(OVERALL, factor_measure(f.code))], f.code, f.text, target)
                    for f in q.factors if (OVERALL, factor_measure(f.code)) in rows)

    unit_rows = []
    for u in inputs.units:
        label = Text(u["name_vi"], u["name_en"])
        row = rows.get((u["slug"], INDEX))
        if row is None:
            continue
        est = Estimate.from_row(row, u["slug"], label, target)
        ch = None
        if previous_rows is not None and (u["slug"], INDEX) in previous_rows:
            ch = change(est, Estimate.from_row(previous_rows[(u["slug"], INDEX)], u["slug"], label, target))
        unit_rows.append((est, ch))
    ranked = sorted((r for r in unit_rows if not r[0].few), key=lambda r: (-r[0].p, r[0].key))
    unranked = sorted((r for r in unit_rows if r[0].few), key=lambda r: (-_nan_low(r[0].p), r[0].key))
    units = tuple([UnitRow(e, i + 1, c) for i, (e, c) in enumerate(ranked)] +
                  [UnitRow(e, None, c) for e, c in unranked])

    factor_units = {}
    for f in q.factors:
        cells = {}
        for u in units:
            row = rows.get((u.estimate.key, factor_measure(f.code)))
            if row is not None:
                cells[u.estimate.key] = Estimate.from_row(row, u.estimate.key, u.estimate.label, target)
        factor_units[f.code] = cells

    criteria = tuple(sorted(
        (Estimate.from_row(rows[(OVERALL, c.code)], c.code, c.text, target)
         for c in q.criteria if (OVERALL, c.code) in rows),
        key=lambda e: (_nan_low(e.p), e.key)))

    distributions = []
    for code, measure, label in [(f.code, factor_measure(f.code), f.text) for f in q.factors] + \
            [(OVERALL, INDEX, Text("Tất cả tiêu chí", "All criteria"))]:
        row = rows.get((OVERALL, measure))
        shares = _shares(row) if row is not None else None
        if shares is not None:
            distributions.append(Distribution(code, label, shares, int(_number(row.get("n")))))

    breakdowns = {}
    for dimension, table in inputs.breakdowns.items():
        b_rows = _index(table)
        options = _options(q, dimension)
        known = [code for code in options if (code, INDEX) in b_rows]
        others = sorted(k for (k, m) in b_rows if m == INDEX and k != OVERALL and k not in options)
        breakdowns[dimension] = tuple(
            Estimate.from_row(b_rows[(code, INDEX)], code, options.get(code, Text(code, code)), target)
            for code in known + others)
    return Report(inputs=inputs, overall=overall, overall_change=overall_change, factors=factors, units=units,
                  factor_units=factor_units, criteria=criteria, distributions=tuple(distributions),
                  breakdowns=breakdowns, counts=tuple(inputs.counts), weighting=inputs.weighting,
                  small_areas=_small_areas(units))


@dataclass(frozen=True)
class SmallArea:
    """A unit's direct index next to its small-area (Fay–Herriot) estimate (see analysis.sae)."""

    direct: Estimate
    sae: float
    low: float
    high: float
    direct_weight: float
    rank: int | None
    rank_best: int | None
    rank_worst: int | None
    direct_preferred: bool


def _small_areas(units: Sequence["UnitRow"]) -> tuple[SmallArea, ...]:
    out = []
    for u in units:
        row = u.estimate.row
        if math.isnan(_number(row.get("sae_benchmarked"))):
            continue

        def rank(key):
            v = _number(row.get(key))
            return None if math.isnan(v) else int(v)
        out.append(SmallArea(u.estimate, _number(row.get("sae_benchmarked")), _number(row.get("sae_ci_l")),
                             _number(row.get("sae_ci_u")), _number(row.get("sae_direct_weight")),
                             rank("sae_rank"), rank("sae_rank_best"), rank("sae_rank_worst"),
                             _flag(row.get("sae_direct_preferred"))))
    return tuple(sorted(out, key=lambda a: (a.rank is None, a.rank or 0, -a.sae, a.direct.key)))


def _shares(row: Mapping[str, Any]) -> tuple[float, ...] | None:
    """The 1–5 distribution of a row (the engine's ``share_1``..``share_5``), or None."""
    shares = tuple(_number(row.get(f"share_{k}")) for k in range(1, 6))
    return None if any(math.isnan(x) for x in shares) else shares


def _nan_low(value: float) -> float:
    return -math.inf if math.isnan(value) else value


# How the citizen reached the form (responses.channel), in the report's two languages. The same
# names as the staff pages' survey/labels.py (tests/report/test_channel_labels.py holds them equal);
# a copy, because analysis/ imports nothing from survey/.
CHANNEL_LABELS: dict[str, Text] = {
    "qr": Text("Quét mã QR tại cơ quan", "QR code at the office"),
    "web": Text("Trang web (danh sách cơ quan)", "Website (list of offices)"),
    "kiosk": Text("Máy khảo sát tại quầy", "Kiosk at the counter"),
    "paper": Text("Phiếu giấy", "Paper form"),
    "phone": Text("Phỏng vấn qua điện thoại", "Phone interview"),
    "invitation": Text("Thư mời cá nhân (mẫu xác suất)", "Personal invitation (probability sample)"),
}
CHANNELS: tuple[str, ...] = tuple(CHANNEL_LABELS)


def _options(q: Questionnaire, dimension: str) -> dict[str, Text]:
    """The categories of a breakdown, in questionnaire order, with their labels."""
    if dimension == "channel":
        return dict(CHANNEL_LABELS)
    question = next((r for r in q.respondent if r.code == dimension), None)
    return {o.code: o.text for o in question.options} if question else {}
