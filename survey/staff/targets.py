"""Sample targets per unit, the fieldwork period, and the sample-size calculator.

A target is either typed in by an admin or computed from the confidence
interval the survey should reach for a share (e.g. the share satisfied):

    n0 = deff * z^2 * p * (1 - p) / e^2

with ``e`` the half-width of the interval (0.05 for +-5 points), ``z`` the normal
quantile of the confidence level (1.96 for 95 %), ``p`` the assumed share and
``deff`` the design effect (weighting and clustering inflate the variance). With
the unit's population ``N``, the finite population correction gives

    n = n0 / (1 + (n0 - 1) / N)

(Cochran, *Sampling Techniques*, 3rd ed., 1977, eq. 4.2 and 4.3), rounded up.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from statistics import NormalDist

import sqlite_utils
from flask_babel import gettext as _

from . import periods

def formula() -> str:
    """The calculator's formula, its words in the page's language."""
    return "n0 = deff × z² × p(1 − p) / e²;  " + _("with population N:") + " n = n0 / (1 + (n0 − 1) / N)"


@dataclass(frozen=True)
class SampleSize:
    half_width_points: float
    confidence_percent: float
    share_percent: float
    design_effect: float
    population: int | None
    z: float
    n0: float
    n: int

    def describe(self) -> str:
        """The inputs and the calculation, numbers in the page's language (vi: n0 = 1,5 × 1,960² × … = 368,8)."""
        from ..i18n import decimal, number

        text = _("±%(e)s points at %(conf)s %% for an assumed share of %(p)s %% and design effect %(deff)s",
                 e=decimal(self.half_width_points), conf=decimal(self.confidence_percent),
                 p=decimal(self.share_percent), deff=decimal(self.design_effect))
        text += (f": n0 = {decimal(self.design_effect)} × {number(self.z, 3)}² × {decimal(self.share_percent / 100)}"
                 f" × {decimal(1 - self.share_percent / 100)} / {decimal(self.half_width_points / 100)}² = "
                 f"{number(self.n0, 1)}")
        if self.population:
            text += f"; N = {number(self.population)}: n = n0 / (1 + (n0 − 1) / N) = {number(self.n)}"
        else:
            text += f"; n = {number(self.n)}"
        return text


MIN_HALF_WIDTH = 0.1     # points: narrower asks for billions of responses (and 1e-300 divides by zero)
MAX_TARGET = 10_000_000  # the largest target a unit can have (set_target)


def sample_size(*, half_width_points: float, confidence_percent: float = 95.0, share_percent: float = 50.0,
                design_effect: float = 1.0, population: int | None = None) -> SampleSize:
    """Responses needed for a confidence interval of +-``half_width_points`` around a share.

    >>> sample_size(half_width_points=5, share_percent=50).n   # the textbook 385
    385
    """
    from ..i18n import decimal, number

    if not MIN_HALF_WIDTH <= half_width_points < 50:
        raise ValueError(_("± points must be from %(min)s to below 50, not %(value)s.", min=decimal(MIN_HALF_WIDTH),
                           value=decimal(half_width_points)))
    if not 50 <= confidence_percent < 100:
        raise ValueError(_("Confidence must be at least 50 %% and below 100 %%, not %(value)s.",
                           value=decimal(confidence_percent)))
    if not 0 < share_percent < 100:
        raise ValueError(_("The assumed share must be between 0 and 100 %%, not %(value)s.",
                           value=decimal(share_percent)))
    if not 1 <= design_effect <= 20:
        raise ValueError(_("The design effect must be between 1 and 20, not %(value)s.", value=decimal(design_effect)))
    if population is not None and population < 1:
        raise ValueError(f"population must be positive, not {population}")
    z = NormalDist().inv_cdf(0.5 + confidence_percent / 200)
    p, e = share_percent / 100, half_width_points / 100
    n0 = design_effect * z * z * p * (1 - p) / (e * e)
    n = n0 / (1 + (n0 - 1) / population) if population else n0
    if n > MAX_TARGET:
        raise ValueError(_("That precision needs %(n)s responses, more than the %(max)s a target can be: choose a "
                           "wider ± or a lower confidence.", n=number(math.ceil(n)), max=number(MAX_TARGET)))
    return SampleSize(half_width_points, confidence_percent, share_percent, design_effect, population, z, n0,
                      max(1, math.ceil(n - 1e-9)))


def all_targets(db: sqlite_utils.Database) -> dict[int, dict]:
    return {r["unit_id"]: r for r in db.query("SELECT * FROM unit_targets")}


def target_by_unit(db: sqlite_utils.Database) -> dict[int, int]:
    """{unit id: target} (the dashboard's per-unit pass needs no more of :func:`all_targets`)."""
    return dict(db.execute("SELECT unit_id, target FROM unit_targets").fetchall())


def set_target(db: sqlite_utils.Database, unit_id: int, target: int, *, method: str, by: str) -> None:
    if isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= 10_000_000:
        raise ValueError(f"target must be a whole number from 1 to 10,000,000, not {target!r}")
    db.execute("INSERT INTO unit_targets (unit_id, target, method, set_by, set_at) VALUES (?, ?, ?, ?, ?) "
               "ON CONFLICT (unit_id) DO UPDATE SET target = excluded.target, method = excluded.method, "
               "set_by = excluded.set_by, set_at = excluded.set_at",
               [unit_id, target, method, by, periods.now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")])


def clear_target(db: sqlite_utils.Database, unit_id: int) -> None:
    db.execute("DELETE FROM unit_targets WHERE unit_id = ?", [unit_id])


def ci_method(size: SampleSize) -> str:
    return "ci:" + json.dumps({"half_width_points": size.half_width_points,
                               "confidence_percent": size.confidence_percent,
                               "share_percent": size.share_percent, "design_effect": size.design_effect,
                               "population": size.population}, sort_keys=True)


def describe_method(method: str) -> str:
    """A target's method in words ('set by hand' or the CI calculation)."""
    if method.startswith("ci:"):
        try:
            return _("from the CI calculator:") + " " + sample_size(**json.loads(method[3:])).describe()
        except (ValueError, TypeError):
            return method
    return _("set by hand")


def fieldwork(db: sqlite_utils.Database) -> dict | None:
    return next(db.query("SELECT * FROM fieldwork WHERE id = 1"), None)


def fieldwork_period(db: sqlite_utils.Database, today: date) -> periods.Period:
    """The fieldwork period set by an admin, else the calendar quarter of ``today``."""
    row = fieldwork(db)
    if row:
        return periods.Period(date.fromisoformat(row["starts_on"]), date.fromisoformat(row["ends_on"]))
    return periods.quarter(today)


def set_fieldwork(db: sqlite_utils.Database, period: periods.Period, *, by: str) -> None:
    db.execute("INSERT INTO fieldwork (id, starts_on, ends_on, set_by, set_at) VALUES (1, ?, ?, ?, ?) "
               "ON CONFLICT (id) DO UPDATE SET starts_on = excluded.starts_on, ends_on = excluded.ends_on, "
               "set_by = excluded.set_by, set_at = excluded.set_at",
               [period.start.isoformat(), period.end.isoformat(), by,
                periods.now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")])


def clear_fieldwork(db: sqlite_utils.Database) -> None:
    db.execute("DELETE FROM fieldwork WHERE id = 1")
