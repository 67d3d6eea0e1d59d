"""The report of a period with a frame: the official index from the probability sample, response
rates, and kiosk/open-link responses apart as 'feedback' (not weighted to the frame, not mixed in)."""
from __future__ import annotations

import sqlite3

import analysis
from analysis.__main__ import main
from analysis.frame import frame_summary
from survey import catalog, responses
from survey import db as database

from .case import PERIOD, build


def _open_feedback(db_path: str, n: int) -> None:
    db = database.connect(db_path)
    try:
        q = catalog.latest(db, "sipas-hcm-26")
        unit = db.execute("SELECT id FROM units WHERE slug = 'case-a'").fetchone()[0]
        for k in range(n):
            score = {c.code: 1 if k % 2 else 2 for c in q.criteria}     # very unhappy self-selected answers
            responses.save(db, responses.Response(
                uuid=f"11111111-1111-4111-8111-{k:012d}", questionnaire_id=q.id, questionnaire_version=q.version,
                unit_id=unit, channel="qr", lang="vi", started_at="2025-11-03T02:00:00Z",
                submitted_at="2025-11-03T02:05:00Z", answers=responses.encode_answers(q.criterion_codes, score),
                respondent={"field": "land"}))
    finally:
        db.close()


def test_report_keeps_the_official_index_and_the_feedback_apart(app, tmp_path):
    db_path = app.config["DATABASE"]
    build(db_path, tmp_path)
    _open_feedback(db_path, 40)
    out = tmp_path / "report"
    assert main(["report", "--db", db_path, "--from", PERIOD[0], "--to", PERIOD[1], "--lang", "en",
                 "--out", str(out)]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    official = analysis.compute_table(analysis.load_db(db_path, date_from=PERIOD[0], date_to=PERIOD[1]))
    overall = official.row("ALL", "INDEX:ITEM_AVG")
    assert overall["n"] == sqlite3.connect(db_path).execute(
        "SELECT count(*) FROM responses WHERE frame_id IS NOT NULL").fetchone()[0]    # no feedback mixed in
    summary = html.split('id="summary"')[1].split("</section>")[0]
    assert f"{100 * overall['p']:.1f}" in summary
    conn = sqlite3.connect(db_path)
    rates = frame_summary(conn, 1)
    conn.close()
    sample = html.split('id="sample"')[1].split("</section>")[0]
    assert "Probability sample from the dossier register" in sample
    assert f"RR1 {100 * rates['rr1']:.1f}" in sample and f"RR3 {100 * rates['rr3']:.1f}" in sample
    feedback = html.split('id="feedback"')[1].split("</section>")[0]
    assert "not part of the official index" in feedback
    assert "<td class=\"num\">40</td>" in feedback               # the 40 open responses, apart
    fb = analysis.compute_table(analysis.load_db(db_path, date_from=PERIOD[0], date_to=PERIOD[1], weights="none",
                                                 frame=False)).row("ALL", "INDEX:ITEM_AVG")
    assert fb["n"] == 40 and f"{100 * fb['p']:.1f}" in feedback


def test_without_a_frame_the_report_is_unchanged_and_ignores_invitation_answers(app, tmp_path):
    db_path = app.config["DATABASE"]
    build(db_path, tmp_path)
    _open_feedback(db_path, 30)
    # a period that is not the frame's: open responses only, no sample or feedback section
    out = tmp_path / "report"
    assert main(["report", "--db", db_path, "--from", "2025-11-01", "--to", "2025-11-30", "--lang", "vi",
                 "--out", str(out)]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="sample"' not in html and 'id="feedback"' not in html
    data = analysis.load_db(db_path, date_from="2025-11-01", date_to="2026-01-31")
    assert data.n == 30           # the invitation answers (submitted in January) count only in their frame
