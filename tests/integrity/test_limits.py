"""Submission limits (issue 13), against a real gunicorn server with 3 workers and the test clock:
the counters live in the database (survey/throttle.py), so they hold across workers; a citizen over
the limit gets the form back with the answers and a polite message in their language, nothing is
stored, and sending again later works; kiosks have their own limit and their queue retries."""
from __future__ import annotations

import json
import re
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from bench.integrity import replay

pytestmark = pytest.mark.timeout(300)
T0 = datetime.now(timezone.utc).replace(hour=3, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = replay.Server(tmp_path_factory.mktemp("limits"), clock=True, workers=3,
                           extra_env={"SURVEY_LIMIT_KIOSK_PER_10_MINUTES": "20"})   # the default is 600
    server.prepare(kiosks={"quan-5": 1})
    with server:
        yield server


def stored(server) -> int:
    conn = sqlite3.connect(server.database)
    try:
        return conn.execute("SELECT count(*) FROM responses").fetchone()[0]
    finally:
        conn.close()


def fresh_connection(who: replay.Identity) -> replay.Identity:
    """The same browser on a new connection (so that requests reach different workers)."""
    other = replay.Identity(who.server, who.address)
    other.cookies = who.cookies
    return other


def test_one_client_over_its_limit_is_refused_politely_and_can_send_later(server):
    me = replay.Identity(server, "203.0.113.50")
    me.request("GET", "/u/quan-1?lang=en", at=T0)          # the citizen chose English
    answers = "4534453445344534453445344"[:len(server.criteria)].ljust(len(server.criteria), "4")
    for i in range(6):
        hidden = fresh_connection(me).fetch_form("quan-1", at=T0 + timedelta(minutes=5 * i))
        status = fresh_connection(me).post_form("quan-1", hidden, answers, server.respondent, server.criteria,
                                                at=T0 + timedelta(minutes=5 * i + 3))
        assert status == 303
    before = stored(server)
    hidden = me.fetch_form("quan-1", at=T0 + timedelta(minutes=40))
    pairs = list(hidden) + list(zip(server.criteria, answers)) + list(server.respondent.items())
    import urllib.parse

    body = urllib.parse.urlencode(pairs).encode()
    status, html = me.request("POST", "/u/quan-1", body=body, at=T0 + timedelta(minutes=43),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 429
    assert "we have just received a lot of responses from this device or network" in html
    assert "Please press send again in about" in html
    assert re.search(rf'name="{server.criteria[0]}" id="[^"]*" value="{answers[0]}"[^>]*checked', html), \
        "answers kept"
    assert stored(server) == before                      # nothing stored
    # Someone else behind the same address (carrier NAT) is not refused.
    neighbour = replay.Identity(server, "203.0.113.50")
    other = neighbour.fetch_form("quan-1", at=T0 + timedelta(minutes=44))
    assert neighbour.post_form("quan-1", other, answers, server.respondent, server.criteria,
                               at=T0 + timedelta(minutes=47)) == 303
    # An hour later the same form goes through, once.
    status, _ = me.request("POST", "/u/quan-1", body=body, at=T0 + timedelta(minutes=61),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303
    assert stored(server) == before + 2


def test_the_refusal_is_in_vietnamese_by_default(server):
    me = replay.Identity(server, "203.0.113.60")
    answers = "3" * len(server.criteria)
    statuses, html = [], ""
    for i in range(7):
        hidden = me.fetch_form("quan-3", at=T0 + timedelta(minutes=i))
        pairs = list(hidden) + list(zip(server.criteria, answers)) + list(server.respondent.items())
        import urllib.parse

        status, html = me.request("POST", "/u/quan-3", body=urllib.parse.urlencode(pairs).encode(),
                                  at=T0 + timedelta(minutes=i, seconds=30),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        statuses.append(status)
    assert statuses == [303] * 6 + [429]
    assert "hệ thống vừa nhận rất nhiều phiếu từ thiết bị hoặc mạng này" in html


def test_a_kiosk_over_its_limit_gets_429_and_its_queue_sends_again_later(server):
    token = server.kiosk_tokens["quan-5"][0]
    kiosk = replay.Identity(server, "192.0.2.5")
    qid, version = server.questionnaire
    results = []
    for i in range(22):
        body = {"submission_id": str(uuid.uuid4()), "questionnaire_id": qid, "version": version, "unit": "quan-5",
                "lang": "vi", "started_at": (T0 - timedelta(minutes=3)).isoformat(),
                "submitted_at": T0.isoformat(), "answers": {c: 4 for c in server.criteria},
                "respondent": server.respondent}
        status, text = kiosk.request("POST", "/k/api/responses", body=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Kiosk {token}"},
                                     at=T0 + timedelta(seconds=i))
        results.append((status, text, body))
    assert [s for s, _, _ in results] == [201] * 20 + [429, 429]
    refusal = json.loads(results[-1][1])
    assert refusal["reason"] == "too_many" and "gửi lại" in refusal["message"]
    # Ten minutes later the queue sends the refused ones again: stored, each once.
    for _, _, body in results[-2:]:
        status, _ = kiosk.request("POST", "/k/api/responses", body=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json", "Authorization": f"Kiosk {token}"},
                                  at=T0 + timedelta(minutes=10, seconds=5))
        assert status == 201
    conn = sqlite3.connect(server.database)
    assert conn.execute("SELECT count(*) FROM responses WHERE channel = 'kiosk'").fetchone()[0] == 22
    conn.close()
