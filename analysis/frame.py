"""Design weights of a probability sample drawn from a dossier register (a *frame*).

The survey application (``flask --app survey import-frame`` / ``draw-sample``)
stores, per frame, its strata (unit x field of procedure) with the frame count
``N_h`` and the number sampled ``n_h`` (table ``frame_strata``), which sampled
dossiers are known to be ineligible (``frame_dossiers.ineligible``), and tags
each response given through an invitation with its frame (``responses.frame_id``)
and stratum (``unit_id``, ``field``). This module reads those tables with
:mod:`sqlite3` only.

Weights, in three steps (docs/sampling.md):

1. **Base weight** ``d_h = N_h / n_h`` (the inverse of the inclusion probability of
   simple random sampling without replacement in stratum *h*).
2. **Non-response adjustment** within weighting cells *c*: every respondent of the
   cell is multiplied by ``f_c = sum_{sampled, not ineligible} d / sum_{respondents} d``,
   so the respondents carry the eligible sampled cases of their cell. Known
   ineligible cases carry no weight (they are outside the population).
3. **Collapsing**: a cell starts as one stratum; see :func:`weighting_cells` for
   the rule that merges cells with fewer than ``min_respondents`` respondents.

Variance: stratified, without replacement, with the finite population correction
``(N_h - n_h) / N_h`` (``n_h`` the respondents of the stratum), the final weights
treated as fixed: R's ``svydesign(ids = ~1, strata = ~stratum, fpc = ~N, weights = ~w)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inputs import InputError
from .messages import Note, coded

__all__ = ["MIN_RESPONDENTS", "FrameDesignError", "FrameWeights", "frame_for_period", "frame_weights",
           "weighting_cells", "aapor_rates", "frame_summary"]

MIN_RESPONDENTS = 10
"""Default smallest number of respondents in a non-response weighting cell."""


class FrameDesignError(InputError):
    """The frame's tables cannot give weights (no respondents, unknown frame...)."""


def frame_for_period(conn, date_from, date_to) -> int | None:
    """Id of the frame whose period is exactly ``date_from``..``date_to`` and has a sample, else None."""
    if date_from is None or date_to is None:
        return None
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "frames" not in tables:
        return None
    row = conn.execute("SELECT id FROM frames WHERE period_from = ? AND period_to = ? AND imported_at IS NOT NULL "
                       "AND sampled_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                       [str(date_from), str(date_to)]).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class Cell:
    name: str
    strata: tuple[int, ...]      # indexes into FrameWeights.strata
    respondents: int
    eligible: int
    factor: float


@dataclass(frozen=True)
class FrameWeights:
    """Per respondent (``response_id`` order) and per stratum arrays of a frame's design."""
    response_id: np.ndarray
    unit_id: np.ndarray
    stratum: np.ndarray          # index into strata
    strata: tuple[str, ...]      # "unit-slug|field"
    stratum_unit: np.ndarray     # unit id of each stratum
    population: np.ndarray       # N_h
    sampled: np.ndarray          # n_h
    ineligible: np.ndarray       # known ineligible among the sampled
    respondents: np.ndarray      # r_h
    base: np.ndarray             # per respondent N_h / n_h
    weights: np.ndarray          # per respondent, final
    cells: tuple[Cell, ...]
    min_respondents: int

    def notes(self) -> list[str]:
        """English notes (:class:`~analysis.messages.Note`: codes ``frame.design``, ``frame.counts``, ``frame.cell``)."""
        merged = [c for c in self.cells if len(c.strata) > 1]
        design = {"strata": len(self.strata), "cells": len(self.cells), "min_respondents": self.min_respondents,
                  "collapsed": len(merged)}
        counts = {"population": int(self.population.sum()), "sampled": int(self.sampled.sum()),
                  "ineligible": int(self.ineligible.sum()), "respondents": int(self.respondents.sum())}
        out = [Note("frame.design",
                    f"design: frame sample, {design['strata']} strata (unit x field), base weight N_h/n_h, "
                    f"non-response adjusted in {design['cells']} cell(s) (at least {design['min_respondents']} "
                    f"respondents each, {design['collapsed']} collapsed), finite population correction from N_h",
                    **design),
               Note("frame.counts",
                    f"frame: N = {counts['population']}, sampled {counts['sampled']}, known ineligible "
                    f"{counts['ineligible']}, respondents {counts['respondents']}", **counts)]
        for c in merged:
            out.append(Note("frame.cell", f"cell {c.name}: {c.respondents} respondents, factor {c.factor:.4f}",
                            name=c.name, respondents=c.respondents, factor=c.factor))
        return out


def weighting_cells(units: list[int], respondents: list[int], min_respondents: int) -> list[list[int]]:
    """Group strata into non-response weighting cells.

    ``units[h]`` and ``respondents[h]`` describe stratum *h*. The rule:

    1. Each stratum (unit x field) with at least ``m`` respondents is its own cell.
    2. Within a unit, the strata with fewer than ``m`` respondents are pooled into one
       cell; if that pool still has fewer than ``m``, it joins the unit's cell with
       the fewest respondents (ties: the first in stratum order).
    3. A unit whose strata together have fewer than ``m`` respondents becomes one
       cell pooled with every other such unit; if that pool still has fewer than
       ``m`` it joins the smallest other unit's cell that has the fewest respondents.

    Returns the cells as lists of stratum indexes, in stratum order.

    >>> weighting_cells([1, 1, 1, 2, 2], [12, 3, 4, 20, 1], 10)
    [[0, 1, 2], [3, 4]]
    >>> weighting_cells([1, 1, 2], [15, 12, 3], 10)
    [[0], [1, 2]]
    """
    m = min_respondents
    by_unit: dict[int, list[int]] = {}
    for h, u in enumerate(units):
        by_unit.setdefault(u, []).append(h)
    unit_cells: dict[int, list[list[int]]] = {}
    small_units: list[int] = []
    for u, strata in by_unit.items():
        if sum(respondents[h] for h in strata) < m:
            small_units.append(u)
            continue
        big = [[h] for h in strata if respondents[h] >= m]
        pool = [h for h in strata if respondents[h] < m]
        if pool:
            if sum(respondents[h] for h in pool) >= m or not big:
                big.append(pool)
            else:
                target = min(big, key=lambda c: (sum(respondents[h] for h in c), c[0]))
                target.extend(pool)
        unit_cells[u] = big
    cells = [c for u in unit_cells for c in unit_cells[u]]
    if small_units:
        pool = [h for u in small_units for h in by_unit[u]]
        if sum(respondents[h] for h in pool) < m and cells:
            target = min(cells, key=lambda c: (sum(respondents[h] for h in c), c[0]))
            target.extend(pool)
        else:
            cells.append(pool)
    return sorted((sorted(c) for c in cells), key=lambda c: c[0])


def frame_weights(conn, frame_id: int, *, min_respondents: int = MIN_RESPONDENTS,
                  response_ids=None) -> FrameWeights:
    """The design of frame ``frame_id`` for its respondents (responses with that frame, not excluded).

    ``response_ids``, when given, restricts the respondents (e.g. to one questionnaire);
    the cells and factors are then computed from those respondents.
    """
    if min_respondents < 1:
        raise coded(FrameDesignError, "frame.min_cell", f"the smallest weighting cell must have at least 1 respondent, "
                    f"not {min_respondents}", min_respondents=min_respondents)
    strata_rows = conn.execute(
        "SELECT s.id, s.unit_id, u.slug, s.field, s.population, s.sampled, "
        "(SELECT count(*) FROM frame_dossiers d WHERE d.stratum_id = s.id AND d.sampled = 1 AND d.ineligible = 1) "
        "FROM frame_strata s JOIN units u ON u.id = s.unit_id WHERE s.frame_id = ? AND s.sampled > 0 "
        "ORDER BY u.slug, s.field", [frame_id]).fetchall()
    if not strata_rows:
        raise coded(FrameDesignError, "frame.no_stratum", f"frame {frame_id} has no sampled stratum", frame=frame_id)
    index = {(r[1], r[3]): h for h, r in enumerate(strata_rows)}
    resp = conn.execute("SELECT id, unit_id, coalesce(field, '') FROM responses WHERE frame_id = ? AND "
                        "excluded_at IS NULL ORDER BY id", [frame_id]).fetchall()
    if response_ids is not None:
        keep = set(int(i) for i in np.asarray(response_ids).tolist())
        resp = [r for r in resp if r[0] in keep]
    if not resp:
        raise coded(FrameDesignError, "frame.no_respondents", f"frame {frame_id} has no respondents yet", frame=frame_id)
    stray = [r for r in resp if (r[1], r[2]) not in index]
    if stray:
        raise coded(FrameDesignError, "frame.stray_response", f"response id {stray[0][0]} of frame {frame_id} is in "
                    f"no sampled stratum (unit id {stray[0][1]}, field {stray[0][2]!r})", response=stray[0][0],
                    frame=frame_id, unit_id=stray[0][1], field=stray[0][2])
    H = len(strata_rows)
    rid = np.array([r[0] for r in resp], dtype=np.int64)
    h_of = np.array([index[(r[1], r[2])] for r in resp], dtype=np.int64)
    N = np.array([r[4] for r in strata_rows], dtype=float)
    n = np.array([r[5] for r in strata_rows], dtype=float)
    inel = np.array([r[6] for r in strata_rows], dtype=float)
    r_h = np.bincount(h_of, minlength=H)
    d = N / n
    cells_idx = weighting_cells([r[1] for r in strata_rows], r_h.tolist(), min_respondents)
    factor_h = np.zeros(H)
    cells = []
    for c in cells_idx:
        c_arr = np.array(c)
        eligible = float(np.sum(d[c_arr] * (n[c_arr] - inel[c_arr])))
        responded = float(np.sum(d[c_arr] * r_h[c_arr]))
        if responded == 0:
            raise coded(FrameDesignError, "frame.no_respondent_at_all", f"frame {frame_id}: no respondent at all",
                        frame=frame_id)
        factor = eligible / responded
        factor_h[c_arr] = factor
        name = " + ".join(f"{strata_rows[h][2]}|{strata_rows[h][3]}" for h in c)
        cells.append(Cell(name, tuple(c), int(r_h[c_arr].sum()), int((n[c_arr] - inel[c_arr]).sum()), factor))
    base = d[h_of]
    w = base * factor_h[h_of]
    return FrameWeights(response_id=rid, unit_id=np.array([r[1] for r in resp], dtype=np.int64), stratum=h_of,
                        strata=tuple(f"{r[2]}|{r[3]}" for r in strata_rows),
                        stratum_unit=np.array([r[1] for r in strata_rows], dtype=np.int64), population=N,
                        sampled=n, ineligible=inel, respondents=r_h, base=base, weights=w, cells=tuple(cells),
                        min_respondents=min_respondents)


def aapor_rates(responded: int, eligible_nonresponse: int, unknown: int, ineligible: int
                ) -> tuple[float, float | None, float | None]:
    """``(e, RR1, RR3)`` under AAPOR's Standard Definitions (docs/sampling.md).

    ``responded`` I: complete responses; ``eligible_nonresponse`` R + NC + O: the invitation
    was delivered, no response (the register says the person is eligible); ``unknown``
    UH + UO: no response and delivery not confirmed; ``ineligible``: known not eligible.
    e = (I + R) / (I + R + ineligible); RR1 = I / (I + R + U); RR3 = I / (I + R + e U).

    >>> aapor_rates(30, 10, 50, 10)
    (0.8, 0.3333333333333333, 0.375)
    """
    known = responded + eligible_nonresponse + ineligible
    e = (responded + eligible_nonresponse) / known if known else 1.0
    d1 = responded + eligible_nonresponse + unknown
    d3 = responded + eligible_nonresponse + e * unknown
    return e, (responded / d1 if d1 else None), (responded / d3 if d3 else None)


def frame_summary(conn, frame_id: int) -> dict:
    """Period, N, sampled, delivered, responded, known ineligible, e, RR1 and RR3 of a frame."""
    period = conn.execute("SELECT period_from, period_to FROM frames WHERE id = ?", [frame_id]).fetchone()
    N = conn.execute("SELECT coalesce(sum(population), 0) FROM frame_strata WHERE frame_id = ?", [frame_id]).fetchone()[0]
    sampled, delivered, responded, ineligible, unknown, eligible_nr = conn.execute(
        "SELECT count(*), coalesce(sum(delivered), 0), coalesce(sum(responded), 0), coalesce(sum(ineligible), 0), "
        "coalesce(sum(responded = 0 AND ineligible = 0 AND delivered = 0), 0), "
        "coalesce(sum(responded = 0 AND ineligible = 0 AND delivered = 1), 0) "
        "FROM frame_dossiers WHERE frame_id = ? AND sampled = 1", [frame_id]).fetchone()
    e, rr1, rr3 = aapor_rates(responded, eligible_nr, unknown, ineligible)
    return {"frame_id": frame_id, "period_from": period[0], "period_to": period[1], "population": N,
            "sampled": sampled, "delivered": delivered, "responded": responded, "ineligible": ineligible,
            "unknown": unknown, "eligible_nonresponse": eligible_nr, "e": e, "rr1": rr1, "rr3": rr3}
