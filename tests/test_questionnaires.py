"""Questionnaire files: the shipped ones, the canonical JSON round-trip, and every kind of rejection."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import unicodedata
from pathlib import Path

import pytest

import questionnaires
from questionnaires import Questionnaire, QuestionnaireError, Text
from questionnaires.__main__ import main as cli

MINIMAL = Path(__file__).parent / "questionnaires" / "minimal.toml"
AGE_BANDS = ["18-24", "25-34", "35-49", "50-59", "60+"]  # unit_population categories (HELPERS.md)


def write(directory: Path, text: str, name: str = "minimal.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    """minimal.toml with one piece replaced (which must be there, so a case cannot silently test nothing)."""
    text = MINIMAL.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in minimal.toml"
    return text.replace(old, new)


# ---------------------------------------------------------------- shipped files

def test_every_shipped_questionnaire_loads_and_round_trips():
    shipped = questionnaires.load_all()
    assert set(shipped) == {"sipas-hcm-26", "sipas-2024"}
    for q in shipped.values():
        again = Questionnaire.from_json(q.to_json())
        assert again == q
        assert again.to_json() == q.to_json()
        assert again.checksum == q.checksum


def test_default_questionnaire_has_the_26_criteria_in_sipas_order():
    q = questionnaires.get("sipas-hcm-26")
    assert q.criterion_codes == tuple(f"q{i:02d}" for i in range(1, 27))
    assert {f.code: [c.code for c in q.criteria_of(f.code)] for f in q.factors} == {
        "F1": ["q01", "q02", "q03", "q04"],
        "F2": ["q05", "q06", "q07", "q08", "q09"],
        "F3": ["q10", "q11", "q12", "q13", "q14", "q15"],
        "F4": ["q16", "q17", "q18"],
        "F5": ["q19", "q20", "q21", "q22"],
        "F6": ["q23", "q24", "q25", "q26"],
    }
    assert q.factor("F5").text.vi == "Tiếp nhận, xử lý các góp ý, phản ánh, kiến nghị"
    assert q.parts == ()
    assert all(c.weight == 1.0 for c in q.criteria)


def test_default_questionnaire_labels_the_city_additions_as_hcmc():
    q = questionnaires.get("sipas-hcm-26")
    assert [c.code for c in q.criteria if c.source == "hcmc"] == ["q23", "q24", "q25", "q26"]
    assert {c.source for c in q.criteria if c.factor != "F6"} == {"national"}
    assert "Thành phố Hồ Chí Minh" in q.factor("F6").text.vi
    assert "thư xin lỗi" in q.criterion("q25").text.vi
    assert "trực tuyến" in q.criterion("q23").text.vi


def test_default_questionnaire_offers_not_applicable_on_feedback_online_filing_and_late_dossiers():
    q = questionnaires.get("sipas-hcm-26")
    assert [c.code for c in q.criteria if c.not_applicable] == ["q19", "q20", "q21", "q22", "q23", "q25"]
    assert q.scale.not_applicable == Text("Không áp dụng", "Not applicable")


@pytest.mark.parametrize("qid", ["sipas-hcm-26", "sipas-2024"])
def test_scale_is_one_to_five_with_sipas_labels_in_both_languages(qid):
    scale = questionnaires.get(qid).scale
    assert (scale.min, scale.max, scale.satisfied_from) == (1, 5, 4)
    assert {v: (t.vi, t.en) for v, t in scale.labels.items()} == {
        1: ("Rất không hài lòng", "Very dissatisfied"),
        2: ("Không hài lòng", "Dissatisfied"),
        3: ("Bình thường", "Neutral"),
        4: ("Hài lòng", "Satisfied"),
        5: ("Rất hài lòng", "Very satisfied"),
    }


def test_default_respondent_block_has_the_storage_columns_and_weighting_categories():
    q = questionnaires.get("sipas-hcm-26")
    assert [r.code for r in q.respondent] == list(questionnaires.RESPONDENT_CODES)
    assert [r.code for r in q.respondent if r.required] == ["respondent_type", "gender", "age_band", "field"]
    codes = {r.code: list(r.option_codes) for r in q.respondent}
    assert codes["respondent_type"] == ["individual", "organisation"]
    assert codes["gender"] == ["male", "female"]
    assert codes["age_band"] == AGE_BANDS
    assert codes["ethnicity"] == ["kinh", "other"]
    assert {"land", "construction", "civil_status", "business", "justice", "labour", "transport", "other"} <= set(
        codes["field"])
    assert q.respondent_question("age_band").options[-1].text == Text("Từ 60 tuổi trở lên", "60 or over")
    assert q.comment.max_length == 1200


def test_sipas_2024_has_23_policy_and_16_service_items():
    q = questionnaires.get("sipas-2024")
    assert len(q.criteria) == 39
    assert q.parts == ("policy", "services")
    part_of = {f.code: f.part for f in q.factors}
    assert sum(part_of[c.factor] == "policy" for c in q.criteria) == 23
    assert sum(part_of[c.factor] == "services" for c in q.criteria) == 16
    assert [len(q.criteria_of(f.code)) for f in q.factors] == [2, 2, 9, 10, 3, 4, 3, 3, 3]
    assert [c.code for c in q.criteria_of("S5") if c.not_applicable] == ["s14", "s15", "s16"]
    assert [r.code for r in q.respondent if r.required] == ["gender", "age_band"]
    assert q.respondent_question("age_band").option_codes == tuple(AGE_BANDS)


@pytest.mark.parametrize("qid", ["sipas-hcm-26", "sipas-2024"])
def test_vietnamese_texts_carry_diacritics_and_differ_from_english(qid):
    q = questionnaires.get(qid)
    texts = [q.title] + [f.text for f in q.factors] + [c.text for c in q.criteria] + [r.text for r in q.respondent]
    for text in texts:
        assert not text.vi.isascii(), f"no diacritics in {text.vi!r}"
        assert text.vi != text.en
        assert unicodedata.is_normalized("NFC", text.vi)


def test_minimal_test_questionnaire_loads_with_defaults_and_given_values():
    q = questionnaires.load(MINIMAL)
    assert (q.id, q.version) == ("minimal", 1)
    c1, c2, c3 = q.criteria
    assert (c1.weight, c1.not_applicable, c1.source) == (1.0, False, "national")
    assert (c2.weight, c2.not_applicable) == (2.0, True)
    assert c3.source == "city"
    assert q.factor("A").part is None
    assert q.comment.max_length == 500


# ---------------------------------------------------------------- access

def test_text_gives_each_language_and_falls_back_to_vietnamese():
    text = questionnaires.load(MINIMAL).factor("B").text
    assert (text["vi"], text["en"]) == ("Kết quả", "Result")
    assert (text.get("vi"), text.get("en"), text.get("fr")) == ("Kết quả", "Result", "Kết quả")
    with pytest.raises(KeyError):
        text["fr"]


def test_lookups_by_code_and_unknown_codes():
    q = questionnaires.load(MINIMAL)
    assert q.criterion_codes == ("c1", "c2", "c3")
    assert [c.code for c in q.criteria_of("B")] == ["c2", "c3"]
    assert q.respondent_question("gender").required is True
    for lookup in (q.factor, q.criterion, q.criteria_of, q.respondent_question):
        with pytest.raises(KeyError, match="'nope'"):
            lookup("nope")


def test_questionnaire_objects_cannot_be_changed():
    q = questionnaires.load(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.version = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.criteria[0].weight = 5
    with pytest.raises(TypeError):
        q.scale.labels[1] = Text("x", "y")
    assert hash(q) == hash(questionnaires.load(MINIMAL))


def test_get_reads_a_directory_by_id_and_rereads_an_edited_file(tmp_path):
    path = write(tmp_path, MINIMAL.read_text(encoding="utf-8"))
    first = questionnaires.get("minimal", tmp_path)
    assert questionnaires.get("minimal", tmp_path) is first
    path.write_text(edited("version = 1", "version = 2"), encoding="utf-8")
    os.utime(path, ns=(first_ns := path.stat().st_mtime_ns + 10**9, first_ns))
    assert questionnaires.get("minimal", tmp_path).version == 2


@pytest.mark.parametrize("qid", ["nope", "../questionnaires/sipas-hcm-26", "", "SIPAS-HCM-26", None])
def test_get_refuses_unknown_or_unsafe_ids_with_key_error(qid):
    with pytest.raises(KeyError):
        questionnaires.get(qid)


# ---------------------------------------------------------------- canonical JSON

def test_json_has_the_documented_shape():
    d = json.loads(questionnaires.load(MINIMAL).to_json())
    assert set(d) == {"id", "version", "title", "scale", "factors", "criteria", "respondent", "comment"}
    assert set(d["title"]) == {"vi", "en"}
    assert set(d["scale"]) == {"min", "max", "satisfied_from", "labels", "not_applicable"}
    assert list(d["scale"]["labels"]) == ["1", "2", "3", "4", "5"]
    assert d["factors"][0] == {"code": "A", "text": {"vi": "Tiếp cận", "en": "Access"}, "part": None}
    assert d["criteria"][1] == {"code": "c2", "factor": "B", "text": {"vi": "Kết quả đúng hẹn", "en": "Result on time"},
                                "weight": 2.0, "not_applicable": True, "source": "national"}
    assert d["respondent"][0]["options"][1] == {"code": "female", "text": {"vi": "Nữ", "en": "Female"}}
    assert set(d["respondent"][0]) == {"code", "text", "required", "options"}
    assert d["comment"] == {"max_length": 500, "text": {"vi": "Góp ý khác", "en": "Other comments"}}


def test_json_is_canonical_and_checksum_is_its_sha256():
    q = questionnaires.get("sipas-hcm-26")
    text = q.to_json()
    assert text == json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert "Rất hài lòng" in text  # readable UTF-8, not \u escapes
    assert q.checksum == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_new_version_gets_a_new_checksum_and_the_stored_old_version_still_loads_unchanged(tmp_path):
    old = questionnaires.load(write(tmp_path, MINIMAL.read_text(encoding="utf-8")))
    stored = old.to_json()  # what the app keeps in the questionnaires table
    new = questionnaires.load(write(tmp_path, edited("version = 1", "version = 2").replace(
        "Đủ chỗ ngồi", "Có đủ chỗ ngồi chờ")))
    assert new.version == 2 and new.criterion("c1").text.vi == "Có đủ chỗ ngồi chờ"
    assert new.checksum != old.checksum
    restored = Questionnaire.from_json(stored)
    assert restored.to_json() == stored
    assert restored.checksum == old.checksum
    assert restored.version == 1 and restored.criterion("c1").text.vi == "Đủ chỗ ngồi"


def test_only_the_version_changed_still_changes_the_checksum(tmp_path):
    v1 = questionnaires.load(MINIMAL)
    v2 = questionnaires.load(write(tmp_path, edited("version = 1", "version = 2")))
    assert v1.checksum != v2.checksum


def test_same_content_written_differently_has_the_same_checksum(tmp_path):
    # integer vs float weight, inline vs dotted-key text, decomposed vs composed Vietnamese
    text = edited("weight = 2", "weight = 2.0").replace(
        'text = { vi = "Kết quả chính xác", en = "Result accurate" }',
        'text.vi = "Kết quả chính xác"\ntext.en = "Result accurate"')
    text = unicodedata.normalize("NFD", text)
    assert text != unicodedata.normalize("NFC", text)
    assert questionnaires.load(write(tmp_path, text)).checksum == questionnaires.load(MINIMAL).checksum


# ---------------------------------------------------------------- rejections
# Each case breaks one thing in minimal.toml: (old, new, kind, words the message must contain).

REJECTIONS = {
    "bad TOML syntax": ('code = "c2"', 'code = "c2', "bad_toml", ["invalid TOML", "(at line"]),
    "duplicate criterion code": ('code = "c3"', 'code = "c1"', "duplicate_code",
                                 ["criterion 'c1'", "duplicate code 'c1'", "criterion #1"]),
    "duplicate factor code": ('code = "B"', 'code = "A"', "duplicate_code", ["factor 'A'", "duplicate code 'A'"]),
    "duplicate option code": ('{ code = "female"', '{ code = "male"', "duplicate_code",
                              ["respondent question 'gender' option 'male'", "duplicate code 'male'"]),
    "duplicate respondent question": ("[comment]", '[[respondent]]\ncode = "gender"\ntext = { vi = "Giới", en = "Sex" }\n'
                                      'options = [{ code = "male", text = { vi = "Nam", en = "Male" } }]\n\n[comment]',
                                      "duplicate_code", ["respondent question 'gender'", "duplicate code 'gender'"]),
    "unknown factor": ('code = "c3"\nfactor = "B"', 'code = "c3"\nfactor = "Z"', "unknown_factor",
                       ["criterion 'c3'", "unknown factor 'Z'", "A, B"]),
    "empty factor": ('code = "c1"\nfactor = "A"', 'code = "c1"\nfactor = "B"', "empty_factor",
                     ["factor 'A'", "no criterion belongs to this factor"]),
    "missing English": ('{ vi = "Đủ chỗ ngồi", en = "Enough seats" }', '{ vi = "Đủ chỗ ngồi" }', "missing_translation",
                        ["criterion 'c1' text", "missing translation 'en'"]),
    "missing Vietnamese": ('title = { vi = "Khảo sát thử", en = "Test survey" }', 'title = { en = "Test survey" }',
                           "missing_translation", ["title", "missing translation 'vi'"]),
    "missing label translation": ('3 = { vi = "Bình thường", en = "Neutral" }', '3 = { en = "Neutral" }',
                                  "missing_translation", ["scale label 3", "missing translation 'vi'"]),
    "blank translation": ('en = "Female"', 'en = " "', "empty_text",
                          ["respondent question 'gender' option 'female' text", "'en' text is empty"]),
    "third language": ('{ vi = "Kết quả", en = "Result" }', '{ vi = "Kết quả", en = "Result", fr = "Résultat" }',
                       "unknown_key", ["factor 'B' text", "unknown key 'fr'"]),
    "text as a plain string": ('text = { vi = "Đủ chỗ ngồi", en = "Enough seats" }', 'text = "Đủ chỗ ngồi"',
                               "not_text", ["criterion 'c1' text", "table of translations", "got a string"]),
    "typo in a criterion key": ("weight = 2", "wieght = 2", "unknown_key",
                                ["criterion 'c2'", "unknown key 'wieght'", "did you mean 'weight'"]),
    "typo in a top-level key": ("title = {", "titel = {", "unknown_key", ["top level", "unknown key 'titel'"]),
    "typo in the scale": ("satisfied_from = 4", "satisfied_form = 4", "unknown_key",
                          ["scale", "unknown key 'satisfied_form'", "did you mean 'satisfied_from'"]),
    "typo in a respondent question": ("required = true", "requried = true", "unknown_key",
                                      ["respondent question 'gender'", "unknown key 'requried'"]),
    "unrelated unknown key": ("weight = 2", "weight = 2\ncolour = \"red\"", "unknown_key",
                              ["criterion 'c2'", "unknown key 'colour'", "allowed keys: code, factor, text"]),
    "missing factor key": ('code = "c1"\nfactor = "A"\n', 'code = "c1"\n', "missing_key",
                           ["criterion 'c1'", "missing required key 'factor'"]),
    "missing comment section": ('[comment]\nmax_length = 500\ntext = { vi = "Góp ý khác", en = "Other comments" }\n', "",
                                "missing_key",
                                ["top level", "missing required key 'comment'"]),
    "options under another name": ("options = [", "choices = [", "unknown_key",
                                   ["respondent question 'gender'", "unknown key 'choices'", "options"]),
    "missing options": ('options = [\n    { code = "male", text = { vi = "Nam", en = "Male" } },\n'
                        '    { code = "female", text = { vi = "Nữ", en = "Female" } },\n]', "", "missing_key",
                        ["respondent question 'gender'", "missing required key 'options'"]),
    "no options": ('options = [\n    { code = "male", text = { vi = "Nam", en = "Male" } },\n'
                   '    { code = "female", text = { vi = "Nữ", en = "Female" } },\n]', "options = []",
                   "empty_list", ["respondent question 'gender'", "'options' is empty"]),
    "weight zero": ("weight = 2", "weight = 0", "bad_weight", ["criterion 'c2'", "weight must be a number greater than 0", "got 0"]),
    "weight negative": ("weight = 2", "weight = -1.5", "bad_weight", ["criterion 'c2'", "greater than 0", "-1.5"]),
    "weight as text": ("weight = 2", 'weight = "2"', "bad_weight", ["criterion 'c2'", "got '2'"]),
    "weight boolean": ("weight = 2", "weight = true", "bad_weight", ["criterion 'c2'", "got True"]),
    "weight not a number": ("weight = 2", "weight = nan", "bad_weight", ["criterion 'c2'", "got nan"]),
    "weight infinite": ("weight = 2", "weight = inf", "bad_weight", ["criterion 'c2'", "got inf"]),
    "scale from zero": ("min = 1", "min = 0", "bad_scale_range", ["scale", "1 <= min < max <= 5", "min=0"]),
    "scale to seven": ("max = 5", "max = 7", "bad_scale_range", ["scale", "max=7"]),
    "scale min not an integer": ("min = 1", "min = 1.5", "bad_scale_range", ["scale", "min=1.5"]),
    "satisfied_from above max": ("satisfied_from = 4", "satisfied_from = 6", "bad_satisfied_from",
                                 ["scale", "satisfied_from", "got 6"]),
    "satisfied_from at min": ("satisfied_from = 4", "satisfied_from = 1", "bad_satisfied_from", ["scale", "got 1"]),
    "label missing": ('3 = { vi = "Bình thường", en = "Neutral" }\n', "", "missing_label",
                      ["scale labels", "no label for the value 3"]),
    "label outside the scale": ('5 = { vi = "Rất hài lòng", en = "Very satisfied" }',
                                '5 = { vi = "Rất hài lòng", en = "Very satisfied" }\n6 = { vi = "Tuyệt", en = "Great" }',
                                "extra_label", ["scale labels", "label '6'", "1..5"]),
    "bad respondent question code": ('code = "gender"', 'code = "sex"', "bad_respondent_code",
                                     ["respondent question 'sex'", "unknown respondent question code 'sex'",
                                      "respondent_type, gender, age_band"]),
    "comment too long": ("max_length = 500", "max_length = 1201", "bad_max_length",
                         ["comment", "positive integer of at most 1200", "1201"]),
    "comment zero": ("max_length = 500", "max_length = 0", "bad_max_length", ["comment", "got 0"]),
    "comment length as text": ("max_length = 500", 'max_length = "500"', "bad_max_length", ["comment", "'500'"]),
    "version zero": ("version = 1", "version = 0", "bad_version", ["version", "positive integer", "got 0"]),
    "version as text": ("version = 1", 'version = "1"', "bad_version", ["version", "got '1'"]),
    "version as float": ("version = 1", "version = 1.0", "bad_version", ["version", "got 1.0"]),
    "bad id": ('id = "minimal"', 'id = "Minimal survey"', "bad_id", ["id", "lowercase", "'Minimal survey'"]),
    "code with a space": ('code = "c1"', 'code = "c 1"', "bad_code", ["criterion 'c 1'", "no spaces", "'c 1'"]),
    "code missing": ('code = "c1"\n', "", "missing_key", ["criterion #1", "missing required key 'code'"]),
    "unknown part": ('code = "A"\n', 'code = "A"\npart = "polcy"\n', "bad_part",
                     ["factor 'A'", "part must be one of policy, services", "'polcy'"]),
    "part on some factors only": ('code = "A"\n', 'code = "A"\npart = "policy"\n', "mixed_parts",
                                  ["factor 'B'", "every factor has a part or none"]),
    "not_applicable not boolean": ("not_applicable = true", 'not_applicable = "yes"', "bad_bool",
                                   ["criterion 'c2'", "'not_applicable' must be true or false", "'yes'"]),
    "required not boolean": ("required = true", "required = 1", "bad_bool",
                             ["respondent question 'gender'", "'required' must be true or false"]),
    "source with spaces": ('source = "city"', 'source = "City of HCMC"', "bad_source",
                           ["criterion 'c3'", "source must be a short code", "'City of HCMC'"]),
}


@pytest.mark.parametrize("old, new, kind, words", REJECTIONS.values(), ids=REJECTIONS.keys())
def test_file_is_refused_with_a_message_naming_file_item_and_problem(tmp_path, old, new, kind, words):
    path = write(tmp_path, edited(old, new))
    with pytest.raises(QuestionnaireError) as caught:
        questionnaires.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert caught.value.kind == kind
    assert isinstance(caught.value, ValueError)


def test_toml_syntax_error_gives_the_line_of_the_mistake(tmp_path):
    text = edited('code = "c2"', 'code = "c2')
    line = text.splitlines().index('code = "c2') + 1
    with pytest.raises(QuestionnaireError, match=rf"minimal\.toml: file: invalid TOML: .*line {line}\b"):
        questionnaires.load(write(tmp_path, text))


def test_id_must_match_the_file_name(tmp_path):
    path = write(tmp_path, MINIMAL.read_text(encoding="utf-8"), name="other.toml")
    with pytest.raises(QuestionnaireError, match=r"other\.toml: id: id 'minimal' does not match the file name 'other\.toml'"):
        questionnaires.load(path)


def test_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "minimal.toml"
    path.write_bytes(MINIMAL.read_text(encoding="utf-8").encode("cp1258", errors="replace"))
    with pytest.raises(QuestionnaireError, match=r"minimal\.toml: file: the file is not UTF-8 text"):
        questionnaires.load(path)


def test_missing_file_is_refused_naming_it(tmp_path):
    with pytest.raises(QuestionnaireError, match=r"nothing\.toml: file: cannot read the file"):
        questionnaires.load(tmp_path / "nothing.toml")


def test_load_all_names_the_bad_file_in_a_directory(tmp_path):
    write(tmp_path, MINIMAL.read_text(encoding="utf-8"))
    write(tmp_path, edited('id = "minimal"', 'id = "broken"').replace("weight = 2", "weight = -2"), name="broken.toml")
    with pytest.raises(QuestionnaireError, match=r"broken\.toml: criterion 'c2': weight must be"):
        questionnaires.load_all(tmp_path)


def test_respondent_questions_may_be_none(tmp_path):
    start = MINIMAL.read_text(encoding="utf-8").index("[[respondent]]")
    end = MINIMAL.read_text(encoding="utf-8").index("[comment]")
    text = MINIMAL.read_text(encoding="utf-8")
    q = questionnaires.load(write(tmp_path, text[:start].replace("version = 1", "version = 1\nrespondent = []")
                                  + text[end:]))
    assert q.respondent == ()
    assert json.loads(q.to_json())["respondent"] == []


# -------------------------------------------------------- stored JSON is checked too

def stored(**changes) -> str:
    d = json.loads(questionnaires.load(MINIMAL).to_json())
    d.update(changes)
    return json.dumps(d)


@pytest.mark.parametrize("changes, words", [
    ({"criteria": []}, ["criteria", "'criteria' is empty: at least one criterion"]),
    ({"factors": []}, ["factors", "'factors' is empty: at least one factor"]),
    ({"criteria": {"code": "c1"}}, ["criteria", "'criteria' must be a list of tables, got a table"]),
    ({"version": None}, ["version", "positive integer, got None"]),
    ({"extra": 1}, ["top level", "unknown key 'extra'"]),
    ({"scale": 5}, ["scale", "must be a table, got an integer"]),
    ({"respondent": [{"code": "gender", "text": {"vi": "Giới tính", "en": "Gender"}, "required": True,
                      "options": [{"code": "other", "text": {"vi": "Khác"}}]}]},
     ["respondent question 'gender' option 'other' text", "missing translation 'en'"]),
])
def test_stored_json_is_checked_like_a_file(changes, words):
    with pytest.raises(QuestionnaireError) as caught:
        Questionnaire.from_json(stored(**changes), name="questionnaires table minimal v1")
    message = str(caught.value)
    assert message.startswith("questionnaires table minimal v1: ")
    for word in words:
        assert word in message


ODD_VALUES = [None, True, 0, -1, 1.5, "", "x y", [], [1], {}, {"a": 1}, [{}]]


def paths(node, path=()):
    yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from paths(child, (*path, key))


def replaced(node, path, value):
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = replaced(node[path[0]], path[1:], value)
    return copy


def test_any_value_anywhere_in_stored_json_loads_or_gives_a_questionnaire_error():
    """Every node of the minimal questionnaire replaced by each odd value: never another exception."""
    original = json.loads(questionnaires.load(MINIMAL).to_json())
    refused = 0
    for path in paths(original):
        for value in ODD_VALUES:
            try:
                Questionnaire.from_json(json.dumps(replaced(original, path, value)))
            except QuestionnaireError:
                refused += 1
    assert refused > 500


def test_broken_stored_json_is_refused_with_its_position():
    with pytest.raises(QuestionnaireError, match=r"<json>: file: invalid JSON: .*line 1 column"):
        Questionnaire.from_json('{"id": "minimal",')


# ---------------------------------------------------------------- command line

def test_check_command_reports_every_shipped_questionnaire(capsys):
    assert cli(["check"]) == 0
    out = capsys.readouterr().out
    assert "ok sipas-hcm-26 version 1: 6 factors, 26 criteria, 7 respondent questions" in out
    assert "ok sipas-2024 version 1: 9 factors, 39 criteria" in out


def test_check_command_fails_on_a_bad_file_and_says_why(tmp_path, capsys):
    bad = write(tmp_path, edited("weight = 2", "weight = 0"))
    assert cli(["check", str(MINIMAL), str(bad)]) == 1
    captured = capsys.readouterr()
    assert "ok minimal version 1" in captured.out
    assert f"{bad}: criterion 'c2': weight must be a number greater than 0" in captured.err


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"]])
def test_check_command_help_has_an_example(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        cli(argv)
    assert exit.value.code == 0
    assert "Example: python -m questionnaires check" in capsys.readouterr().out
