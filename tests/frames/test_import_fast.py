"""import-frame's two check passes agree: the columnar one (pyarrow, plain files) never accepts a row
the Python reader refuses, both store the same rows, and a bad row anywhere leaves nothing imported."""
from __future__ import annotations

import pytest

from survey import db as database, frames

from .case import PERIOD
from .conftest import P

HEADER = "dossier,unit,field,completed_at,contact\n"
GOOD = "HS-1,case-a,land,2025-10-02,+84 901234567\n"


def _units_fields(cli):
    db = database.connect(cli.app.config["DATABASE"])
    try:
        return frames.units_for_period(db, *PERIOD), frames.field_codes(db, cli.app.config["DEFAULT_QUESTIONNAIRE"])
    finally:
        db.close()


def _stored(cli) -> list[dict]:
    return cli.rows("SELECT d.dossier, u.slug, s.field, d.completed_at, d.contact FROM frame_dossiers d "
                    "JOIN frame_strata s ON s.id = d.stratum_id JOIN units u ON u.id = s.unit_id ORDER BY d.id")


@pytest.mark.parametrize("row, needle", [
    ("HS-2,case-a,land,2025-10-02,+84 9012\n", "line 3: contact is neither"),                 # 7 digits
    ("HS-2,case-a,land,2025-10-02,+84 9012345678901234\n", "line 3: contact is neither"),     # 17 digits
    ("HS-2,case-a,land,2025-10-02,someone@example\n", "line 3: contact is neither"),
    ("HS-2,case-a,land,2025-10-02T25:00:00,\n", "line 3: completed_at '2025-10-02T25:00:00' is not a valid date"),
    ("HS-2,case-a,land,2025-09-30,\n", "line 3: completed_at 2025-09-30 is outside the period"),
    ("HS-2,case-a,land,02/10/2025,\n", "line 3: completed_at '02/10/2025' is not a date"),
    ("HS-2,case-a, ,2025-10-02,\n", "line 3: field: empty"),
    ("HS-2,case-a,fishing,2025-10-02,\n", "line 3: field 'fishing'"),
    ("HS-2,Case-A,land,2025-10-02,\n", "line 3: unit 'Case-A' is not a unit valid"),
    (" ,case-a,land,2025-10-02,\n", "line 3: dossier: empty"),
    ("X" * 65 + ",case-a,land,2025-10-02,\n", "line 3: dossier: longer than 64 characters"),
    (" HS-1 ,case-a,land,2025-10-02,\n", "line 3: dossier 'HS-1' appears again (first on line 2)"),
    ("HS-2,case-a,land,2025-10-02,,\n", "line 3: 6 values, the header has 5"),
    ("   \nHS-2,case-a,land\n", "line 4: 3 values, the header has 5"),
])
def test_the_columnar_check_refuses_every_row_the_python_reader_refuses(cli, tmp_path, row, needle):
    units, fields = _units_fields(cli)
    f = tmp_path / "bad.csv"
    f.write_text(HEADER + GOOD + row, encoding="utf-8")
    assert frames._fast_check(f, PERIOD, units, fields) is None
    with pytest.raises(frames.FrameError) as refused:
        frames.check_frame_csv(f, PERIOD, units, fields)
    assert needle in str(refused.value)
    result = cli("import-frame", f, "--period", P)
    assert result.exit_code == 1 and needle in result.output
    assert cli.one("SELECT count(*) FROM frames") == 0 and cli.one("SELECT count(*) FROM frame_dossiers") == 0


PLAIN = ("\ufeffDossier , Unit,field,completed_at,CONTACT\r\n"
         "HS-1,case-a,land,2025-10-02,+84 90123456\r\n"                     # 8 digits
         "  HS-2 , C02 ,civil_status , 2025-12-31T23:59:59Z,  a.b@example.vn \r\n"
         "\r\n"
         "HS-3,case-c,justice,2025-10-01,\r\n"
         "HS-4,case-b,land,2025-11-30T09:15:00+07:00,+84-90.123-45678901\r\n")   # 15 digits


def test_both_check_passes_store_the_same_rows(cli, tmp_path):
    """A plain file goes through the columnar pass; the same rows quoted go through the Python reader."""
    units, fields = _units_fields(cli)
    plain = tmp_path / "plain.csv"
    plain.write_bytes(PLAIN.encode("utf-8"))
    quoted = tmp_path / "quoted.csv"
    quoted.write_bytes(("\ufeff" + "\r\n".join(",".join(f'"{v}"' for v in line.split(",")) if line else ""
                                               for line in PLAIN[1:].split("\r\n"))).encode("utf-8"))
    fast = frames._fast_check(plain, PERIOD, units, fields)
    assert fast is not None and frames._fast_check(quoted, PERIOD, units, fields) is None
    counts, n, with_contact = frames.check_frame_csv(quoted, PERIOD, units, fields)
    assert (fast.counts, fast.n, fast.with_contact) == (counts, n, with_contact) == (counts, 4, 3)

    assert cli("import-frame", plain, "--period", P).exit_code == 0
    from_plain = _stored(cli)
    assert cli("import-frame", quoted, "--period", P, "--replace").exit_code == 0
    assert _stored(cli) == from_plain == [
        {"dossier": "HS-1", "slug": "case-a", "field": "land", "completed_at": "2025-10-02", "contact": "+84 90123456"},
        {"dossier": "HS-2", "slug": "case-b", "field": "civil_status", "completed_at": "2025-12-31T23:59:59Z",
         "contact": "a.b@example.vn"},
        {"dossier": "HS-3", "slug": "case-c", "field": "justice", "completed_at": "2025-10-01", "contact": None},
        {"dossier": "HS-4", "slug": "case-b", "field": "land", "completed_at": "2025-11-30T09:15:00+07:00",
         "contact": "+84-90.123-45678901"}]


def test_a_file_with_non_ascii_text_is_checked_by_the_python_reader_and_imported(cli, tmp_path):
    units, fields = _units_fields(cli)
    f = tmp_path / "vi.csv"
    f.write_text(HEADER + "HS-Đ1,case-a,land,2025-10-02,\n" + GOOD, encoding="utf-8")
    assert frames._fast_check(f, PERIOD, units, fields) is None
    assert cli("import-frame", f, "--period", P).exit_code == 0
    assert [r["dossier"] for r in _stored(cli)] == ["HS-Đ1", "HS-1"]


ROWS = 60_000


def _big(path, bad_line: int | None = None, duplicate_of: int | None = None):
    """ROWS dossiers; line ``bad_line`` names a unit that does not exist, or repeats line ``duplicate_of``."""
    units = ("case-a", "case-b", "case-c")
    fields = ("land", "construction", "civil_status", "justice")
    lines = [HEADER]
    for i in range(ROWS):
        line = i + 2
        unit = "quan-99" if line == bad_line else units[i % 3]
        dossier = f"HS-{duplicate_of - 2:07d}" if (duplicate_of and line == bad_line) else f"HS-{i:07d}"
        if duplicate_of and line == bad_line:
            unit = units[i % 3]
        contact = f"+84 9{i:08d}" if i % 2 else ""
        lines.append(f"{dossier},{unit},{fields[i % 4]},2025-{10 + i % 3}-{1 + i % 28:02d},{contact}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_a_bad_row_near_the_end_of_a_big_file_is_reported_and_nothing_is_imported(cli, tmp_path):
    bad_line = ROWS     # the last line but one
    f = _big(tmp_path / "big.csv", bad_line=bad_line)
    result = cli("import-frame", f, "--period", P)
    assert result.exit_code == 1
    assert "1 problem(s), nothing imported" in result.output
    assert f"line {bad_line}: unit 'quan-99' is not a unit valid" in result.output
    assert cli.one("SELECT count(*) FROM frames") == 0 and cli.one("SELECT count(*) FROM frame_dossiers") == 0
    assert cli.one("SELECT count(*) FROM frame_strata") == 0


def test_a_repeated_dossier_near_the_end_is_reported_with_both_lines(cli, tmp_path):
    f = _big(tmp_path / "dup.csv", bad_line=ROWS, duplicate_of=17)
    result = cli("import-frame", f, "--period", P)
    assert result.exit_code == 1
    assert f"line {ROWS}: dossier 'HS-0000015' appears again (first on line 17)" in result.output
    assert cli.one("SELECT count(*) FROM frame_dossiers") == 0


def test_a_big_plain_file_is_imported_whole_by_the_columnar_pass(cli, tmp_path):
    f = _big(tmp_path / "good.csv")
    units, fields = _units_fields(cli)
    checked = frames._fast_check(f, PERIOD, units, fields)
    assert checked is not None and checked.n == ROWS and checked.with_contact == ROWS // 2
    result = cli("import-frame", f, "--period", P)
    assert result.exit_code == 0, result.output
    assert f"Imported {ROWS:,} dossiers" in result.output and "12 strata" in result.output
    assert cli.one("SELECT count(*) FROM frame_dossiers") == ROWS
    assert cli.one("SELECT sum(population) FROM frame_strata") == ROWS
    assert cli.one("SELECT count(DISTINCT dossier) FROM frame_dossiers") == ROWS
    # every row sits in the stratum of its own unit and field
    assert cli.one("SELECT count(*) FROM frame_dossiers d JOIN frame_strata s ON s.id = d.stratum_id "
                   "JOIN units u ON u.id = s.unit_id WHERE u.slug = 'case-b' AND s.field = 'construction'") == \
        len([i for i in range(ROWS) if i % 3 == 1 and i % 4 == 1])
    # the connection's settings are back: FULL for citizens' submissions afterwards
    db = database.connect(cli.app.config["DATABASE"])
    try:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        db.close()


def test_a_failure_while_writing_leaves_nothing(cli, tmp_path, monkeypatch):
    """The write pass fails after some batches were committed: the invisible frame is removed."""
    f = _big(tmp_path / "good.csv")
    monkeypatch.setattr(frames, "BATCH_ROWS", 10_000)
    real = frames._fast_check
    seen = []

    def failing(*args):
        checked = real(*args)
        batches = checked.batches

        def some_then_fail(frame_id, stratum_of):
            for batch in batches(frame_id, stratum_of):
                seen.append(len(batch))
                if len(seen) == 3:
                    raise OSError("disk full (simulated)")
                yield batch
        checked.batches = some_then_fail
        return checked

    monkeypatch.setattr(frames, "_fast_check", failing)
    db = database.connect(cli.app.config["DATABASE"])
    try:
        units, fields = _units_fields(cli)
        with pytest.raises(OSError):
            frames.import_frame(db, f, PERIOD, fields=fields)
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
    finally:
        db.close()
    assert seen == [10_000] * 3
    assert cli.one("SELECT count(*) FROM frames") == 0 and cli.one("SELECT count(*) FROM frame_dossiers") == 0


def test_short_codes_use_every_symbol_in_every_position():
    """One random draw per code, written in base 31: no position is stuck or skewed to a few symbols."""
    from survey import invitations

    codes = [invitations.new_short_code() for _ in range(6200)]
    assert all(len(c) == 8 and set(c) <= set(invitations.SHORT_ALPHABET) for c in codes)
    for position in range(8):
        seen = [c[position] for c in codes]
        counts = [seen.count(symbol) for symbol in invitations.SHORT_ALPHABET]
        # 200 expected per symbol; 120..280 is over 5 standard deviations either way
        assert 120 <= min(counts) and max(counts) <= 280, (position, min(counts), max(counts))
