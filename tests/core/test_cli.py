import pytest

from survey import create_app
from survey.cli import COMMANDS
from survey.settings import SETTINGS


@pytest.fixture
def app(tmp_path):
    return create_app({"TESTING": True, "DATABASE": str(tmp_path / "cli.sqlite3")},
                      instance_path=str(tmp_path / "instance"))


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def count(app):
    from survey.db import connect

    db = connect(app.config["DATABASE"])
    try:
        return db.execute("SELECT count(*) FROM responses").fetchone()[0]
    finally:
        db.close()


def test_init_db_with_demo_then_simulate_then_init_again_keeps_every_response(app, tmp_path):
    result = run(app, "init-db", "--demo")
    assert result.exit_code == 0, result.output
    assert "sipas-hcm-26 v1" in result.output and "Demo units: 191 added" in result.output
    assert "SECRET_KEY" in (tmp_path / "instance" / "config.py").read_text()
    result = run(app, "simulate", "--responses", "500", "--seed", "4", "--period", "2025-01-01:2025-01-31")
    assert result.exit_code == 0, result.output
    assert count(app) == 500
    again = run(app, "init-db", "--demo")
    assert again.exit_code == 0 and "none (up to date)" in again.output
    assert count(app) == 500


def test_simulated_data_is_realistic_and_reproducible(app, tmp_path):
    from survey.db import connect

    run(app, "init-db", "--demo")
    run(app, "simulate", "--responses", "3000", "--seed", "9", "--period", "2025-02-01:2025-02-28")
    db = connect(app.config["DATABASE"])
    rows = list(db.query("SELECT * FROM responses"))
    assert len({r["unit_id"] for r in rows}) == 22
    assert {r["channel"] for r in rows} == {"kiosk", "qr", "web", "paper"}
    assert all(r["kiosk_id"] is None and r["simulated"] == 1 for r in rows)   # never a kiosk's, always marked
    assert all("2025-01-31T17" <= r["submitted_at"] <= "2025-02-28T17" for r in rows)  # local dates, UTC+7
    answers = "".join(r["answers"] for r in rows)
    assert {"1", "2", "3", "4", "5", "n", "-"} <= set(answers)
    # units differ in their true satisfaction
    by_unit = {}
    for r in rows:
        by_unit.setdefault(r["unit_id"], []).append(sum(c in "45" for c in r["answers"]) / 26)
    means = sorted(sum(v) / len(v) for v in by_unit.values())
    assert means[-1] - means[0] > 0.15
    first = [(r["answers"], r["gender"]) for r in rows[:50]]
    db.close()

    other = create_app({"TESTING": True, "DATABASE": str(tmp_path / "other.sqlite3")},
                       instance_path=str(tmp_path / "other"))
    run(other, "init-db", "--demo")
    run(other, "simulate", "--responses", "3000", "--seed", "9", "--period", "2025-02-01:2025-02-28")
    db = connect(other.config["DATABASE"])
    assert [(r["answers"], r["gender"]) for r in db.query("SELECT * FROM responses LIMIT 50")] == first


@pytest.mark.parametrize("args, message", [
    (["simulate", "--responses", "0"], "0 is not in the range x>=1"),
    (["simulate", "--responses", "5", "--period", "2025-03-01"], "is not FROM:TO"),
    (["simulate", "--responses", "5", "--period", "2025-03-01:2025-02-01"], "ends (2025-02-01) before it starts"),
    (["simulate", "--responses", "5", "--questionnaire", "nope"], "questionnaire 'nope' is not registered"),
])
def test_simulate_refuses_bad_options_with_a_clear_message(app, args, message):
    run(app, "init-db", "--demo")
    result = run(app, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert count(app) == 0


def test_import_units_reports_bad_rows_by_line_and_imports_nothing(app, tmp_path):
    run(app, "init-db")
    csv = tmp_path / "wards.csv"
    csv.write_text("code,slug,name_vi,name_en,kind\n1,phuong-a,Phường A,Ward A,phuong\n2,Phuong B,B,B,phuong\n",
                   encoding="utf-8")
    result = run(app, "import-units", str(csv))
    assert result.exit_code == 1
    assert "line 3: column slug: 'Phuong B'" in result.output and "nothing imported" in result.output
    csv.write_text("code,slug,name_vi,name_en,kind\n1,phuong-a,Phường A,Ward A,phuong\n", encoding="utf-8")
    result = run(app, "import-units", str(csv))
    assert result.exit_code == 0 and "1 added" in result.output


def test_backup_command_writes_a_checked_copy(app, tmp_path):
    run(app, "init-db", "--demo")
    run(app, "simulate", "--responses", "50")
    result = run(app, "backup", str(tmp_path / "b.sqlite3"))
    assert result.exit_code == 0, result.output
    result = run(app, "restore", str(tmp_path / "b.sqlite3"), "--yes")
    assert result.exit_code == 0 and "50 responses" in result.output
    assert count(app) == 50


def test_every_command_has_help_with_an_example():
    for command in COMMANDS:
        assert "Example:" in (command.help or ""), command.name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{command.name} {param.name} has no help"


def test_every_setting_has_help():
    assert all(s.help.strip() for s in SETTINGS)


def test_readme_lists_every_setting_and_command():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.name}`" in readme, setting.name
    for command in COMMANDS:
        assert f"`{command.name}" in readme or f", `{command.name}" in readme, command.name
