"""Anonymity by design: a stored response holds nothing of the dossier, contact or code; purge-contacts."""
from __future__ import annotations

from datetime import date

from survey import frames
from survey import db as database
from tests.citizen.conftest import read_form

from .conftest import P


def test_a_response_to_an_invitation_keeps_its_stratum_and_nothing_that_leads_back(sampled, client, cli, app):
    inv = sampled[0]
    q_answers = {}
    page = client.get(inv["link"].replace("https://khaosat.example.gov.vn", ""))
    form = read_form(page.data)
    for name, values in form.radios.items():
        q_answers[name] = values[0]
    assert client.post("/i/answer", data={**form.hidden, **q_answers}).status_code == 303
    row = cli.rows("SELECT * FROM responses")[0]
    flat = " ".join(str(v) for v in row.values())
    code = inv["link"].rsplit("/", 1)[1]
    dossier_row = cli.rows("SELECT id FROM frame_dossiers WHERE dossier = ?", [inv["dossier"]])[0]
    inv_id = cli.one("SELECT id FROM invitations WHERE dossier_id = ?", [dossier_row["id"]])
    for secret in (inv["dossier"], inv["contact"], code, inv["short_code"], inv["short_code"].replace("-", "")):
        assert secret not in flat
    assert row["frame_id"] == 1 and row["field"] == inv["field"]
    assert "invitation" not in row and "dossier_id" not in row       # no column could hold them
    assert set(row) >= {"frame_id", "unit_id", "field"}
    # the invitation keeps that it was used and the day; the dossier that it responded
    used = cli.rows("SELECT used_on FROM invitations WHERE id = ?", [inv_id])[0]
    assert len(used["used_on"]) == 10
    # nothing in any other table ties the response to the invitation
    for table in ("invitations", "frame_dossiers", "frame_strata", "frames"):
        for r in cli.rows(f"SELECT * FROM {table}"):
            assert row["uuid"] not in " ".join(str(v) for v in r.values())


def test_purge_deletes_contacts_and_dossier_codes_after_the_retention(sampled, cli, app):
    early = cli("purge-contacts", "--period", P, "--yes")
    # the period ended 2025-12-31; with today's date well after + 90 days, it is due
    assert early.exit_code == 0, early.output
    assert "contacts and dossier codes of 2,400 dossiers deleted" in early.output
    assert cli.one("SELECT count(*) FROM frame_dossiers WHERE contact IS NOT NULL OR dossier IS NOT NULL") == 0
    assert cli.one("SELECT count(*) FROM invitations WHERE code_hash IS NOT NULL OR short_hash IS NOT NULL") == 0
    # counts and strata stay: response rates can still be shown
    assert cli.one("SELECT count(*) FROM frame_dossiers WHERE sampled = 1") == len(sampled)
    assert cli("response-rates", "--period", P).exit_code == 0
    again = cli("purge-contacts", "--yes")
    assert again.exit_code == 0 and "Nothing to purge" in again.output
    # the invitations stop working, with a clear message
    refused = cli("export-invitations", "--period", P, "--out", "/tmp/x.csv", "--reissue")
    assert refused.exit_code == 1 and "purged" in refused.output


def test_purge_refuses_a_period_whose_retention_has_not_run_out(cli, frame_csv, app):
    cli("import-frame", frame_csv, "--period", P)
    db = database.connect(app.config["DATABASE"])
    try:
        try:
            frames.purge_contacts(db, today=date(2026, 1, 15), retention_days=90, period=("2025-10-01", "2025-12-31"))
        except frames.FrameError as exc:
            assert "kept until 2026-03-31" in str(exc)
        else:
            raise AssertionError("purged too early")
        assert frames.purge_contacts(db, today=date(2026, 1, 15), retention_days=90) == []
        assert [p for p, _ in frames.purge_contacts(db, today=date(2026, 3, 31), retention_days=90)] == [P]
    finally:
        db.close()
