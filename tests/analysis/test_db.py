"""Reading the survey database: the same numbers as from a CSV, exclusions, periods in the city's
time zone, questionnaire versions aligned by criterion code, the four weightings, clear errors.

The database is a real SQLite file built with the application's own migrations, demo units
(HCMC's 22 districts with 2019 census margins), questionnaire catalogue and storage code; the
analysis package itself never imports the application.
"""
from __future__ import annotations

import csv
import json
import uuid
from datetime import date

import numpy as np
import pytest

import analysis
from analysis.__main__ import main
from analysis.db import DbError, load_db
from questionnaires.loader import Questionnaire, load
from survey import catalog, simulate, units
from survey.db import connect
from survey.migrations import migrate
from survey.responses import Response, save_many

from pathlib import Path

MINIMAL = Path(__file__).resolve().parent.parent / "questionnaires" / "minimal.toml"


def new_db(path):
    db = connect(path)
    migrate(db)
    units.load_demo(db)
    return db


def unit_id(db, slug):
    return db.execute("SELECT id FROM units WHERE slug = ?", [slug]).fetchone()[0]


def minimal_version(version: int, criteria: list[dict] | None = None) -> Questionnaire:
    d = load(MINIMAL).to_dict()
    d["version"] = version
    if criteria is not None:
        d["criteria"] = criteria
    return Questionnaire.from_json(json.dumps(d))


def response(q, unit, answers, *, when="2024-03-10T03:00:00Z", gender="male", age="25-34", **kw):
    return Response(uuid=str(uuid.uuid4()), questionnaire_id=q.id, questionnaire_version=q.version, unit_id=unit,
                    channel="kiosk", lang="vi", started_at=when, submitted_at=when, answers=answers,
                    respondent={"gender": gender, "age_band": age}, **kw)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """3,000 simulated responses to the shipped 26-criterion questionnaire."""
    path = tmp_path_factory.mktemp("db") / "survey.sqlite3"
    db = new_db(path)
    catalog.register_shipped(db)
    q = catalog.latest(db, "sipas-hcm-26")
    simulate.simulate(db, q, 3000, seed=7, start=date(2024, 1, 1), end=date(2024, 6, 30))
    with db.conn:  # these simulated responses stand in for real ones (reports leave simulated ones out)
        db.execute("UPDATE responses SET simulated = 0")
    db.close()
    return path


def test_database_and_csv_of_the_same_responses_give_the_same_table(simulated, tmp_path):
    data = load_db(simulated, weights="design")
    from_db = analysis.compute_table(data)
    # the same respondents written in the CSV format, with the weights the reader computed
    survey_csv = tmp_path / "survey.csv"
    with open(survey_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["respondent_id", "district", "stratum", "weight", *data.items])
        for i in range(data.n):
            w.writerow([data.respondent_id[i], data.districts[data.district[i]], data.strata[data.stratum[i]],
                        repr(float(data.weights[i])), *[a or "" for a in data.answers[i].tolist()]])
    factors_csv = tmp_path / "factors.csv"
    factors_csv.write_text("item,factor\n" + "".join(f"{i},{f}\n" for i, f in data.factor_of.items()))
    from_csv = analysis.compute_table(analysis.read_csv(survey_csv, factors=factors_csv))
    assert len(from_db) == len(from_csv) == 23 * (26 + 6 * 3 + 4)
    for a, b in zip(from_db.rows(), from_csv.rows()):
        assert (a["district"], a["measure"]) == (b["district"], b["measure"])
        for k, v in a.items():
            if isinstance(v, float):
                assert b[k] == pytest.approx(v, rel=1e-12, abs=1e-12), (a["district"], a["measure"], k)


def test_units_are_the_districts_and_design_weights_add_up_to_their_population(simulated):
    data = load_db(simulated, weights="design")
    db = connect(simulated)
    pop = {r["slug"]: r["population"] for r in db.query("SELECT slug, population FROM units")}
    assert len(data.districts) == 22 and "quan-1" in data.districts
    for d, slug in enumerate(data.districts):
        assert data.weights[data.district == d].sum() == pytest.approx(pop[slug])
    assert data.strata == data.districts
    assert set(data.factor_of.values()) == {"F1", "F2", "F3", "F4", "F5", "F6"}


def test_poststratified_and_raked_weights_meet_their_margins(simulated):
    db = connect(simulated)
    age = {(r["slug"], r["category"]): r["population"] for r in db.query(
        "SELECT u.slug, p.category, p.population FROM unit_population p JOIN units u ON u.id = p.unit_id "
        "WHERE p.dimension = 'age_band'")}
    rows = list(db.query("SELECT r.id, u.slug, r.age_band, r.gender FROM responses r JOIN units u "
                         "ON u.id = r.unit_id ORDER BY r.id"))
    for scheme in ("poststratify", "rake"):
        data = load_db(simulated, weights=scheme)
        order = np.argsort(data.respondent_id)
        w = data.weights[order]
        cells = np.array([f"{r['slug']}|{r['age_band']}" for r in rows])
        for (slug, band), total in age.items():
            assert w[cells == f"{slug}|{band}"].sum() == pytest.approx(total, rel=1e-6)
        if scheme == "rake":
            # the city's gender totals describe all ages: they are met as shares
            male = w[np.array([r["gender"] for r in rows]) == "male"].sum() / w.sum()
            assert male == pytest.approx(4381242 / (4381242 + 4611840), rel=1e-6)
            assert any("raking converged" in n for n in data.notes)


def test_unweighted_analysis_gives_every_response_weight_one(simulated):
    data = load_db(simulated, weights="none")
    assert np.all(data.weights == 1)
    t = analysis.compute_table(data)
    assert t.row("ALL", "q01")["sum_w"] == t.row("ALL", "q01")["n"]


@pytest.fixture
def small(tmp_path):
    """A database with the minimal questionnaire (3 criteria) and hand-made responses."""
    path = tmp_path / "small.sqlite3"
    db = new_db(path)
    q1 = minimal_version(1)
    catalog.register(db, q1)
    return path, db, q1


def test_excluded_responses_are_left_out(small):
    path, db, q = small
    u = unit_id(db, "quan-1")
    save_many(db, [response(q, u, "44-", when=f"2024-03-0{i}T03:00:00Z") for i in range(1, 4)]
              + [response(q, u, "1-5")])
    with db.atomic():
        db.execute("UPDATE responses SET excluded_at = '2024-04-01T00:00:00Z', excluded_by = 'staff', "
                   "excluded_reason = 'test' WHERE answers = '1-5'")
    data = load_db(path, weights="none")
    assert data.n == 3
    assert analysis.compute_table(data).row("quan-1", "c1")["p"] == 1.0


def test_period_days_are_counted_in_the_city_time_zone(small):
    path, db, q = small
    u = unit_id(db, "quan-1")
    # 16:59:59Z is 23:59:59 on 31 January in Ho Chi Minh City (UTC+7); 17:00:00Z is already 1 February
    save_many(db, [response(q, u, "1-1", when="2024-01-31T16:59:59Z"),
                   response(q, u, "5-5", when="2024-01-31T17:00:00Z"),
                   response(q, u, "4-4", when="2024-02-29T16:59:59Z"),
                   response(q, u, "3-3", when="2024-02-29T17:00:00Z")])
    feb = load_db(path, date_from="2024-02-01", date_to="2024-02-29", weights="none")
    assert sorted(feb.answers[:, 0].tolist()) == [4, 5]
    jan = load_db(path, date_to="2024-01-31", weights="none")
    assert jan.answers[:, 0].tolist() == [1]
    utc = load_db(path, date_from="2024-02-01", date_to="2024-02-29", weights="none", tz="UTC")
    assert sorted(utc.answers[:, 0].tolist()) == [3, 4]


def test_versions_are_aligned_by_criterion_code(small):
    path, db, q1 = small
    crit = {c["code"]: c for c in q1.to_dict()["criteria"]}
    new = dict(crit["c1"], code="c4")
    q2 = minimal_version(2, [crit["c3"], crit["c1"], new])      # c2 dropped, c3 moved first, c4 added
    catalog.register(db, q2)
    u = unit_id(db, "quan-1")
    save_many(db, [response(q1, u, "451"), response(q1, u, "2n5"),     # v1: c1, c2, c3
                   response(q2, u, "534"), response(q2, u, "-15")])    # v2: c3, c1, c4
    data = load_db(path, weights="none")
    assert data.items == ("c3", "c1", "c4", "c2")        # newest order, then criteria only older versions ask
    got = {tuple(r) for r in data.answers.tolist()}
    assert got == {(1, 4, 0, 5), (5, 2, 0, 0), (5, 3, 4, 0), (0, 1, 5, 0)}
    t = analysis.compute_table(data)
    assert t.row("quan-1", "c1")["n"] == 4 and t.row("quan-1", "c2")["n"] == 1 and t.row("quan-1", "c4")["n"] == 2
    assert any("v1 (2 responses), v2 (2 responses)" in n for n in data.notes)


def test_criterion_weights_come_from_the_questionnaire(small):
    path, db, q = small
    save_many(db, [response(q, unit_id(db, "quan-1"), "451")])
    data = load_db(path, weights="none")
    assert dict(zip(data.items, data.item_weights.tolist())) == {"c1": 1.0, "c2": 2.0, "c3": 1.0}


def test_missing_age_band_is_an_error_unless_dropped(small):
    path, db, q = small
    u = unit_id(db, "quan-1")
    bands = ("18-24", "25-34", "35-49", "50-59", "60+")
    save_many(db, [response(q, u, "444", age=a) for a in bands] + [response(q, u, "555", age=None)])
    with pytest.raises(DbError, match=r"1 response\(s\) lack an age band.*--drop-incomplete"):
        load_db(path, weights="poststratify")
    with pytest.raises(DbError, match="lack an age band or a gender"):
        load_db(path, weights="rake")
    data = load_db(path, weights="poststratify", drop_incomplete=True, units=["quan-1"])
    assert data.n == 5 and any("dropped 1 response(s)" in n for n in data.notes)


def test_poststratification_refuses_empty_cells_by_name(small):
    path, db, q = small
    save_many(db, [response(q, unit_id(db, "quan-1"), "444", age="25-34")])
    with pytest.raises(DbError, match=r"have a population but no respondent: 'quan-1 x 18-24'"):
        load_db(path, weights="poststratify")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"questionnaire": "nope"}, "unknown questionnaire 'nope' (known: minimal)"),
    ({"units": ["quan-99"]}, "unknown unit 'quan-99'"),
    ({"date_from": "2030-01-01"}, "no responses in 2030-01-01"),
    ({"date_from": "01/02/2024"}, "--from must be a date YYYY-MM-DD"),
    ({"date_from": "2024-03-01", "date_to": "2024-02-01"}, "ends (2024-02-01) before it starts"),
    ({"weights": "magic"}, "weights must be one of"),
    ({"tz": "Mars/Olympus"}, "unknown time zone"),
])
def test_bad_requests_are_refused_clearly(small, kwargs, fragment):
    path, db, q = small
    save_many(db, [response(q, unit_id(db, "quan-1"), "444")])
    with pytest.raises(DbError) as err:
        load_db(path, **kwargs)
    assert fragment in str(err.value)


def test_several_questionnaires_need_a_choice(small):
    path, db, q = small
    other = Questionnaire.from_json(json.dumps(dict(q.to_dict(), id="other")))
    catalog.register(db, other)
    u = unit_id(db, "quan-1")
    save_many(db, [response(q, u, "444"), response(other, u, "111")])
    with pytest.raises(DbError, match=r"several questionnaires: minimal \(1 responses\), other \(1 responses\)"):
        load_db(path, weights="none")
    assert load_db(path, questionnaire="other", weights="none").answers.tolist() == [[1, 1, 1]]


def test_a_parent_unit_selects_its_districts(simulated):
    whole = load_db(simulated, weights="none", units=["tp-ho-chi-minh"])
    assert len(whole.districts) == 22
    two = load_db(simulated, weights="none", units=["quan-1", "quan-3"])
    assert two.districts == ("quan-1", "quan-3")


def test_not_a_survey_database_is_refused(tmp_path):
    bad = tmp_path / "x.sqlite3"
    connect(bad).execute("CREATE TABLE t (x)")
    with pytest.raises(DbError, match="not a survey database"):
        load_db(bad)
    with pytest.raises(DbError, match="no such database file"):
        load_db(tmp_path / "missing.sqlite3")


def test_cli_reads_the_database_and_reports_the_weighting(simulated, tmp_path, capsys):
    out = tmp_path / "indices.csv"
    assert main(["indices", "--db", str(simulated), "--from", "2024-01-01", "--to", "2024-03-31",
                 "--weights", "rake", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "raking converged" in err and "period: 2024-01-01 .. 2024-03-31" in err
    rows = list(csv.DictReader(open(out)))
    assert {r["district"] for r in rows} >= {"ALL", "quan-1", "huyen-can-gio"}
    assert rows[0]["level"] == "overall" and rows[0]["measure"] == "q01"


def test_versions_of_different_lengths_are_decoded_by_their_own_width(small):
    path, db, q1 = small
    crit = {c["code"]: c for c in q1.to_dict()["criteria"]}
    q2 = minimal_version(2, [crit["c1"], crit["c2"], crit["c3"], dict(crit["c1"], code="c4"), dict(crit["c1"], code="c5")])
    catalog.register(db, q2)
    u = unit_id(db, "quan-1")
    save_many(db, [response(q1, u, "123"), response(q2, u, "45n21"), response(q1, u, "5-4")])
    data = load_db(path, weights="none")
    assert data.items == ("c1", "c2", "c3", "c4", "c5")
    assert sorted(map(tuple, data.answers.tolist())) == [(1, 2, 3, 0, 0), (4, 5, 0, 2, 1), (5, 0, 4, 0, 0)]


def test_answer_string_of_the_wrong_length_is_refused_naming_the_response(small):
    path, db, q = small
    u = unit_id(db, "quan-1")
    save_many(db, [response(q, u, "444"), response(q, u, "555")])
    with db.atomic():   # written around the storage code, which would refuse it
        db.execute("UPDATE responses SET answers = '4444' WHERE answers = '555'")
    bad_id = db.execute("SELECT id FROM responses WHERE answers = '4444'").fetchone()[0]
    with pytest.raises(DbError, match=rf"response id {bad_id}: answers '4444' have 4 characters but version 1 "
                                      r"of 'minimal' has 3 criteria"):
        load_db(path, weights="none")


def test_age_band_without_margins_is_refused_with_an_example(small):
    path, db, q = small
    u = unit_id(db, "quan-1")
    save_many(db, [response(q, u, "444", age="15-17")])
    with pytest.raises(DbError, match=r"1 response\(s\) have a value of age_band without population margins .*'15-17'"):
        load_db(path, weights="poststratify")


def test_cli_warns_when_raking_stops_before_the_margins_are_met(simulated, tmp_path, capsys):
    out = tmp_path / "indices.csv"
    assert main(["indices", "--db", str(simulated), "--weights", "rake", "--rake-max-iter", "1",
                 "--rake-tol", "1e-12", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "raking did NOT converge after 1 iteration(s)" in err and "WARNING" in err
    assert out.exists()


def test_a_load_spec_gives_the_same_data_as_the_keywords_and_is_frozen(simulated):
    """One design object carries the period, filters and weighting; the keyword form builds the same."""
    import dataclasses

    from analysis.db import Filters, LoadSpec, Period, Weighting

    spec = LoadSpec(Period("2024-01-01", "2024-12-31"), Filters(units=("quan-1", "quan-3")), Weighting("rake"))
    by_spec = load_db(simulated, spec=spec)
    by_keywords = load_db(simulated, date_from="2024-01-01", date_to="2024-12-31", units=["quan-1", "quan-3"],
                          weights="rake")
    assert by_spec.districts == by_keywords.districts == ("quan-1", "quan-3")
    assert np.array_equal(by_spec.weights, by_keywords.weights)
    assert np.array_equal(by_spec.answers, by_keywords.answers)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.weighting = Weighting("none")
    design_only = load_db(simulated, spec=dataclasses.replace(spec, weighting=Weighting("design")))
    assert not np.array_equal(design_only.weights, by_spec.weights)
    with pytest.raises(TypeError, match="either spec"):
        load_db(simulated, spec=spec, weights="none")
    with pytest.raises(DbError, match="weights must be one of"):
        Weighting("calibrate")
    with pytest.raises(DbError, match="ends .* before it starts"):
        Period("2024-02-01", "2024-01-01")


def test_raked_and_poststratified_database_weights_get_the_calibration_variance(simulated, tmp_path, capsys):
    for scheme, what in (("poststratify", "post-stratification to unit x age_band"),
                         ("rake", "raking to unit x age_band, gender")):
        data = load_db(simulated, weights=scheme)
        assert data.calibration is not None
        cal = analysis.compute_table(data).select(measure="INDEX:ITEM_AVG", level="district")
        fixed = analysis.compute_table(data, calibrated=False).select(measure="INDEX:ITEM_AVG", level="district")
        assert np.array_equal(cal.columns["p"], fixed.columns["p"])
        ratio = fixed.columns["se"] / cal.columns["se"]
        assert 1.0 < np.median(ratio) < 1.2, ratio
        out = tmp_path / f"{scheme}.csv"
        assert main(["indices", "--db", str(simulated), "--weights", scheme, "--out", str(out)]) == 0
        assert f"variance: calibration (g-weight residual) variance for the {what}" in capsys.readouterr().err
    assert load_db(simulated, weights="design").calibration is None
