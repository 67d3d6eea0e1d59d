"""Do the 95 % intervals cover the true value 95 % of the time?

A finite population of 300,000 people in three strata with different satisfaction; each
replicate draws a disproportionate stratified sample of n = 200 (so weights differ by a
factor of ~10 between strata) and estimates with the real engine. The 2,000 replicates are
2,000 units of one table (each unit its own strata), which is the same computation as 2,000
separate analyses. True values are computed from the population itself.
"""
from __future__ import annotations

import numpy as np
import pytest

from analysis import SurveyData, compute_table

REPLICATES = 2000
STRATA_N = np.array([150_000, 100_000, 50_000])
SAMPLE_N = np.array([60, 60, 80])                  # n = 200; weights 2500, 1667, 625
J = 4


@pytest.fixture(scope="module")
def simulation():
    rng = np.random.default_rng(20240601)
    stratum = np.repeat(np.arange(3), STRATA_N)
    person = np.array([-0.4, 0.2, 0.8])[stratum] + rng.normal(0, 1, stratum.size)
    latent = 3.2 + person[:, None] + rng.normal(0, 0.9, (stratum.size, J)) + np.linspace(-0.3, 0.3, J)
    scores = np.clip(np.rint(latent), 1, 5).astype(np.uint8)
    truth = {
        "q01": (scores[:, 0] >= 4).mean(),
        "INDEX:ITEM_AVG": (scores >= 4).mean(axis=0).mean(),
        "INDEX:POOLED": (scores >= 4).mean(),
        "mean_q02": scores[:, 1].mean(),
    }
    offsets = np.concatenate(([0], np.cumsum(STRATA_N)[:-1]))
    rows, weights, unit, strat = [], [], [], []
    for r in range(REPLICATES):
        for h in range(3):
            idx = offsets[h] + rng.choice(STRATA_N[h], SAMPLE_N[h], replace=False)
            rows.append(scores[idx])
            weights.append(np.full(SAMPLE_N[h], STRATA_N[h] / SAMPLE_N[h]))
            unit.append(np.full(SAMPLE_N[h], r))
            strat.append(np.full(SAMPLE_N[h], r * 3 + h))
    data = SurveyData.from_arrays(np.concatenate(rows).astype(float), np.concatenate(weights),
                                  np.concatenate(unit), stratum=np.concatenate(strat))
    table = compute_table(data, overall=False)
    return table, truth


def covered(table, measure, truth, low, high, value="p"):
    sel = table.select(measure=measure, level="district").columns
    assert len(sel[value]) == REPLICATES and np.all(sel["n"] == 200)
    return np.mean((sel[low] <= truth) & (truth <= sel[high]))


def test_logit_intervals_cover_the_true_share_95_percent_of_the_time(simulation):
    table, truth = simulation
    sel = table.select(measure="q01").columns
    assert sel["deff_kish"][0] > 1.25                    # the weights really are unequal (Kish deff 1.27)
    coverage = covered(table, "q01", truth["q01"], "ci_logit_l", "ci_logit_u")
    assert 0.935 <= coverage <= 0.965, coverage


def test_korn_graubard_intervals_cover_at_least_nominally(simulation):
    table, truth = simulation
    coverage = covered(table, "q01", truth["q01"], "ci_kg_l", "ci_kg_u")
    assert 0.935 <= coverage <= 0.965, coverage


@pytest.mark.parametrize("measure", ["INDEX:ITEM_AVG", "INDEX:POOLED"])
def test_index_intervals_cover_the_true_index(simulation, measure):
    table, truth = simulation
    coverage = covered(table, measure, truth[measure], "ci_logit_l", "ci_logit_u")
    assert 0.935 <= coverage <= 0.965, coverage


def test_mean_score_intervals_cover_the_true_mean(simulation):
    table, truth = simulation
    true100 = 25 * (truth["mean_q02"] - 1)
    coverage = covered(table, "q02", true100, "ci_mean100_l", "ci_mean100_u", value="mean100")
    assert 0.935 <= coverage <= 0.965, coverage


def test_point_estimates_are_unbiased(simulation):
    table, truth = simulation
    p = table.select(measure="q01").columns["p"]
    se = table.select(measure="q01").columns["se"]
    # the mean of 2,000 estimates is within 4 Monte Carlo standard errors of the truth
    assert abs(p.mean() - truth["q01"]) < 4 * p.std() / np.sqrt(REPLICATES)
    # and the average estimated SE matches the spread of the estimates (within 5 %)
    assert se.mean() == pytest.approx(p.std(), rel=0.05)
