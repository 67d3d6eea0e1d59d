"""Thousands of malformed files: the loaders answer with their own error, never a crash,
and never write part of a file."""
import json
import tomllib

from hypothesis import HealthCheck, given, settings, strategies as st

import questionnaires
from questionnaires import QuestionnaireError
from survey import units
from survey.db import connect
from survey.migrations import migrate

SHIPPED = (questionnaires.DIRECTORY / "sipas-hcm-26.toml").read_text(encoding="utf-8")
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])
HEADER = "code,slug,name_vi,name_en,kind,parent,population\n"
cell = st.one_of(st.text(max_size=12), st.sampled_from(["", "quan-1", "Quận 1", "-1", "0", "1e9", "'; DROP TABLE units;--",
                                                        "<script>alert(1)</script>", "\"", ",", "\n", "tp-ho-chi-minh"]))
row = st.lists(cell, min_size=0, max_size=9).map(lambda cells: ",".join(c.replace("\n", " ") for c in cells))


@FUZZ
@given(body=st.lists(row, max_size=8), header=st.one_of(st.just(HEADER), st.text(max_size=60)))
def test_units_csv_loader_never_crashes_and_never_half_imports(tmp_path_factory, body, header):
    path = tmp_path_factory.mktemp("u") / "units.csv"
    path.write_text(header + "\n".join(body) + "\n", encoding="utf-8")
    db = connect(tmp_path_factory.mktemp("db") / "u.sqlite3")
    migrate(db)
    units.load_demo(db)
    before = list(db.query("SELECT * FROM units ORDER BY id"))
    try:
        rows = units.read_units_csv(path)
        units.import_units(db, rows)
    except units.UnitImportError as error:
        assert str(error)
        assert list(db.query("SELECT * FROM units ORDER BY id")) == before
    else:
        after = {u["slug"] for u in db.query("SELECT slug FROM units")}
        assert {r.slug for r in rows} <= after
    finally:
        db.close()


@FUZZ
@given(data=st.binary(max_size=300))
def test_units_csv_loader_refuses_arbitrary_bytes_cleanly(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b") / "units.csv"
    path.write_bytes(data)
    try:
        units.read_units_csv(path)
    except units.UnitImportError:
        pass


def _mutations():
    lines = SHIPPED.splitlines()
    delete = st.integers(0, len(lines) - 1).map(lambda i: "\n".join(lines[:i] + lines[i + 1:]))
    replace = st.tuples(st.integers(0, len(lines) - 1), st.text(max_size=40)).map(
        lambda t: "\n".join(lines[:t[0]] + [t[1]] + lines[t[0] + 1:]))
    values = st.sampled_from(['""', "0", "-1", "1.5", "true", "[]", "{}", '"q01"', '"F9"', "9999999999999999999999",
                              '"<script>"', "nan", "inf"])
    revalue = st.tuples(st.sampled_from([i for i, l in enumerate(lines) if " = " in l and not l.startswith("#")]),
                        values).map(lambda t: "\n".join(
                            lines[:t[0]] + [lines[t[0]].split(" = ")[0] + " = " + t[1]] + lines[t[0] + 1:]))
    return st.one_of(delete, replace, revalue, st.text(max_size=200))


@FUZZ
@given(text=_mutations())
def test_questionnaire_loader_answers_every_mutation_with_its_own_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("q") / "sipas-hcm-26.toml"
    path.write_text(text, encoding="utf-8")
    try:
        q = questionnaires.load(path)
    except QuestionnaireError as error:
        assert str(error).startswith(str(path)) or "sipas-hcm-26.toml" in str(error)
    else:
        assert len(q.criteria) >= 1
        assert questionnaires.Questionnaire.from_json(q.to_json()) == q


@FUZZ
@given(doc=st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
                        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                        max_leaves=20))
def test_stored_json_that_is_not_a_questionnaire_is_refused_cleanly(doc):
    try:
        questionnaires.Questionnaire.from_json(json.dumps(doc))
    except QuestionnaireError:
        pass


def test_the_mutation_source_is_valid_toml():
    assert tomllib.loads(SHIPPED)["id"] == "sipas-hcm-26"
