import pytest

from survey import units


def write(tmp_path, text, name="units.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """code,slug,name_vi,name_en,kind,parent,population
26734,phuong-sai-gon,Phường Sài Gòn,Saigon Ward,phuong,,47000
26735,phuong-tan-dinh,Phường Tân Định,Tan Dinh Ward,phuong,,51000
"""


def test_demo_loads_hcmc_and_its_22_districts_with_census_margins(db):
    added, _ = units.load_demo(db)
    assert added == 23
    leaves = units.leaf_units(db)
    assert len(leaves) == 22
    assert {u["slug"] for u in leaves} >= {"quan-1", "thanh-pho-thu-duc", "huyen-can-gio"}
    assert "tp-ho-chi-minh" not in {u["slug"] for u in leaves}
    # 2019 census: Thu Duc City 1,169,967 people; the city 4,381,242 men and 4,611,840 women
    assert units.by_slug(db, "thanh-pho-thu-duc")["population"] == 1169967
    gender = {r["category"]: r["population"] for r in db.query(
        "SELECT category, p.population FROM unit_population p JOIN units u ON u.id = p.unit_id "
        "WHERE u.slug = 'tp-ho-chi-minh' AND dimension = 'gender'")}
    assert gender == {"male": 4381242, "female": 4611840}
    bands = list(db.query("SELECT category, p.population FROM unit_population p JOIN units u ON u.id = p.unit_id "
                          "WHERE u.slug = 'quan-1' AND dimension = 'age_band' ORDER BY category"))
    assert [b["category"] for b in bands] == sorted(units.AGE_BANDS)
    # Quận 1: 0.4 * 9,531 (ages 15-19) + 10,365 (20-24)
    assert dict((b["category"], b["population"]) for b in bands)["18-24"] == pytest.approx(0.4 * 9531 + 10365)


def test_loading_the_demo_twice_changes_nothing(db):
    units.load_demo(db)
    before = list(db.query("SELECT * FROM units ORDER BY id"))
    assert units.load_demo(db) == (0, 23)
    assert list(db.query("SELECT * FROM units ORDER BY id")) == before


def test_import_adds_units_under_a_parent_and_updates_by_slug(db, tmp_path):
    units.load_demo(db)
    rows = units.read_units_csv(write(tmp_path, GOOD))
    assert units.import_units(db, rows, default_parent="tp-ho-chi-minh") == (2, 0)
    ward = units.by_slug(db, "phuong-sai-gon")
    assert ward["name_vi"] == "Phường Sài Gòn" and ward["population"] == 47000
    assert units.by_id(db, ward["parent_id"])["slug"] == "tp-ho-chi-minh"
    rows = units.read_units_csv(write(tmp_path, GOOD.replace("Saigon Ward", "Sai Gon Ward")))
    assert units.import_units(db, rows) == (0, 2)
    assert units.by_slug(db, "phuong-sai-gon")["name_en"] == "Sai Gon Ward"


@pytest.mark.parametrize("text, expected", [
    ("code,slug,name_vi,kind\n1,a,A,quan\n", "line 1: missing column(s): name_en"),
    (GOOD + ",phuong-x,X,X,phuong,,\n", "line 4: column code: is empty"),
    (GOOD + "9,Phuong X,X,X,phuong,,\n", "line 4: column slug: 'Phuong X' must be lower-case"),
    (GOOD + "9,phuong-sai-gon,X,X,phuong,,\n", "line 4: column slug: 'phuong-sai-gon' repeats line 2"),
    (GOOD + "9,phuong-x,X,X,phuong,,-5\n", "line 4: column population: '-5' is not a positive whole number"),
    (GOOD + "9,phuong-x,X,X,phuong,,many\n", "line 4: column population: 'many' is not a positive whole number"),
    (GOOD + "9,phuong-x,X,X,phuong,,1,extra\n", "line 4: more cells than columns"),
    ("code,slug,name_vi,name_en,kind\n", "no unit rows"),
])
def test_bad_csv_rows_are_reported_by_line_and_nothing_is_imported(db, tmp_path, text, expected):
    with pytest.raises(units.UnitImportError) as error:
        units.read_units_csv(write(tmp_path, text))
    assert expected in str(error.value)
    assert "nothing imported" in str(error.value)
    assert db.execute("SELECT count(*) FROM units").fetchone()[0] == 0


def test_unknown_parent_and_taken_code_are_refused_before_writing(db, tmp_path):
    units.load_demo(db)
    before = db.execute("SELECT count(*) FROM units").fetchone()[0]
    rows = units.read_units_csv(write(tmp_path, GOOD))
    with pytest.raises(units.UnitImportError, match="unknown unit 'nowhere'"):
        units.import_units(db, rows, default_parent="nowhere")
    taken = units.read_units_csv(write(tmp_path, "code,slug,name_vi,name_en,kind,period\n760,quan-mot,Q1,D1,quan,2021-2025\n"))
    with pytest.raises(units.UnitImportError, match="already belongs to unit 'quan-1'"):
        units.import_units(db, taken)
    assert db.execute("SELECT count(*) FROM units").fetchone()[0] == before


def test_period_filter_picks_one_period_of_the_shared_file(tmp_path):
    from importlib import resources

    with resources.as_file(resources.files("survey") / "data" / "hcmc_units.csv") as path:
        assert len(units.read_units_csv(path, period="2016-2020")) == 24
        assert len(units.read_units_csv(path, period="2021-2025")) == 22
        with pytest.raises(units.UnitImportError, match="repeats line"):
            units.read_units_csv(path)  # both periods: slugs repeat


def test_a_file_that_is_not_utf8_csv_is_refused(tmp_path):
    path = tmp_path / "units.csv"
    path.write_bytes("code,slug,name_vi,name_en,kind\n1,quan-1,Qu\u1eadn 1,D1,quan\n".encode("utf-16"))
    with pytest.raises(units.UnitImportError):
        units.read_units_csv(path)


def test_two_units_of_one_file_with_the_same_code_are_refused(db, tmp_path):
    rows = units.read_units_csv(write(tmp_path, "code,slug,name_vi,name_en,kind\n0,a,A,A,x\n0,b,B,B,x\n"))
    with pytest.raises(units.UnitImportError, match="is also given to unit 'a' in the same file"):
        units.import_units(db, rows)
    assert db.execute("SELECT count(*) FROM units").fetchone()[0] == 0
