"""What the dashboard shows: filters, pace against targets, kiosk status, data-quality figures.

Pace: a unit with target T in a period of D days, on its E-th day (today
included), is expected to have ``T * E / D`` responses. Its status is

- **done** when it has collected at least T;
- **on track** when it has at least 90 % of the expected number (the tolerance
  absorbs day-to-day noise and the part of today still to come);
- **behind** otherwise.

A kiosk is **silent** when, on an opening day, at least KIOSK_SILENT_MINUTES
minutes of opening hours have passed since its last submission (or since
today's opening, if that is later); outside opening hours it is **closed**.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from flask_babel import gettext as _
from markupsafe import Markup, escape

from .. import integrity
from ..labels import CHANNELS
from ..i18n import local_date, number, plural as ngettext
from ..numbers import whole_number
from . import periods, queries, summary, targets

PACE_TOLERANCE = 0.9
TREND_DAYS = 14
PAGE_SIZE = 25
KIOSKS_PER_PAGE = 50       # rows of the dashboard's kiosk table
UNITS_PER_PAGE = 50        # rows of the dashboard's unit table (168 wards: 4 pages; 3,321 communes: 67)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FilterError(ValueError):
    """Filters a user gave that cannot be used; ``problems`` name each one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Filters:
    period: periods.Period
    unit: dict | None
    scope: list[int] | None
    custom_period: bool

    def args(self, **extra) -> dict:
        """Query arguments that reproduce these filters (for links)."""
        out = {}
        if self.custom_period:
            out["from"], out["to"] = self.period.start.isoformat(), self.period.end.isoformat()
        if self.unit:
            out["unit"] = self.unit["slug"]
        out.update({k: v for k, v in extra.items() if v not in (None, "")})
        return out


def parse_filters(db, args: Mapping[str, str], default: periods.Period) -> Filters:
    """Filters from query arguments ``from``, ``to`` (YYYY-MM-DD) and ``unit`` (a slug)."""
    problems = []
    start, end = default.start, default.end
    custom = False
    for name in ("from", "to"):
        value = args.get(name, "").strip()
        if value:
            custom = True
            try:
                parsed = periods.parse_date(value, name)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if name == "from":
                start = parsed
            else:
                end = parsed
    if not problems and end < start:
        problems.append(_("The end of the period (%(end)s) is before its start (%(start)s).", end=local_date(end),
                          start=local_date(start)))
    unit = None
    slug = args.get("unit", "").strip()
    if slug:
        unit = queries.unit_by_slug(db, slug)
        if unit is None:
            problems.append(_("Unit: there is no unit “%(slug)s”.", slug=slug))
    if problems:
        raise FilterError(problems)
    scope = queries.unit_scope(db, unit["id"]) if unit else None
    return Filters(periods.Period(start, end), unit, scope, custom)


def parse_page(args: Mapping[str, str]) -> int:
    value = args.get("page", "1").strip() or "1"
    number = whole_number(value, digits=6)
    if number is None or not 1 <= number <= 100_000:
        raise FilterError([_("Page: “%(value)s” is not a page number (1, 2, 3 …).", value=value[:20])])
    return number


def parse_choice(args: Mapping[str, str], name: str, choices: tuple[str, ...], label: str | None = None) -> str:
    """The argument ``name`` if it is one of ``choices`` (default the first); ``label`` names the field
    in the refusal as the page labels it."""
    value = args.get(name, "").strip() or choices[0]
    if value not in choices:
        raise FilterError([_("%(name)s: “%(value)s” is not one of the choices in the list.", name=label or name,
                             value=value[:40])])
    return value


# --- Pace ------------------------------------------------------------------------------------

class Pace(NamedTuple):
    # a named tuple, not a frozen dataclass: the dashboard makes one per unit, 3,321 of them at national scale
    target: int | None
    collected: int
    expected: float | None
    status: str  # 'done' | 'on track' | 'behind' | 'no target'

    @property
    def percent(self) -> float | None:
        return 100.0 * self.collected / self.target if self.target else None


def pace(target: int | None, collected: int, period: periods.Period, today: date,
         days: tuple[int, int] | None = None) -> Pace:
    """``days``: (``period.elapsed_days(today)``, ``period.days``) when the caller has them (once a page)."""
    if not target:
        return Pace(None, collected, None, "no target")
    elapsed, length = days or (period.elapsed_days(today), period.days)
    expected = target * elapsed / length
    if collected >= target:
        status = "done"
    elif collected >= PACE_TOLERANCE * expected:
        status = "on track"
    else:
        status = "behind"
    return Pace(target, collected, expected, status)


# --- Kiosks ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpeningHours:
    days: frozenset[int]
    ranges: tuple[tuple[time, time], ...]

    def open_minutes(self, start: datetime, end: datetime) -> float:
        """Minutes of opening hours between two local times of the same day as ``end``."""
        day = end.date()
        if day.weekday() not in self.days or end <= start:
            return 0.0
        total = 0.0
        for first, last in self.ranges:
            lo = max(start, datetime.combine(day, first))
            hi = min(end, datetime.combine(day, last))
            if hi > lo:
                total += (hi - lo).total_seconds() / 60
        return total

    def is_open(self, moment: datetime) -> bool:
        return moment.weekday() in self.days and any(a <= moment.time() < b for a, b in self.ranges)


def opening_hours(config: Mapping) -> OpeningHours:
    days_text = str(config["OPENING_DAYS"]).lower()
    days = set()
    for name in filter(None, (d.strip() for d in days_text.split(","))):
        if name not in WEEKDAYS:
            raise ValueError(f"setting OPENING_DAYS: {name!r} is not one of {', '.join(WEEKDAYS)}")
        days.add(WEEKDAYS.index(name))
    ranges = []
    for part in filter(None, (p.strip() for p in str(config["OPENING_HOURS"]).split(","))):
        match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", part)
        try:
            first, last = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
            if last <= first:
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(f"setting OPENING_HOURS: {part!r} is not a range like 07:30-11:30") from None
        ranges.append((first, last))
    return OpeningHours(frozenset(days), tuple(sorted(ranges)))


def kiosk_status(kiosk: Mapping, now_local: datetime, hours: OpeningHours, silent_minutes: int,
                 offset_minutes: int) -> tuple[str, str]:
    """(status, explanation) of one kiosk: 'revoked', 'silent', 'active' or 'closed'."""
    if kiosk.get("revoked_at"):
        return "revoked", _("no longer accepts submissions")
    last = kiosk.get("last_submission")
    midnight = datetime.combine(now_local.date(), time(0, 0))
    since = midnight
    if last:
        last_local = datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ") + timedelta(minutes=offset_minutes)
        since = max(midnight, last_local)
    quiet = hours.open_minutes(since, now_local)
    if quiet >= silent_minutes:
        if last:
            return "silent", ngettext("%(num)s minute of opening hours without a submission since its last one",
                                      "%(num)s minutes of opening hours without a submission since its last one",
                                      int(quiet))
        return "silent", ngettext("%(num)s minute of opening hours and it has never sent a submission",
                                  "%(num)s minutes of opening hours and it has never sent a submission", int(quiet))
    if hours.is_open(now_local):
        return "active", _("open now")
    return "closed", _("outside opening hours")


# --- Sparkline -------------------------------------------------------------------------------

def sparkline(values: list[int], days: list[str], *, width: int = 112, height: int = 24) -> Markup:
    """A small inline SVG of daily counts (no script needed); its title lists the numbers."""
    top = max(values) if values and max(values) > 0 else 1
    step = width / max(1, len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values))
    from ..i18n import local_date, number

    title = ", ".join(f"{local_date(d, short=True)}: {v}" for d, v in zip(days, values))
    name = escape(_("Daily responses"))
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{name}">'
        f"<title>{escape(title)}</title>"
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/></svg>')


# --- The dashboard ---------------------------------------------------------------------------

@dataclass
class Dashboard:
    filters: Filters
    today: date
    week_start: date
    now_local: datetime
    totals: dict
    units: list[dict]
    status_counts: dict
    total_pace: Pace
    channels: list[dict]
    fields: list[dict]
    kiosks: list[dict]
    quality: dict
    open_comments: int
    latest_comments: list[dict]
    rules: summary.SummaryRules
    warnings: list[str] = field(default_factory=list)
    integrity: dict = field(default_factory=dict)
    progress: dict | None = None
    units_total: int = 0                 # units in the table before paging (after the search)
    units_page: int = 1
    units_pages: int = 1
    unit_q: str = ""
    kiosks_total: int = 0                # active kiosks (the table shows one page of them)
    kiosks_page: int = 1
    kiosks_pages: int = 1


def field_labels(definition: dict | None) -> dict[str, dict | str]:
    """{field code: bilingual label ({'vi': ..., 'en': ...}, shown with i18n.tr)} from a questionnaire
    definition's respondent question 'field'."""
    labels = {}
    for item in (definition or {}).get("respondent", []):
        if item.get("code") == "field":
            for option in item.get("options", []):
                labels[option.get("code")] = option.get("text")
    return labels


class SummariesMissing(RuntimeError):
    """The summary tables were never built, or by older code (see ``summary``)."""


def effective_rules(db, config: Mapping) -> tuple[summary.SummaryRules, list[str]]:
    """The summary rules in effect, and warnings when the settings ask for others."""
    rules = summary.in_effect(db)
    if rules is None:
        raise SummariesMissing(_("The monitoring summaries are missing or outdated: run "
                                 "“flask --app survey refresh-summaries”."))
    try:
        wanted = summary.rules_from_config(config)
    except ValueError as exc:
        return rules, [_("%(problem)s. Until it is fixed the dashboard uses: %(rules)s.", problem=exc,
                         rules=rules.describe())]
    if wanted != rules:
        return rules, [_("The settings changed; the figures still use the previous rules (%(rules)s). "
                         "Run “flask --app survey refresh-summaries” to apply the new ones.", rules=rules.describe())]
    return rules, []


def build(db, filters: Filters, config: Mapping, rules: summary.SummaryRules, warnings: list[str],
          *, units_page: int = 1, unit_q: str = "", kiosks_page: int = 1) -> Dashboard:
    """The dashboard's figures; the unit table holds the units valid in the period, most behind first,
    filtered by ``unit_q`` (accent- and case-insensitive, part of the name or slug) and cut into pages
    of :data:`UNITS_PER_PAGE` (status counts and totals cover every unit)."""
    simulated = db.execute("SELECT count(*) FROM responses WHERE simulated = 1").fetchone()[0]
    if simulated:
        warnings = [*warnings, ngettext(
            "%(num)s simulated response (demo data) is in this database. It is left out of every figure here, "
            "of exports and of reports unless they are asked to include it. Remove it with "
            "“flask --app survey simulate --remove”.",
            "%(num)s simulated responses (demo data) are in this database. They are left out of every figure "
            "here, of exports and of reports unless they are asked to include them. Remove them with "
            "“flask --app survey simulate --remove”.", simulated)]
    offset = rules.utc_offset_minutes
    now_local = periods.local_now(offset)
    today = now_local.date()
    week = periods.week_start(today)
    period, scope = filters.period, filters.scope
    by_unit = queries.counts_by_unit(db, period, scope)
    channel_counts = queries.counts_by_channel(db, period, scope)
    totals = {
        "today": queries.count_between(db, today.isoformat(), today.isoformat(), scope),
        "week": queries.count_between(db, week.isoformat(), today.isoformat(), scope),
        "period": (sum(c for c, _ in by_unit.values()), sum(e for _, e in by_unit.values())),
    }
    trend_end = min(today, period.end)
    trend_start = max(period.start, trend_end - timedelta(days=TREND_DAYS - 1))
    trend_days = [(trend_start + timedelta(days=i)).isoformat() for i in range((trend_end - trend_start).days + 1)]
    unit_targets = targets.target_by_unit(db)
    units, status_counts = [], {"behind": 0, "on track": 0, "done": 0, "no target": 0}
    target_sum = collected_sum = 0
    pace_days = (period.elapsed_days(today), period.days)
    for unit in queries.reporting_units(db, scope, period, columns=("id", "code", "slug", "name_vi", "name_en")):
        collected, excluded = by_unit.get(unit["id"], (0, 0))
        target = unit_targets.get(unit["id"])
        unit_pace = pace(target, collected, period, today, pace_days)
        status_counts[unit_pace.status] += 1
        if target:
            target_sum += target
            collected_sum += collected
        units.append({"unit": unit, "pace": unit_pace, "excluded": excluded})
    # Integrity: held responses by reason in the period, and an alert on each unit's row while an
    # attack goes on (responses flagged today or yesterday, or answers shifting against the unit's history).
    yesterday = (today - timedelta(days=1)).isoformat()
    recent = integrity.counts_by_unit(db, yesterday, today.isoformat(), scope)
    shifted = integrity.shifts(db, today.isoformat(), scope)
    for row in units:
        flagged = recent.get(row["unit"]["id"], {})
        shift = shifted.get(row["unit"]["id"])
        if not flagged and not shift:          # most units, most days: nothing to show
            row["alert"] = None
            continue
        held = flagged.get("any", {}).get("held", 0)
        reasons = [r for r in integrity.REASONS if sum(flagged.get(r, {}).values())]
        row["alert"] = {"held": held, "flagged": sum(flagged.get("any", {}).values()), "reasons": reasons,
                        "shift": shift} if (held or shift) else None
    integrity_counts = integrity.counts(db, period.start.isoformat(), period.end.isoformat(), scope)
    order = {"behind": 0, "on track": 1, "no target": 2, "done": 3}
    units.sort(key=lambda u: (order[u["pace"].status], u["pace"].percent or 0, u["unit"]["code"]))
    every_unit = units
    wanted = fold(unit_q)
    if wanted:
        units = [u for u in units if wanted in fold(u["unit"]["name_vi"]) or wanted in fold(u["unit"]["name_en"])
                 or wanted in u["unit"]["slug"]]
    alerts = sum(1 for u in units if u["alert"])      # over every unit, before the search and the paging
    units_total = len(units)
    units_pages = max(1, -(-units_total // UNITS_PER_PAGE))
    units_page = min(max(units_page, 1), units_pages)
    units = units[(units_page - 1) * UNITS_PER_PAGE:units_page * UNITS_PER_PAGE]
    shown = [u["unit"]["id"] for u in units]
    daily = queries.daily_by_unit(db, trend_start.isoformat(), trend_end.isoformat(), shown) \
        if trend_days and shown else {}
    for u in units:            # sparklines only for the rows shown
        values = [daily.get(u["unit"]["id"], {}).get(d, 0) for d in trend_days]
        u["trend"] = sparkline(values, trend_days) if trend_days else Markup("")
        u["trend_total"] = sum(values)
    # Over the units that have a target (the per-unit rows show where it is short).
    total_pace = pace(target_sum or None, collected_sum, period, today)
    period_total = totals["period"][0]
    channels = [{"code": c, "n": channel_counts.get(c, 0),
                 "share": 100.0 * channel_counts.get(c, 0) / period_total if period_total else 0.0}
                for c in CHANNELS]
    labels = field_labels(queries.latest_definition(db, config["DEFAULT_QUESTIONNAIRE"]))
    fields = [{"code": code, "label": labels.get(code, code) if code else "", "n": n,
               "share": 100.0 * n / period_total if period_total else 0.0}
              for code, n in queries.counts_by_field(db, period, scope).items() if n]
    limits = queries.speeder_limits(db, float(config["QUALITY_SPEEDER_RATIO"]))
    kiosks_total = queries.count_kiosks(db, scope)
    kiosks_pages = max(1, -(-kiosks_total // KIOSKS_PER_PAGE))
    kiosks_page = min(max(kiosks_page, 1), kiosks_pages)
    kiosk_rows = queries.kiosks(db, scope, today.isoformat(), limit=KIOSKS_PER_PAGE,
                                offset=(kiosks_page - 1) * KIOSKS_PER_PAGE)
    try:
        hours = opening_hours(config)
    except ValueError as exc:
        warnings.append(str(exc))
        hours = OpeningHours(frozenset(), ())
    flags = queries.flag_counts(db, period, offset, scope, limits, [k["id"] for k in kiosk_rows])
    for k in kiosk_rows:
        k["status"], k["status_detail"] = kiosk_status(k, now_local, hours, int(config["KIOSK_SILENT_MINUTES"]), offset)
        k["last_local"] = periods.utc_to_local(k["last_submission"], offset)
        k["flags"] = flags.get(k["id"], {"straightline": 0, "burst": 0, "speeder": 0})
    quality = {
        **queries.flag_totals(db, period, offset, scope, limits),
        "excluded": totals["period"][1],
        "limits": limits,
    }
    open_comments, latest = queries.comments(db, period=period, offset_minutes=offset, scope=scope, search=None,
                                             state="open", limit=5, offset=0)
    for c in latest:
        c["local"] = periods.utc_to_local(c["submitted_at"], offset)
    board = Dashboard(filters, today, week, now_local, totals, units, status_counts, total_pace, channels, fields,
                     kiosk_rows, quality, open_comments, latest, rules, warnings,
                     {"counts": integrity_counts, "labels": integrity.REASON_LABELS, "reasons": integrity.REASONS,
                      "alerts": alerts}, units_total=units_total, units_page=units_page, units_pages=units_pages,
                      unit_q=unit_q, kiosks_total=kiosks_total, kiosks_page=kiosks_page,
                      kiosks_pages=kiosks_pages)
    board.progress = progress(db, filters, today, every_unit)
    return board


def progress(db, filters: Filters, today: date, units: list[dict]) -> dict | None:
    """Responses per day in the period so far, for the units that have a target, against the pace
    needed to reach their targets by the period's end: the chart and its table."""
    period = filters.period
    with_target = [u for u in units if u["pace"].target]
    if not with_target or today < period.start:
        return None
    target = sum(u["pace"].target for u in with_target)
    last = min(today, period.end)
    days = [period.start + timedelta(days=i) for i in range((last - period.start).days + 1)]
    daily = queries.daily_counted(db, period.start.isoformat(), last.isoformat(),
                                  (u["unit"]["id"] for u in with_target), filters.scope)
    counts = [daily.get(d.isoformat(), 0) for d in days]
    rows, total = [], 0
    for d, n in zip(days, counts):
        total += n
        rows.append({"day": d, "n": n, "cumulative": total,
                     "expected": target * period.elapsed_days(d) / period.days})
    left = max(0, target - total)
    needed_now = left / max(1, (period.end - today).days + 1) if today <= period.end else None
    return {"rows": rows, "target": target, "collected": total, "units": len(with_target),
            "even_pace": target / period.days, "needed_now": needed_now, "end": period.end,
            "chart": progress_chart(counts, target / period.days, needed_now)}


def progress_chart(counts: list[int], even_pace: float, needed_now: float | None, *, width: int = 640,
                   height: int = 180) -> Markup:
    """Bars of responses per day; a dashed line at the even pace the targets ask for, a solid one at the
    pace needed from today to reach them by the period's end. Drawn on the server (no script);
    the table next to it holds the same numbers."""
    top = max([*counts, even_pace, needed_now or 0, 1]) * 1.1
    left, bottom, plot_w, plot_h = 36, 20, width - 44, height - 30
    step = plot_w / max(1, len(counts))
    bar = max(1.0, step * 0.8)

    def y(value: float) -> float:
        return 8 + plot_h - value / top * plot_h

    parts = [f'<line class="axis" x1="{left}" y1="{y(0):.1f}" x2="{left + plot_w}" y2="{y(0):.1f}"/>']
    for tick in (0, top / 2, top / 1.1):
        parts.append(f'<text class="tick" x="{left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end">{number(round(tick))}</text>')
    for i, n in enumerate(counts):
        parts.append(f'<rect class="day" x="{left + i * step + (step - bar) / 2:.1f}" y="{y(n):.1f}" '
                     f'width="{bar:.1f}" height="{y(0) - y(n):.1f}"/>')
    parts.append(f'<line class="even" x1="{left}" y1="{y(even_pace):.1f}" x2="{left + plot_w}" '
                 f'y2="{y(even_pace):.1f}"/>')
    if needed_now is not None:
        parts.append(f'<line class="needed" x1="{left}" y1="{y(needed_now):.1f}" x2="{left + plot_w}" '
                     f'y2="{y(needed_now):.1f}"/>')
    return Markup(f'<svg class="progress-chart" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-labelledby="progress-caption">{"".join(parts)}</svg>')


@functools.lru_cache(maxsize=20000)       # unit names, searched on every request of a unit search
def fold(text: str) -> str:
    """Lower case without Vietnamese diacritics (đ -> d), spaces as hyphens: 'Tân Thạnh' -> 'tan-thanh'."""
    from ..units import slugify

    return slugify(text or "")
