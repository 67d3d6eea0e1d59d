"""Response exports for analysts: CSV (UTF-8 with BOM, for Excel) and XLSX, streamed.

One row per response: its identity, unit, channel, kiosk, language, times (UTC
and local), duration, one column per criterion code (1..5, ``NA`` for not
applicable, empty for no answer -- decoded with the response's own
questionnaire version), the respondent's profile, the comment, exclusion and
quality flags. Rows are read from a cursor and written out in batches, so memory
stays flat however many rows match.

Text cells that a spreadsheet would take for a formula (starting with ``=``,
``+``, ``-``, ``@``, tab or carriage return) get a leading apostrophe (in SQL:
``queries.export_rows``); numbers and ISO dates never start so.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date

from flask import Response, current_app, render_template, request, url_for

from .. import db as database
from ..db import get_db
from ..responses import RESPONDENT_FIELDS
from . import bp, monitor, periods, queries, targets, xlsx
from .auth import error_page, login_required

BATCH = 2000


class ExportSpec:
    """What to export: a questionnaire, a period, a unit scope -- and how its columns decode."""

    def __init__(self, db, questionnaire_id: str, filters: monitor.Filters, offset_minutes: int, ratio: float):
        self.database = current_app.config["DATABASE"]
        self.busy_timeout_ms = current_app.config["SQLITE_BUSY_TIMEOUT_MS"]
        self.questionnaire_id = questionnaire_id
        self.filters = filters
        self.offset = offset_minutes
        versions = queries.questionnaire_versions(db, questionnaire_id)
        codes: list[str] = []
        for v in reversed(versions):  # the latest version's order first, then older codes
            for c in v["definition"].get("criteria", []):
                if c.get("code") not in codes:
                    codes.append(c.get("code"))
        self.criteria = codes
        self.layout = {v["version"]: [codes.index(c.get("code")) for c in v["definition"].get("criteria", [])]
                       for v in versions}
        self.limits = queries.speeder_limits(db, ratio)
        self.bounds = filters.period.utc_bounds(offset_minutes)

    @property
    def header(self) -> list[str]:
        return ["uuid", "response_id", "questionnaire_id", "questionnaire_version", "unit_slug", "unit_name",
                "channel", "kiosk", "lang", "started_at_utc", "started_at_local", "submitted_at_utc",
                "submitted_at_local", "duration_s", *self.criteria, *RESPONDENT_FIELDS, "comment", "excluded",
                "excluded_at_utc", "excluded_by", "excluded_reason", "flag_straightline", "flag_speeder",
                "flag_burst"]

    def filename(self, extension: str) -> str:
        period = self.filters.period
        unit = f"-{self.filters.unit['slug']}" if self.filters.unit else ""
        name = f"responses-{self.questionnaire_id}-{period.start}-{period.end}{unit}"
        return re.sub(r"[^A-Za-z0-9._-]", "-", name) + f".{extension}"

    def count(self, db) -> int:
        return queries.export_count(db, self.questionnaire_id, self.bounds, self.filters.scope)

    def rows(self, db, answer_values: dict[str, object]) -> Iterator[tuple]:
        """Export rows with criterion answers mapped through ``answer_values`` ('1'..'5', 'n', '-')."""
        width = len(self.criteria)
        identity = list(range(width))
        fast = {v for v, layout in self.layout.items() if layout == identity}
        at = queries.EXPORT_ANSWERS_AT
        decode = answer_values.__getitem__
        empty = answer_values["-"]
        for r in queries.export_rows(db, self.questionnaire_id, self.bounds, self.filters.scope, self.offset,
                                     self.limits):
            answers = r[at]
            if r[3] in fast and len(answers) == width:
                yield r[:at] + tuple(map(decode, answers)) + r[at + 1:]
            else:
                scores = [empty] * width
                for position, ch in zip(self.layout.get(r[3], ()), answers):
                    scores[position] = decode(ch)
                yield r[:at] + tuple(scores) + r[at + 1:]


CSV_ANSWERS = {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "n": "NA", "-": ""}
XLSX_ANSWERS = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "n": "NA", "-": None}


def _export_connection(spec: "ExportSpec"):
    # Its own connection: a streamed body is sent after the request's teardown
    # has closed the request's connection.
    return database.connect(spec.database, spec.busy_timeout_ms)


def csv_stream(spec: ExportSpec) -> Iterator[bytes]:
    db = _export_connection(spec)
    try:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(spec.header)
        yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        batch = []
        for row in spec.rows(db, CSV_ANSWERS):
            batch.append(row)
            if len(batch) == BATCH:
                writer.writerows(batch)
                batch.clear()
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        writer.writerows(batch)
        yield buffer.getvalue().encode("utf-8")
    finally:
        db.close()


def xlsx_stream(spec: ExportSpec) -> Iterator[bytes]:
    db = _export_connection(spec)
    try:
        # Count and read in one read transaction: the sheets declared up front fit the rows that follow.
        db.execute("BEGIN")
        yield from xlsx.stream(spec.header, spec.rows(db, XLSX_ANSWERS), spec.count(db))
    finally:
        db.close()


def _spec():
    """The export the query arguments ask for, or an error response."""
    db = get_db()
    try:
        rules, _ = monitor.effective_rules(db, current_app.config)
    except RuntimeError as exc:
        return None, error_page(503, "Monitoring not ready", [str(exc)])
    offset = rules.utc_offset_minutes
    today = periods.local_now(offset).date()
    problems = []
    try:
        filters = monitor.parse_filters(db, request.args, targets.fieldwork_period(db, today))
    except monitor.FilterError as exc:
        problems += exc.problems
        filters = None
    known = queries.questionnaire_ids(db)
    qid = request.args.get("questionnaire", "").strip() or _default_questionnaire(known)
    if qid not in known:
        problems.append(f"questionnaire: {qid!r} is not a questionnaire in this database"
                        + (f" (there are: {', '.join(known)})" if known else " (none is registered yet)"))
    if problems:
        return None, error_page(400, "Check the export filters", problems, back=url_for("staff.exports"))
    ratio = float(current_app.config["QUALITY_SPEEDER_RATIO"])
    return ExportSpec(db, qid, filters, offset, ratio), None


def _default_questionnaire(known: list[str]) -> str:
    default = current_app.config["DEFAULT_QUESTIONNAIRE"]
    if default in known or not known:
        return default
    return known[0]


@bp.route("/exports")
@login_required("analyst")
def exports():
    db = get_db()
    try:
        rules, _ = monitor.effective_rules(db, current_app.config)
    except RuntimeError as exc:
        return error_page(503, "Monitoring not ready", [str(exc)])
    today = periods.local_now(rules.utc_offset_minutes).date()
    period = targets.fieldwork_period(db, today)
    known = queries.questionnaire_ids(db)
    return render_template("staff/exports.html", period=period, questionnaires=known,
                           default_questionnaire=_default_questionnaire(known), units_menu=queries.unit_choices(db),
                           today=today, year_start=date(today.year, 1, 1))


@bp.route("/exports/responses.csv")
@login_required("analyst")
def export_csv():
    spec, refusal = _spec()
    if refusal:
        return refusal
    return _download(csv_stream(spec), "text/csv; charset=utf-8", spec.filename("csv"))


@bp.route("/exports/responses.xlsx")
@login_required("analyst")
def export_xlsx():
    spec, refusal = _spec()
    if refusal:
        return refusal
    return _download(xlsx_stream(spec),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", spec.filename("xlsx"))


def _download(body, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
