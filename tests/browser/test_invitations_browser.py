"""End to end, as people do it: import a frame, draw a sample, print slips; citizens answer by scanning a
slip's QR code and by typing a short code at a kiosk (real Chromium, real HTTP, a real SQLite file);
ineligible dossiers are recorded; staff find the response rates and the weighted index on the
dashboard, equal to the CLI and the report (and so to R: tests/frames/test_design_vs_r.py)."""
from __future__ import annotations

import csv
import re
import sqlite3
import threading

import pytest
import zxingcpp
from werkzeug.serving import make_server

from analysis.__main__ import main as analysis_main
from analysis.frame import frame_summary
from analysis.indices import IndexTable
from survey import create_app
from survey import db as database
from survey.staff import users
from tests.citizen.conftest import read_form
from tests.conftest import prepare_database
from tests.frames.case import PERIOD, add_case_units, write_frame_csv

pytestmark = pytest.mark.browser
P = f"{PERIOD[0]}:{PERIOD[1]}"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def served(tmp_path):
    app = create_app({"DATABASE": str(tmp_path / "survey.sqlite3"), "SECRET_KEY": "e2e-" * 16},
                     instance_path=str(tmp_path))
    prepare_database(app)
    add_case_units(app.config["DATABASE"])
    db = database.connect(app.config["DATABASE"])
    users.create(db, "lan", PASSWORD, "staff")
    db.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def _cli(app, *args):
    result = app.test_cli_runner().invoke(args=[str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _answer(page, score_of):
    """Tap a rating for every criterion (the field is already chosen) and the first option of the rest."""
    names = page.eval_on_selector_all("fieldset.q input[type=radio]", "els => [...new Set(els.map(e => e.name))]")
    for i, name in enumerate(names):
        if page.locator(f"input[name={name}]:checked").count() == 0:
            value = score_of(i) if page.locator(f"#{name}-{score_of(i)}").count() else 1
            page.click(f"label[for={name}-{value}]")


def test_frame_to_weighted_index_with_qr_slips_and_kiosk_codes(served, chromium, tmp_path):
    app, base = served
    frame_csv = write_frame_csv(tmp_path / "dossiers.csv")
    _cli(app, "import-frame", frame_csv, "--period", P)
    _cli(app, "draw-sample", "--period", P, "--margin", "0.08", "--seed", "7", "--response-rate", "0.6")
    gateway, slips = tmp_path / "invitations.csv", tmp_path / "slips.html"
    _cli(app, "export-invitations", "--period", P, "--out", gateway, "--slips", slips, "--base-url", base)
    invitations = list(csv.DictReader(open(gateway, encoding="utf-8-sig")))

    # 1. A citizen gets a paper slip: the browser shows the printed page, the phone scans the QR code.
    context = chromium.new_context(viewport={"width": 800, "height": 1100})
    page = context.new_page()
    page.goto(slips.as_uri())
    first_slip = page.locator("section.slip").first
    short_on_slip = first_slip.locator(".code").inner_text()
    shot = tmp_path / "slip.png"
    first_slip.locator(".qr svg").screenshot(path=str(shot))
    from PIL import Image
    link = zxingcpp.read_barcodes(Image.open(shot))[0].text
    slip_row = next(r for r in invitations if r["link"] == link)
    assert slip_row["short_code"] == short_on_slip
    context.close()

    phone = chromium.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN").new_page()
    phone.goto(link)
    assert phone.is_checked(f"input[name=field][value={slip_row['field']}]")
    _answer(phone, lambda i: 5)
    phone.click("button[type=submit]")
    phone.wait_for_url("**/i/thanks")
    assert "Cảm ơn" in phone.inner_text("h1")
    phone.goto(link)                                     # the same slip again: thank-you, no form
    assert "đã được dùng" in phone.inner_text("h1") and phone.locator("form#survey").count() == 0

    # 2. Another citizen types the short code at a kiosk, in lower case with a space, in English.
    kiosk = chromium.new_context(viewport={"width": 1080, "height": 1920}).new_page()
    kiosk.goto(f"{base}/i?lang=en")
    kiosk.fill("#code", "ABCD EFGH")
    kiosk.click("button[type=submit]")
    assert "We cannot find this invitation code" in kiosk.inner_text("#code-e")
    typed = invitations[1]["short_code"].lower().replace("-", " ")
    kiosk.fill("#code", typed)
    kiosk.click("button[type=submit]")
    _answer(kiosk, lambda i: 2 + i % 3)
    kiosk.click("button[type=submit]")
    kiosk.wait_for_url("**/i/thanks")
    assert "Thank you" in kiosk.inner_text("h1")
    kiosk.goto(f"{base}/i")
    kiosk.fill("#code", invitations[1]["short_code"])
    kiosk.click("button[type=submit]")
    assert "already been answered" in kiosk.inner_text("main")

    # 3. More people answer their links (over real HTTP, without a browser), some dossiers are ineligible.
    client = app.test_client()
    for k, inv in enumerate(invitations[2:]):
        if k % 3 == 2:
            continue
        form = read_form(client.get(inv["link"].replace(base, "")).data)
        answers = {name: values[min(len(values) - 1, (k + j) % 5)] for j, (name, values) in enumerate(form.radios.items())
                   if name != "field"}
        assert client.post("/i/answer", data={**form.hidden, **form.checked, **answers}).status_code == 303
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("dossier,outcome\n" + "".join(f"{r['dossier']},ineligible\n" for r in invitations[4::3][:9])
                        + "".join(f"{r['dossier']},delivered\n" for r in invitations[3::3][:40]), encoding="utf-8")
    _cli(app, "record-outcomes", outcomes, "--period", P)

    # 4. The CLI: response rates and the index from the probability sample.
    conn = sqlite3.connect(app.config["DATABASE"])
    rates = frame_summary(conn, 1)
    assert conn.execute("SELECT count(*) FROM responses WHERE frame_id = 1").fetchone()[0] == rates["responded"]
    conn.close()
    assert rates["ineligible"] == 9 and rates["delivered"] > 0 and rates["rr3"] > rates["rr1"]
    out = _cli(app, "response-rates", "--period", P)
    all_line = next(line for line in out.splitlines() if line.startswith("ALL"))
    assert all_line.split()[-2:] == [f"{100 * rates['rr1']:.1f}", f"{100 * rates['rr3']:.1f}"]
    indices = tmp_path / "indices.csv"
    assert analysis_main(["indices", "--db", app.config["DATABASE"], "--from", PERIOD[0], "--to", PERIOD[1],
                          "--out", str(indices), "--quiet"]) == 0
    overall = IndexTable.read_csv(indices).row("ALL", "INDEX:ITEM_AVG")
    assert overall["n"] == rates["responded"]

    # 5. Staff find the same on the dashboard (in Vietnamese, the staff pages' default: 52,2 %).
    def vi(x: float) -> str:
        return f"{x:.1f}".replace(".", ",")

    staff = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    staff.goto(f"{base}/staff/")
    staff.get_by_label("Tên đăng nhập").fill("lan")
    staff.get_by_label("Mật khẩu").fill(PASSWORD)
    staff.get_by_role("button", name="Đăng nhập").click()
    staff.click("nav >> text=Mẫu xác suất")
    assert staff.inner_text("#rr1-all") == f"{vi(100 * rates['rr1'])}\u00a0%"
    assert staff.inner_text("#rr3-all") == f"{vi(100 * rates['rr3'])}\u00a0%"
    row = staff.locator("#sample-index tbody tr").first.inner_text()
    assert row.startswith("Tất cả đơn vị")
    cells = re.split(r"\t", row)
    assert cells[1] == str(int(overall["n"])) and cells[2] == vi(100 * overall['p'])
    assert cells[4] == f"{vi(100 * overall['ci_logit_l'])}–{vi(100 * overall['ci_logit_u'])}"

    # 6. And in the report.
    report = tmp_path / "report"
    assert analysis_main(["report", "--db", app.config["DATABASE"], "--from", PERIOD[0], "--to", PERIOD[1],
                          "--lang", "en", "--out", str(report)]) == 0
    html = (report / "report.html").read_text(encoding="utf-8")
    assert f"RR1 {100 * rates['rr1']:.1f}%" in html and f"RR3 {100 * rates['rr3']:.1f}%" in html
    summary = html.split('id="summary"')[1].split("</section>")[0]
    assert f"{100 * overall['p']:.1f}" in summary
