"""One-time invitations: the gateway CSV, /i/<code> and the kiosk short code, once only, clear refusals."""
from __future__ import annotations

import csv
import logging
import re
from datetime import date, timedelta

import pytest
import zxingcpp

from survey import invitations
from tests.citizen.conftest import read_form

from .conftest import P


def _answers(citizen_q, score="4"):
    data = {c.code: score for c in citizen_q.criteria}
    for r in citizen_q.respondent:
        if r.required:
            data[r.code] = r.options[0].code
    return data


@pytest.fixture
def q(app):
    from survey import catalog
    from survey import db as database

    db = database.connect(app.config["DATABASE"])
    try:
        return catalog.latest(db, app.config["DEFAULT_QUESTIONNAIRE"])
    finally:
        db.close()


def _path(link: str) -> str:
    return link.replace("https://khaosat.example.gov.vn", "")


def test_the_gateway_csv_has_one_row_per_sampled_dossier_with_link_and_short_code(sampled, cli):
    assert len(sampled) == cli.one("SELECT count(*) FROM frame_dossiers WHERE sampled = 1")
    row = sampled[0]
    assert set(row) == {"dossier", "contact", "link", "short_code", "unit", "field", "wave", "expires_on"}
    assert re.fullmatch(r"https://khaosat\.example\.gov\.vn/i/[A-Za-z0-9_-]{22}", row["link"])
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", row["short_code"])
    assert len({r["link"] for r in sampled}) == len(sampled) and len({r["short_code"] for r in sampled}) == len(sampled)
    # codes are stored only as hashes
    stored = cli.rows("SELECT code_hash, short_hash FROM invitations")
    flat = " ".join(f"{s['code_hash']} {s['short_hash']}" for s in stored)
    assert row["link"].rsplit("/", 1)[1] not in flat and row["short_code"].replace("-", "") not in flat
    # a second export refuses instead of silently making new codes
    again = cli("export-invitations", "--period", P, "--out", "/tmp/never.csv")
    assert again.exit_code == 1 and "--reissue" in again.output


def test_a_link_opens_the_questionnaire_of_its_unit_and_answers_once(sampled, client, cli, q):
    inv = sampled[0]
    page = client.get(_path(inv["link"]))
    assert page.status_code == 200
    form = read_form(page.data)
    assert form.action == "/i/answer" and "invitation" in form.hidden
    html = page.get_data(as_text=True)
    assert inv["link"].rsplit("/", 1)[1] not in html[html.index('<form method="post"'):]   # the form carries a ticket
    assert form.checked.get("field") == inv["field"]         # the stratum's field is chosen
    assert page.headers["Referrer-Policy"] == "no-referrer"
    done = client.post("/i/answer", data={**form.hidden, **_answers(q)})
    assert done.status_code == 303 and done.headers["Location"].endswith("/i/thanks")
    rows = cli.rows("SELECT r.*, u.slug FROM responses r JOIN units u ON u.id = r.unit_id")
    assert len(rows) == 1 and rows[0]["slug"] == inv["unit"] and rows[0]["field"] == inv["field"]
    assert rows[0]["frame_id"] == 1 and rows[0]["channel"] == "invitation"
    # the same submission again (double tap): the thank-you, nothing new
    assert client.post("/i/answer", data={**form.hidden, **_answers(q)}).status_code == 303
    # the link again: the thank-you that says it was used, and no form
    used = client.get(_path(inv["link"]))
    assert used.status_code == 200 and "already been answered" in used.get_data(as_text=True) or \
        "đã được trả lời" in used.get_data(as_text=True)
    assert b'action="/i/answer"' not in used.data
    # a form opened before the answer (another tab) and submitted after: thank-you, nothing stored
    assert cli.one("SELECT count(*) FROM responses") == 1
    assert cli.rows("SELECT used_on FROM invitations WHERE used_on IS NOT NULL") == [
        {"used_on": invitations.local_today("Asia/Ho_Chi_Minh").isoformat()}]


def test_two_tabs_of_one_invitation_store_one_response(sampled, client, cli, q):
    inv = sampled[1]
    tab1 = read_form(client.get(_path(inv["link"])).data)
    tab2 = read_form(client.get(_path(inv["link"])).data)
    assert tab1.hidden["submission_id"] != tab2.hidden["submission_id"]
    assert client.post("/i/answer", data={**tab1.hidden, **_answers(q)}).status_code == 303
    second = client.post("/i/answer", data={**tab2.hidden, **_answers(q, "2")})
    assert second.status_code == 200 and b'action="/i/answer"' not in second.data
    assert cli.one("SELECT count(*) FROM responses") == 1
    assert cli.one("SELECT answers FROM responses").startswith("4")


def test_the_kiosk_short_code_typed_in_any_case_with_spaces(sampled, client, cli, q):
    inv = sampled[2]
    assert client.get("/i").status_code == 200
    typed = inv["short_code"].lower().replace("-", " ")
    page = client.post("/i", data={"code": typed})
    assert page.status_code == 200
    form = read_form(page.data)
    assert client.post("/i/answer", data={**form.hidden, **_answers(q)}).status_code == 303
    row = cli.rows("SELECT channel, frame_id, field FROM responses")[0]
    assert row == {"channel": "invitation", "frame_id": 1, "field": inv["field"]}
    again = client.post("/i", data={"code": inv["short_code"]})
    assert again.status_code == 200 and b'action="/i/answer"' not in again.data


@pytest.mark.parametrize("lang,unknown,bad", [
    ("vi", "Chúng tôi không tìm thấy mã mời này", "Mã mời gồm đúng 8 chữ cái"),
    ("en", "We cannot find this invitation code", "An invitation code has exactly 8 letters")])
def test_unknown_and_malformed_codes_get_a_clear_message_in_the_citizens_language(sampled, client, lang, unknown, bad):
    client.get(f"/i?lang={lang}")
    page = client.post("/i", data={"code": "ABCD-EFGH"})
    assert page.status_code == 404 and unknown in page.get_data(as_text=True)
    assert 'aria-invalid="true"' in page.get_data(as_text=True)
    page = client.post("/i", data={"code": "O0O0-1I1I"})
    assert page.status_code == 422 and bad in page.get_data(as_text=True)
    page = client.get("/i/AAAAAAAAAAAAAAAAAAAAAA")
    assert page.status_code == 404 and unknown in page.get_data(as_text=True)


def test_an_expired_code_says_so_and_stores_nothing(sampled, client, cli, q):
    inv = sampled[3]
    form = read_form(client.get(_path(inv["link"])).data)
    past = (date.today() - timedelta(days=3)).isoformat()
    db = __import__("survey.db", fromlist=["connect"]).connect(cli.app.config["DATABASE"])
    db.execute("UPDATE invitations SET expires_on = ?", [past])
    db.close()
    page = client.get(_path(inv["link"]) + "?lang=en")
    assert page.status_code == 410 and "The time to answer this invitation has ended" in page.get_data(as_text=True)
    late = client.post("/i/answer", data={**form.hidden, **_answers(q)})
    assert late.status_code == 410
    assert cli.one("SELECT count(*) FROM responses") == 0


def test_a_forged_ticket_is_refused(sampled, client, q, cli):
    form = read_form(client.get(_path(sampled[4]["link"])).data)
    forged = {**form.hidden, "invitation": form.hidden["invitation"][:-2] + "xx"}
    assert client.post("/i/answer", data={**forged, **_answers(q)}).status_code == 400
    assert cli.one("SELECT count(*) FROM responses") == 0


def test_codes_never_reach_the_logs(sampled, app, client, caplog, q):
    from werkzeug.serving import WSGIRequestHandler  # noqa: F401  (the dev server's request log)

    code = sampled[5]["link"].rsplit("/", 1)[1]
    logger = logging.getLogger("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info('%s - - [%s] "%s" %s %s', "-", "x", f"GET /i/{code} HTTP/1.1", "200", "-")
        client.get(f"/i/{code}")
    assert code not in caplog.text and "/i/…" in caplog.text



def test_gunicorn_access_log_has_no_invitation_code(tmp_path):
    import datetime as dt
    import runpy
    from pathlib import Path

    from gunicorn.config import Config

    conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    cfg = Config()
    log = tmp_path / "access.log"
    cfg.set("accesslog", str(log))
    cfg.set("access_log_format", conf["access_log_format"])
    logger = conf["logger_class"](cfg)

    class Resp:
        status, sent, headers = "200 OK", 1234, []

    code = "Zx81_abcdefghijklmnopqr"
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/i/{code}", "PATH_INFO": f"/i/{code}",
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": ""}
    logger.access(Resp(), [], environ, dt.timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = log.read_text()
    assert "GET /i/…" in line and code not in line


def test_slips_carry_a_qr_code_that_decodes_to_the_link(cli, frame_csv, tmp_path):
    cli("import-frame", frame_csv, "--period", P)
    cli("draw-sample", "--period", P, "--margin", "0.2", "--seed", "1", "--response-rate", "0.9")
    out, slips = tmp_path / "inv.csv", tmp_path / "slips.html"
    result = cli("export-invitations", "--period", P, "--out", out, "--slips", slips, "--base-url", "https://x.vn")
    assert result.exit_code == 0, result.output
    html = slips.read_text(encoding="utf-8")
    rows = list(csv.DictReader(open(out, encoding="utf-8-sig")))
    assert html.count('class="slip"') == len(rows)
    assert rows[0]["short_code"] in html and "https://x.vn/i" in html
    # render the first slip's SVG QR code and decode it
    import segno
    first = segno.make(rows[0]["link"], error="m")
    assert first.svg_inline(scale=3, border=2, title="QR") in html
    png = tmp_path / "qr.png"
    first.save(str(png), scale=6)
    from PIL import Image
    decoded = zxingcpp.read_barcodes(Image.open(png))
    assert decoded and decoded[0].text == rows[0]["link"]


def test_a_file_that_cannot_be_written_issues_no_code(sampled, cli, tmp_path):
    # (wave 1 was exported by the fixture) reissuing into a folder that does not exist refuses first
    result = cli("export-invitations", "--period", P, "--out", tmp_path / "nope" / "x.csv", "--reissue")
    assert result.exit_code == 1 and "does not exist" in result.output


def test_the_dashboard_shows_response_rates_and_the_weighted_index(app, tmp_path, client):
    """Staff see sampled, responded and ineligible counts, RR1/RR3 and the index with its interval."""
    import sqlite3

    import analysis
    from survey.staff import users
    from tests.frames.case import PERIOD, build

    build(app.config["DATABASE"], tmp_path)
    db = __import__("survey.db", fromlist=["connect"]).connect(app.config["DATABASE"])
    users.create(db, "lan", "a-long-password-1", "staff", by="test")
    db.close()
    assert client.get("/staff/samples").status_code == 302          # staff only
    client.post("/staff/login", data={"username": "lan", "password": "a-long-password-1"})
    page = client.get("/staff/samples")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    conn = sqlite3.connect(app.config["DATABASE"])
    sampled, responded, inel = conn.execute("SELECT sum(sampled), sum(responded), sum(ineligible) FROM frame_dossiers").fetchone()
    conn.close()
    rr1 = responded / (sampled - inel)                               # nothing delivered: every non-respondent unknown
    assert f"{100 * rr1:.1f}\u00a0%" in html.split('id="rr1-all"')[1][:30]
    data = analysis.load_db(app.config["DATABASE"], date_from=PERIOD[0], date_to=PERIOD[1])
    overall = analysis.compute_table(data).row("ALL", "INDEX:ITEM_AVG")
    block = html.split('id="sample-index"')[1]
    assert f"{100 * overall['p']:.1f}" in block and f"{100 * overall['ci_logit_l']:.1f}" in block
    assert "finite population correction" in html
    by_stratum = client.get("/staff/samples?by=stratum").get_data(as_text=True)
    assert by_stratum.split('id="tracking"')[1].split("<tbody>")[1].split("</tbody>")[0].count("<tr>") == 12


def test_guessing_codes_is_throttled_per_address_and_says_when_to_come_back(sampled, make_app, q):
    app = make_app(INVITE_MAX_UNKNOWN_CODES=3)
    client = app.test_client()
    for guess in ("AAAA-AAAA", "BBBB-BBBB", "CCCC-CCCC"):
        assert client.post("/i", data={"code": guess}).status_code == 404
    refused = client.post("/i", data={"code": sampled[0]["short_code"]})    # even a right code, for a while
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Xin thử lại sau" in refused.get_data(as_text=True)
    assert client.get("/i/" + "D" * 22).status_code == 429
    other = app.test_client()                                              # another device is not affected
    assert other.post("/i", data={"code": sampled[0]["short_code"]},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200
