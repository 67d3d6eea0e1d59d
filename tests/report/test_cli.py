"""`python -m analysis report` on a real SQLite database of simulated responses."""
import csv
import sqlite3
from datetime import date

import pytest
from openpyxl import load_workbook

from analysis.report.build import FILES
from analysis.__main__ import main as analysis_main
from analysis.report.cli import main as report_main


def as_stored(x: float) -> float:
    """A number as an XLSX cell holds it: 16 significant digits (openpyxl; Excel keeps 15)."""
    return float("%.16g" % x)


def run(capsys, *argv):
    code = report_main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.fixture(scope="session")
def reports(survey_db, tmp_path_factory):
    """The report of Apr-Jun 2024 compared with Jan-Mar, in both languages."""
    out = {}
    for lang in ("vi", "en"):
        folder = tmp_path_factory.mktemp(f"cli-{lang}") / "report"
        assert report_main(["--db", str(survey_db), "--from", "2024-04-01", "--to", "2024-06-30",
                            "--compare-from", "2024-01-01", "--compare-to", "2024-03-31", "--target", "80",
                            "--lang", lang, "--out", str(folder), "--quiet"]) == 0
        out[lang] = folder
    return out


def test_the_report_command_writes_the_four_files_in_either_language(reports):
    for lang, folder in reports.items():
        assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
        html = (folder / "report.html").read_text(encoding="utf-8")
        assert f'<html lang="{lang}">' in html
        assert ("Tóm tắt" in html) == (lang == "vi")


def test_indices_csv_is_exactly_what_the_indices_command_writes_for_the_same_period(reports, survey_db, tmp_path):
    expected = tmp_path / "indices.csv"
    assert analysis_main(["indices", "--db", str(survey_db), "--from", "2024-04-01", "--to", "2024-06-30",
                          "--out", str(expected), "--quiet"]) == 0
    for folder in reports.values():
        assert (folder / "indices.csv").read_bytes() == expected.read_bytes()


def test_workbook_units_sheet_holds_the_indices_commands_numbers(reports):
    folder = reports["en"]
    with open(folder / "indices.csv", encoding="utf-8", newline="") as handle:
        rows = {(r["district"], r["measure"]): r for r in csv.DictReader(handle)}
    ws = load_workbook(folder / "indices.xlsx")["Units"]
    header = [c.value for c in ws[1]]
    seen = 0
    for values in ws.iter_rows(min_row=2, values_only=True):
        row = rows[(values[header.index("Code")], "INDEX:ITEM_AVG")]
        assert values[header.index("Index (%)")] == as_stored(float(row["p"]))
        assert values[header.index("n")] == int(row["n"])
        assert values[header.index("Effective n (Kish)")] == as_stored(float(row["n_eff_kish"]))
        assert values[header.index("CI low (%)")] == as_stored(float(row["ci_logit_l"]))
        assert values[header.index("CI high (%)")] == as_stored(float(row["ci_logit_u"]))
        seen += 1
    assert seen == 22


def test_a_unit_with_too_few_responses_is_marked_and_not_ranked(reports):
    ws = load_workbook(reports["en"] / "indices.xlsx")["Units"]
    header = [c.value for c in ws[1]]
    can_gio = next(r for r in ws.iter_rows(min_row=2) if r[header.index("Code")].value == "huyen-can-gio")
    assert can_gio[header.index("Rank")].value is None
    assert "†" in can_gio[header.index("Unit")].value and can_gio[0].font.italic
    assert can_gio[header.index("Against target")].value == "Too few responses"
    html = (reports["vi"] / "report.html").read_text(encoding="utf-8")
    assert 'class="few"' in html and "Huyện Cần Giờ †" in html


def test_exclusions_and_counts_are_reported(reports, survey_db):
    con = sqlite3.connect(survey_db)
    excluded = con.execute("SELECT count(*) FROM responses WHERE excluded_at IS NOT NULL AND "
                           "submitted_at >= '2024-03-31T17:00:00Z' AND submitted_at < '2024-06-30T17:00:00Z'"
                           ).fetchone()[0]
    ws = load_workbook(reports["en"] / "indices.xlsx")["Excluded"]
    assert sum(v for _reason, v in ws.iter_rows(min_row=2, values_only=True)) == excluded
    counts = load_workbook(reports["en"] / "indices.xlsx")["Responses"]
    total = list(counts.iter_rows(values_only=True))[-1]
    assert total[0] == "Total" and total[3] == excluded


def test_the_comparison_period_appears_in_the_summary(reports):
    text = (reports["en"] / "report.html").read_text(encoding="utf-8")
    assert "Compared with 2024-01-01 – 2024-03-31" in text


@pytest.mark.parametrize("args, message", [
    (["--from", "2024-06-01", "--to", "2024-05-01"], "the period is empty"),
    (["--from", "2024-01-01", "--to", "2024-06-30", "--units", "quan-1,quan-99"], "unknown unit 'quan-99'"),
    (["--from", "2023-01-01", "--to", "2023-12-31"], "has no responses"),
    (["--from", "2024-01-01", "--to", "2024-06-30", "--compare-from", "2023-01-01", "--compare-to", "2023-06-30"],
     "the comparison period 2023-01-01 to 2023-06-30 has no responses"),
    (["--from", "2024-01-01", "--to", "2024-06-30", "--compare-from", "2023-01-01"], "both --compare-from"),
])
def test_bad_requests_stop_with_a_clear_message_and_write_nothing(survey_db, tmp_path, capsys, args, message):
    code, err = run(capsys, "--db", survey_db, "--out", tmp_path / "out", *args)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_missing_database_is_named(tmp_path, capsys):
    code, err = run(capsys, "--db", tmp_path / "nope.sqlite3", "--out", tmp_path / "out")
    assert code == 2 and "nope.sqlite3: no such database file" in err
    assert list(tmp_path.iterdir()) == []


def test_a_bad_target_is_refused_by_the_option_parser(survey_db, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        report_main(["--db", str(survey_db), "--out", str(tmp_path / "o"), "--target", "180"])
    assert exc.value.code == 2
    assert "percentage between 0 and 100" in capsys.readouterr().err


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        report_main(["--help"])
    assert "Example:" in capsys.readouterr().out


def test_report_is_a_command_of_python_m_analysis(survey_db, tmp_path, capsys):
    with pytest.raises(SystemExit):
        analysis_main(["--help"])
    assert "report" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        analysis_main(["report", "--help"])
    assert "Example:" in capsys.readouterr().out
    assert analysis_main(["report", "--db", str(survey_db), "--from", "2024-06-01", "--to", "2024-05-01",
                          "--out", str(tmp_path / "out")]) == 2
    assert "the period is empty" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_period_with_two_questionnaires_asks_which_one(tmp_path, capsys):
    from survey import catalog, units
    from survey.db import connect
    from survey.migrations import migrate
    from survey.simulate import simulate

    path = tmp_path / "two.sqlite3"
    db = connect(path)
    migrate(db)
    catalog.register_shipped(db)
    units.load_demo(db)
    simulate(db, catalog.latest(db, "sipas-hcm-26"), 300, 1, date(2024, 1, 1), date(2024, 1, 31))
    simulate(db, catalog.latest(db, "sipas-2024"), 100, 2, date(2024, 1, 1), date(2024, 1, 31),
             alongside_real=True)
    with db.conn:  # these simulated responses stand in for real ones (reports leave simulated ones out)
        db.execute("UPDATE responses SET simulated = 0")
    db.close()
    code, err = run(capsys, "--db", path, "--from", "2024-01-01", "--to", "2024-01-31", "--out", tmp_path / "out")
    assert code == 2
    assert "several questionnaires: sipas-hcm-26 (300 responses), sipas-2024 (100 responses)" in err
    assert "--questionnaire" in err and not (tmp_path / "out").exists()
    code, err = run(capsys, "--db", path, "--from", "2024-01-01", "--to", "2024-01-31", "--questionnaire",
                    "sipas-2024", "--lang", "en", "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "sipas-2024" in html


def test_check_refuses_a_bad_request_before_any_work(survey_db):
    from analysis.report.gather import ReportRequest, ReportRequestError, check

    check(ReportRequest(db=survey_db, date_from=date(2024, 1, 1), date_to=date(2024, 6, 30)))
    for bad, message in ((dict(units=("nowhere",)), "unknown unit 'nowhere'"),
                         (dict(date_from=date(2025, 1, 1), date_to=date(2025, 2, 1)), "has no responses"),
                         (dict(target=1.5), "--target must be a percentage")):
        args = dict(db=survey_db, date_from=date(2024, 1, 1), date_to=date(2024, 6, 30)) | bad
        with pytest.raises(ReportRequestError, match=message):
            check(ReportRequest(**args))
