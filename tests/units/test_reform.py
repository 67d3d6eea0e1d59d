"""The 1 July 2025 reform: two periods of units, responses tied to the unit valid on their date,
old links that explain, provinces, crosswalk and margins imports (real CLI, real SQLite file)."""
from __future__ import annotations

import re
import sqlite3
from datetime import date, timedelta

import pytest

from survey import responses as store, units
from survey.kiosk import kiosks

from .conftest import text


def count(db, sql, params=()):
    return db.execute(sql, params).fetchone()[0]


def test_demo_is_hcmc_today_with_the_22_districts_as_the_previous_period(db):
    wards = list(db.query("SELECT * FROM units WHERE period = '2025'"))
    assert len(wards) == 168
    assert sorted({(k, sum(w["kind"] == k for w in wards)) for k in ("phuong", "xa", "dac_khu")}) == \
        [("dac_khu", 1), ("phuong", 113), ("xa", 54)]
    assert {(w["valid_from"], w["valid_to"]) for w in wards} == {("2025-07-01", None)}
    districts = list(db.query("SELECT * FROM units WHERE period = '2021-2025'"))
    assert len(districts) == 22 and {(d["valid_from"], d["valid_to"]) for d in districts} == {("2021-01-01", "2025-06-30")}
    city = db.execute("SELECT id FROM units WHERE slug = 'tp-ho-chi-minh'").fetchone()[0]
    assert {w["parent_id"] for w in wards} == {city} == {d["parent_id"] for d in districts}
    # who responses can belong to, by date
    assert {u["slug"] for u in units.leaf_units(db, date(2025, 6, 30))} == {d["slug"] for d in districts}
    assert {u["slug"] for u in units.leaf_units(db, date(2025, 7, 1))} == {w["slug"] for w in wards}
    assert len(units.leaf_units(db)) == 168          # today
    assert count(db, "SELECT count(*) FROM unit_crosswalk WHERE main = 1") == 168


def test_init_db_province_loads_any_of_the_34_and_refuses_an_unknown_code(cli, db):
    result = cli("init-db", "--province", "01")
    assert result.exit_code == 0, result.output
    assert "Province 01: 127 units added" in result.output      # Hà Nội and its 126 communes
    hanoi = db.execute("SELECT id, name_vi, name_en, kind FROM units WHERE code = '01'").fetchone()
    assert hanoi[1:] == ("Thành phố Hà Nội", "Ha Noi City", "thanh_pho")
    assert count(db, "SELECT count(*) FROM units WHERE parent_id = ? AND valid_from = '2025-07-01'", [hanoi[0]]) == 126
    assert count(db, "SELECT count(*) FROM units WHERE slug = 'phuong-hoan-kiem' AND parent_id = ?", [hanoi[0]]) == 1
    before = count(db, "SELECT count(*) FROM units")
    bad = cli("init-db", "--province", "03")
    assert bad.exit_code == 1 and "unknown province code '03'" in bad.output and "79 Hồ Chí Minh" in bad.output
    assert count(db, "SELECT count(*) FROM units") == before
    again = cli("init-db", "--province", "1")
    assert "0 units added, 127 already present" in again.output


def test_two_provinces_share_a_database_without_slug_clashes(cli, db):
    # Xã Tân Thạnh (Tây Ninh, 27826) and Xã Tân Thành (Đồng Tháp, 29938) both slug to xa-tan-thanh...
    assert cli("init-db", "--province", "80").exit_code == 0
    assert cli("init-db", "--province", "82").exit_code == 0
    slugs = {r[0]: r[1] for r in db.execute("SELECT code, slug FROM units WHERE code IN ('27826', '29938', '25534')")}
    assert len(set(slugs.values())) == 3
    assert count(db, "SELECT count(*) FROM units WHERE valid_from = '2025-07-01'") == 168 + 96 + 102


def test_a_response_is_stored_against_the_unit_valid_on_its_local_date(db):
    quan_1 = units.by_slug(db, "quan-1")
    ward = units.by_slug(db, "phuong-sai-gon")

    def response(unit, submitted):
        return store.Response(uuid=f"{unit['id']:08d}-{submitted[:10]}", questionnaire_id="sipas-hcm-26",
                              questionnaire_version=1, unit_id=unit["id"], channel="qr", lang="vi",
                              started_at=submitted, submitted_at=submitted, answers="4" * 26)
    # 30 June 2025 23:30 in Ho Chi Minh City is 16:30 UTC: still the district's last day
    assert store.save(db, response(quan_1, "2025-06-30T16:30:00Z"))
    # 1 July 2025 00:30 local (17:30 UTC on 30 June): the district no longer exists
    with pytest.raises(sqlite3.IntegrityError, match="unit not valid on the response date"):
        store.save(db, response(quan_1, "2025-06-30T17:30:00Z"))
    with pytest.raises(sqlite3.IntegrityError):
        store.save(db, response(ward, "2025-06-30T16:30:00Z"))      # the ward did not exist yet
    assert store.save(db, response(ward, "2025-06-30T17:30:00Z"))
    assert count(db, "SELECT count(*) FROM responses") == 2


def test_simulating_across_the_reform_uses_each_days_units(cli, db):
    result = cli("simulate", "--responses", 4000, "--seed", 5, "--period", "2025-06-16:2025-07-15")
    assert result.exit_code == 0, result.output
    rows = list(db.query("SELECT u.period, date(r.submitted_at, '+420 minutes') AS day, u.slug "
                         "FROM responses r JOIN units u ON u.id = r.unit_id"))
    assert len(rows) == 4000
    assert all((r["period"] == "2021-2025") == (r["day"] <= "2025-06-30") for r in rows)
    assert len({r["slug"] for r in rows if r["period"] == "2025"}) > 150       # most of the 168 got some
    assert len({r["slug"] for r in rows if r["period"] == "2021-2025"}) == 22


def test_an_old_district_link_explains_and_links_the_wards_that_took_over(reform_app, db):
    client = reform_app.test_client()
    page = client.get("/u/quan-1")
    assert page.status_code == 410
    shown = text(page)
    assert "Quận 1 không còn tồn tại" in shown and "Từ ngày 1/7/2025" in shown
    links = re.findall(r'<a href="/u/([a-z0-9-]+)">([^<]+)</a>', page.get_data(as_text=True))
    assert links == [("phuong-ben-thanh", "Phường Bến Thành"), ("phuong-cau-ong-lanh", "Phường Cầu Ông Lãnh"),
                     ("phuong-sai-gon", "Phường Sài Gòn"), ("phuong-tan-dinh", "Phường Tân Định")]
    english = text(client.get("/u/quan-1?lang=en"))
    assert "District 1 no longer exists" in english and "Since 1 July 2025" in english and "Sai Gon Ward" in english
    # a district whose area straddles: District 8's own wards first, then those that took part of it
    page8 = client.get("/u/quan-8?lang=vi").get_data(as_text=True)
    main, partly = page8.split("Một phần khu vực cũng thuộc")
    assert "Phường Chánh Hưng" in main and "Phường Bình Phú" in partly and "Xã Bình Hưng" in partly
    # the links work: the ward's questionnaire opens
    assert client.get("/u/phuong-sai-gon").status_code == 200
    # a form posted to the old link stores nothing and says so
    posted = client.post("/u/quan-1", data={"submission_id": "x"})
    assert posted.status_code == 410 and "không còn tồn tại" in text(posted)
    assert count(db, "SELECT count(*) FROM responses") == 0
    # an address that never existed is still a plain 404 (too many units to list: a link to the picker)
    unknown = client.get("/u/quan-99")
    assert unknown.status_code == 404 and "/u/phuong" not in unknown.get_data(as_text=True)


def test_the_picker_groups_the_168_by_former_district(reform_app):
    page = reform_app.test_client().get("/").get_data(as_text=True)
    groups = re.findall(r'<h2 id="([^"]+)">([^<]+)<span class="count">([^<]+)</span>', page)
    assert len(groups) == 22 + 16                 # the 22 districts and 16 of Bình Dương and Bà Rịa–Vũng Tàu
    by_name = {name.strip(): n for _, name, n in groups}
    assert by_name["Khu vực Quận 1 cũ"] == "4 đơn vị"
    assert by_name["Khu vực Thành phố Thủ Đức cũ"] == "12 đơn vị"
    assert len(re.findall(r'href="/u/[a-z0-9-]+\?ch=web"', page)) == 168
    section = page.split('id="g-former-quan-1"')[1].split("</section>")[0]
    assert "Phường Sài Gòn" in section and "Phường Tân Định" in section


def test_a_kiosk_of_a_district_sends_its_queue_after_the_reform(reform_app, db):
    """A kiosk registered before the reform sends its queue after 30 June: a response's date is when
    the server receives it (migration 0004b), so it is refused with the reason and kept on the device."""
    from tests.kiosk.helpers import payload, post

    quan_1 = units.by_slug(db, "quan-1")
    db.execute("INSERT INTO kiosks (unit_id, name, token_hash, created_at) VALUES (?, 'Quầy 1', ?, "
               "'2025-01-01T00:00:00Z')", [quan_1["id"], kiosks.hash_token("t" * 43)])
    client = reform_app.test_client()
    for filled in ("2025-06-30T09:04:00Z", "2025-07-02T09:04:00Z"):
        after = post(client, "t" * 43, payload(unit="quan-1", started_at=filled.replace("09:04", "09:00"),
                                               submitted_at=filled))
        assert after.status_code == 409 and after.json["reason"] == "unit_gone"
        assert "Quận 1" in after.json["message"] and "1/7/2025" in after.json["message"]
    assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 0
    page = client.get("/k/" + "t" * 43)
    assert page.status_code == 410 and "không còn tồn tại" in text(page)
    with pytest.raises(kiosks.KioskError, match="ended on 2025-06-30.*phuong-sai-gon"):
        kiosks.register(db, "quan-1")
    assert kiosks.register(db, "phuong-sai-gon")[0].unit_slug == "phuong-sai-gon"


def test_import_crosswalk_checks_every_row_and_writes_nothing_on_error(cli, db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("old_slug,old_name_vi,old_name_en,new_slug,relation,main\n"
                   "quan-1,Quận 1,District 1,phuong-sai-gon,whole,1\n"
                   "quan-1,Quận 1,District 1,phuong-khong-co,full,1\n"
                   "quan-3,Quận 3,District 3,phuong-sai-gon,full,1\n", encoding="utf-8")
    before = list(db.query("SELECT * FROM unit_crosswalk ORDER BY old_slug, new_unit_id"))
    result = cli("import-crosswalk", bad)
    assert result.exit_code == 1
    assert "line 2: column relation: 'whole' must be full or partial" in result.output
    assert "new unit phuong-sai-gon: 2 links have main = 1" in result.output
    assert list(db.query("SELECT * FROM unit_crosswalk ORDER BY old_slug, new_unit_id")) == before
    wrong_way = tmp_path / "wrong.csv"
    wrong_way.write_text("old_slug,old_name_vi,old_name_en,new_slug,relation,main\n"
                         "phuong-sai-gon,Phường Sài Gòn,Sai Gon Ward,quan-1,full,1\n", encoding="utf-8")
    result = cli("import-crosswalk", wrong_way)
    assert result.exit_code == 1
    assert "the new unit ends (2025-06-30) before the former one starts (2025-07-01)" in result.output
    good = tmp_path / "good.csv"
    good.write_text("old_slug,old_name_vi,old_name_en,new_code,relation,main\n"
                    "quan-1,Quận 1,District 1,26740,partial,1\n"
                    "quan-3,Quận 3,District 3,26740,partial,0\n", encoding="utf-8")
    result = cli("import-crosswalk", good)
    assert result.exit_code == 0 and "Imported 2 crosswalk links for 1 new units" in result.output
    assert [(s["slug"], s["relation"]) for s in units.successors(db, "quan-3") if s["slug"] == "phuong-sai-gon"] == \
        [("phuong-sai-gon", "partial")]
    assert count(db, "SELECT count(*) FROM unit_crosswalk") == len(before) + 1


def test_import_margins_refuses_bad_rows_and_replaces_a_units_counts(cli, db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,dimension,category,population\nphuong-sai-gon,age_band,18-24,-5\n"
                   "phuong-nowhere,age_band,18-24,10\n", encoding="utf-8")
    result = cli("import-margins", bad)
    assert result.exit_code == 1 and "line 2: column population: '-5'" in result.output
    assert "line 3: column unit: unknown unit 'phuong-nowhere'" in result.output
    assert count(db, "SELECT count(*) FROM unit_population up JOIN units u ON u.id = up.unit_id "
                     "WHERE u.period = '2025'") == 0
    good = tmp_path / "good.csv"
    good.write_text("unit,dimension,category,population\nphuong-sai-gon,total,all,47000\n"
                    + "".join(f"phuong-sai-gon,age_band,{b},{n}\n" for b, n in
                              zip(units.AGE_BANDS, (6000, 9000, 11000, 6000, 7000))), encoding="utf-8")
    result = cli("import-margins", good)
    assert result.exit_code == 0 and "Imported 6 population counts for 1 units" in result.output
    assert units.by_slug(db, "phuong-sai-gon")["population"] == 47000
    assert count(db, "SELECT sum(up.population) FROM unit_population up JOIN units u ON u.id = up.unit_id "
                     "WHERE u.slug = 'phuong-sai-gon'") == 39000
