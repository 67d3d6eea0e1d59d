"""Shared helpers: where the frozen R numbers live and how a table is compared with them."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reference"
LABELS = ("level", "district", "measure", "measure_type", "factor")
TOL = 1e-9
# R's svyciprop(method = "logit") bounds (criterion and RESP rows) come from an IRLS fit stopped at
# glm's tolerance; each meta file states how far they are from the closed form the analysis computes.
SVYCIPROP_ROWS = ("item", "index_resp", "factor_resp")


def svyciprop_gap(meta: Path) -> float:
    text = meta.read_text()
    m = re.search(r"self-check max \|manual CI - svyciprop CI\| over \d+ rows: ([0-9.e+-]+|NaN)", text)
    if not m or m.group(1) == "NaN":
        return TOL
    # the meta file rounds to 3 digits; our closed form and R's own are within 1e-10 of each other
    return max(TOL, float(m.group(1)) * 1.005 + 1e-10)


def read_oracle(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def compare_with_r(table, oracle: Path, *, skip_measures=()) -> dict:
    """Check every number R gives; return the largest difference per column.

    NA in R must be NA (None) in the table; TRUE/FALSE flags must be equal; numbers within
    ``TOL`` (the R svyciprop logit bounds within the gap stated in the meta file).
    """
    gap = svyciprop_gap(oracle.with_name(oracle.name + ".meta.txt"))
    worst: dict[str, float] = {}
    problems = []
    rows = [r for r in read_oracle(oracle) if r["measure"] not in skip_measures]
    assert rows, f"no rows in {oracle}"
    for r in rows:
        mine = table.row(r["district"], r["measure"])
        for col, value in r.items():
            if col in LABELS:
                if col in ("level", "measure_type"):
                    assert mine[col] == value, (r["district"], r["measure"], col)
                continue
            got = mine[col]
            where = (r["district"], r["measure"], col, value, got)
            if value in ("", "NA"):
                if got is not None:
                    problems.append(("R has NA",) + where)
                continue
            if value in ("TRUE", "FALSE"):
                if got != (value == "TRUE"):
                    problems.append(("flag",) + where)
                continue
            if got is None:
                problems.append(("we have NA",) + where)
                continue
            tol = gap if col.startswith("ci_logit") and r["measure_type"] in SVYCIPROP_ROWS else TOL
            diff = abs(float(value) - got)
            worst[col] = max(worst.get(col, 0.0), diff)
            if diff > tol:
                problems.append((f"differs by {diff:.2e} > {tol:.1e}",) + where)
    assert not problems, f"{len(problems)} cell(s) differ from R, e.g. {problems[:5]}"
    return worst


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
