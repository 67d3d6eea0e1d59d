"""Index reports from the dashboard: choose the period and units, the report is made in the
background with visible progress, then its four files are downloaded (analyst role).

The work is ``analysis.report.make_report`` -- the same as ``python -m analysis report`` --
run in a thread of the worker that took the request. The thread records its stage and
progress in ``report_jobs`` (its own connection), so any worker can show the job page,
which refreshes itself every two seconds while the job runs (a meta refresh: no script).
The files go to ``REPORTS_FOLDER/<random name>/`` and appear there only when all four are
complete. One report is made at a time: a report of a million responses keeps a core busy
for about 20 s, and the citizen pages come first.
"""
from __future__ import annotations

import json
import re
import logging
import os
import socket
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from flask import abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from ..i18n import local_date
from ..labels import N_

from .. import db as database
from .. import files
from ..db import get_db
from . import bp, periods, queries, summary, targets
from .auth import current_user, error_page, login_required

log = logging.getLogger(__name__)

FILES = {"report.html": "HTML", "report.pdf": "PDF", "indices.xlsx": "Excel (XLSX)", "indices.csv": "CSV"}
WEIGHTS = {"design": N_("design weights (unit population / responses)"),
           "rake": N_("raking to age band and gender (2019 census)"),
           "poststratify": N_("post-stratification by age band"),
           "none": N_("no weighting")}


def weight_names() -> dict[str, str]:
    return {code: _(text) for code, text in WEIGHTS.items()}
STALE_AFTER = timedelta(minutes=15)   # a running job not heard of for this long was cut off (worker restarted)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def folder(app, job: dict) -> Path:
    """The job's folder: a random name, so a job number reused (e.g. after restoring a backup of the
    database) never reaches another job's files."""
    base = app.config.get("REPORTS_FOLDER") or Path(app.instance_path) / "reports"
    return Path(base) / job["folder"]


# --- the jobs table -------------------------------------------------------------------------------

def create_job(db, by: str, options: dict) -> int | None:
    """A new running job, recorded as made by this process; None when another job is running
    (checked and inserted in one statement, so two analysts pressing the button at once cannot
    start two). Call ``reap_dead`` first so that a job whose process died does not count."""
    now = _now()
    cutoff = (datetime.now(timezone.utc) - STALE_AFTER).strftime("%Y-%m-%dT%H:%M:%SZ")
    host, pid, started = _this_process()
    cursor = db.execute(
        "INSERT INTO report_jobs (folder, created_at, created_by, request, status, stage, progress, updated_at, "
        "worker_host, worker_pid, worker_started) "
        "SELECT ?, ?, ?, ?, 'running', 'queued', 0, ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM report_jobs WHERE status = 'running' AND updated_at >= ?)",
        [uuid.uuid4().hex, now, by, json.dumps(options, ensure_ascii=False, sort_keys=True), now,
         host, pid, started, cutoff])
    return cursor.lastrowid if cursor.rowcount == 1 else None


# --- dead jobs and old folders ------------------------------------------------------------------------

INTERRUPTED = N_("The report was interrupted: the server process making it stopped (it was restarted or "
                  "killed). Make it again.")

DELETED = N_("The files were deleted after %(days)s days (REPORTS_KEEP_DAYS); make the report again.")


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):          # a zombie: it has died, its parent has not collected it yet
        return "dead"
    return fields[19].decode()


def _this_process() -> tuple[str, int, str | None]:
    return socket.gethostname(), os.getpid(), _started(os.getpid())


def _alive(job: dict) -> bool:
    """False when the job's process is known to be gone (same host: the pid is free, a zombie, or
    reused by a process started at another time); True when it lives or cannot be checked."""
    pid, host = job.get("worker_pid"), job.get("worker_host")
    if not pid or host != socket.gethostname():
        return True                        # another machine's job: only the 15-minute silence tells
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass                               # someone else's process now holds that pid
    started = _started(pid)
    if started == "dead":
        return False
    return started is None or job.get("worker_started") is None or started == job["worker_started"]


def _remove_partial(app, job: dict) -> None:
    """Delete what a cut-off job left: its ``.<folder>.partial-*`` folder, and its own folder unless complete."""
    import shutil

    out = folder(app, job)
    for partial in out.parent.glob(f".{job['folder']}.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)
    if out.is_dir() and not all((out / name).is_file() for name in FILES):
        shutil.rmtree(out, ignore_errors=True)


def reap_dead(app, db) -> list[int]:
    """Fail every running job whose process is gone and remove its partial files; return their ids."""
    reaped = []
    for job in db.query("SELECT * FROM report_jobs WHERE status = 'running'"):
        if _alive(job):
            continue
        now = _now()
        cursor = db.execute("UPDATE report_jobs SET status = 'failed', message = ?, updated_at = ?, finished_at = ? "
                            "WHERE id = ? AND status = 'running'", [INTERRUPTED, now, now, job["id"]])
        if cursor.rowcount:
            log.warning("report job %s was cut off (process %s on %s is gone); its partial files are removed",
                        job["id"], job["worker_pid"], job["worker_host"])
            _remove_partial(app, job)
            reaped.append(job["id"])
    return reaped


def prune(app, db) -> int:
    """Delete report folders (and leftovers of cut-off jobs) older than ``REPORTS_KEEP_DAYS``; return how many."""
    import shutil

    days = app.config.get("REPORTS_KEEP_DAYS")
    base = Path(app.config.get("REPORTS_FOLDER") or Path(app.instance_path) / "reports")
    if not days or not base.is_dir():
        return 0
    cutoff = time.time() - float(days) * 86400
    running = {j["folder"] for j in db.query("SELECT folder FROM report_jobs WHERE status = 'running'")}
    removed = 0
    for entry in base.iterdir():
        name = entry.name.lstrip(".").split(".partial-")[0]
        try:
            if not entry.is_dir() or entry.is_symlink() or name in running or entry.stat().st_mtime >= cutoff:
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.name.startswith("."):
            db.execute("UPDATE report_jobs SET message = ? WHERE folder = ? AND status = 'done'",
                       [DELETED % {"days": days}, entry.name])
        removed += 1
    if removed:
        log.info("deleted %s report folder(s) older than %s days", removed, days)
    return removed


def record_progress(db, job_id: int, stage: str, fraction: float) -> None:
    db.execute("UPDATE report_jobs SET stage = ?, progress = ?, updated_at = ? WHERE id = ? AND status = 'running'",
               [stage, min(max(float(fraction), 0.0), 1.0), _now(), job_id])


def finish_job(db, job_id: int, status: str, message: str | None = None) -> None:
    now = _now()
    db.execute("UPDATE report_jobs SET status = ?, message = ?, progress = CASE WHEN ? = 'done' THEN 1 "
               "ELSE progress END, updated_at = ?, finished_at = ? WHERE id = ?",
               [status, message, status, now, now, job_id])


def get_job(db, job_id: int) -> dict | None:
    job = next(db.query("SELECT * FROM report_jobs WHERE id = ?", [job_id]), None)
    return _shape(job) if job else None


def recent_jobs(db, limit: int = 20) -> list[dict]:
    return [_shape(j) for j in db.query("SELECT * FROM report_jobs ORDER BY id DESC LIMIT ?", [limit])]


def running_job(db) -> dict | None:
    return next((j for j in (_shape(r) for r in db.query(
        "SELECT * FROM report_jobs WHERE status = 'running' ORDER BY id")) if j["status"] == "running"), None)


def _shape(job: dict) -> dict:
    job = dict(job)
    job["options"] = json.loads(job["request"])
    if job["status"] == "running":
        updated = datetime.strptime(job["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        if datetime.now(timezone.utc) - updated > STALE_AFTER or not _alive(job):
            job["status"] = "failed"
            job["message"] = INTERRUPTED
    # These two are stored in English (by a process without a request); shown in the page's language.
    deleted = re.fullmatch(re.escape(DELETED).replace(re.escape("%(days)s"), r"(\d+)"), job.get("message") or "")
    if job.get("message") == INTERRUPTED:
        job["message"] = _(INTERRUPTED)
    elif deleted:
        job["message"] = _(DELETED, days=deleted.group(1))
    return job


# --- the background work ----------------------------------------------------------------------------

def _run(job_id: int, database_path: str, busy_timeout_ms: int, report_request, lang: str, out: Path) -> None:
    """Make the report (in a thread), recording progress at most once a second and at every stage."""
    from analysis.report import make_report

    db = database.connect(database_path, busy_timeout_ms)
    last = {"stage": None, "at": 0.0}

    def progress(stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage != last["stage"] or now - last["at"] >= 1.0:
            record_progress(db, job_id, stage, fraction)
            last.update(stage=stage, at=now)

    try:
        files.make_private_dir(out.parent)      # the reports folder 0700: partial files are unreachable
        make_report(report_request, lang, out, progress=progress)
        files.make_private(out)                 # the finished folder 0700, its files 0600, whatever the umask
        finish_job(db, job_id, "done")
    except ValueError as exc:              # a request the data cannot answer: the message says why
        finish_job(db, job_id, "failed", str(exc))
    except OSError as exc:
        log.exception("report job %s could not write its files", job_id)
        finish_job(db, job_id, "failed", f"The report files could not be written: {exc.strerror or exc}.")
    except Exception:
        log.exception("report job %s failed", job_id)
        finish_job(db, job_id, "failed", "The report could not be made because of an internal error; "
                                         "the server log has the details.")
    finally:
        db.close()


def start(app, job: dict, report_request, lang: str) -> threading.Thread:
    thread = threading.Thread(
        target=_run, name=f"report-{job['id']}", daemon=True,
        args=(job["id"], app.config["DATABASE"], app.config["SQLITE_BUSY_TIMEOUT_MS"], report_request, lang,
              folder(app, job)))
    thread.start()
    return thread


# --- pages --------------------------------------------------------------------------------------------

def _form_defaults(db) -> dict:
    offset = summary.utc_offset_minutes(current_app.config["TIMEZONE"])
    period = targets.fieldwork_period(db, periods.local_now(offset).date())
    return {"from": period.start.isoformat(), "to": period.end.isoformat(), "units": [], "target": "80",
            "compare_from": "", "compare_to": "", "lang": "vi", "weights": "design"}


def _page(db, form: dict, problems: dict[str, str] | None = None, status: int = 200):
    return render_template("staff/reports.html", form=form, problems=problems or {}, jobs=recent_jobs(db),
                           running=running_job(db), units_menu=queries.unit_choices(db), weights=weight_names(),
                           files=FILES), status


def _parse(form) -> tuple[dict, dict[str, str], object | None]:
    """The form's options, the problems found ({field: a sentence in the staff member's language,
    shown next to that field}), and the analysis request (None when there are problems)."""
    from analysis.report.gather import ReportRequest

    options = {"from": form.get("from", "").strip(), "to": form.get("to", "").strip(),
               "units": [u for u in form.getlist("units") if u], "target": form.get("target", "80").strip(),
               "compare_from": form.get("compare_from", "").strip(), "compare_to": form.get("compare_to", "").strip(),
               "lang": form.get("lang", "vi"), "weights": form.get("weights", "design"),
               "simulated": form.get("simulated") == "1"}
    problems: dict[str, str] = {}

    def day(key: str, required: bool) -> date | None:
        text = options[key]
        if not text:
            if required:
                problems[key] = _("Give a date.")
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            problems[key] = _("“%(text)s” is not a date: choose one in the calendar or write it as YYYY-MM-DD.",
                              text=text)
            return None

    start_day, end_day = day("from", True), day("to", True)
    compare_from, compare_to = day("compare_from", False), day("compare_to", False)
    if start_day and end_day and end_day < start_day:
        problems["to"] = _("The period ends before it starts: choose an end date on or after %(start)s.",
                           start=local_date(start_day))
    if "compare_from" not in problems and "compare_to" not in problems:
        if bool(compare_from) != bool(compare_to):
            missing = "compare_to" if compare_from else "compare_from"
            problems[missing] = _("To compare with an earlier period, give both its first and its last day "
                                  "(or leave both empty).")
        elif compare_from and compare_to and compare_to < compare_from:
            problems["compare_to"] = _("The earlier period ends before it starts: choose an end date on or "
                                       "after %(start)s.", start=local_date(compare_from))
    try:
        target = float(options["target"].rstrip("%").replace(",", "."))
        if not 0 < target < 100:
            raise ValueError
    except ValueError:
        problems["target"] = _("The target must be a percentage between 0 and 100, e.g. 80.")
        target = None
    if options["lang"] not in ("vi", "en"):
        problems["lang"] = _("Choose Vietnamese or English.")
    if options["weights"] not in WEIGHTS:
        problems["weights"] = _("Choose one of the listed weighting methods.")
    known = {u["slug"] for u in queries.unit_choices(get_db())}
    unknown = [u for u in options["units"] if u not in known]
    if unknown:
        problems["units"] = _("There is no unit “%(slug)s”; choose units from the list.", slug=unknown[0])
    if problems:
        return options, problems, None
    report_request = ReportRequest(
        db=Path(current_app.config["DATABASE"]), date_from=start_day, date_to=end_day,
        units=tuple(options["units"]) or None, target=target / 100, compare_from=compare_from,
        compare_to=compare_to, weights=options["weights"], drop_incomplete=options["weights"] in ("rake", "poststratify"),
        tz=current_app.config["TIMEZONE"], include_simulated=options["simulated"])
    return options, problems, report_request


def _housekeeping(db) -> None:
    app = current_app._get_current_object()
    reap_dead(app, db)
    prune(app, db)


@bp.route("/reports/", methods=["GET"])
@login_required("analyst")
def reports():
    db = get_db()
    _housekeeping(db)
    return _page(db, _form_defaults(db))


@bp.route("/reports/", methods=["POST"])
@login_required("analyst")
def report_start():
    from analysis.report.gather import check

    db = get_db()
    options, problems, report_request = _parse(request.form)
    if report_request is not None:
        try:
            check(report_request)          # a moment: dates, units, responses in the period(s)
        except ValueError as exc:
            if "comparison period" in str(exc):
                problems["compare_from"] = _("The earlier period has no responses from the units chosen: "
                                             "choose other dates or leave them empty.")
            elif "no responses" in str(exc):
                problems["from"] = _("This period has no responses from the units chosen: choose other "
                                     "dates or units.")
            else:
                problems["from"] = _("The report cannot be made for these choices: %(reason)s",
                                     reason=str(exc))
    if problems:
        return _page(db, options, problems, 400)
    _housekeeping(db)                      # a job whose process died no longer blocks this one
    job_id = create_job(db, current_user().username, options)
    if job_id is None:
        busy = running_job(db) or {"id": "?", "created_by": "someone"}
        return _page(db, options, {"": _("Report %(id)s (asked for by %(user)s) is being made; one report is "
                                         "made at a time. Wait until it is done, then ask again.",
                                         id=busy["id"], user=busy["created_by"])}, 409)
    start(current_app._get_current_object(), get_job(db, job_id), report_request, options["lang"])
    return redirect(url_for("staff.report_job", job_id=job_id), code=303)


@bp.route("/reports/<int:job_id>")
@login_required("analyst")
def report_job(job_id: int):
    reap_dead(current_app._get_current_object(), get_db())
    job = get_job(get_db(), job_id)
    if job is None:
        return error_page(404, _("No such report"), [_("There is no report number %(id)s.", id=job_id)],
                          back=url_for("staff.reports"))
    out = folder(current_app, job)
    sizes = {name: (out / name).stat().st_size for name in FILES if (out / name).is_file()} \
        if job["status"] == "done" else {}
    return render_template("staff/report_job.html", job=job, files=FILES, sizes=sizes, weights=weight_names())


@bp.route("/reports/<int:job_id>/<name>")
@login_required("analyst")
def report_file(job_id: int, name: str):
    job = get_job(get_db(), job_id)
    if job is None or job["status"] != "done" or name not in FILES or not (folder(current_app, job) / name).is_file():
        abort(404)
    path = folder(current_app, job) / name
    o = job["options"]
    stem, extension = name.rsplit(".", 1)
    download = f"sipas-{stem}-{o['from']}-{o['to']}-{o['lang']}.{extension}"
    # Never cached, never answered 304 (issue 12 item 12): no ETag, no Last-Modified; no-store is set
    # for every staff response (survey/security.py).
    return send_file(path, as_attachment=True, download_name=download, conditional=False, etag=False,
                     last_modified=None, max_age=None)
