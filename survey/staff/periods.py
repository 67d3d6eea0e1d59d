"""Dates as staff see them: local days in the city's time zone, weeks, periods.

Stored times are UTC (``YYYY-MM-DDTHH:MM:SSZ``); a local day is turned into a
UTC range with the city's fixed offset (see ``summary.utc_offset_minutes``).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from datetime import date, datetime, time, timedelta, timezone

FIRST_YEAR, LAST_YEAR = 2000, 2100


def now_utc() -> datetime:
    """The current time (tests replace this function to fix 'now')."""
    return datetime.now(timezone.utc)


def local_now(offset_minutes: int) -> datetime:
    """The current local wall-clock time (naive)."""
    return (now_utc() + timedelta(minutes=offset_minutes)).replace(tzinfo=None)


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError(_("The period ends (%(end)s) before it starts (%(start)s).", end=self.end, start=self.start))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def elapsed_days(self, today: date) -> int:
        """Days of the period up to and including ``today`` (0 before it starts)."""
        if today < self.start:
            return 0
        return min(self.days, (today - self.start).days + 1)

    def utc_bounds(self, offset_minutes: int) -> tuple[str, str]:
        """[first, after) as stored UTC strings: local midnight of start and of the day after end."""
        return utc_stamp(self.start, offset_minutes), utc_stamp(self.end + timedelta(days=1), offset_minutes)

    def label(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


def _field_name(name: str) -> str:
    """A form field's name as the page labels it (from → “From”)."""
    return {"from": _("From"), "to": _("To"), "compare_from": _("Compare from"),
            "compare_to": _("Compare to")}.get(name, name)


def utc_stamp(day: date, offset_minutes: int) -> str:
    moment = datetime.combine(day, time(0, 0)) - timedelta(minutes=offset_minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def quarter(day: date) -> Period:
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    end = date(day.year + (first_month == 10), 1 if first_month == 10 else first_month + 3, 1) - timedelta(days=1)
    return Period(start, end)


def week_start(day: date) -> date:
    """Monday of the week of ``day``."""
    return day - timedelta(days=day.weekday())


def parse_date(value: str, name: str) -> date:
    """An ISO date given by a user; ValueError names the field and shows the expected form."""
    text = (value or "").strip()
    try:
        parsed = date.fromisoformat(text)
        if len(text) != 10:
            raise ValueError
    except ValueError:
        raise ValueError(_("%(name)s: “%(value)s” is not a date; write it as YYYY-MM-DD, e.g. 2025-03-31.",
                           name=_field_name(name), value=value)) from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise ValueError(_("%(name)s: %(value)s is outside the years %(first)s–%(last)s.", name=_field_name(name),
                           value=text, first=FIRST_YEAR, last=LAST_YEAR))
    return parsed


def utc_to_local(stamp: str | None, offset_minutes: int) -> str:
    """A stored UTC time as local 'YYYY-MM-DD HH:MM' ('' for none)."""
    if not stamp:
        return ""
    try:
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return stamp
    return (moment + timedelta(minutes=offset_minutes)).strftime("%Y-%m-%d %H:%M")
