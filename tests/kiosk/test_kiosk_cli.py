"""add-kiosk, list-kiosks and revoke-kiosk, on a real SQLite file."""
import re

from survey.kiosk import kiosks

URL = re.compile(r"^https://khaosat\.example\.gov\.vn/k/([A-Za-z0-9_-]{43})$", re.M)


def test_add_kiosk_prints_a_device_url_whose_token_is_stored_only_as_a_hash(cli, db):
    result = cli("add-kiosk", "--unit", "quan-1", "--name", "Quầy 3", "--field", "land")
    assert result.exit_code == 0, result.output
    token = URL.search(result.output).group(1)
    row = db.execute("SELECT k.name, k.field, k.token_hash, u.slug FROM kiosks k JOIN units u ON u.id = k.unit_id "
                     "WHERE k.name = 'Quầy 3'").fetchone()
    assert row[0:2] == ("Quầy 3", "land") and row[3] == "quan-1"
    assert row[2] == kiosks.hash_token(token) and token not in row[2]
    assert kiosks.authenticate(db, token).name == "Quầy 3"


def test_add_kiosk_names_kiosks_in_turn_and_takes_the_base_url_option(cli):
    refused = cli("add-kiosk", "--unit", "quan-3", "--base-url", "http://10.0.0.5:8000/")
    assert refused.exit_code == 1 and "PUBLIC_BASE_URL" in refused.output and "Nothing was registered" in refused.output
    first = cli("add-kiosk", "--unit", "quan-3", "--base-url", "http://10.0.0.5:8000/", "--force")
    second = cli("add-kiosk", "--unit", "quan-3")
    assert 'Kiosk 1' in first.output and "http://10.0.0.5:8000/k/" in first.output
    assert 'Kiosk 2' in second.output
    assert URL.search(first.output) is None and URL.search(second.output)


def test_add_kiosk_refuses_an_unknown_unit_a_parent_unit_a_bad_field_and_a_taken_name(cli, db):
    for args, message in [
        (["--unit", "quan-99"], "no active unit 'quan-99'"),
        (["--unit", "tp-ho-chi-minh"], "has sub-units"),
        (["--unit", "quan-1", "--field", "fishing"], "field 'fishing' is not a field of procedure"),
    ]:
        result = cli("add-kiosk", *args)
        assert result.exit_code == 1 and message in result.output, result.output
    assert cli("add-kiosk", "--unit", "quan-1", "--name", "A").exit_code == 0
    again = cli("add-kiosk", "--unit", "quan-1", "--name", "A")
    assert again.exit_code == 1 and "already has an active kiosk named 'A'" in again.output
    assert db.execute("SELECT count(*) FROM kiosks").fetchone()[0] == 1


def test_list_kiosks_shows_status_and_revoke_kiosk_stops_the_token(cli, db):
    token = URL.search(cli("add-kiosk", "--unit", "quan-1", "--name", "Front desk").output).group(1)
    cli("add-kiosk", "--unit", "quan-5", "--name", "Side desk")
    listing = cli("list-kiosks")
    assert listing.exit_code == 0
    assert re.search(r"quan-1\s+Front desk\s+never\s+0\s+active", listing.output), listing.output
    kiosk_id = db.execute("SELECT id FROM kiosks WHERE name = 'Front desk'").fetchone()[0]
    revoked = cli("revoke-kiosk", str(kiosk_id))
    assert revoked.exit_code == 0 and "revoked at" in revoked.output
    assert "revoked 20" in cli("list-kiosks", "--unit", "quan-1").output
    assert "Front desk" not in cli("list-kiosks", "--active").output
    assert "Side desk" in cli("list-kiosks", "--active").output
    again = cli("revoke-kiosk", str(kiosk_id))
    assert again.exit_code == 1 and "already revoked" in again.output
    missing = cli("revoke-kiosk", "999")
    assert missing.exit_code == 1 and "no kiosk with id 999" in missing.output
    try:
        kiosks.authenticate(db, token)
    except kiosks.KioskRefused as refused:
        assert refused.reason == "revoked" and refused.status == 403
    else:
        raise AssertionError("a revoked token was accepted")


def test_list_kiosks_says_when_there_are_none(cli):
    assert "No kiosks for unit quan-1" in cli("list-kiosks", "--unit", "quan-1").output


def test_kiosk_commands_have_help_with_an_example(cli):
    for command in ("add-kiosk", "list-kiosks", "revoke-kiosk"):
        result = cli(command, "--help")
        assert result.exit_code == 0 and "Example: flask --app survey " + command in result.output
