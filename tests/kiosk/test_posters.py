"""QR posters: the printed code holds the unit's link, and that link opens the unit's survey."""
import re
import shutil
import subprocess

import pytest

from survey.kiosk import posters
from survey.staff import users

from .helpers import register


def signed_in(app, db, base_url: str = "http://localhost"):
    """A signed-in staff member's browser: posters are staff pages."""
    if users.by_name(db, "printer") is None:
        users.create(db, "printer", "a long password", "staff")
    client = app.test_client()
    page = client.get("/staff/login", base_url=base_url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    client.post("/staff/login", base_url=base_url,
                data={"username": "printer", "password": "a long password", "csrf_token": token})
    return client


@pytest.fixture
def client(app, db):
    return signed_in(app, db)


def decode_png(path) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(path))]


def render_pdf(data: bytes, tmp_path) -> str:
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm is missing: apt-get install poppler-utils (scripts/test does)")
    (tmp_path / "poster.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-singlefile", str(tmp_path / "poster.pdf"),
                    str(tmp_path / "poster")], check=True)
    return str(tmp_path / "poster.png")


def test_the_pdf_poster_is_one_a4_page_whose_qr_code_opens_the_units_survey(client, tmp_path):
    response = client.get("/posters/thanh-pho-thu-duc.pdf?counter=Quầy 3")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    png = render_pdf(response.data, tmp_path)
    info = subprocess.run(["pdfinfo", str(tmp_path / "poster.pdf")], capture_output=True, text=True,
                          check=True).stdout
    assert "Pages:           1" in info and "(A4)" in info, info
    assert decode_png(png) == ["https://khaosat.example.gov.vn/u/thanh-pho-thu-duc"]
    survey = client.get("/u/thanh-pho-thu-duc")
    assert survey.status_code == 200 and "Thành phố Thủ Đức" in survey.get_data(as_text=True)


def test_the_pdf_carries_the_vietnamese_and_english_names_with_their_diacritics(client, tmp_path):
    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext is missing: apt-get install poppler-utils (scripts/test does)")
    (tmp_path / "p.pdf").write_bytes(client.get("/posters/huyen-can-gio.pdf?counter=Hộ tịch").data)
    text = subprocess.run(["pdftotext", str(tmp_path / "p.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    for words in ("Huyện Cần Giờ", "Can Gio District", "Hộ tịch", "Quét mã QR", "Scan the QR code",
                  "https://khaosat.example.gov.vn/u/huyen-can-gio"):
        assert words in text, words


def test_the_html_poster_draws_the_qr_code_inline_with_both_names(client):
    html = client.get("/posters/quan-1?counter=Quầy 2").get_data(as_text=True)
    assert '<svg viewBox="0 0' in html and 'class="qr"' in html
    assert "Quận 1" in html and "District 1" in html and "Quầy 2" in html
    assert "https://khaosat.example.gov.vn/u/quan-1" in html
    assert 'href="/posters/quan-1.pdf?counter=Qu%E1%BA%A7y+2"' in html
    assert "<script>" not in html and " style=" not in html and " onclick=" not in html


def test_the_qr_code_svg_is_segnos_code_for_the_link():
    import segno

    link = "https://khaosat.example.gov.vn/u/quan-1"
    assert posters.qr(link).matrix == segno.make(link, error="m", boost_error=True).matrix
    assert posters.qr_svg(link).count("<svg") == 1


def test_the_poster_index_lists_every_unit_and_its_counters(client, db):
    register(db, "quan-5", name="Quầy Đất đai")
    html = client.get("/posters/").get_data(as_text=True)
    assert html.count('href="/posters/quan-') >= 10 and "Huyện Cần Giờ" in html
    assert 'href="/posters/quan-5?counter=Qu%E1%BA%A7y+%C4%90%E1%BA%A5t+%C4%91ai"' in html


@pytest.mark.parametrize("url, status", [
    ("/posters/quan-99", 404), ("/posters/quan-99.pdf", 404), ("/posters/tp-ho-chi-minh", 404),
    ("/posters/quan-1?counter=" + "x" * 61, 400), ("/posters/quan-1.pdf?counter=" + "x" * 61, 400),
])
def test_unknown_units_and_overlong_counter_names_are_refused(client, url, status):
    assert client.get(url).status_code == status


def test_without_a_public_address_only_this_machines_address_goes_into_a_poster(app, db):
    """Issue 12 item 14: a Host header is the client's to choose; without PUBLIC_BASE_URL only a
    loopback address (trying the app out) is used, anything else is refused with what to set."""
    app.config["PUBLIC_BASE_URL"] = ""
    client = signed_in(app, db, base_url="http://127.0.0.1:8000")
    # (this machine's address: refused like any loopback address unless forced, see the next test)
    assert client.get("/posters/quan-1", base_url="http://127.0.0.1:8000").status_code == 409
    html = client.get("/posters/quan-1?force=1", base_url="http://127.0.0.1:8000").get_data(as_text=True)
    assert "http://127.0.0.1:8000/u/quan-1" in html
    client = signed_in(app, db, base_url="http://10.1.2.3:8000")
    for url in ("/posters/quan-1", "/posters/quan-1.pdf", "/posters/quan-1?force=1"):
        answer = client.get(url, base_url="http://10.1.2.3:8000")
        assert answer.status_code == 409
        assert "PUBLIC_BASE_URL" in answer.get_data(as_text=True)
        assert b"10.1.2.3:8000/u/quan-1" not in answer.get_data()


@pytest.mark.parametrize("base", ["http://127.0.0.1:5201", "http://localhost:5000", "http://10.1.2.3:8000",
                                  "http://192.168.1.20"])
def test_a_poster_pointing_to_this_computer_or_a_private_network_is_refused_unless_forced(app, db, base):
    app.config["PUBLIC_BASE_URL"] = base       # set, but to an address citizens' phones cannot reach
    client = signed_in(app, db, base_url=base)
    refused = client.get("/posters/quan-1", base_url=base)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "PUBLIC_BASE_URL" in text and "<svg" not in text
    assert client.get("/posters/quan-1.pdf", base_url=base).status_code == 409
    assert "PUBLIC_BASE_URL" in client.get("/posters/", base_url=base).get_data(as_text=True)
    forced = client.get("/posters/quan-1?force=1", base_url=base)
    assert forced.status_code == 200 and f"{base}/u/quan-1" in forced.get_data(as_text=True)
    assert client.get("/posters/quan-1.pdf?force=1", base_url=base).status_code == 200
