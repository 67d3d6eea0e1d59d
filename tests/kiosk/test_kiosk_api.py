"""POST /k/api/responses: the kiosk script's submissions, over the test client on a real SQLite file."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from .helpers import iso, payload, post, register, rows


@pytest.fixture
def kiosk(db):
    return register(db, "quan-1", name="Quầy 1", field="land")


@pytest.fixture
def client(app):
    return app.test_client()


def test_a_valid_submission_is_stored_once_with_the_kiosk_channel_and_id(client, db, kiosk):
    k, token = kiosk
    body = payload(comment="Cán bộ tận tình.")
    first = post(client, token, body)
    assert first.status_code == 201 and first.json == {"status": "stored", "submission_id": body["submission_id"]}
    again = post(client, token, body)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    stored = rows(db)
    assert len(stored) == 1
    row = stored[0]
    assert (row["uuid"], row["channel"], row["kiosk_id"], row["lang"]) == (body["submission_id"], "kiosk", k.id, "vi")
    assert row["answers"] == "4" * 26 and row["gender"] == "female" and row["field"] == "land"
    assert row["comment"] == "Cán bộ tận tình." and row["duration_s"] == 240
    assert row["unit_id"] == db.execute("SELECT id FROM units WHERE slug = 'quan-1'").fetchone()[0]


def test_the_api_needs_no_csrf_token_or_cookie_only_the_kiosk_header(client, kiosk):
    # the app here has CSRF on (the test config does not turn it off)
    assert client.application.config.get("WTF_CSRF_ENABLED", True)
    response = post(client, kiosk[1], payload())
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("header, reason", [
    (None, "missing_token"), ("Bearer abc", "missing_token"), ("Kiosk ", "missing_token"),
    ("Kiosk " + "x" * 43, "unknown_token"),
])
def test_a_missing_or_foreign_token_is_refused_with_401_and_a_reason(client, db, kiosk, header, reason):
    headers = {"Authorization": header} if header else {}
    response = client.post("/k/api/responses", json=payload(), headers=headers)
    assert response.status_code == 401 and response.json["reason"] == reason
    assert response.json["status"] == "refused" and response.json["message"]
    assert response.headers["WWW-Authenticate"] == "Kiosk"
    assert rows(db) == []


def test_a_revoked_kiosk_is_refused_with_403_even_for_a_response_queued_before(client, db, kiosk):
    from survey.kiosk import kiosks

    k, token = kiosk
    queued = payload(submitted_at=iso(datetime.now(timezone.utc) - timedelta(hours=2)))
    kiosks.revoke(db, k.id)
    response = post(client, token, queued)
    assert response.status_code == 403 and response.json["reason"] == "revoked"
    assert "thu hồi" in response.json["message"]
    english = post(client, token, payload(lang="en"))
    assert english.json["message"] == "this kiosk has been revoked."
    assert rows(db) == []


def test_a_kiosk_cannot_submit_for_another_unit(client, db, kiosk):
    response = post(client, kiosk[1], payload(unit="quan-3"))
    assert response.status_code == 403 and response.json["reason"] == "foreign_unit"
    assert "quan-3" in response.json["message"]
    assert rows(db) == []


def test_an_older_version_this_kiosk_was_served_is_accepted_no_other(client, db, kiosk, app):
    import json

    from survey import catalog
    from questionnaires.loader import Questionnaire

    assert client.get(f"/k/{kiosk[1]}").status_code == 200   # the kiosk page is served version 1
    other = register(db, "quan-1", name="Quầy 2")            # a kiosk that never loaded version 1
    q = catalog.latest(db, "sipas-hcm-26")
    newer = json.loads(q.to_json())
    newer["version"] = 2
    catalog.register(db, Questionnaire.from_json(json.dumps(newer)))
    old = post(client, kiosk[1], payload(version=1))       # queued offline under version 1
    assert old.status_code == 201
    assert rows(db)[0]["questionnaire_version"] == 1
    never = post(client, other[1], payload(version=1))
    assert never.status_code == 422 and never.json["reason"] == "unknown_questionnaire"
    assert post(client, other[1], payload(version=2)).status_code == 201   # the current one
    missing = post(client, kiosk[1], payload(version=7))
    assert missing.status_code == 422 and missing.json["reason"] == "unknown_questionnaire"
    assert "sipas-hcm-26 v7" in missing.json["message"]


@pytest.mark.parametrize("change, status, fragment", [
    ({"submission_id": "not-a-uuid"}, 400, "submission_id must be a UUID version 4"),
    ({"submission_id": str(uuid.uuid1())}, 400, "UUID version 4"),
    ({"lang": "fr"}, 400, "lang must be vi or en"),
    ({"version": "1"}, 400, "version (number)"),
    ({"extra": 1}, 400, "unknown field 'extra'"),
    ({"submitted_at": "yesterday"}, 422, "'yesterday' is not an ISO 8601 time"),
    ({"started_at": "2025-03-01T10:00:00"}, 422, "started_at has no time zone"),
    ({"answers": [4] * 26}, 422, "answers must be an object"),
    ({"answers": {"q99": "4"}}, 422, "unknown criterion 'q99'"),
    ({"respondent": {"respondent_type": "individual", "gender": "other", "age_band": "35-49"}}, 422, "“other”"),
    ({"comment": "x" * 1300}, 422, "1300"),
])
def test_bad_submissions_are_refused_with_the_problem_named_and_nothing_stored(client, db, kiosk, change, status,
                                                                              fragment):
    response = post(client, kiosk[1], payload(**change))
    assert response.status_code == status, response.json
    assert response.json["status"] == "refused" and fragment in response.json["message"], response.json
    assert rows(db) == []


def test_a_missing_rating_is_refused_with_the_question_named(client, db, kiosk):
    body = payload()
    body["answers"]["q05"] = None
    response = post(client, kiosk[1], body)
    assert response.status_code == 422 and response.json["reason"] == "invalid"
    assert "q05" in response.json["errors"] and "5" in response.json["errors"]["q05"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"{"])
def test_a_body_that_is_not_a_json_object_is_a_clear_400(client, kiosk, body):
    response = client.post("/k/api/responses", data=body, content_type="application/json",
                           headers={"Authorization": f"Kiosk {kiosk[1]}"})
    assert response.status_code == 400 and response.json["reason"] == "bad_request"


def test_a_body_over_the_size_limit_is_a_clear_413(client, kiosk):
    response = post(client, kiosk[1], payload(comment="x" * 70_000))
    assert response.status_code == 413 and response.json["reason"] == "too_large"


def test_the_field_of_the_kiosk_fills_in_when_the_respondent_left_it_out(client, db, kiosk):
    body = payload()
    del body["respondent"]["field"]
    body["respondent"]["field"] = None
    assert post(client, kiosk[1], body).status_code == 201
    assert rows(db)[0]["field"] == "land"


def test_the_server_clock_decides_and_the_device_clock_is_only_a_bounded_hint(client, db, kiosk):
    now = datetime.now(timezone.utc)
    queued = payload(started_at=iso(now - timedelta(days=3, minutes=5)), submitted_at=iso(now - timedelta(days=3)))
    ahead = payload(started_at=iso(now + timedelta(days=400)), submitted_at=iso(now + timedelta(days=400, minutes=3)))
    epoch = payload(started_at="1970-01-02T00:00:00Z", submitted_at="1970-01-02T00:02:00Z")
    for body in (queued, ahead, epoch):
        assert post(client, kiosk[1], body).status_code == 201
    stored = {r["uuid"]: r for r in rows(db)}
    created = kiosk[0].created_at
    for body, duration in ((queued, 300), (ahead, 180), (epoch, 120)):
        row = stored[body["submission_id"]]
        submitted = datetime.strptime(row["submitted_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert abs((submitted - now).total_seconds()) < 60      # the server's receive time
        assert row["duration_s"] == duration                      # the visit's length is kept
        # the device's claim, bounded by the kiosk's registration and the receive time
        assert created <= row["client_submitted_at"] <= row["submitted_at"]


def test_a_response_queued_offline_is_counted_when_received_with_its_claimed_time_as_hint(client, db):
    from survey.kiosk import kiosks

    k, token = register(db, "quan-1")
    db.execute("UPDATE kiosks SET created_at = '2025-01-01T00:00:00Z' WHERE id = ?", [k.id])
    post(client, token, payload(started_at="2025-03-01T02:00:00Z", submitted_at="2025-03-01T02:06:00Z"))
    row = rows(db)[0]
    assert row["client_submitted_at"] == "2025-03-01T02:06:00Z"
    assert row["submitted_at"] > "2026-01-01" and row["duration_s"] == 360
    assert kiosks.get(db, k.id).last_seen_at > "2025-03-02"


def test_a_burst_is_stored_in_full_never_refused(client, db, kiosk):
    now = datetime.now(timezone.utc)
    results = [post(client, kiosk[1], payload(submitted_at=iso(now - timedelta(seconds=30 - i)),
                                              started_at=iso(now - timedelta(seconds=60))))
               for i in range(25)]
    assert [r.status_code for r in results] == [201] * 25
    assert len(rows(db)) == 25


def test_status_names_the_kiosk_and_ping_needs_nothing(client, kiosk):
    response = client.get("/k/api/status", headers={"Authorization": f"Kiosk {kiosk[1]}"})
    assert response.json == {"kiosk": {"id": kiosk[0].id, "name": "Quầy 1", "unit": "quan-1", "field": "land"}}
    assert client.get("/k/api/status").status_code == 401
    assert client.get("/k/api/ping").status_code == 204
