"""Response exports for analysts: CSV (UTF-8 with BOM, for Excel) and XLSX, streamed.

One row per response: its identity, unit, channel, kiosk, language, times (UTC
and local), duration, one column per criterion code (1..5, ``NA`` for not
applicable, empty for no answer -- decoded with the response's own
questionnaire version), the respondent's profile, the comment, exclusion and
quality flags. Rows are read from a cursor and written out in batches, so memory
stays flat however many rows match.

Text cells that a spreadsheet would take for a formula (starting with ``=``,
``+``, ``-``, ``@``, tab or carriage return) get a leading apostrophe; numbers
and ISO dates never start so.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from flask import Response, current_app, render_template, request, url_for
from flask_babel import gettext as _

from .. import db as database
from ..db import get_db
from ..responses import RESPONDENT_FIELDS
from . import bp, monitor, periods, queries, targets, xlsx
from .auth import error_page, login_required

BATCH = 2000


class ExportSpec:
    """What to export: a questionnaire, a period, a unit scope -- and how its columns decode."""

    include_simulated = False  # simulated responses (survey/simulate.py) only when asked for

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
        self.full_scan = queries.export_share(db, filters.period, filters.scope) >= queries.FULL_SCAN_SHARE

    @property
    def header(self) -> list[str]:
        return ["uuid", "response_id", "questionnaire_id", "questionnaire_version", "unit_slug", "unit_name",
                "channel", "channel_label", "kiosk", "lang", "started_at_utc", "started_at_local", "submitted_at_utc",
                "submitted_at_local", "duration_s", *self.criteria, *RESPONDENT_FIELDS, "comment", "excluded",
                "excluded_at_utc", "excluded_by", "excluded_reason", "flag_straightline", "flag_speeder",
                "flag_burst"]

    def filename(self, extension: str) -> str:
        period = self.filters.period
        unit = f"-{self.filters.unit['slug']}" if self.filters.unit else ""
        name = f"responses-{self.questionnaire_id}-{period.start}-{period.end}{unit}"
        return re.sub(r"[^A-Za-z0-9._-]", "-", name) + f".{extension}"

    def count_at_most(self, db) -> int:
        """At least as many as the rows to come, from the summaries (all questionnaires): instant,
        where counting the rows themselves takes a second per million."""
        period = self.filters.period
        return sum(queries.count_between(db, period.start.isoformat(), period.end.isoformat(), self.filters.scope))

    def rows(self, db, fmt: str) -> Iterator:
        """The export rows: tuples of cell values for ``fmt`` 'xlsx', CSV lines (CRLF) for 'csv'.

        Both come from the same loop. Every text cell is made inert (``inert``);
        for CSV it is also quoted when needed. Most cells never need either
        (numbers, well-formed ids and times, answers, channel and language, which
        the schema constrains), names and codes are prepared once per distinct
        value, and CSV lines are written directly rather than through the csv
        module: the export's speed is this loop's.
        """
        csv_mode = fmt == "csv"
        text = csv_text if csv_mode else inert
        none = text(None)
        width = len(self.criteria)
        identity = list(range(width))
        fast = {v for v, layout in self.layout.items() if layout == identity}
        values = CSV_ANSWERS if csv_mode else XLSX_ANSWERS
        unit_names, kiosk_names = queries.export_names(db)
        units = {i: (text(slug), text(name)) for i, (slug, name) in unit_names.items()}
        kiosks = {i: text(name) for i, name in kiosk_names.items()}
        limits = {(lim.questionnaire_version, lim.channel): lim.limit_seconds for lim in self.limits
                  if lim.questionnaire_id == self.questionnaire_id}
        qid = text(self.questionnaire_id)
        local = LocalTime(self.offset)
        from ..labels import CHANNELS, channel_label

        # The channel's name from the one label table (survey/labels.py), in the staff member's language.
        channel_names = {c: channel_label(c) for c in CHANNELS}
        if csv_mode:
            channel_names = {c: csv_text(n) for c, n in channel_names.items()}
        plain_stamp, plain_uuid = _STAMP.fullmatch, _UUID.fullmatch
        profiles: dict[tuple, object] = {}
        for (uuid, rid, version, unit_id, channel, kiosk_id, lang, started, submitted, duration, answers,
             rtype, gender, age, education, occupation, ethnicity, field, comment, excluded_at, excluded_by,
             excluded_reason, straightline, burst) in queries.export_rows(db, self.questionnaire_id, self.bounds,
                                                                          self.filters.scope,
                                                                          full_scan=self.full_scan,
                                                                          include_simulated=self.include_simulated):
            if version in fast and len(answers) == width:
                scores = ",".join(answers).translate(_CSV_SCORES) if csv_mode else tuple(map(values.get, answers))
            else:
                cells = [values["-"]] * width
                for position, ch in zip(self.layout.get(version, ()), answers):
                    cells[position] = values.get(ch)
                scores = ",".join(cells) if csv_mode else tuple(cells)
            key = (rtype, gender, age, education, occupation, ethnicity, field)
            profile = profiles.get(key)
            if profile is None:
                profile = ",".join(map(csv_text, key)) if csv_mode else tuple(map(inert, key))
                if len(profiles) >= 100_000:
                    profiles.clear()
                profiles[key] = profile
            slug, unit_name = units.get(unit_id) or (none, none)
            limit = limits.get((version, channel))
            speeder = 1 if limit is not None and duration is not None and duration < limit else 0
            if duration is not None:
                duration = round(duration, 1)
            if not plain_uuid(uuid):
                uuid = text(uuid)
            if not plain_stamp(started):
                started = text(started)
            if not plain_stamp(submitted):
                submitted = text(submitted)
            excluded = 0
            if excluded_at is not None:
                excluded = 1
                excluded_at, excluded_by, excluded_reason = (excluded_at if plain_stamp(excluded_at)
                                                             else text(excluded_at), text(excluded_by),
                                                             text(excluded_reason))
            elif csv_mode:
                excluded_at = excluded_by = excluded_reason = ""
            comment = none if comment is None else text(comment)
            if csv_mode:
                yield (f"{uuid},{rid},{qid},{version},{slug},{unit_name},{channel},{channel_names.get(channel, channel)},"
                       f"{kiosks.get(kiosk_id, none)},"
                       f"{lang},{started},{local(started)},{submitted},{local(submitted)},"
                       f"{'' if duration is None else duration},{scores},{profile},{comment},{excluded},"
                       f"{excluded_at},{excluded_by},{excluded_reason},{straightline or 0},{speeder},{burst or 0}\r\n")
            else:
                yield (uuid, rid, qid, version, slug, unit_name, channel, channel_names.get(channel, channel),
                       kiosks.get(kiosk_id), lang, started,
                       local(started), submitted, local(submitted), duration, *scores, *profile, comment, excluded,
                       excluded_at, excluded_by, excluded_reason, straightline or 0, speeder, burst or 0)


FORMULA_START = frozenset("=+-@\t\r")
_NEEDS_QUOTES = re.compile(r'[",\r\n]')
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_UUID = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]*")
_CSV_SCORES = str.maketrans({"n": "NA", "-": ""})
CSV_ANSWERS = {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "n": "NA", "-": ""}
XLSX_ANSWERS = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "n": "NA", "-": None}


def inert(value: str | None) -> str | None:
    """Text a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    if value and value[0] in FORMULA_START:
        return "'" + value
    return value


def csv_text(value: str | None) -> str:
    """A text cell for CSV: inert, and quoted when it holds a comma, quote or line break."""
    if value is None:
        return ""
    value = inert(value)
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


class LocalTime:
    """Stored UTC times as local 'YYYY-MM-DD HH:MM:SS', converting each hour (or minute,
    for offsets that are not whole hours) once."""

    def __init__(self, offset_minutes: int, size: int = 100_000):
        self.offset = timedelta(minutes=offset_minutes)
        self.cut = 13 if offset_minutes % 60 == 0 else 16   # 'YYYY-MM-DDTHH' or 'YYYY-MM-DDTHH:MM'
        self.size = size
        self.seen: dict[str, str] = {}

    def __call__(self, stamp: str | None) -> str | None:
        if not stamp:
            return stamp
        key = stamp[:self.cut]
        local = self.seen.get(key)
        if local is None:
            try:
                moment = datetime.fromisoformat(key if self.cut == 16 else key + ":00") + self.offset
            except ValueError:
                return stamp
            local = moment.strftime("%Y-%m-%d %H" if self.cut == 13 else "%Y-%m-%d %H:%M")
            if len(self.seen) >= self.size:
                self.seen.clear()
            self.seen[key] = local
        return local + stamp[self.cut:19]


def _export_connection(spec: "ExportSpec"):
    # Its own connection: a streamed body is sent after the request's teardown
    # has closed the request's connection.
    db = database.connect(spec.database, spec.busy_timeout_ms)
    # Memory-mapped reads: an export walks the time index and visits rows all over the file.
    db.execute("PRAGMA mmap_size = 1073741824")
    return db


def csv_stream(spec: ExportSpec) -> Iterator[bytes]:
    db = _export_connection(spec)
    try:
        yield ("\ufeff" + ",".join(map(csv_text, spec.header)) + "\r\n").encode("utf-8")
        batch = []
        for line in spec.rows(db, "csv"):
            batch.append(line)
            if len(batch) == BATCH:
                yield "".join(batch).encode("utf-8")
                batch.clear()
        yield "".join(batch).encode("utf-8")
    finally:
        db.close()


def xlsx_stream(spec: ExportSpec) -> Iterator[bytes]:
    db = _export_connection(spec)
    try:
        # Count and read in one read transaction, so that the rows fit the sheets declared
        # up front. (With more rows than one sheet holds, an over-count can leave the last
        # sheet with its header only.)
        db.execute("BEGIN")
        yield from xlsx.stream(spec.header, spec.rows(db, "xlsx"), spec.count_at_most(db))
    finally:
        db.close()


def _spec():
    """The export the query arguments ask for, or an error response."""
    db = get_db()
    rules, _warnings = monitor.effective_rules(db, current_app.config)
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
        problems.append(_("Questionnaire: “%(id)s” is not a questionnaire in this database (there are: %(known)s).",
                          id=qid, known=", ".join(known) or "—"))
    if problems:
        return None, error_page(400, _("Check the export filters"), problems, back=url_for("staff.exports"))
    ratio = float(current_app.config["QUALITY_SPEEDER_RATIO"])
    spec = ExportSpec(db, qid, filters, offset, ratio)
    spec.include_simulated = request.args.get("simulated") == "1"
    return spec, None


def _default_questionnaire(known: list[str]) -> str:
    default = current_app.config["DEFAULT_QUESTIONNAIRE"]
    if default in known or not known:
        return default
    return known[0]


@bp.route("/exports")
@login_required("analyst")
def exports():
    db = get_db()
    rules, _warnings = monitor.effective_rules(db, current_app.config)
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


def _download(body, content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type)   # as given: mimetype= would add a second charset
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
