"""The staff dashboard across the reform and at 168 units: the units valid in the period, a paginated
unit table with an accent-insensitive search, and the new units grouped by former district."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from survey.staff import periods, users

from .conftest import as_real, text

PASSWORD = "benchmark password 14"


@pytest.fixture
def staff(reform_app, cli, db, monkeypatch):
    """3,000 responses from 16 June to 15 July 2025 (districts, then wards); 'now' 15 July 2025 10:00;
    an admin signed in through the login form."""
    result = cli("simulate", "--responses", 3000, "--seed", 8, "--period", "2025-06-16:2025-07-15")
    assert result.exit_code == 0, result.output
    as_real(reform_app.config["DATABASE"])
    monkeypatch.setattr(periods, "now_utc", lambda: datetime(2025, 7, 15, 3, 0, tzinfo=timezone.utc))
    users.create(db, "lan", PASSWORD, "admin")
    client = reform_app.test_client()
    assert client.post("/staff/login", data={"username": "lan", "password": PASSWORD}).status_code in (302, 303)
    return client


def unit_rows(page: str) -> list[str]:
    return re.findall(r'<tr data-unit="([a-z0-9-]+)">', page)


def test_the_unit_table_lists_the_units_valid_in_the_period_fifty_at_a_time(staff, db):
    after = staff.get("/staff/?from=2025-07-01&to=2025-07-15").get_data(as_text=True)
    assert "Đơn vị 1–50 trong 168 đơn vị, chậm tiến độ nhất trước." in text_of(after) and "Trang 1/4" in text_of(after)
    rows = unit_rows(after)
    assert len(rows) == 50 and not any(r.startswith("quan-") or r.startswith("huyen-") for r in rows)
    last = staff.get("/staff/?from=2025-07-01&to=2025-07-15&units_page=4").get_data(as_text=True)
    assert len(unit_rows(last)) == 18 and "Trang 4/4" in text_of(last) and "Trang sau →" not in last
    seen = set()
    for page in range(1, 5):
        seen |= set(unit_rows(staff.get(f"/staff/?from=2025-07-01&to=2025-07-15&units_page={page}").get_data(as_text=True)))
    assert len(seen) == 168
    before = staff.get("/staff/?from=2025-06-16&to=2025-06-30").get_data(as_text=True)
    assert sorted(unit_rows(before)) == sorted(r[0] for r in db.execute("SELECT slug FROM units WHERE period = '2021-2025'"))
    assert "Trang 1/" not in before
    spanning = staff.get("/staff/?from=2025-06-16&to=2025-07-15").get_data(as_text=True)
    assert "trong 190 đơn vị" in text_of(spanning)
    # the period's total is every response, whichever unit set it went to
    assert re.search(r'data-count="period">3.000<', spanning)
    # English is one click away: the same table in the staff member's other language.
    assert staff.post("/staff/language", data={"lang": "en", "back": "/staff/"}).status_code == 302
    english = text_of(staff.get("/staff/?from=2025-07-01&to=2025-07-15&units_page=2").get_data(as_text=True))
    assert "Units 51–100 of 168, most behind first." in english and "Page 2 of 4" in english


def test_finding_a_ward_without_accents(staff):
    page = staff.get("/staff/?from=2025-07-01&to=2025-07-15&unit_q=tan+dinh").get_data(as_text=True)
    assert unit_rows(page) == ["phuong-tan-dinh"]
    assert "khớp với “tan dinh”" in text_of(page)
    page = staff.get("/staff/?from=2025-07-01&to=2025-07-15&unit_q=Bến Thành").get_data(as_text=True)
    assert unit_rows(page) == ["phuong-ben-thanh"]
    none = staff.get("/staff/?from=2025-07-01&to=2025-07-15&unit_q=zzz").get_data(as_text=True)
    assert "Không có đơn vị nào còn hiệu lực trong khoảng thời gian này khớp với “zzz”" in text_of(none)


def test_units_grouped_by_former_district_with_both_counts_and_the_caveat(staff, db):
    page = staff.get("/staff/former?from=2025-06-16&to=2025-07-15")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = html.split('<tr data-former="quan-1">')[1].split("</tr>")[0]
    cells = [c.strip() for c in re.findall(r'<td class="n">([^<]*)</td>', row)]
    n_new = db.execute("SELECT count(*) FROM responses r JOIN unit_crosswalk x ON x.new_unit_id = r.unit_id "
                       "WHERE x.old_slug = 'quan-1' AND x.main = 1").fetchone()[0]
    n_old = db.execute("SELECT count(*) FROM responses r JOIN units u ON u.id = r.unit_id WHERE u.slug = 'quan-1'"
                       ).fetchone()[0]
    assert cells[0] == "4" and cells[1] == f"{n_new:,}".replace(",", ".") and cells[3] == f"{n_old:,}".replace(",", ".")
    assert n_new and n_old
    q8 = html.split('<tr data-former="quan-8">')[1].split("</tr>")[0]
    assert "4 đơn vị nằm vắt qua ranh giới cũ" in q8 and "Phường Bình Phú" in q8
    outside = html.split('<tr data-former="binh-duong/thanh-pho-thu-dau-mot">')[1].split("</tr>")[0]
    assert "không phải đơn vị trên hệ thống" in outside
    assert len(re.findall(r"<tr data-former=", html)) == 38
    assert staff.post("/staff/language", data={"lang": "en", "back": "/staff/former"}).status_code == 302
    english = staff.get("/staff/former?from=2025-06-16&to=2025-07-15").get_data(as_text=True)
    q8 = english.split('<tr data-former="quan-8">')[1].split("</tr>")[0]
    assert "4 units straddle its former boundary" in q8 and "District 8" in q8


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
