"""The unit picker at ``/``: natural, Vietnamese-collated order and an accent-insensitive filter that
works without JavaScript (a GET search), usable at 3,000 units (issue 10 item 9)."""
from __future__ import annotations

import re

import pytest

from survey import db as database
from survey.citizen.picker import collation_key, fold, picker_rows, sort_key


def names(page: str) -> list[str]:
    return re.findall(r'<li><a href="/u/[^"]+">([^<]+)</a></li>', page)


def test_fold_ignores_accents_case_and_d_stroke():
    assert fold("Tân Bình") == "tan binh"
    assert fold("ĐẶC KHU Côn Đảo") == "dac khu con dao"
    assert fold("Thủ Đức") == fold("thu duc")


def test_vietnamese_dictionary_order_letters_then_tones():
    words = ["Bạ", "Bá", "Bã", "Bả", "Bà", "Ba"]
    assert sorted(words, key=collation_key) == ["Ba", "Bà", "Bả", "Bã", "Bá", "Bạ"]
    letters = ["Đa", "Dz", "Cb", "Câ", "Că", "Ca", "Ưa", "Ua", "Ơa", "Ôa", "Oa", "Va"]
    assert sorted(letters, key=collation_key) == ["Ca", "Că", "Câ", "Cb", "Dz", "Đa", "Oa", "Ôa", "Ơa",
                                                  "Ua", "Ưa", "Va"]
    # "Tân" before "Thạnh" (a before h), whatever the tones
    assert sorted(["Bình Thạnh", "Bình Tân", "Bình Chánh"], key=collation_key) == [
        "Bình Chánh", "Bình Tân", "Bình Thạnh"]


def test_numbered_units_first_by_number_then_by_name_without_the_kind_word():
    rows = [{"name_vi": n, "name_en": n} for n in
            ["Quận 10", "Huyện Củ Chi", "Quận 2", "Quận Tân Bình", "Quận 1", "Huyện Bình Chánh",
             "Thành phố Thủ Đức", "Quận Bình Thạnh", "Quận 12"]]
    assert [r["name_vi"] for r in picker_rows(rows, "vi")] == [
        "Quận 1", "Quận 2", "Quận 10", "Quận 12", "Huyện Bình Chánh", "Quận Bình Thạnh", "Huyện Củ Chi",
        "Quận Tân Bình", "Thành phố Thủ Đức"]
    assert sort_key("District 7") < sort_key("District 10") < sort_key("Binh Chanh District")


@pytest.mark.parametrize("query,first", [
    ("tan binh", "Quận Tân Bình"), ("TÂN BÌNH", "Quận Tân Bình"), ("binh tan", "Quận Bình Tân"),
    ("quan 7", "Quận 7"), ("district 7", "Quận 7"), ("thu duc", "Thành phố Thủ Đức"), ("  cu   chi ", "Huyện Củ Chi"),
])
def test_the_filter_ignores_accents_and_case_and_puts_the_whole_phrase_first(client, query, first):
    page = client.get("/", query_string={"q": query}).get_data(as_text=True)
    found = names(page)
    assert found and found[0] == first, found


def test_the_picker_lists_the_demo_units_in_natural_order(client):
    assert names(client.get("/").get_data(as_text=True)) == [
        "Quận 1", "Quận 3", "Quận 4", "Quận 5", "Quận 6", "Quận 7", "Quận 8", "Quận 10", "Quận 11", "Quận 12",
        "Huyện Bình Chánh", "Quận Bình Tân", "Quận Bình Thạnh", "Huyện Cần Giờ", "Huyện Củ Chi", "Quận Gò Vấp",
        "Huyện Hóc Môn", "Huyện Nhà Bè", "Quận Phú Nhuận", "Quận Tân Bình", "Quận Tân Phú", "Thành phố Thủ Đức"]
    english = names(client.get("/?lang=en").get_data(as_text=True))
    assert english[:3] == ["District 1", "District 3", "District 4"] and english[-1] == "Thu Duc City"


def test_no_match_says_so_and_offers_the_whole_list(client):
    page = client.get("/", query_string={"q": "khong co dau"}).get_data(as_text=True)
    assert names(page) == []
    assert "Không tìm thấy cơ quan nào" in page and "khong co dau" in page
    assert 'href="/"' in page


def test_the_query_is_escaped_and_bounded(client):
    page = client.get("/", query_string={"q": "<script>alert(1)</script>" + "x" * 500}).get_data(as_text=True)
    assert "<script>alert" not in page


@pytest.fixture
def many_units(app):
    """3,000 wards under the demo city (the scale after the 2025 reform, many cities together)."""
    db = database.connect(app.config["DATABASE"])
    try:
        city = db.execute("SELECT id FROM units WHERE slug = 'tp-ho-chi-minh'").fetchone()[0]
        with db.conn:
            db.conn.execute("UPDATE units SET active = 0 WHERE parent_id = ?", [city])
            db.conn.executemany(
                "INSERT INTO units (code, slug, name_vi, name_en, kind, period, parent_id) VALUES (?, ?, ?, ?, 'phuong', '2025', ?)",
                [(f"9{n:05d}", f"phuong-{n}", f"Phường {n}" if n % 3 else f"Phường Tân Định {n}",
                  f"Ward {n}" if n % 3 else f"Tan Dinh Ward {n}", city) for n in range(1, 3001)])
    finally:
        db.close()
    return app


def test_three_thousand_units_are_paged_and_the_filter_finds_one(many_units):
    client = many_units.test_client()
    page = client.get("/").get_data(as_text=True)
    first = names(page)
    assert first[:3] == ["Phường 1", "Phường 2", "Phường 4"]
    assert 0 < len(first) <= 100 and "3.000" in page or "3,000" in page
    assert 'href="/?page=2"' in page
    second = names(client.get("/?page=2").get_data(as_text=True))
    assert second and not set(second) & set(first)
    found = names(client.get("/", query_string={"q": "tan dinh 2997"}).get_data(as_text=True))
    assert found == ["Phường Tân Định 2997"]
    assert len(page.encode()) < 60_000
