"""draw-sample: sizes from the margin or the dashboard targets, SRSWOR per stratum, reproducible, wave 2."""
from __future__ import annotations

import math

from survey import frames

from .conftest import P


def _drawn(cli):
    return [r["dossier"] for r in cli.rows("SELECT dossier FROM frame_dossiers WHERE sampled = 1 ORDER BY dossier")]


def test_sizes_follow_the_margin_the_response_rate_and_the_frame(cli, frame_csv):
    cli("import-frame", frame_csv, "--period", P)
    result = cli("draw-sample", "--period", P, "--margin", "0.08", "--seed", "7", "--response-rate", "0.6")
    assert result.exit_code == 0, result.output
    units = cli.rows("SELECT u.slug, sum(s.population) AS N, sum(s.sampled) AS n FROM frame_strata s "
                     "JOIN units u ON u.id = s.unit_id GROUP BY u.slug ORDER BY u.slug")
    for u in units:
        n0 = 1.959963984540054 ** 2 * 0.25 / 0.08 ** 2
        needed = math.ceil(n0 / (1 + (n0 - 1) / u["N"]))
        # at least ceil(needed / 0.6) invited; at most 2 more per field from the minimum of 2 per stratum
        assert math.ceil(needed / 0.6) <= u["n"] <= math.ceil(needed / 0.6) + 8, u
        assert f"{u['slug']}" in result.output
    # within a unit, fields get their share of the unit's sample (proportional allocation)
    strata = cli.rows("SELECT unit_id, population, sampled FROM frame_strata")
    for s in strata:
        unit_total = sum(t["population"] for t in strata if t["unit_id"] == s["unit_id"])
        unit_n = sum(t["sampled"] for t in strata if t["unit_id"] == s["unit_id"])
        assert abs(s["sampled"] - s["population"] * unit_n / unit_total) <= 2
        assert s["sampled"] >= 2
    # exactly n_h distinct dossiers drawn in each stratum
    counts = cli.rows("SELECT stratum_id, count(*) AS k FROM frame_dossiers WHERE sampled = 1 GROUP BY stratum_id")
    assert {c["stratum_id"]: c["k"] for c in counts} == {
        s["id"]: s["sampled"] for s in cli.rows("SELECT id, sampled FROM frame_strata")}
    assert cli.one("SELECT count(*) FROM invitations") == sum(s["sampled"] for s in strata)


def test_the_same_seed_draws_the_same_sample_and_another_seed_another(cli, frame_csv, make_app, tmp_path):
    cli("import-frame", frame_csv, "--period", P)
    cli("draw-sample", "--period", P, "--margin", "0.08", "--seed", "7", "--response-rate", "0.6")
    first = _drawn(cli)
    again = cli("draw-sample", "--period", P, "--margin", "0.08", "--seed", "7", "--response-rate", "0.6")
    assert again.exit_code == 1 and "use --wave 2" in again.output
    # a fresh database, the same file and seed: the same dossiers
    from .conftest import Cli
    for seed, same in ((7, True), (8, False)):
        other = Cli(make_app(DATABASE=str(tmp_path / f"other{seed}.sqlite3")))
        other("import-frame", frame_csv, "--period", P)
        other("draw-sample", "--period", P, "--margin", "0.08", "--seed", seed, "--response-rate", "0.6")
        assert (_drawn(other) == first) is same


def test_sizes_come_from_the_dashboard_targets_without_a_margin(cli, frame_csv):
    cli("import-frame", frame_csv, "--period", P)
    missing = cli("draw-sample", "--period", P, "--seed", "7", "--response-rate", "0.5")
    assert missing.exit_code == 1 and "no target on the dashboard" in missing.output
    db = __import__("survey.db", fromlist=["connect"]).connect(cli.app.config["DATABASE"])
    from survey.staff import targets
    for slug, n in (("case-a", 40), ("case-b", 30), ("case-c", 20)):
        uid = db.execute("SELECT id FROM units WHERE slug = ?", [slug]).fetchone()[0]
        db.execute("INSERT INTO unit_targets (unit_id, target, method, set_by, set_at) VALUES (?, ?, 'manual', 't', 'x')",
                   [uid, n])
    db.close()
    assert hasattr(targets, "all_targets")
    result = cli("draw-sample", "--period", P, "--seed", "7", "--response-rate", "0.5")
    assert result.exit_code == 0, result.output
    per_unit = {r["slug"]: r["n"] for r in cli.rows(
        "SELECT u.slug, sum(s.sampled) AS n FROM frame_strata s JOIN units u ON u.id = s.unit_id GROUP BY u.slug")}
    assert 80 <= per_unit["case-a"] <= 88 and 60 <= per_unit["case-b"] <= 68 and 40 <= per_unit["case-c"] <= 48


def test_no_response_rate_known_is_a_clear_error(cli, frame_csv):
    cli("import-frame", frame_csv, "--period", P)
    result = cli("draw-sample", "--period", P, "--margin", "0.05", "--seed", "7")
    assert result.exit_code == 1 and "give --response-rate" in result.output
    assert cli.one("SELECT count(*) FROM invitations") == 0


def test_the_last_period_gives_the_response_rate(cli, frame_csv, tmp_path):
    q3 = tmp_path / "q3.csv"
    q3.write_text(frame_csv.read_text(encoding="utf-8").replace(",2025-10-", ",2025-07-").replace(",2025-11-", ",2025-08-")
                  .replace(",2025-12-", ",2025-09-").replace(",2025-09-31", ",2025-09-30").replace("HS-", "Q3-"), encoding="utf-8")
    assert cli("import-frame", q3, "--period", "2025-07-01:2025-09-30").exit_code == 0
    assert cli("draw-sample", "--period", "2025-07-01:2025-09-30", "--margin", "0.08", "--seed", "7",
               "--response-rate", "0.6").exit_code == 0
    db = __import__("survey.db", fromlist=["connect"]).connect(cli.app.config["DATABASE"])
    ids = [r[0] for r in db.execute("SELECT id FROM frame_dossiers WHERE sampled = 1 ORDER BY id")]
    db.execute(f"UPDATE frame_dossiers SET responded = 1 WHERE id IN ({','.join(map(str, ids[::4]))})")
    db.close()
    cli("import-frame", frame_csv, "--period", P)
    result = cli("draw-sample", "--period", P, "--margin", "0.08", "--seed", "7", "--dry-run")
    assert result.exit_code == 0, result.output
    rates = [float(line.split()[3]) for line in result.output.splitlines() if line.startswith("case-")]
    assert len(rates) == 3 and all(0.15 < r < 0.35 for r in rates), result.output   # about a quarter
    assert "Dry run: nothing drawn." in result.output
    assert cli.one("SELECT count(*) FROM frame_dossiers d JOIN frames f ON f.id = d.frame_id "
                   "WHERE f.period_from = '2025-10-01' AND d.sampled = 1") == 0


def test_wave_2_invites_only_non_respondents_that_are_not_ineligible(cli, sampled, tmp_path):
    db = __import__("survey.db", fromlist=["connect"]).connect(cli.app.config["DATABASE"])
    ids = [r[0] for r in db.execute("SELECT id FROM frame_dossiers WHERE sampled = 1 ORDER BY id")]
    db.execute(f"UPDATE frame_dossiers SET responded = 1 WHERE id IN ({','.join(map(str, ids[:10]))})")
    db.close()
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("dossier,outcome\n" + "".join(f"{r['dossier']},ineligible\n" for r in sampled[-3:]),
                        encoding="utf-8")
    assert cli("record-outcomes", outcomes, "--period", P).exit_code == 0
    result = cli("draw-sample", "--period", P, "--seed", "7", "--wave", "2")
    assert result.exit_code == 0, result.output
    assert cli.one("SELECT count(*) FROM invitations WHERE wave = 2") == len(ids) - 10 - 3
    skipped = cli("draw-sample", "--period", P, "--seed", "7", "--wave", "4")
    assert skipped.exit_code == 1 and "the next wave of this frame is 3" in skipped.output


def test_allocation_rule():
    assert frames.allocate([50, 30, 20], 10) == [5, 3, 2]
    assert frames.allocate([96, 3, 1], 10) == [7, 2, 1]
    assert frames.allocate([5, 5], 10) == [5, 5]
    assert frames.allocate([1, 1, 1], 2) == [1, 1, 1]   # every stratum is represented
