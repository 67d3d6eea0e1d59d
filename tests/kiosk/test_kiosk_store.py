"""Tokens and storing kiosk responses: bursts are flagged, never dropped; retries store once."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from survey import responses
from survey.kiosk import kiosks


def response(kiosk, submitted, **changes):
    values = dict(uuid=str(uuid.uuid4()), questionnaire_id="sipas-hcm-26", questionnaire_version=1,
                  unit_id=kiosk.unit_id, channel="kiosk", kiosk_id=kiosk.id, lang="vi",
                  started_at=responses.utc_timestamp(submitted - timedelta(minutes=4)),
                  submitted_at=responses.utc_timestamp(submitted), answers="4" * 26)
    values.update(changes)
    return responses.Response(**values)


@pytest.mark.parametrize("token, reason, status", [
    (None, "missing_token", 401), ("", "missing_token", 401), ("not-a-kiosk-token", "unknown_token", 401),
])
def test_a_missing_or_unknown_token_is_refused_with_a_reason(db, token, reason, status):
    kiosks.register(db, "quan-1")
    with pytest.raises(kiosks.KioskRefused) as refused:
        kiosks.authenticate(db, token)
    assert (refused.value.reason, refused.value.status) == (reason, status)


def test_a_token_is_random_and_only_its_hash_is_kept(db):
    (a, token_a), (b, token_b) = kiosks.register(db, "quan-1"), kiosks.register(db, "quan-1")
    assert token_a != token_b and len(token_a) >= 43
    hashes = [r["token_hash"] for r in db.query("SELECT token_hash FROM kiosks ORDER BY id")]
    assert hashes == [kiosks.hash_token(token_a), kiosks.hash_token(token_b)]
    assert kiosks.authenticate(db, token_b).id == b.id


def test_a_burst_of_responses_is_stored_in_full(db):
    # bursts are for staff to review (the dashboard flags them), never a reason to drop a response
    kiosk, _ = kiosks.register(db, "quan-1")
    start = datetime(2025, 3, 3, 2, 0, tzinfo=timezone.utc)
    assert all(kiosks.save(db, kiosk, response(kiosk, start + timedelta(seconds=i))) for i in range(40))
    assert db.execute("SELECT count(*) FROM responses WHERE kiosk_id = ?", [kiosk.id]).fetchone()[0] == 40
    assert kiosks.all_kiosks(db)[0]["responses"] == 40


def test_a_repeated_submission_is_stored_once_and_not_counted_again(db):
    kiosk, _ = kiosks.register(db, "quan-1")
    one = response(kiosk, datetime(2025, 3, 3, 2, 0, tzinfo=timezone.utc))
    assert kiosks.save(db, kiosk, one)
    assert not kiosks.save(db, kiosk, one)
    assert responses.count(db) == 1
    assert kiosks.get(db, kiosk.id).last_seen_at is not None


def test_a_kiosk_cannot_store_a_response_for_another_unit(db):
    kiosk, _ = kiosks.register(db, "quan-1")
    other = db.execute("SELECT id FROM units WHERE slug = 'quan-3'").fetchone()[0]
    with pytest.raises(kiosks.KioskRefused) as refused:
        kiosks.save(db, kiosk, response(kiosk, datetime.now(timezone.utc), unit_id=other))
    assert refused.value.reason == "foreign_unit"
    assert responses.count(db) == 0
