"""Reading a period that holds most of the table by a table scan (issue 16): the same responses in the
same order as through the time index, so every estimate is the same to the last bit. Responses are
written out of time order (as paper forms typed in later are), so the two reads differ unless the
scan puts its rows back in the index's order."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

import analysis
from analysis import db as dbmod
from analysis.db import load_db
from survey.responses import save_many

from survey import catalog

from .test_db import minimal_version, response, small, unit_id  # noqa: F401  (small: the fixture)

SLUGS = ("quan-1", "quan-3", "quan-5", "quan-binh-thanh")


def _fill(db, versions, n=240, seed=3):
    rng = random.Random(seed)
    units_ = [unit_id(db, s) for s in SLUGS]
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(n):
        when = (start + timedelta(minutes=rng.randrange(0, 60 * 24 * 60))).strftime("%Y-%m-%dT%H:%M:%SZ")
        q = versions[i % len(versions)]
        width = len(q.to_dict()["criteria"])
        answers = "".join(rng.choice("12345-n") for _ in range(width))
        rows.append(response(q, rng.choice(units_), answers, when=when))
    rows.append(response(versions[0], units_[0], "1" * len(versions[0].to_dict()["criteria"]),
                         when=rows[0].submitted_at))       # two responses at the same second
    rng.shuffle(rows)                                      # written in no particular time order
    save_many(db, rows)


def _both(path, monkeypatch, **kw):
    calls = []
    real = dbmod._time_order_ids

    def spy(*a):
        got = real(*a)
        calls.append(got is not None)
        return got
    monkeypatch.setattr(dbmod, "_time_order_ids", spy)
    monkeypatch.setattr(dbmod, "SCAN_SHARE", 2.0)          # never: read through the time index
    indexed = load_db(path, **kw)
    monkeypatch.setattr(dbmod, "SCAN_SHARE", 0.0)          # always when the plan uses the time index
    scanned = load_db(path, **kw)
    return indexed, scanned, calls


def _assert_same(a, b):
    assert a.districts == b.districts and a.items == b.items
    for name in ("respondent_id", "answers", "weights", "district", "stratum"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    ta, tb = analysis.compute_table(a).columns, analysis.compute_table(b).columns
    for k in ta:
        assert np.array_equal(np.asarray(ta[k]), np.asarray(tb[k]), equal_nan=ta[k].dtype.kind == "f"), k


@pytest.mark.parametrize("weights", ["none", "design"])
def test_a_table_scan_gives_the_responses_in_the_time_index_order(small, monkeypatch, weights):
    path, db, q1 = small
    q2 = minimal_version(2)
    catalog.register(db, q2)
    _fill(db, [q1, q2])
    indexed, scanned, calls = _both(path, monkeypatch, date_from="2024-03-01", date_to="2024-04-29", weights=weights)
    assert calls == [False, True]                          # the second read did scan the table
    ids = indexed.respondent_id
    assert not np.all(np.diff(ids) > 0)                    # the index's order is not the table's
    _assert_same(indexed, scanned)


def test_answer_strings_of_several_lengths_fall_back_to_the_index(small, monkeypatch):
    path, db, q1 = small
    crit = {c["code"]: c for c in q1.to_dict()["criteria"]}
    q2 = minimal_version(2, [crit["c1"], crit["c2"], crit["c3"], dict(crit["c1"], code="c4")])
    catalog.register(db, q2)
    _fill(db, [q1, q2])
    indexed, scanned, calls = _both(path, monkeypatch, date_from="2024-03-01", date_to="2024-04-29", weights="none")
    assert calls == [False, True]
    assert indexed.items == ("c1", "c2", "c3", "c4")
    _assert_same(indexed, scanned)


def test_no_period_reads_the_table_as_before(small, monkeypatch):
    path, db, q1 = small
    _fill(db, [q1])
    indexed, scanned, calls = _both(path, monkeypatch, weights="none")
    assert calls == [False, False]                         # no time index in the plan: nothing to change
    _assert_same(indexed, scanned)
