"""Items 4 and 8 of issue 12 against gunicorn: a kiosk's clock cannot hide a burst or
backdate responses, and a kiosk cannot slip a stray questionnaire into a period."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from .conftest import add_kiosk, kiosk_body, kiosk_post

pytestmark = pytest.mark.timeout(300)
ISO = "%Y-%m-%dT%H:%M:%SZ"


def test_a_burst_with_spread_out_device_times_is_flagged_by_server_time(server):
    token = add_kiosk(server)
    browser = server.browser()
    assert browser.get(f"/k/{token}").status == 200
    now = datetime.now(timezone.utc)
    for i in range(60):  # sent within seconds, claiming to be 130 s apart over two hours
        claimed = now - timedelta(hours=2) + timedelta(seconds=130 * i)
        answer = kiosk_post(browser, token, kiosk_body(started_at=(claimed - timedelta(minutes=3)).strftime(ISO),
                                                      submitted_at=claimed.strftime(ISO)))
        assert answer.status == 201, answer.text
    kiosk_id = server.rows("SELECT id FROM kiosks")[-1]["id"]
    flagged = server.rows("SELECT count(*) AS n FROM response_flags WHERE kiosk_id = ? AND burst = 1",
                                [kiosk_id])[0]["n"]
    assert flagged == 60          # trusting the device's clock flagged 9
    stored = server.rows("SELECT submitted_at, client_submitted_at, duration_s FROM responses "
                               "WHERE kiosk_id = ?", [kiosk_id])
    assert all(abs((datetime.strptime(r["submitted_at"], ISO).replace(tzinfo=timezone.utc) - now).total_seconds())
               < 120 for r in stored)
    assert all(r["duration_s"] == 180 for r in stored)
    # The staff see the burst on the quality page.
    staff = server.browser()
    assert staff.login("boss").status == 302
    quality = staff.get("/staff/quality")
    assert quality.status == 200 and "60" in quality.text


def test_a_device_cannot_backdate_a_response_to_yesterday(server):
    token = add_kiosk(server, "phuong-tan-dinh")
    browser = server.browser()
    browser.get(f"/k/{token}")
    now = datetime.now(timezone.utc)
    yesterday = now - timedelta(hours=23)
    body = kiosk_body(unit="phuong-tan-dinh", started_at=(yesterday - timedelta(minutes=5)).strftime(ISO),
                      submitted_at=yesterday.strftime(ISO))
    assert kiosk_post(browser, token, body).status == 201
    row = server.rows("SELECT submitted_at, client_submitted_at FROM responses WHERE uuid = ?",
                            [body["submission_id"]])[0]
    assert row["submitted_at"] >= (now - timedelta(minutes=1)).strftime(ISO)
    # the hint is bounded by when this kiosk could have shown the form (its first page view, just now)
    assert row["client_submitted_at"] >= (now - timedelta(minutes=1)).strftime(ISO)


@pytest.mark.parametrize("questionnaire, version", [("sipas-2024", 1), ("sipas-hcm-26", 7), ("sipas-hcm-26", 2 ** 70)])
def test_a_kiosk_cannot_submit_a_questionnaire_its_unit_does_not_serve(server, questionnaire, version):
    token = add_kiosk(server)
    browser = server.browser()
    browser.get(f"/k/{token}")
    body = kiosk_body(questionnaire_id=questionnaire, version=version)
    answer = kiosk_post(browser, token, body)
    assert answer.status == 422 and '"unknown_questionnaire"' in answer.text, answer.text
    assert server.rows("SELECT * FROM responses WHERE uuid = ?", [body["submission_id"]]) == []


def test_the_no_javascript_kiosk_form_refuses_another_questionnaire(server):
    import json

    from bench.load import loadgen

    token = add_kiosk(server)
    browser = server.browser()
    page = browser.get(f"/k/{token}").text
    fields = {a["name"]: a.get("value", "") for a in map(loadgen._attrs, loadgen.HIDDEN.findall(page)) if "name" in a}
    # A complete, valid answer to the *other* registered questionnaire.
    other = json.loads(server.rows("SELECT definition FROM questionnaires WHERE id = 'sipas-2024'")[0]
                       ["definition"])
    fields.update({"questionnaire_id": "sipas-2024", "version": "1"})
    fields.update({c["code"]: "4" for c in other["criteria"]})
    fields.update({r["code"]: r["options"][0]["code"] for r in other["respondent"]})
    answer = browser.post(f"/k/{token}", fields)
    assert answer.status == 400
    assert server.rows("SELECT * FROM responses WHERE uuid = ?", [fields["submission_id"]]) == []


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
def test_extreme_device_times_are_refused_not_a_server_error(server, moment):
    token = add_kiosk(server)
    browser = server.browser()
    browser.get(f"/k/{token}")
    answer = kiosk_post(browser, token, kiosk_body(submitted_at=moment))
    assert answer.status == 422 and "plausible" in answer.text
