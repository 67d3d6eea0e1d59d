"""The citizen flow through the Flask test client: open, answer, thank-you, stored row."""
from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone

import pytest

import questionnaires
from survey import db as database
from survey.responses import decode_answers


def test_unit_picker_lists_every_leaf_unit_with_a_web_link(client):
    page = client.get("/").get_data(as_text=True)
    assert "Chọn cơ quan Ông/Bà vừa làm thủ tục" in page
    links = re.findall(r'href="(/u/[a-z0-9-]+\?ch=web)"', page)
    assert len(links) == 22
    assert "/u/quan-1?ch=web" in links and "/u/thanh-pho-thu-duc?ch=web" in links
    assert "/u/tp-ho-chi-minh" not in page  # the city is a parent: responses belong to its districts


def test_qr_link_opens_the_questionnaire_of_its_unit_in_vietnamese(client, citizen):
    response = client.get("/u/quan-1")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="vi">' in page
    assert "Quận 1" in page
    q = citizen.questionnaire()
    assert page.count('<fieldset class="q"') == len(q.criteria) + len(q.respondent)
    assert page.count("<legend>") == len(q.criteria) + len(q.respondent)
    for c in q.criteria:
        assert c.text["vi"] in page
    assert "Rất không hài lòng" in page and "Rất hài lòng" in page


def test_form_carries_a_fresh_submission_id_each_time_and_is_not_cached(client, citizen):
    first, second = citizen.open(), citizen.open()
    assert first.hidden["submission_id"] != second.hidden["submission_id"]
    assert set(first.hidden) >= {"questionnaire_id", "version", "submission_id", "started"}
    response = client.get("/u/quan-1")
    assert response.headers["Cache-Control"] == "no-store"
    assert 'autocomplete="off"' in response.get_data(as_text=True)


def test_completed_questionnaire_is_stored_with_every_field_and_thanked(client, citizen, stored):
    q = citizen.questionnaire()
    form = citizen.open("/u/quan-3")
    answers = citizen.complete_answers("5")
    answers[q.criteria[0].code] = "1"
    na_item = next(c for c in q.criteria if c.not_applicable)
    answers[na_item.code] = "na"
    answers.update(education=q.respondent_question("education").options[1].code, comment="  Cán bộ tận tình.\r\nCảm ơn!  ")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    response = citizen.submit(form, answers)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/thanks/{form.hidden['submission_id']}"

    thanks = client.get(response.headers["Location"])
    page = thanks.get_data(as_text=True)
    assert thanks.status_code == 200
    assert "Cảm ơn Ông/Bà đã đánh giá!" in page and "Quận 3" in page
    assert 'href="/u/quan-3"' in page  # start again, same unit, same channel
    assert "Cán bộ tận tình" not in page  # a thank-you never shows the answers

    [row] = stored()
    assert row["uuid"] == form.hidden["submission_id"]
    assert (row["questionnaire_id"], row["questionnaire_version"]) == (q.id, q.version)
    assert row["unit_id"] == next(database.connect(citizen.app.config["DATABASE"]).query(
        "SELECT id FROM units WHERE slug = 'quan-3'"))["id"]
    assert row["channel"] == "qr" and row["kiosk_id"] is None and row["lang"] == "vi"
    decoded = decode_answers(q.criterion_codes, row["answers"])
    assert decoded[q.criteria[0].code] == 1 and decoded[na_item.code] == "na"
    assert sum(v == 5 for v in decoded.values()) == len(q.criteria) - 2
    assert row["gender"] == answers["gender"] and row["age_band"] == answers["age_band"]
    assert row["education"] == answers["education"] and row["occupation"] is None
    assert row["comment"] == "Cán bộ tận tình.\nCảm ơn!"
    started = datetime.strptime(row["started_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert before.timestamp() - 5 <= started.timestamp() <= row["duration_s"] + started.timestamp()
    assert row["submitted_at"] >= row["started_at"]
    assert not any(k in row for k in ("ip", "ip_address", "user_agent"))


def test_unit_picker_link_records_the_web_channel(client, citizen, stored):
    form = citizen.open("/u/huyen-can-gio?ch=web")
    assert form.action == "/u/huyen-can-gio?ch=web"
    response = citizen.submit(form)
    assert response.status_code == 303
    assert stored()[0]["channel"] == "web"
    assert 'href="/u/huyen-can-gio?ch=web"' in client.get(response.headers["Location"]).get_data(as_text=True)


def test_posting_the_same_form_twice_stores_one_response_and_thanks_both_times(citizen, stored):
    form = citizen.open()
    first = citizen.submit(form)
    second = citizen.submit(form)
    third = citizen.submit(form, citizen.complete_answers("2"))  # back, change, resubmit
    assert first.status_code == second.status_code == third.status_code == 303
    assert first.headers["Location"] == second.headers["Location"] == third.headers["Location"]
    rows = stored()
    assert len(rows) == 1 and set(rows[0]["answers"]) == {"4"}


def test_database_refuses_a_second_row_with_the_same_submission_id(citizen, stored):
    form = citizen.open()
    citizen.submit(form)
    db = database.connect(citizen.app.config["DATABASE"])
    row = dict(stored()[0])
    row.pop("id")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        db.execute(f"INSERT INTO responses ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                   list(row.values()))


def test_thank_you_exists_only_for_a_stored_response(client, citizen):
    form = citizen.open()
    assert client.get(f"/thanks/{form.hidden['submission_id']}").status_code == 404
    citizen.submit(form)
    assert client.get(f"/thanks/{form.hidden['submission_id']}").status_code == 200
    assert client.get("/thanks/not-a-uuid").status_code == 404


def test_missing_answers_return_the_form_with_errors_next_to_items_and_answers_kept(citizen, stored):
    q = citizen.questionnaire()
    form = citizen.open()
    answers = citizen.complete_answers("3")
    missing = [q.criteria[1].code, q.criteria[7].code]
    for code in missing:
        del answers[code]
    del answers["gender"]
    answers["comment"] = "Giữ lại góp ý này"
    response = citizen.submit(form, answers)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Phiếu chưa gửi được: cần sửa 3 chỗ" in page
    assert "Vui lòng chọn một mức đánh giá cho câu 2." in page
    assert "Vui lòng chọn một mức đánh giá cho câu 8." in page
    assert f"Vui lòng chọn một ý cho mục “{q.respondent_question('gender').text['vi']}”." in page
    for code in missing:  # the message sits inside the item's fieldset, tied to its inputs
        block = page[page.index(f'id="{code}"'):]
        block = block[:block.index("</fieldset>")]
        assert f'id="{code}-e"' in block and f'aria-describedby="{code}-e"' in block
    again = citizen.read(page)
    assert again.checked[q.criteria[0].code] == "3"
    assert again.checked["age_band"] == answers["age_band"]
    assert again.textarea == "Giữ lại góp ý này"
    assert again.hidden["submission_id"] == form.hidden["submission_id"]  # still the same submission
    assert again.hidden["started"] == form.hidden["started"]
    assert response.headers["Cache-Control"] == "no-store"
    assert stored() == []
    # fixing the errors then stores the response once
    assert citizen.submit(again, {**answers, **{c: "4" for c in missing}, "gender": "male"}).status_code == 303
    assert len(stored()) == 1


def test_every_criterion_is_required_but_optional_profile_questions_may_be_blank(citizen, stored):
    q = citizen.questionnaire()
    answers = {c.code: "5" for c in q.criteria}
    answers.update({r.code: r.options[-1].code for r in q.respondent if r.required})
    assert citizen.submit(citizen.open(), answers).status_code == 303
    row = stored()[0]
    for r in q.respondent:
        if not r.required:
            assert row[r.code] is None


def test_not_applicable_is_offered_only_where_the_questionnaire_allows_it(citizen):
    q = citizen.questionnaire()
    form = citizen.open()
    for c in q.criteria:
        assert ("na" in form.radios[c.code]) == c.not_applicable
    fixed = next(c for c in q.criteria if not c.not_applicable)
    response = citizen.submit(form, {**citizen.complete_answers(), fixed.code: "na"})
    assert response.status_code == 422


def test_comment_at_the_limit_is_accepted_and_line_breaks_count_once(citizen, stored):
    text = ("a" * 9 + "\r\n") * 120  # 1200 characters as the browser counts them (CR LF sent for each break)
    response = citizen.submit(citizen.open(), {**citizen.complete_answers(), "comment": text.strip()})
    assert response.status_code == 303
    assert len(stored()[0]["comment"]) == 1199


@pytest.mark.parametrize("questionnaire_id", sorted(questionnaires.load_all()))
def test_every_shipped_questionnaire_can_be_served_and_completed(make_app, questionnaire_id):
    app = make_app(DEFAULT_QUESTIONNAIRE=questionnaire_id)
    client = app.test_client()
    q = questionnaires.get(questionnaire_id)
    page = client.get("/u/quan-1").get_data(as_text=True)
    hidden = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', page))
    assert hidden["questionnaire_id"] == questionnaire_id
    answers = {c.code: "3" for c in q.criteria} | {r.code: r.options[-1].code for r in q.respondent}
    assert client.post("/u/quan-1", data={**hidden, **answers}).status_code == 303
    db = database.connect(app.config["DATABASE"])
    [row] = db.query("SELECT questionnaire_id, answers FROM responses")
    assert row == {"questionnaire_id": questionnaire_id, "answers": "3" * len(q.criteria)}


@pytest.mark.parametrize("csrf", [True, False], ids=["csrf-on", "csrf-off"])
def test_the_first_and_later_pages_in_a_language_are_the_same_form_and_each_is_stored(make_app, csrf):
    """The first page in a language is built from the full form (its questions are cached then); later
    pages print only the hidden fields. A citizen cannot tell them apart, and both kinds are stored."""
    from tests.citizen.conftest import Citizen

    app = make_app(WTF_CSRF_ENABLED=csrf)
    client = app.test_client()
    citizen = Citizen(app, client)

    def skeleton(html: str) -> str:        # the page with each hidden field's value blanked
        return re.sub(r'(type="hidden" value=")[^"]*"', r'\1"', html)

    first = client.get("/u/quan-1").get_data(as_text=True)
    later = client.get("/u/quan-1").get_data(as_text=True)
    assert skeleton(first) == skeleton(later)
    a, b = citizen.read(first), citizen.read(later)
    assert list(a.hidden) == list(b.hidden) == ["questionnaire_id", "version", "submission_id", "started",
                                                *(["csrf_token"] if csrf else [])]
    assert a.hidden["submission_id"] != b.hidden["submission_id"]
    for form in (b, a):                    # the later page first, then the one that stayed open
        assert citizen.submit(form, url="/u/quan-1").status_code == 303
    db = database.connect(app.config["DATABASE"])
    assert {r[0] for r in db.execute("SELECT uuid FROM responses")} == {a.hidden["submission_id"],
                                                                          b.hidden["submission_id"]}
    db.close()
    english = client.get("/u/quan-1?lang=en").get_data(as_text=True)     # another language: built again
    again = client.get("/u/quan-1?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and skeleton(english) == skeleton(again)
