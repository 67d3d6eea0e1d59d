"""import-frame: every bad row reported by line, nothing partial; strata against the units of the period."""
from __future__ import annotations

from .conftest import P


def test_a_good_frame_is_imported_with_its_strata(cli, frame_csv):
    result = cli("import-frame", frame_csv, "--period", P)
    assert result.exit_code == 0, result.output
    assert "Imported 2,400 dossiers for 2025-10-01:2025-12-31 in 12 strata" in result.output
    assert cli.one("SELECT count(*) FROM frame_dossiers") == 2400
    strata = cli.rows("SELECT u.slug, s.field, s.population FROM frame_strata s JOIN units u ON u.id = s.unit_id")
    assert len(strata) == 12 and sum(s["population"] for s in strata) == 2400
    assert {s["slug"] for s in strata} == {"case-a", "case-b", "case-c"}



def test_the_unit_column_may_hold_the_unit_code(cli, tmp_path):
    code = cli.one("SELECT code FROM units WHERE slug = 'case-b'")
    f = tmp_path / "codes.csv"
    f.write_text(f"dossier,unit,field,completed_at\nHS-1,{code},land,2025-10-02\nHS-2,case-b,land,2025-10-03\n",
                 encoding="utf-8")
    assert cli("import-frame", f, "--period", P).exit_code == 0
    assert cli.rows("SELECT u.slug, s.population FROM frame_strata s JOIN units u ON u.id = s.unit_id") == [
        {"slug": "case-b", "population": 2}]


def test_every_bad_row_is_reported_by_line_and_nothing_is_imported(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "dossier,unit,field,completed_at,contact\n"
        "HS-1,case-a,land,2025-10-02,+84 901234567\n"
        "HS-2,quan-99,land,2025-10-02,\n"                  # line 3: unknown unit
        "HS-1,case-a,land,2025-10-03,\n"                   # line 4: repeated dossier
        "HS-4,case-a,fishing,2025-10-03,\n"                # line 5: unknown field
        "HS-5,case-a,land,2025-13-40,\n"                   # line 6: not a date
        "HS-6,case-a,land,2026-01-02,\n"                   # line 7: outside the period
        "HS-7,case-a,land,2025-10-02,call me maybe\n"      # line 8: contact
        "HS-8,case-a,land\n"                               # line 9: short row
        "HS-9,case-a,land,2025-11-30T09:15:00+07:00,a@b.vn\n", encoding="utf-8")
    result = cli("import-frame", bad, "--period", P)
    assert result.exit_code == 1
    out = result.output
    assert "7 problem(s), nothing imported" in out
    for needle in ("line 3: unit 'quan-99'", "line 4: dossier 'HS-1' appears again (first on line 2)",
                   "line 5: field 'fishing'", "line 6: completed_at '2025-13-40' is not a valid date",
                   "line 7: completed_at 2026-01-02 is outside the period",
                   "line 8: contact is neither a phone number nor an e-mail address",
                   "line 9: 3 values, the header has 5"):
        assert needle in out, needle
    assert cli.one("SELECT count(*) FROM frames") == 0
    assert cli.one("SELECT count(*) FROM frame_dossiers") == 0


def test_extra_columns_are_refused_so_no_other_personal_data_gets_in(cli, tmp_path):
    bad = tmp_path / "names.csv"
    bad.write_text("dossier,unit,field,completed_at,full_name\nHS-1,case-a,land,2025-10-02,Nguyễn Văn A\n",
                   encoding="utf-8")
    result = cli("import-frame", bad, "--period", P)
    assert result.exit_code == 1 and "unknown column(s) full_name" in result.output
    assert cli.one("SELECT count(*) FROM frame_dossiers") == 0


def test_a_file_that_is_not_utf8_is_refused_clearly(cli, tmp_path):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("dossier,unit,field,completed_at\nHS-1,quận-1,land,2025-10-02\n".encode("cp1258", "replace")
                    + b"\xff\xfe")
    result = cli("import-frame", bad, "--period", P)
    assert result.exit_code == 1 and "not UTF-8" in result.output


def test_a_period_is_imported_once_unless_replaced_before_sampling(cli, frame_csv):
    assert cli("import-frame", frame_csv, "--period", P).exit_code == 0
    again = cli("import-frame", frame_csv, "--period", P)
    assert again.exit_code == 1 and "use --replace" in again.output
    assert cli("import-frame", frame_csv, "--period", P, "--replace").exit_code == 0
    assert cli.one("SELECT count(*) FROM frames") == 1 and cli.one("SELECT count(*) FROM frame_dossiers") == 2400
    assert cli("draw-sample", "--period", P, "--margin", "0.1", "--seed", "1", "--response-rate", "0.5").exit_code == 0
    refused = cli("import-frame", frame_csv, "--period", P, "--replace")
    assert refused.exit_code == 1 and "cannot be replaced" in refused.output


def test_units_of_another_period_are_not_strata(cli, tmp_path):
    # the demo districts are valid until 2025 at the latest: a frame of 2026 cannot use them
    assert cli.one("SELECT count(*) FROM units WHERE slug = 'quan-1'") == 1
    f = tmp_path / "2026.csv"
    f.write_text("dossier,unit,field,completed_at\nHS-1,quan-1,land,2026-10-02\n", encoding="utf-8")
    result = cli("import-frame", f, "--period", "2026-10-01:2026-12-31")
    assert result.exit_code == 1 and "is not a unit valid in 2026-10-01:2026-12-31" in result.output


def test_help_has_an_example(cli):
    for command in ("import-frame", "draw-sample", "export-invitations", "record-outcomes", "response-rates",
                    "purge-contacts"):
        assert "Example: flask --app survey " + command in cli(command, "--help").output
