"""Building kiosk submissions the way kiosk.js does."""
from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from datetime import datetime, timedelta, timezone

from survey.kiosk import kiosks

API = "/k/api/responses"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def register(db, unit="quan-1", **kw) -> tuple[kiosks.Kiosk, str]:
    return kiosks.register(db, unit, **kw)


def payload(**changes) -> dict:
    now = datetime.now(timezone.utc)
    body = {
        "submission_id": str(uuid.uuid4()), "questionnaire_id": "sipas-hcm-26", "version": 1,
        "unit": "quan-1", "lang": "vi", "started_at": iso(now - timedelta(minutes=4)), "submitted_at": iso(now),
        "answers": {f"q{n:02d}": "4" for n in range(1, 27)},
        "respondent": {"respondent_type": "individual", "gender": "female", "age_band": "35-49", "field": "land"},
        "comment": None,
    }
    body.update(changes)
    return body


def post(client, token, body, **headers):
    return client.post(API, json=body, headers={"Authorization": f"Kiosk {token}", **headers})


def rows(db, sql="SELECT * FROM responses ORDER BY id", params=()):
    return list(db.query(sql, params))


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hidden, self.checked = {}, {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        if tag == "input" and a.get("type") == "radio" and "checked" in a:
            self.checked[a["name"]] = a["value"]


def inputs(html: str) -> tuple[dict[str, str], dict[str, str]]:
    """The hidden fields and the checked radio buttons of a rendered form."""
    parser = _Inputs()
    parser.feed(html)
    return parser.hidden, parser.checked


def answers_form(**changes) -> dict[str, str]:
    """A complete set of answers as the web form posts them."""
    data = {f"q{n:02d}": "4" for n in range(1, 27)}
    data.update(respondent_type="individual", gender="male", age_band="25-34", field="land")
    data.update(changes)
    return data
