import json
import sqlite3

import pytest

from survey import responses as store


def questionnaire_row(db, codes=("q01", "q02", "q03")):
    definition = {"id": "t", "version": 1, "criteria": [{"code": c} for c in codes]}
    db.execute("INSERT INTO questionnaires VALUES ('t', 1, ?, 'x', '2025-01-01T00:00:00Z')", [json.dumps(definition)])
    db.execute("INSERT INTO units (code, slug, name_vi, name_en, kind) VALUES ('1', 'quan-1', 'Quận 1', 'District 1', 'quan')")


def response(uuid="00000000-0000-4000-8000-000000000001", answers="45n", **kw):
    values = dict(uuid=uuid, questionnaire_id="t", questionnaire_version=1, unit_id=1, channel="phone",
                  lang="vi", started_at="2025-03-01T02:00:00Z", submitted_at="2025-03-01T02:03:20Z",
                  answers=answers, respondent={"gender": "female", "age_band": "25-34"})
    values.update(kw)
    return store.Response(**values)


def test_answers_round_trip_through_the_compact_form():
    codes = ["q01", "q02", "q03", "q04"]
    encoded = store.encode_answers(codes, {"q01": 5, "q02": "na", "q04": 1})
    assert encoded == "5n-1"
    assert store.decode_answers(codes, encoded) == {"q01": 5, "q02": "na", "q03": None, "q04": 1}


@pytest.mark.parametrize("bad", [0, 6, "4", 4.0, "yes"])
def test_encoding_refuses_values_off_the_scale(bad):
    with pytest.raises(ValueError, match="q01"):
        store.encode_answers(["q01"], {"q01": bad})


def test_a_response_is_stored_once_even_when_submitted_twice(db):
    questionnaire_row(db)
    assert store.save(db, response()) is True
    assert store.save(db, response()) is False
    rows = list(db.query("SELECT * FROM responses"))
    assert len(rows) == 1
    assert rows[0]["duration_s"] == 200
    assert rows[0]["gender"] == "female" and rows[0]["answers"] == "45n"


def test_the_database_itself_refuses_a_second_row_with_the_same_uuid(db):
    questionnaire_row(db)
    store.save(db, response())
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO responses (uuid, questionnaire_id, questionnaire_version, unit_id, channel, lang, "
                   "started_at, submitted_at, answers) SELECT uuid, questionnaire_id, questionnaire_version, "
                   "unit_id, channel, lang, started_at, submitted_at, answers FROM responses")


@pytest.mark.parametrize("change", [
    {"answers": "4x5"}, {"channel": "fax"}, {"lang": "fr"}, {"comment": "x" * 1201}, {"unit_id": 99},
    {"questionnaire_version": 2},
])
def test_the_schema_refuses_impossible_responses_and_writes_nothing(db, change):
    questionnaire_row(db)
    with pytest.raises(sqlite3.IntegrityError):
        store.save(db, response(**change))
    assert store.count(db) == 0


def test_save_many_counts_only_new_rows(db):
    questionnaire_row(db)
    batch = [response(uuid=f"00000000-0000-4000-8000-{i:012d}") for i in range(5)]
    assert store.save_many(db, batch) == 5
    assert store.save_many(db, batch[:3] + [response(uuid="00000000-0000-4000-8000-000000000099")]) == 1
    assert store.count(db) == 6


def test_concurrent_writers_wait_their_turn_instead_of_failing(tmp_path):
    """Many connections saving at once (as gunicorn workers do) never see 'database is locked'."""
    import threading

    from survey.db import connect
    from survey.migrations import migrate

    path = tmp_path / "busy.sqlite3"
    setup = connect(path)
    migrate(setup)
    questionnaire_row(setup)
    setup.close()
    errors = []

    def writer(w):
        db = connect(path)
        try:
            for i in range(60):
                db.execute("SELECT count(*) FROM responses").fetchone()  # readers and writers mix
                store.save(db, response(uuid=f"00000000-0000-4000-8000-{w:04d}{i:08d}"))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(repr(exc))
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check = connect(path)
    assert store.count(check) == 8 * 60
