"""Building kiosk submissions the way kiosk.js does."""
from __future__ import annotations

import re
import uuid
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


def form_fields(html: str) -> dict[str, str]:
    """The hidden fields of a rendered questionnaire form."""
    return {m.group(1): m.group(2) for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*type="hidden"[^>]*value="([^"]*)"', html)} | \
        {m.group(2): m.group(1) for m in re.finditer(r'<input[^>]*type="hidden"[^>]*value="([^"]*)"[^>]*name="([^"]+)"', html)}
