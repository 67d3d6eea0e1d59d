"""Report inputs made from the frozen R `survey` reference tables (tests/report/data/, copied from
shared/reference): the renderers are tested on numbers that R computed, independently of the engine.

basic/: 6 districts x 300 respondents, stratified, 26 items in 5 factors.
clustered/: 4 districts x 240 plus a 12-respondent district (D6_tiny) that carries every
"too few responses" flag; used here as the breakdown tables and as the "few" unit.
"""
from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

import questionnaires
from analysis.report.model import MarginFit, Period, ReportInputs, UnitCounts, Weighting
from questionnaires.loader import Questionnaire

DATA = Path(__file__).parent / "data"

# District codes of the reference data -> (slug, name_vi, name_en): real names, with diacritics.
UNITS = {
    "D1": ("quan-binh-thanh", "Quận Bình Thạnh", "Binh Thanh District"),
    "D2": ("quan-go-vap", "Quận Gò Vấp", "Go Vap District"),
    "D3": ("huyen-can-gio", "Huyện Cần Giờ", "Can Gio District"),
    "D4": ("quan-phu-nhuan", "Quận Phú Nhuận", "Phu Nhuan District"),
    "D5": ("huyen-hoc-mon", "Huyện Hóc Môn", "Hoc Mon District"),
    "D6": ("thanh-pho-thu-duc", "Thành phố Thủ Đức", "Thu Duc City"),
    "D6_tiny": ("huyen-nha-be", "Huyện Nhà Bè", "Nha Be District"),
}
CHANNEL_OF = {"D1": "kiosk", "D2": "phone", "D3": "web", "D4": "paper", "D6_tiny": "paper-tiny"}
FIELD_OF = {"D1": "land", "D2": "construction", "D3": "civil_status", "D4": "business", "D5": "justice",
            "D6": "other"}


def read(kind: str, name: str) -> list[dict]:
    with open(DATA / kind / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def questionnaire() -> Questionnaire:
    """The shipped 26-criterion questionnaire with the reference data's 5 factors."""
    data = questionnaires.get("sipas-hcm-26").to_dict()
    factor_of = {r["item"]: r["factor"] for r in read("basic", "factors.csv")}
    data["factors"] = [f for f in data["factors"] if f["code"] in set(factor_of.values())]
    for c in data["criteria"]:
        c["factor"] = factor_of[c["code"]]
    return Questionnaire.from_json(json.dumps(data), name="oracle-test")


def relabel(rows: list[dict], mapping: dict[str, str]) -> list[dict]:
    return [{**r, "district": mapping.get(r["district"], r["district"])} for r in rows]


def distributions(q: Questionnaire) -> dict[str, list[float]]:
    """Weighted shares of answers 1..5 per factor (averaged over the factor's items), from survey.csv.

    R's reference output has no 1-5 distribution; the engine adds it as share_1..share_5 (the mean over
    the factor's criteria of each criterion's weighted shares), so the fixture computes it the same way.
    """
    rows = read("basic", "survey.csv")
    w = np.array([float(r["weight"]) for r in rows])
    items = [c.code for c in q.criteria]
    answers = np.array([[int(r[i]) if r[i] else 0 for i in items] for r in rows])
    per_item = []
    for j in range(len(items)):
        a = answers[:, j]
        answered = a > 0
        per_item.append([w[answered & (a == s)].sum() / w[answered].sum() for s in range(1, 6)])
    per_item = np.array(per_item)
    shares = {}
    for f in q.factors:
        idx = [j for j, c in enumerate(q.criteria) if c.factor == f.code]
        shares[f"FACTOR:{f.code}:ITEM_AVG"] = per_item[idx].mean(axis=0).tolist()
    shares["INDEX:ITEM_AVG"] = per_item.mean(axis=0).tolist()
    return shares


def with_shares(rows: list[dict], shares: dict[str, list[float]]) -> list[dict]:
    out = []
    for r in rows:
        if r["district"] == "ALL" and r["measure"] in shares:
            r = {**r, **{f"share_{k + 1}": v for k, v in enumerate(shares[r["measure"]])}}
        out.append(r)
    return out


def inputs(*, target: float | None = 0.5, compare: bool = True, few_unit: bool = True) -> ReportInputs:
    q = questionnaire()
    slugs = {k: v[0] for k, v in UNITS.items()}
    table = relabel(read("basic", "oracle_output.csv"), slugs)
    clustered = read("clustered", "oracle_output.csv")
    units = [dict(slug=s, name_vi=vi, name_en=en) for k, (s, vi, en) in UNITS.items() if k != "D6_tiny"]
    if few_unit:
        # The clustered data's 12-respondent district joins as a seventh unit with every flag raised.
        table += relabel([r for r in clustered if r["district"] == "D6_tiny"], slugs)
        units.append(dict(slug=slugs["D6_tiny"], name_vi=UNITS["D6_tiny"][1], name_en=UNITS["D6_tiny"][2]))
    compare_table = relabel(read("clustered", "oracle_output.csv"), {"D1": slugs["D1"], "D2": slugs["D2"],
                                                                      "D3": slugs["D3"], "D4": slugs["D4"]})
    table = with_shares(table, distributions(q))
    survey = read("basic", "survey.csv")
    counts = []
    for code, (slug, vi, en) in UNITS.items():
        if code == "D6_tiny" and not few_unit:
            continue
        total = sum(1 for r in survey if r["district"] == code) or 12
        counts.append(UnitCounts(slug, questionnaires.loader.Text(vi, en), total + 3, 3, total,
                                 {"kiosk": total // 2, "phone": total // 3, "web": total - total // 2 - total // 3}))
    margins = []
    for cat, pop, samp, wt in (("18-24", 0.14, 0.20, 0.141), ("25-34", 0.26, 0.30, 0.259), ("35-49", 0.30, 0.28, 0.300),
                               ("50-59", 0.15, 0.12, 0.150), ("60+", 0.15, 0.10, 0.150)):
        margins.append(MarginFit("age_band", "ALL", cat, pop, int(samp * 1800), samp, wt))
    for cat, pop, samp, wt in (("male", 0.487, 0.45, 0.487), ("female", 0.513, 0.55, 0.513)):
        margins.append(MarginFit("gender", "ALL", cat, pop, int(samp * 1800), samp, wt))
    weighting = Weighting(method="raking", dimensions=("age_band", "gender"), margins=tuple(margins),
                          weight_min=250.0, weight_max=1400.0, weight_mean=296.9, deff_kish=1.43,
                          n_eff_kish=1258.5, iterations=6, converged=True)
    return ReportInputs(
        questionnaire=q, period=Period(date(2024, 1, 1), date(2024, 12, 31)), units=units, table=table,
        breakdowns={"channel": relabel(clustered, CHANNEL_OF),
                    "field": relabel(read("basic", "oracle_output.csv"), FIELD_OF),
                    "respondent_type": relabel([r for r in clustered if r["district"] in ("D1", "D2")],
                                               {"D1": "individual", "D2": "organisation"})},
        counts=counts, weighting=weighting,
        exclusions={"duplicate": 12, "test": 5, "": 4}, target=target,
        compare_period=Period(date(2023, 1, 1), date(2023, 12, 31)) if compare else None,
        compare_table=compare_table if compare else None,
        generated_at=datetime(2025, 1, 15, 3, 0, tzinfo=timezone.utc), source="oracle-fixture.sqlite3",
        engine={"version": "reference tables of R survey 4.1"})


def without_compare(inp: ReportInputs) -> ReportInputs:
    return replace(inp, compare_period=None, compare_table=None)
