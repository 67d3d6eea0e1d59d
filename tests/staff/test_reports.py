"""Index reports from the dashboard: asked for in a form, made in the background with visible
progress, downloaded; bad requests refused at once with a reason."""
from __future__ import annotations

import csv
import html
import io
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from survey import responses
from survey.staff import reports

from .conftest import make_response, unit_id

UNITS = ("quan-1", "quan-3", "huyen-can-gio")


@pytest.fixture(autouse=True)
def reports_folder(app, tmp_path):
    app.config["REPORTS_FOLDER"] = str(tmp_path / "reports")
    return tmp_path / "reports"


@pytest.fixture
def with_responses(db):
    """150 responses in March 2025 in three districts, mixed channels and fields."""
    batch = []
    start = datetime(2025, 3, 3, 2, 0, tzinfo=timezone.utc)
    patterns = ("454545454545", "343434343434", "555544443333", "222233334444", "5n5n5n5n5n5n")
    for i in range(150):
        batch.append(make_response(unit_id(db, UNITS[i % 3]), start + timedelta(hours=3 * i),
                                   channel=("kiosk", "web", "phone")[i % 3 if i % 7 else 1],
                                   answers=patterns[i % 5], field=("land", "civil")[i % 2]))
    responses.save_many(db, batch)
    return db


def wait_for(db, job_id: int, seconds: float = 180) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = reports.get_job(db, job_id)
        if job["status"] != "running":
            return job
        time.sleep(0.2)
    raise AssertionError(f"report {job_id} still running after {seconds} s")


FORM = {"from": "2025-03-01", "to": "2025-03-31", "target": "80", "lang": "vi", "weights": "design"}


def test_an_analyst_makes_a_report_in_the_background_and_downloads_its_four_files(staff, client, with_responses):
    staff.as_role("analyst")
    page = client.get("/staff/reports/")
    assert page.status_code == 200 and "Make the report" in page.get_data(as_text=True)
    response = staff.post("/staff/reports/", {**FORM, "units": list(UNITS)})
    assert response.status_code == 303
    job_id = int(re.search(r"/staff/reports/(\d+)$", response.headers["Location"]).group(1))
    running = client.get(f"/staff/reports/{job_id}").get_data(as_text=True)
    assert "Report" in running
    job = wait_for(with_responses, job_id)
    assert job["status"] == "done", job["message"]
    assert job["progress"] == 1.0
    page = client.get(f"/staff/reports/{job_id}").get_data(as_text=True)
    assert "The report is ready" in page and 'http-equiv="refresh"' not in page
    files = {}
    for name in reports.FILES:
        got = client.get(f"/staff/reports/{job_id}/{name}")
        assert got.status_code == 200, name
        assert "attachment" in got.headers["Content-Disposition"]
        assert f"sipas-{name.split('.')[0]}-2025-03-01-2025-03-31-vi" in got.headers["Content-Disposition"]
        files[name] = got.get_data()
    assert files["report.pdf"].startswith(b"%PDF")
    document = files["report.html"].decode("utf-8")
    assert '<html lang="vi">' in document and "Quận 1" in document and "https://" not in document
    sheets = load_workbook(io.BytesIO(files["indices.xlsx"])).sheetnames
    assert "Đơn vị" in sheets and "Indices" in sheets
    rows = list(csv.DictReader(io.StringIO(files["indices.csv"].decode("utf-8"))))
    assert {r["district"] for r in rows} == {"ALL", *UNITS}
    listing = client.get("/staff/reports/").get_data(as_text=True)
    assert f"/staff/reports/{job_id}/report.pdf" in listing and "ready" in listing


@pytest.mark.parametrize("change, field, message", [
    ({"from": "2025-03-31", "to": "2025-03-01"}, "to", "The period ends before it starts"),
    ({"from": "2024-01-01", "to": "2024-01-31"}, "from", "This period has no responses from the units chosen"),
    ({"units": ["quan-99"]}, "units", "There is no unit “quan-99”; choose units from the list."),
    ({"target": "120"}, "target", "The target must be a percentage between 0 and 100"),
    ({"from": "31/03/2025"}, "from", "“31/03/2025” is not a date"),
    ({"compare_from": "2025-01-01"}, "compare_to", "give both its first and its last day"),
])
def test_a_bad_request_is_refused_at_once_with_the_reason_and_starts_nothing(staff, with_responses, change, field,
                                                                             message):
    staff.as_role("analyst")
    response = staff.post("/staff/reports/", {**FORM, **change})
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    # A sentence next to the field it is about (and read with it), never a command-line option.
    beside = re.search(rf'<span class="field-error" id="error-{field}">([^<]*)</span>\s*<[^>]*name="{field}"'
                       rf'[^>]*aria-describedby="error-{field}"', page)
    assert beside and message in beside.group(1), page
    shown = " ".join(re.sub(r"<[^>]+>", " ", page.split("<main", 1)[1]).split())
    assert not re.search(r"(^|\s)--[a-z]", shown)
    assert reports.recent_jobs(with_responses) == []


def test_one_report_at_a_time(staff, with_responses):
    staff.as_role("analyst")
    busy = reports.create_job(with_responses, "lan", FORM)
    response = staff.post("/staff/reports/", FORM)
    assert response.status_code == 409
    assert f"Report {busy} (asked for by lan) is being made" in response.get_data(as_text=True)
    assert len(reports.recent_jobs(with_responses)) == 1
    assert reports.create_job(with_responses, "minh", FORM) is None      # the check and the insert are one


def test_a_running_report_shows_its_stage_and_progress_and_refreshes_itself(staff, client, db):
    staff.as_role("analyst")
    job_id = reports.create_job(db, "lan", FORM)
    reports.record_progress(db, job_id, "pdf", 0.82)
    page = client.get(f"/staff/reports/{job_id}").get_data(as_text=True)
    assert f'<meta http-equiv="refresh" content="2;url=/staff/reports/{job_id}?auto=1">' in page
    assert '<progress max="100" value="82">' in page and "Making the report: pdf, 82\u00a0% done." in page
    assert client.get(f"/staff/reports/{job_id}/report.pdf").status_code == 404


def test_a_report_cut_off_by_a_restart_is_shown_as_interrupted(staff, client, db):
    staff.as_role("analyst")
    job_id = reports.create_job(db, "lan", FORM)
    long_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    db.execute("UPDATE report_jobs SET updated_at = ? WHERE id = ?", [long_ago, job_id])
    page = client.get(f"/staff/reports/{job_id}").get_data(as_text=True)
    assert "interrupted" in page and 'http-equiv="refresh"' not in page
    assert reports.running_job(db) is None


def test_a_failure_inside_the_job_is_reported_on_its_page(staff, client, with_responses, monkeypatch):
    import analysis.report

    def broken(*args, **kwargs):
        raise ValueError("the period holds several questionnaires: a (3 responses), b (2 responses)")

    monkeypatch.setattr(analysis.report, "make_report", broken)
    staff.as_role("analyst")
    response = staff.post("/staff/reports/", FORM)
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    job = wait_for(with_responses, job_id)
    assert job["status"] == "failed"
    page = client.get(f"/staff/reports/{job_id}").get_data(as_text=True)
    assert "could not be made" in page and "several questionnaires" in page


def test_an_unknown_report_or_file_is_not_found(staff, client, db, reports_folder):
    staff.as_role("analyst")
    assert client.get("/staff/reports/999").status_code == 404
    job_id = reports.create_job(db, "lan", FORM)
    reports.finish_job(db, job_id, "done")
    assert client.get(f"/staff/reports/{job_id}/passwords.txt").status_code == 404
    assert client.get(f"/staff/reports/{job_id}/report.pdf").status_code == 404     # no file on disk
    # another job's files, in another folder, are never served for this job number
    (reports_folder / "other").mkdir(parents=True)
    (reports_folder / "other" / "report.pdf").write_bytes(b"%PDF other job")
    assert client.get(f"/staff/reports/{job_id}/report.pdf").status_code == 404
