"""Whatever a client sends that is not the form we served: a 4xx page in the
respondent's language, and nothing written. Never a 500."""
from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey import catalog
from survey import db as database
from survey.staff.auth import public


def assert_refused(response, status, *phrases):
    page = response.get_data(as_text=True)
    assert response.status_code == status, (response.status_code, page[:500])
    assert "<!doctype html>" in page  # our page, not a bare Werkzeug one
    for phrase in phrases:
        assert phrase in page, phrase
    return page


@pytest.fixture
def csrf_app(make_app):
    return make_app(WTF_CSRF_ENABLED=True)


def test_with_csrf_on_a_served_form_is_accepted(csrf_app):
    from survey.citizen.form import new_submission  # noqa: F401  (the app's own form, nothing faked)
    client = csrf_app.test_client()
    page = client.get("/u/quan-1").get_data(as_text=True)
    hidden = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', page))
    assert hidden.get("csrf_token")
    q = _q(csrf_app)
    answers = {c.code: "4" for c in q.criteria} | {r.code: r.options[0].code for r in q.respondent if r.required}
    assert client.post("/u/quan-1", data={**hidden, **answers}).status_code == 303
    assert _count(csrf_app) == 1


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_missing_or_invalid_csrf_token_gives_the_form_back_with_the_answers_and_stores_nothing(csrf_app, token):
    # Issue 10 item 6: a stale or lost token must not cost the citizen their answers.
    client = csrf_app.test_client()
    page = client.get("/u/quan-1?ch=web").get_data(as_text=True)
    hidden = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', page))
    if token is None:
        hidden.pop("csrf_token")
    else:
        hidden["csrf_token"] = token
    q = _q(csrf_app)
    answers = {c.code: "4" for c in q.criteria} | {r.code: r.options[0].code for r in q.respondent if r.required}
    page = assert_refused(client.post("/u/quan-1?ch=web", data={**hidden, **answers}), 200,
                          "Câu trả lời của Ông/Bà vẫn được giữ nguyên", "một lần nữa")
    assert page.count(" checked") == len(answers)
    assert _count(csrf_app) == 0
    fresh = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', page))
    assert fresh["csrf_token"] not in ("", token) and fresh["submission_id"] == hidden["submission_id"]
    assert client.post("/u/quan-1?ch=web", data={**fresh, **answers}).status_code == 303
    assert _count(csrf_app) == 1


def test_a_damaged_form_without_a_token_is_refused_in_english_for_an_english_session(csrf_app):
    client = csrf_app.test_client()
    client.get("/u/quan-1?lang=en")
    assert_refused(client.post("/u/quan-1", data={"q01": "4"}), 400, "damaged identifier", "Open the form again")


def test_an_expired_session_keeps_what_was_answered(csrf_app):
    client = csrf_app.test_client()
    page = client.get("/u/quan-1").get_data(as_text=True)
    hidden = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', page))
    client.delete_cookie("session")
    page = assert_refused(client.post("/u/quan-1", data={**hidden, "q01": "5"}), 422,
                          "Câu trả lời của Ông/Bà vẫn được giữ nguyên", "Vui lòng chọn một mức đánh giá cho câu 2.")
    assert re.search(r'id="q01-5"[^>]* checked', page)
    assert _count(csrf_app) == 0


def test_unknown_unit_gives_a_404_that_lists_the_units(client, citizen, stored):
    page = assert_refused(client.get("/u/quan-99"), 404, "Không tìm thấy cơ quan “quan-99”")
    assert len(re.findall(r'href="/u/[a-z0-9-]+"', page)) == 22 and 'href="/u/quan-1"' in page
    form = citizen.open()
    assert_refused(citizen.submit(form, url="/u/quan-99"), 404)
    assert stored() == []


def test_unknown_unit_page_in_english(client):
    assert_refused(client.get("/u/nowhere?lang=en"), 404, "We could not find the office “nowhere”", "District 1")


@pytest.mark.parametrize("value", ["0", "6", "9", "abc", "4.0", " 4", "na"])
def test_answer_outside_the_scale_returns_the_form_with_the_error_at_the_item(citizen, stored, value):
    q = citizen.questionnaire()
    item = next(c for c in q.criteria if not c.not_applicable)
    n = q.criterion_codes.index(item.code) + 1
    answers = {**citizen.complete_answers("2"), item.code: value}
    page = assert_refused(citizen.submit(citizen.open(), answers), 422, f"Câu {n}: “{value}” không phải là một mức đánh giá hợp lệ")
    block = page[page.index(f'id="{item.code}"'):]
    assert f'id="{item.code}-e"' in block[:block.index("</fieldset>")]
    kept = citizen.read(page).checked
    assert item.code not in kept
    assert kept[q.criteria[-1].code] == "2"
    assert stored() == []


def test_profile_answer_not_among_the_options_is_refused_at_the_item(citizen, stored):
    page = assert_refused(citizen.submit(citizen.open(), {**citizen.complete_answers(), "gender": "robot"}), 422,
                          "“robot” không phải là một lựa chọn")
    assert 'id="gender-e"' in page
    assert stored() == []


def test_unknown_field_is_refused_by_name(citizen, stored):
    assert_refused(citizen.submit(citizen.open(), {**citizen.complete_answers(), "q99": "4"}), 400,
                   "Phiếu gửi lên có mục lạ “q99”", "Chưa có câu trả lời nào được lưu.")
    assert_refused(citizen.submit(citizen.open(), {**citizen.complete_answers(), "ip_address": "1.2.3.4"}), 400, "ip_address")
    assert stored() == []


@pytest.mark.parametrize("name", ["q01", "gender", "submission_id", "comment", "version"])
def test_repeated_field_is_refused(citizen, stored, name):
    form = citizen.open()
    data = {**form.hidden, **citizen.complete_answers(), "comment": "x"}
    data[name] = [data[name], data[name] if name in ("submission_id", "version") else "5"]
    response = citizen.client.post(form.action, data=data)
    assert_refused(response, 400, f"Mục “{name}” được gửi nhiều lần")
    assert stored() == []


def test_comment_over_the_limit_returns_the_form_with_a_message_and_stores_nothing(citizen, stored):
    q = citizen.questionnaire()
    limit = q.comment["max_length"] if isinstance(q.comment, dict) else q.comment.max_length
    page = assert_refused(citizen.submit(citizen.open(), {**citizen.complete_answers(), "comment": "ư" * (limit + 1)}),
                          422, f"Góp ý dài {limit + 1} ký tự, vượt quá giới hạn {limit} ký tự")
    assert citizen.read(page).checked[q.criteria[0].code] == "4"
    assert stored() == []


def test_stale_questionnaire_version_gives_409_and_asks_to_start_again(app, citizen, stored):
    form = citizen.open()
    q = citizen.questionnaire()
    db = database.connect(app.config["DATABASE"])
    catalog.register(db, dataclasses.replace(q, version=q.version + 1))  # a new version published meanwhile
    db.close()
    page = assert_refused(citizen.submit(form), 409, "Phiếu khảo sát vừa được cập nhật", "Mở lại phiếu khảo sát")
    assert 'href="/u/quan-1"' in page
    assert stored() == []
    fresh = citizen.open()
    assert fresh.hidden["version"] == str(q.version + 1)
    assert citizen.submit(fresh).status_code == 303


@pytest.mark.parametrize("field,value,phrase", [
    ("questionnaire_id", "other-survey", "Bảng hỏi “other-survey v"),
    ("version", "abc", "không có trên hệ thống"),
    ("version", "999", "không có trên hệ thống"),
    ("submission_id", "not-a-uuid", "(mục “submission_id”)"),
    ("submission_id", "00000000-0000-1000-8000-000000000000", "(mục “submission_id”)"),
    ("started", "tampered", "(mục “started”)"),
])
def test_damaged_hidden_fields_are_refused(citizen, stored, field, value, phrase):
    form = citizen.open()
    assert_refused(citizen.submit(form, **{field: value}), 400, phrase)
    assert stored() == []


def test_a_start_ticket_cannot_be_reused_for_another_submission_id(citizen, stored):
    one, two = citizen.open(), citizen.open()
    assert_refused(citizen.submit(one, started=two.hidden["started"]), 400, "started")
    assert stored() == []


def test_missing_hidden_fields_are_refused(citizen, stored):
    form = citizen.open()
    for name in ("submission_id", "started", "version"):
        data = {**form.hidden, **citizen.complete_answers()}
        data.pop(name)
        assert citizen.client.post(form.action, data=data).status_code == 400
    assert stored() == []


@pytest.mark.parametrize("ch", ["kiosk", "paper", "sms", ""])
def test_channel_is_validated_strictly(client, ch):
    assert_refused(client.get(f"/u/quan-1?ch={ch}"), 400, "không hợp lệ")


def test_wrong_method_gets_a_405_page(client):
    assert_refused(client.put("/u/quan-1"), 405, "Không thực hiện được thao tác này")
    assert_refused(client.post("/thanks/x"), 405)


def test_oversized_request_gets_a_413_page(client, stored):
    assert_refused(client.post("/u/quan-1", data={"comment": "x" * 70_000}), 413, "Nội dung gửi quá lớn")
    assert stored() == []


def test_unknown_page_gets_a_404_page_in_english_on_request(client):
    assert_refused(client.get("/no/such/page?lang=en"), 404, "Page not found", "Go to the list of offices")


def test_server_fault_page_is_friendly_and_in_the_respondents_language(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    @public  # outside the citizen flow every page needs a login (survey/staff/auth.py)
    def boom():
        raise RuntimeError("bug")

    client = app.test_client()
    assert_refused(client.get("/boom"), 500, "Hệ thống đang gặp sự cố")
    assert_refused(client.get("/boom?lang=en"), 500, "Something went wrong on our side")


def test_questionnaire_not_registered_is_a_503_not_a_crash(make_app):
    app = make_app(DEFAULT_QUESTIONNAIRE="not-registered")
    assert app.test_client().get("/u/quan-1").status_code == 503


def test_bad_input_messages_follow_the_respondents_language(citizen, stored):
    form = citizen.open("/u/quan-1?lang=en")
    assert_refused(citizen.submit(form, {**citizen.complete_answers(), "q99": "1"}), 400,
                   "The form sent contains “q99”, which is not part of the questionnaire.", "Nothing has been saved.")
    page = assert_refused(citizen.submit(form, {**citizen.complete_answers(), "q01": "7"}), 422,
                          "Question 1: “7” is not one of the ratings.")
    assert '<html lang="en">' in page
    assert stored() == []


FIELD_NAMES = st.sampled_from(["q01", "q02", "q26", "gender", "age_band", "field", "comment", "submission_id",
                               "started", "version", "questionnaire_id", "csrf_token", "lang", "x"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.tuples(FIELD_NAMES | st.text(max_size=12), st.text(max_size=40)), max_size=12),
       keep_hidden=st.booleans(), path=st.sampled_from(["/u/quan-1", "/u/quan-1?ch=web", "/u/x", "/", "/thanks/1"]))
def test_nothing_a_client_posts_produces_a_500_or_a_partial_write(citizen, stored, data, keep_hidden, path):
    form = citizen.open()
    body = [(k, v) for k, v in form.hidden.items()] if keep_hidden else []
    body += data
    from werkzeug.datastructures import MultiDict
    response = citizen.client.post(path, data=MultiDict(body))
    assert response.status_code < 500
    if response.status_code != 303:
        assert stored() == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300), content_type=st.sampled_from(
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xx", "text/plain", "application/json"]))
def test_malformed_bodies_never_produce_a_500(client, stored, raw, content_type):
    response = client.post("/u/quan-1", data=raw, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert stored() == []


def _q(app):
    db = database.connect(app.config["DATABASE"])
    try:
        return catalog.latest(db, app.config["DEFAULT_QUESTIONNAIRE"])
    finally:
        db.close()


def _count(app):
    db = database.connect(app.config["DATABASE"])
    try:
        return db.execute("SELECT count(*) FROM responses").fetchone()[0]
    finally:
        db.close()
