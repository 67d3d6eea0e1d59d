"""Unit tests of the form built from a questionnaire: fields, validation, submission ids."""
from __future__ import annotations

import time
import uuid

import pytest
from werkzeug.datastructures import MultiDict

from survey.citizen import form as citizen_form


@pytest.fixture
def q(citizen):
    return citizen.questionnaire()


def build(app, q, data, lang="vi"):
    with app.test_request_context(f"/u/quan-1?lang={lang}", method="POST", data=data):
        form = citizen_form.form_class(q)()
        ok = form.validate()
        return ok, form, {k: v for k, v in form.errors.items()}


def complete(q, score="4"):
    data = {c.code: score for c in q.criteria}
    data.update({r.code: r.options[0].code for r in q.respondent if r.required})
    return data


def test_form_has_one_field_per_criterion_and_profile_question_plus_comment(app, q):
    with app.test_request_context("/"):
        names = set(citizen_form.form_class(q)(formdata=None)._fields)
    assert names == {*q.criterion_codes, *(r.code for r in q.respondent), "comment",
                     "questionnaire_id", "version", "submission_id", "started"}  # CSRF is off in this app


def test_complete_answers_validate_and_convert(app, q):
    data = complete(q, "5")
    na = next(c for c in q.criteria if c.not_applicable)
    data[na.code] = "na"
    ok, form, errors = build(app, q, data)
    assert ok, errors
    values = form.answer_values()
    assert values[na.code] == "na" and values[q.criteria[0].code] == 5
    assert all(isinstance(v, int) for k, v in values.items() if k != na.code)


def test_each_missing_criterion_gets_its_own_message_with_its_number(app, q):
    data = complete(q)
    del data[q.criteria[0].code], data[q.criteria[9].code]
    ok, _, errors = build(app, q, data)
    assert not ok
    assert errors == {q.criteria[0].code: ["Vui lòng chọn một mức đánh giá cho câu 1."],
                      q.criteria[9].code: ["Vui lòng chọn một mức đánh giá cho câu 10."]}


def test_messages_are_in_english_when_the_respondent_chose_english(app, q):
    data = complete(q)
    data[q.criteria[0].code] = "6"
    ok, _, errors = build(app, q, data, lang="en")
    assert errors[q.criteria[0].code] == ["Question 1: “6” is not one of the ratings. Please choose again."]


def test_an_invalid_rating_is_not_drawn_back_as_chosen(app, q):
    ok, form, _ = build(app, q, {**complete(q), q.criteria[0].code: "9"})
    assert not ok and form[q.criteria[0].code].data is None


@pytest.mark.parametrize("value", ["", None])
def test_optional_profile_question_may_be_left_blank(app, q, value):
    optional = next(r for r in q.respondent if not r.required)
    data = complete(q)
    if value is not None:
        data[optional.code] = value
    ok, form, errors = build(app, q, data)
    assert ok, errors
    assert form.respondent_values()[optional.code] is None


def test_required_profile_question_may_not_be_blank(app, q):
    ok, _, errors = build(app, q, {**complete(q), "age_band": ""})
    assert not ok and list(errors) == ["age_band"]


def test_comment_is_trimmed_normalised_and_limited(app, q):
    ok, form, _ = build(app, q, {**complete(q), "comment": "  dòng 1\r\ndòng\x002\r  "})
    assert ok and form.comment_value() == "dòng 1\ndòng2"
    ok, form, _ = build(app, q, {**complete(q), "comment": "   "})
    assert ok and form.comment_value() is None
    ok, _, errors = build(app, q, {**complete(q), "comment": "x" * 1201})
    assert not ok and errors["comment"] == ["Góp ý dài 1201 ký tự, vượt quá giới hạn 1200 ký tự. Vui lòng rút gọn."]


def test_repeated_and_unknown_fields_are_named(q):
    assert citizen_form.repeated_field(MultiDict([("q01", "4"), ("q01", "5")])) == "q01"
    assert citizen_form.repeated_field(MultiDict([("q01", "4"), ("q02", "5")])) is None
    assert citizen_form.unknown_field(MultiDict({"q01": "4", "zz": "1"}), q) == "zz"
    assert citizen_form.unknown_field(MultiDict({"x" * 100: "1"}), q) == "x" * 30 + "…"
    assert citizen_form.unknown_field(MultiDict(complete(q)), q) is None


def test_submission_ids_must_be_canonical_uuid4():
    good = str(uuid.uuid4())
    assert citizen_form.valid_submission_id(good)
    assert not citizen_form.valid_submission_id(good.upper())
    assert not citizen_form.valid_submission_id(str(uuid.uuid1()))
    assert not citizen_form.valid_submission_id("")
    assert not citizen_form.valid_submission_id(None)


def test_start_ticket_gives_the_server_time_and_is_bound_to_its_submission(app):
    with app.test_request_context("/"):
        before = time.time()
        submission_id, ticket = citizen_form.new_submission()
        started = citizen_form.started_at(ticket, submission_id)
        assert started is not None and before - 1 <= started.timestamp() <= time.time()
        assert citizen_form.started_at(ticket, str(uuid.uuid4())) is None
        assert citizen_form.started_at(ticket[:-2] + "xx", submission_id) is None
        assert citizen_form.started_at("", submission_id) is None
    app.secret_key = "another-key"
    with app.test_request_context("/"):
        assert citizen_form.started_at(ticket, submission_id) is None


def test_item_codes_that_clash_with_the_form_are_refused(q):
    import dataclasses
    clash = dataclasses.replace(q.criteria[0], code="validate")
    with pytest.raises(ValueError, match="'validate' is reserved"):
        citizen_form.form_class(dataclasses.replace(q, criteria=(clash, *q.criteria[1:])))
