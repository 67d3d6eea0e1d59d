"""Ranks with their plausible range are computed by binary search (a national table ranks ~100,000 units):
the same numbers as the definition, pair by pair."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from analysis.judgements import rank_with_range

values = st.sampled_from([0.0, 0.1, 0.5, 0.5, 0.9, 1.0, float("nan"), float("-inf"), float("inf")]) | \
    st.floats(0, 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(values, values, values), min_size=1, max_size=30))
def test_ranks_equal_their_pairwise_definition(rows):
    p, lo, hi = (np.array(c, dtype=float) for c in zip(*rows))
    rank, best, worst = rank_with_range(p, lo, hi)
    m = p.size
    lo_ = np.where(np.isnan(lo), -np.inf, lo)
    hi_ = np.where(np.isnan(hi), np.inf, hi)
    assert rank.tolist() == [1 + np.sum(p > x) for x in p]
    assert best.tolist() == [1 + np.sum(lo_ > hi_[i]) for i in range(m)]
    assert worst.tolist() == [m - np.sum(hi_ < lo_[i]) for i in range(m)]
