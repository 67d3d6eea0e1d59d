"""Indices across a reform: new units grouped by the former unit they took their area from.

After the 1 July 2025 reform a district's 2024 index can only be compared with the index of its
area now, i.e. of the new units grouped under it (``unit_crosswalk``, ``main = 1``). This module
reads the crosswalk from the survey database (read-only, nothing from the web application) and
computes, for each former unit, the SIPAS index (``INDEX:ITEM_AVG``) of the new units grouped
under it and of the former unit itself, with the same design and intervals as the engine
(:func:`analysis.report.domains.index_by`: units are the strata, so a group is a domain).

The caveat: the documents of the reform give neither areas nor populations per part, so where a
new unit straddles a former boundary (a ``partial`` link) the area of the group and the former
unit's area differ. Every row names the straddling units; ``caveat`` is empty when there are none.
"""
from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .inputs import SurveyData

__all__ = ["FormerUnit", "read_crosswalk", "group_codes", "compare_former", "COLUMNS"]

COLUMNS = ("former_unit", "former_name_vi", "former_name_en", "new_units", "n_now", "index_now", "ci_low_now",
           "ci_high_now", "n_before", "index_before", "ci_low_before", "ci_high_before", "change", "change_ci_low",
           "change_ci_high", "straddling", "caveat")


@dataclass(frozen=True)
class FormerUnit:
    slug: str
    name_vi: str
    name_en: str
    new_units: tuple[str, ...]          # slugs of the new units grouped under it (main links)
    straddling: tuple[str, ...]         # slugs of new units that took only part of their area from it
    straddling_names: tuple[tuple[str, str], ...] = ()   # (name_vi, name_en) of those

    def caveat(self, lang: str = "en") -> str:
        if not self.straddling:
            return ""
        names = ", ".join(vi if lang == "vi" else en for vi, en in self.straddling_names)
        if lang == "vi":
            return (f"{len(self.straddling)} đơn vị mới chỉ nhận một phần địa bàn từ {self.name_vi} ({names}): "
                    "địa bàn so sánh không trùng khớp hoàn toàn với địa bàn cũ.")
        return (f"{len(self.straddling)} new unit(s) took only part of their area from {self.name_en} ({names}): "
                "the area compared is not exactly the former one.")


def _connect(db) -> sqlite3.Connection:
    if isinstance(db, sqlite3.Connection):
        return db
    path = Path(db)
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        conn = sqlite3.connect(str(path))
    return conn


def read_crosswalk(db) -> list[FormerUnit]:
    """The former units of the crosswalk (in code order of those that are units here, then by slug).

    ``db`` is a path or an open :mod:`sqlite3` connection; a database without the
    ``unit_crosswalk`` table (made before migration 0006) has none.
    """
    conn = _connect(db)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'unit_crosswalk'").fetchone():
            return []
        groups: dict[str, dict] = {}
        for old, vi, en, relation, main, slug, new_vi, new_en in conn.execute(
                "SELECT x.old_slug, x.old_name_vi, x.old_name_en, x.relation, x.main, u.slug, u.name_vi, u.name_en "
                "FROM unit_crosswalk x JOIN units u ON u.id = x.new_unit_id ORDER BY u.name_vi"):
            g = groups.setdefault(old, {"vi": vi, "en": en, "new": [], "partial": []})
            if main:
                g["new"].append(slug)
            if relation == "partial":
                g["partial"].append((slug, new_vi, new_en))
        codes = dict(conn.execute("SELECT slug, code FROM units"))
    finally:
        if not isinstance(db, sqlite3.Connection):
            conn.close()
    out = [FormerUnit(old, g["vi"], g["en"], tuple(g["new"]), tuple(s for s, _, _ in g["partial"]),
                      tuple((vi, en) for _, vi, en in g["partial"])) for old, g in groups.items()]
    out.sort(key=lambda f: (f.slug not in codes, codes.get(f.slug, ""), f.slug))
    return out


def group_codes(data: SurveyData, former: Sequence[FormerUnit], *, side: str) -> np.ndarray:
    """The group (index into ``former``) of each respondent, -1 for none.

    ``side="now"``: respondents of the new units, by the former unit they are grouped under;
    ``side="before"``: respondents of the former units themselves.
    """
    if side not in ("now", "before"):
        raise ValueError("side must be 'now' or 'before'")
    index = {}
    for i, f in enumerate(former):
        if side == "now":
            index.update({slug: i for slug in f.new_units})
        else:
            index[f.slug] = i
    of_label = np.array([index.get(label, -1) for label in data.districts], dtype=np.intp)
    return of_label[data.district] if data.n else np.zeros(0, dtype=np.intp)


def compare_former(now: SurveyData, former: Sequence[FormerUnit], before: SurveyData | None = None, *,
                   level: float = 0.95, lang: str = "en") -> list[dict]:
    """One row per former unit (columns :data:`COLUMNS`): its area's index now beside its own before.

    ``now`` holds the period with the new units; ``before`` the period with the former units
    (default: ``now`` itself, for a period that spans the reform). Indices are shares (0..1),
    intervals logit (Korn-Graubard where the logit interval is undefined), the change's interval
    from the two independent samples' standard errors with a normal quantile.
    """
    from scipy.stats import norm

    from .report.domains import index_by

    before = now if before is None else before
    labels = [f.slug for f in former]
    rows_now = {r["district"]: r for r in index_by(now, group_codes(now, former, side="now"), labels, level=level,
                                                   target=None)} if former else {}
    rows_before = {r["district"]: r for r in index_by(before, group_codes(before, former, side="before"), labels,
                                                      level=level, target=None)} if former else {}
    z = float(norm.ppf(0.5 + level / 2))
    out = []
    for f in former:
        a, b = rows_now.get(f.slug), rows_before.get(f.slug)
        row = {"former_unit": f.slug, "former_name_vi": f.name_vi, "former_name_en": f.name_en,
               "new_units": len(f.new_units), "straddling": ";".join(f.straddling), "caveat": f.caveat(lang)}
        for side, r in (("now", a), ("before", b)):
            row[f"n_{side}"] = r["n"] if r else 0
            row[f"index_{side}"] = r["p"] if r else None
            row[f"ci_low_{side}"] = _low(r) if r else None
            row[f"ci_high_{side}"] = _high(r) if r else None
        if a and b:
            diff, se = a["p"] - b["p"], math.sqrt(a["se"] ** 2 + b["se"] ** 2)
            row.update(change=diff, change_ci_low=diff - z * se, change_ci_high=diff + z * se)
        else:
            row.update(change=None, change_ci_low=None, change_ci_high=None)
        out.append(row)
    return out


def _low(r: dict):
    return r["ci_logit_l"] if r["ci_logit_l"] is not None else r["ci_kg_l"]


def _high(r: dict):
    return r["ci_logit_u"] if r["ci_logit_u"] is not None else r["ci_kg_u"]
