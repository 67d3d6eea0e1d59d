"""The written rules (allocation, collapsing of weighting cells, AAPOR rates) do what their docs say."""
from __future__ import annotations

import doctest

import pytest

import analysis.frame
import survey.frames
from analysis.frame import aapor_rates, weighting_cells


@pytest.mark.parametrize("module", [analysis.frame, survey.frames])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def test_aapor_rr1_and_rr3_by_hand():
    # 40 respondents, 20 delivered non-respondents, 30 unknown, 10 ineligible
    e, rr1, rr3 = aapor_rates(40, 20, 30, 10)
    assert e == pytest.approx(60 / 70)
    assert rr1 == pytest.approx(40 / 90)
    assert rr3 == pytest.approx(40 / (60 + 60 / 70 * 30))
    assert rr3 > rr1
    assert aapor_rates(0, 0, 0, 0) == (1.0, None, None)


def test_collapsing_rule():
    m = 10
    # every stratum big enough: one cell each
    assert weighting_cells([1, 1, 2], [10, 11, 12], m) == [[0], [1], [2]]
    # small fields of a unit pooled; the pool is big enough on its own
    assert weighting_cells([1, 1, 1, 1], [20, 6, 5, 0], m) == [[0], [1, 2, 3]]
    # a pool too small joins the unit's smallest big cell
    assert weighting_cells([1, 1, 1], [30, 12, 3], m) == [[0], [1, 2]]
    # a unit with only small strata: the whole unit is one cell
    assert weighting_cells([1, 1], [6, 6], m) == [[0, 1]]
    # units too small pooled together, and with the smallest other cell if still too small
    assert weighting_cells([1, 2, 3], [25, 4, 3], m) == [[0, 1, 2]]
    assert weighting_cells([1, 2, 3, 3], [25, 6, 3, 2], m) == [[0], [1, 2, 3]]
    # every cell ends with at least m respondents whenever the sample has m
    cells = weighting_cells([1, 1, 2, 2, 3, 3, 3], [9, 1, 14, 2, 0, 1, 40], m)
    r = [9, 1, 14, 2, 0, 1, 40]
    assert sorted(h for c in cells for h in c) == list(range(7))
    assert all(sum(r[h] for h in c) >= m for c in cells)
