"""The kiosk page, its plain-form fallback and its service worker, over the test client."""
import re

import pytest

from survey import create_app

from .helpers import answers_form, inputs, register, rows


@pytest.fixture
def kiosk(db):
    return register(db, "quan-1", name="Quầy 2")


@pytest.fixture
def client(app):
    return app.test_client()


def test_the_kiosk_page_is_the_units_questionnaire_in_vietnamese_never_stored(client, kiosk):
    response = client.get(f"/k/{kiosk[1]}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Kiosk-Page"] == "1"
    assert '<html lang="vi">' in html and "Quận 1" in html
    assert 'autocomplete="off"' in html and 'id="survey"' in html
    assert f'data-token="{kiosk[1]}"' in html and 'data-unit="quan-1"' in html
    assert html.count('type="radio"') > 26 * 5
    hidden, checked = inputs(html)
    assert checked == {} and hidden["questionnaire_id"] == "sipas-hcm-26" and hidden["csrf_token"]
    assert "<script>" not in html and " onclick=" not in html and " style=" not in html


def test_english_is_asked_per_page_and_not_kept_for_the_next_respondent(client, kiosk):
    english = client.get(f"/k/{kiosk[1]}?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "District 1" in english
    assert f'href="/k/{kiosk[1]}?lang=vi"' in english
    assert '<html lang="vi">' in client.get(f"/k/{kiosk[1]}").get_data(as_text=True)


def test_a_kiosk_with_a_field_preselects_it(client, db):
    _, token = register(db, "quan-3", name="Đất đai", field="land")
    assert inputs(client.get(f"/k/{token}").get_data(as_text=True))[1] == {"field": "land"}


def test_a_revoked_or_unknown_token_gets_a_clear_refusal_page(client, db, kiosk):
    from survey.kiosk import kiosks

    unknown = client.get("/k/" + "A" * 43)
    assert unknown.status_code == 401 and "không đúng" in unknown.get_data(as_text=True)
    kiosks.revoke(db, kiosk[0].id)
    revoked = client.get(f"/k/{kiosk[1]}?lang=en")
    text = revoked.get_data(as_text=True)
    assert revoked.status_code == 403 and "This kiosk has been revoked." in text
    assert "Responses stored on this device are not deleted." in text
    assert 'id="kiosk-queue"' in text and "data-token" not in text and 'id="survey"' not in text
    assert client.post(f"/k/{kiosk[1]}", data=answers_form()).status_code == 403
    assert rows(db) == []


def test_the_plain_form_posts_a_kiosk_response_then_thanks_then_an_empty_form(client, db, kiosk):
    page = client.get(f"/k/{kiosk[1]}").get_data(as_text=True)
    hidden, _ = inputs(page)
    response = client.post(f"/k/{kiosk[1]}?lang=vi", data={**hidden, **answers_form(comment="Tốt")})
    assert response.status_code == 303 and response.headers["Location"].startswith(f"/k/{kiosk[1]}/thanks")
    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200 and "Cảm ơn" in thanks.get_data(as_text=True)
    assert thanks.headers["Refresh"] == f"5; url=/k/{kiosk[1]}"
    stored = rows(db)
    assert len(stored) == 1 and stored[0]["uuid"] == hidden["submission_id"]
    assert (stored[0]["channel"], stored[0]["kiosk_id"], stored[0]["comment"]) == ("kiosk", kiosk[0].id, "Tốt")
    # sending the same form again (Back, then Send) stores nothing more
    again = client.post(f"/k/{kiosk[1]}", data={**hidden, **answers_form()})
    assert again.status_code == 303 and len(rows(db)) == 1
    # the next respondent gets a new form with nothing chosen
    hidden2, checked2 = inputs(client.get(f"/k/{kiosk[1]}").get_data(as_text=True))
    assert checked2 == {} and hidden2["submission_id"] != hidden["submission_id"]


def test_the_plain_form_shows_missing_answers_next_to_their_question(client, db, kiosk):
    hidden, _ = inputs(client.get(f"/k/{kiosk[1]}").get_data(as_text=True))
    data = {**hidden, **answers_form()}
    del data["q07"]
    response = client.post(f"/k/{kiosk[1]}", data=data)
    assert response.status_code == 422
    assert "câu 7" in response.get_data(as_text=True)
    assert rows(db) == []


def test_a_stale_csrf_token_gives_the_form_back_with_answers_kept_and_a_fresh_token(app, tmp_path, kiosk, db):
    hidden, _ = inputs(app.test_client().get(f"/k/{kiosk[1]}").get_data(as_text=True))
    # the server restarted overnight with a new secret key: the old session and token mean nothing
    restarted = create_app({**{k: app.config[k] for k in ("DATABASE", "TESTING")}, "SECRET_KEY": "n" * 32},
                           instance_path=str(tmp_path / "instance2"))
    client = restarted.test_client()
    response = client.post(f"/k/{kiosk[1]}", data={**hidden, **answers_form(gender="female")})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "vui lòng bấm" in html
    hidden2, checked = inputs(html)
    assert checked["gender"] == "female" and checked["q01"] == "4" and len(checked) == 30
    assert hidden2["csrf_token"] != hidden["csrf_token"] and hidden2["submission_id"] == hidden["submission_id"]
    assert rows(db) == []
    done = client.post(f"/k/{kiosk[1]}", data={**hidden2, **answers_form(gender="female")})
    assert done.status_code == 303
    assert [r["uuid"] for r in rows(db)] == [hidden["submission_id"]]


def test_a_damaged_plain_form_is_answered_with_a_fresh_form_not_an_error_page(client, db, kiosk):
    hidden, _ = inputs(client.get(f"/k/{kiosk[1]}").get_data(as_text=True))
    for damage in ({"submission_id": "x"}, {"version": "99"}, {"q99": "4"}):
        response = client.post(f"/k/{kiosk[1]}", data={**hidden, **answers_form(), **damage})
        assert response.status_code == 400 and 'id="survey"' in response.get_data(as_text=True)
    assert rows(db) == []


def test_the_service_worker_is_served_for_the_kiosk_scope_with_its_asset_list(client):
    response = client.get("/k/sw.js")
    source = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/k/" and response.headers["Cache-Control"] == "no-cache"
    config = re.search(r'var CONFIG = (\{.*?\});', source).group(1)
    assert '"/static/kiosk/kiosk.js"' in config and '"/static/site.css"' in config
    for asset in re.findall(r'"(/static/[^"]+)"', config):
        assert client.get(asset).status_code == 200, asset


def test_the_kiosk_home_without_a_token_explains_itself(client):
    response = client.get("/k/")
    assert response.status_code == 200 and "chưa được thiết lập" in response.get_data(as_text=True)
