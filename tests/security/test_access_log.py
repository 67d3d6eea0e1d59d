"""Issue 12 item 9: a kiosk's token never reaches gunicorn's access log.

A real gunicorn writes its access log to a file (SURVEY_ACCESS_LOG); a kiosk does what it does
all day -- its page, the service worker script, the pages the worker fetches on every
navigation (``/k/<token>?lang=…``), the API, the no-JavaScript form and its thank-you page,
with the kiosk page as Referer -- and the token appears nowhere in the log, while the routes
(``/k/…``, ``/k/api/responses``, ``/k/sw.js``) and statuses stay readable."""
from __future__ import annotations

import re
import time

import pytest

from .conftest import add_kiosk, kiosk_body, kiosk_post

pytestmark = pytest.mark.timeout(300)


def test_kiosk_tokens_never_reach_the_access_log(make_server):
    server = make_server(workers=2)
    log = server.folder / "access.log"
    server.env["SURVEY_ACCESS_LOG"] = str(log)
    server.init()
    token = add_kiosk(server)
    server.start()
    kiosk = server.browser({"Referer": f"http://127.0.0.1:{server.port}/k/{token}"})
    page = kiosk.get(f"/k/{token}")
    assert page.status == 200
    assert kiosk.get("/k/sw.js").status == 200
    for lang in ("vi", "en"):                                   # what the service worker fetches
        assert kiosk.get(f"/k/{token}?lang={lang}").status == 200
    assert kiosk.request("HEAD", f"/k/{token}").status == 200
    assert kiosk_post(kiosk, token, kiosk_body()).status == 201
    assert kiosk.get("/k/api/status", headers={"Authorization": f"Kiosk {token}"}).status == 200
    hidden = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', page.text))
    answers = {f"q{n:02d}": "4" for n in range(1, 27)}
    required = dict(re.findall(r'name="(respondent_type|gender|age_band|field)"[^>]*value="([^"]+)"', page.text))
    sent = kiosk.post(f"/k/{token}", {**hidden, **answers, **required})
    assert sent.status == 303, sent.text[:1000]
    assert kiosk.get(sent.header("location")).status == 200        # /k/<token>/thanks
    assert kiosk.get(f"/k/{token[:-1]}").status in (401, 403, 404)  # a wrong token is not logged either
    server.stop()                                                   # flush the log
    deadline = time.time() + 10
    while not log.exists() and time.time() < deadline:
        time.sleep(0.1)
    text = log.read_text(encoding="utf-8")
    assert token not in text and token[:-1] not in text, [line for line in text.splitlines() if token[:20] in line]
    assert token[:12] not in text
    assert '"GET /k/…" 200' in text and '"POST /k/…" 303' in text and '"GET /k/…/thanks" 200' in text
    assert '"GET /k/sw.js" 200' in text and '"POST /k/api/responses" 201' in text
    assert '"GET /k/api/status" 200' in text
    assert '"HEAD /k/…" 200' in text
