"""Response exports for analysts: CSV (UTF-8 with BOM, for Excel) and XLSX, streamed.

One row per response: its identity, unit, channel, kiosk, language, times (UTC
and local), duration, one column per criterion code (1..5, ``NA`` for not
applicable, empty for no answer -- decoded with the response's own
questionnaire version), the respondent's profile, the comment, exclusion and
quality flags. Rows are read from a cursor and written out in batches, so memory
stays flat however many rows match.

Text cells that a spreadsheet would take for a formula (starting with ``=``,
``+``, ``-``, ``@``, tab or carriage return) get a leading apostrophe
(``analysis.cells.inert``, shared by every writer of the platform); numbers
and ISO dates never start so.
"""
from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from flask import Response, current_app, render_template, request, url_for
from flask_babel import gettext as _

from analysis.cells import FORMULA_START, csv_text, inert  # noqa: F401  (the platform's one neutralising function)

from .. import db as database
from ..db import get_db
from ..responses import RESPONDENT_FIELDS
from . import bp, monitor, periods, queries, targets, xlsx
from .auth import error_page, login_required

BATCH = 2000
CSV_BATCH = 5_000    # rows a CSV chunk is written from, a column at a time (about 1.7 MB; memory grows with it)


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

        The CSV export itself has SQLite write most lines (:meth:`csv_chunks`); this is the
        reference each of its lines must equal, and the way the lines SQLite leaves out are written.
        """
        convert = self._converter(db, fmt)
        return map(convert, queries.export_rows(db, self.questionnaire_id, self.bounds, self.filters.scope,
                                                full_scan=self.full_scan,
                                                include_simulated=self.include_simulated))

    def _converter(self, db, fmt: str):
        """A function from one row of ``queries.export_rows`` to its CSV line or XLSX tuple.

        Every text cell is made inert (``inert``); for CSV it is also quoted when needed. Most
        cells never need either (numbers, well-formed ids and times, answers, channel and
        language, which the schema constrains), names and codes are prepared once per distinct
        value, and CSV lines are written directly rather than through the csv module.
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
        limits = self._limits()
        qid = text(self.questionnaire_id)
        local = LocalTime(self.offset)
        channel_names = self._channel_names()
        if csv_mode:
            channel_names = {c: csv_text(n) for c, n in channel_names.items()}
        plain_stamp, plain_uuid = _STAMP.fullmatch, _UUID.fullmatch
        profiles: dict[tuple, object] = {}

        def convert(row):
            (uuid, rid, version, unit_id, channel, kiosk_id, lang, started, submitted, duration, answers,
             rtype, gender, age, education, occupation, ethnicity, field, comment, excluded_at, excluded_by,
             excluded_reason, straightline, burst) = row
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
                return (f"{uuid},{rid},{qid},{version},{slug},{unit_name},{channel},"
                        f"{channel_names.get(channel, channel)},{kiosks.get(kiosk_id, none)},"
                        f"{lang},{started},{local(started)},{submitted},{local(submitted)},"
                        f"{'' if duration is None else duration},{scores},{profile},{comment},{excluded},"
                        f"{excluded_at},{excluded_by},{excluded_reason},{straightline or 0},{speeder},{burst or 0}\r\n")
            return (uuid, rid, qid, version, slug, unit_name, channel, channel_names.get(channel, channel),
                    kiosks.get(kiosk_id), lang, started,
                    local(started), submitted, local(submitted), duration, *scores, *profile, comment, excluded,
                    excluded_at, excluded_by, excluded_reason, straightline or 0, speeder, burst or 0)

        return convert

    def _limits(self) -> dict[tuple, float]:
        return {(lim.questionnaire_version, lim.channel): lim.limit_seconds for lim in self.limits
                if lim.questionnaire_id == self.questionnaire_id}

    @staticmethod
    def _channel_names() -> dict[str, str]:
        """The channel's name from the one label table (survey/labels.py), in the staff member's language."""
        from ..labels import CHANNELS, channel_label

        return {c: channel_label(c) for c in CHANNELS}

    def csv_parts_sql(self) -> tuple[list[str], list]:
        """SQL expressions (over ``responses r`` and ``response_flags f``) of the columns :meth:`csv_chunks`
        puts a CSV line together from, and their parameters: the questionnaire version; the unit, the
        kiosk (plus one; 0: none) and one number for the channel and language (NULL for a channel or
        language not listed), whose cells are written once each; the uuid and times as stored; the respondent fields and the
        comment; the exclusion cells; the flags; the duration; the answers (NULL unless the version's
        criteria are in the latest order and all there). Comparisons and CASE only: calls of SQL
        functions (GLOB, substr, date) and long chains of ``||`` cost more per row than pyarrow's
        kernels doing the same a column at a time.
        """
        from ..labels import CHANNELS

        params: list = []
        width = len(self.criteria)
        identity = list(range(width))
        fast = ", ".join(str(int(v)) for v, layout in sorted(self.layout.items()) if layout == identity) or "NULL"
        channels = " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(CHANNELS))
        channel_lang = f"CASE r.channel {channels} END * 2 + CASE r.lang WHEN 'vi' THEN 0 WHEN 'en' THEN 1 END"
        answers = f"CASE WHEN r.questionnaire_version IN ({fast}) AND length(r.answers) = {width} THEN r.answers END"
        excluded = ("CASE WHEN r.excluded_at IS NULL THEN '0,,,' ELSE '1,' || r.excluded_at || ',' || "
                    "coalesce(r.excluded_by, '') || ',' || coalesce(r.excluded_reason, '') END")
        slow = []
        for (version, channel), limit in self._limits().items():
            slow.append("(r.questionnaire_version = ? AND r.channel = ? AND r.duration_s < ?)")
            params += [version, channel, limit]
        speeder = f"CASE WHEN {' OR '.join(slow)} THEN 1 ELSE 0 END" if slow else "0"
        return ["r.questionnaire_version", "r.unit_id", "coalesce(r.kiosk_id + 1, 0)", channel_lang,
                "r.uuid", "r.started_at", "r.submitted_at",
                *(f"r.{c}" for c in RESPONDENT_FIELDS), "r.comment", excluded, "coalesce(f.straightline, 0)", speeder,
                "coalesce(f.burst, 0)", "r.duration_s", answers], params

    def csv_chunks(self, db) -> Iterator[bytes]:
        """The CSV's lines after its header, as UTF-8 byte strings of :data:`CSV_BATCH` lines each,
        byte for byte those of :meth:`rows`.

        pyarrow writes the lines a batch at a time and a column at a time from the columns of
        :meth:`csv_parts_sql` (no Python per row beyond reading it): the unit, kiosk and channel cells,
        the local times (per hour) and the durations are written once per distinct value, the answers
        by numpy and string kernels, and the cells are joined by ``binary_join_element_wise``.
        pyarrow's own CSV writer is not used: it puts every text cell in quotes, which would change
        the file. A row is written by :meth:`rows`' code instead, from the same snapshot (the caller
        holds one read transaction), unless ``csv_text`` would leave each of its text cells as it is
        -- joined, they hold exactly the commas that join them, no quote or line break, and no cell
        starts like a formula -- and its times are plain UTC seconds (comments with commas, mostly:
        a few % of rows).
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        from ..labels import CHANNELS

        parts, params = self.csv_parts_sql()
        cursor = queries.export_parts(db, parts, params, self.questionnaire_id, self.bounds, self.filters.scope,
                                      full_scan=self.full_scan, include_simulated=self.include_simulated)
        unit_names, kiosk_names = queries.export_names(db)
        units = {i: (csv_text(slug), csv_text(name)) for i, (slug, name) in unit_names.items()}
        kiosks = {i: csv_text(name) for i, name in kiosk_names.items()}
        labels = {c: csv_text(n) for c, n in self._channel_names().items()}

        # Cells by id, to be taken by index: 'slug,name' of each unit, each kiosk's name (index id + 1),
        # 'channel,label' and the language by channel number * 2 + language.
        unit_cells = pa.array([",".join(units.get(i, ("", ""))) for i in range(max(units, default=0) + 1)], pa.string())
        kiosk_cells = pa.array([""] + [kiosks.get(i, "") for i in range(max(kiosks, default=0) + 1)], pa.string())
        channel_cells = pa.array([f"{c},{labels.get(c, c)}" for c in CHANNELS for _lang in ("vi", "en")], pa.string())
        lang_cells = pa.array([lang for _c in CHANNELS for lang in ("vi", "en")], pa.string())

        local = LocalTime(self.offset)
        cut = local.cut

        def hour(key: str) -> str | None:
            """The local 'YYYY-MM-DD HH' (or '... HH:MM') of a UTC key, as LocalTime writes it; None if invalid."""
            stamp = key + "2000-01-01T00:00:00Z"[len(key):]
            converted = local(stamp)
            return None if converted == stamp else converted[:len(converted) - (19 - cut)]

        def seconds(duration: float | None) -> str:
            return "" if duration is None else str(round(duration, 1))

        memos: dict = {hour: {}}

        def mapped(values, write) -> tuple:
            """(the cells ``write`` gives each distinct value, as an array; True where it gave None)."""
            encoded = pc.dictionary_encode(values)
            memo = memos.get(write)
            if memo is None:                      # floats: 0.0 and -0.0 are one dict key
                written = [write(v) for v in encoded.dictionary.to_pylist()]
            else:
                if len(memo) > 100_000:
                    memo.clear()
                written = [memo[v] if v in memo else memo.setdefault(v, write(v))
                           for v in encoded.dictionary.to_pylist()]
            cells = pa.array(["" if w is None else w for w in written], pa.string()).take(encoded.indices)
            bad = pa.array([w is None for w in written], pa.bool_()).take(encoded.indices)
            return cells, bad

        # uuid, the two times, the profile and the exclusion (4 cells) as one text: the commas that join
        # them and no other, no quote or line break, no formula's start at a cell's start. (Comments,
        # which often hold commas, are written by _csv_text_column.)
        commas = 3 + len(RESPONDENT_FIELDS) + 4 - 1
        starts = "".join(sorted(FORMULA_START - {"-"})) + "-"      # a character class: '-' last
        unsafe = f'["\\r\\n]|(?:^|,)[{starts}]'
        plain_stamp = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
        qid = pa.scalar(csv_text(self.questionnaire_id))
        crlf = pa.scalar("\r\n")
        dummy_stamp = pa.scalar("2000-01-01T00:00:00Z")
        width = len(self.criteria)
        n_profile = len(RESPONDENT_FIELDS)
        types = [pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.string(), pa.string(), pa.string(),
                 *[pa.string()] * n_profile, pa.string(), pa.string(), pa.int64(), pa.int64(), pa.int64(),
                 pa.float64(), pa.string()]
        convert = None
        # The rows are read on a second thread, a batch or two ahead of the one written here: SQLite's
        # step and pyarrow's kernels release the GIL, so reading and writing overlap on two cores. The
        # reader and the rows written by the row code share one connection, and so one read
        # transaction (one snapshot); the lock lets one thread at a time use it.
        lock = threading.Lock()
        reader = _BatchReader(cursor, CSV_BATCH, lock,
                              lambda rows: [pa.array(c, t) for c, t in zip(zip(*rows), types)])
        try:
            for columns in reader:
                rid, version, unit_id, kiosk_index, channel_lang, uuid, started, submitted = columns[:8]
                profile = columns[8:8 + n_profile]
                comment, excluded, straightline, speeder, burst, duration, answers = columns[8 + n_profile:]
                known = pc.and_kleene(pc.less(unit_id, len(unit_cells)), pc.less(kiosk_index, len(kiosk_cells)))
                key = pc.if_else(pc.and_kleene(known, pc.greater_equal(unit_id, 0)), channel_lang, None)
                checked = pc.binary_join_element_wise(uuid, started, submitted, *profile, excluded, ",",
                                                      null_handling="replace", null_replacement="")
                rest = pc.binary_join_element_wise(*profile, _csv_text_column(comment), excluded,
                                                   straightline.cast(pa.string()), speeder.cast(pa.string()),
                                                   burst.cast(pa.string()), ",", null_handling="replace",
                                                   null_replacement="")
                slow = pc.or_kleene(pc.or_kleene(pc.is_null(key), pc.is_null(answers)),
                                    pc.or_kleene(pc.not_equal(pc.count_substring(checked, ","), commas),
                                                 pc.match_substring_regex(checked, unsafe)))
                slow = pc.or_kleene(slow, pc.invert(pc.and_kleene(pc.match_substring_regex(started, plain_stamp),
                                                                  pc.match_substring_regex(submitted, plain_stamp))))
                slow = pc.fill_null(slow, True)
                started, submitted = pc.if_else(slow, dummy_stamp, started), pc.if_else(slow, dummy_stamp, submitted)
                started_hour, bad_start = mapped(pc.utf8_slice_codeunits(started, 0, cut), hour)
                submitted_hour, bad_submit = mapped(pc.utf8_slice_codeunits(submitted, 0, cut), hour)
                slow = pc.or_(slow, pc.or_(bad_start, bad_submit))
                unit_id = pc.if_else(slow, 0, unit_id)
                kiosk_index = pc.if_else(slow, 0, kiosk_index)
                channel_lang = pc.if_else(slow, 0, channel_lang)
                cells = pc.binary_join_element_wise(unit_cells.take(unit_id), channel_cells.take(channel_lang),
                                                    kiosk_cells.take(kiosk_index), lang_cells.take(channel_lang), ",")
                duration_cells, _bad = mapped(duration, seconds)
                scores = pc.replace_substring(pc.replace_substring(_comma_separated(
                    pc.if_else(slow, pa.scalar("-" * width), answers), width), "n", "NA"), "-", "")
                lines = pc.binary_join_element_wise(
                    uuid, rid.cast(pa.string()), qid, version.cast(pa.string()), cells, started,
                    pc.binary_join_element_wise(started_hour, pc.utf8_slice_codeunits(started, cut, 19), ""),
                    submitted, pc.binary_join_element_wise(submitted_hour, pc.utf8_slice_codeunits(submitted, cut, 19), ""),
                    duration_cells, scores, pc.binary_join_element_wise(rest, crlf, ""), ",")
                if pc.any(slow).as_py():
                    if convert is None:
                        with lock:
                            convert = self._converter(db, "csv")
                    flags, ids = slow.to_pylist(), rid.to_pylist()
                    with lock:
                        found = queries.export_rows_by_id(db, [r for r, s in zip(ids, flags) if s])
                    written = {row[1]: convert(row) for row in found}
                    lines = pc.if_else(slow, pa.array([written[r] if s else None for r, s in zip(ids, flags)],
                                                      pa.string()), lines)
                whole = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), "")
                yield whole.cast(pa.binary())[0].as_py()
        finally:
            reader.close()


class _BatchReader:
    """A cursor's rows, ``size`` at a time and turned into ``convert(rows)``, read on a thread of its
    own at most ``ahead`` batches ahead of the consumer (memory stays flat), holding ``lock`` while
    it uses the cursor's connection.

    Iterating gives the converted batches in order; an exception on the reader thread is raised
    to the consumer where the next batch would have come (never a silently shorter export).
    :meth:`close` -- also when the consumer stops early, e.g. a client that went away -- stops the
    thread and waits for it, so that the connection can be closed behind it.
    """

    def __init__(self, cursor, size: int, lock: threading.Lock, convert: Callable, ahead: int = 2):
        self._cursor, self._size, self._lock, self._convert = cursor, size, lock, convert
        self._batches: queue.Queue = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="csv-export-reader", daemon=True)
        self._thread.start()

    _END = object()

    def _read(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    rows = self._cursor.fetchmany(self._size)
                if not rows:
                    self._put(self._END)
                    return
                if not self._put(self._convert(rows)):
                    return
        except BaseException as exc:   # noqa: BLE001  (handed to the consumer, which raises it)
            self._put(exc)

    def _put(self, item) -> bool:
        """Queue ``item``, waiting for room; False if the consumer has stopped meanwhile."""
        while not self._stop.is_set():
            try:
                self._batches.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def __iter__(self) -> Iterator:
        while True:
            item = self._batches.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _csv_text_column(values):
    """``csv_text`` of every string of a pyarrow array, a column at a time (NULL stays NULL)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    starts = "".join(sorted(FORMULA_START - {"-"})) + "-"
    inert_values = pc.if_else(pc.match_substring_regex(values, f"^[{starts}]"),
                              pc.binary_join_element_wise(pa.scalar("'"), values, ""), values)
    quoted = pc.binary_join_element_wise(pa.scalar('"'), pc.replace_substring(inert_values, '"', '""'),
                                         pa.scalar('"'), "")
    return pc.if_else(pc.match_substring_regex(values, '[",\r\n]'), quoted, inert_values)


def _comma_separated(answers, width: int):
    """Each string of ``width`` characters with a comma between its characters ('12n' -> '1,2,n'): in one
    numpy pass over the array's bytes when they are ASCII (answers are: 1-5, n, -), else a slice each."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(answers)
    if width == 0 or n == 0:
        return pa.array([""] * n, pa.string())
    answers = answers.cast(pa.string())
    offsets = np.frombuffer(answers.buffers()[1], np.int32)[answers.offset:answers.offset + n + 1]
    if offsets[-1] - offsets[0] != n * width:
        return pc.binary_join_element_wise(*(pc.utf8_slice_codeunits(answers, i, i + 1) for i in range(width)), ",")
    data = np.frombuffer(answers.buffers()[2], np.uint8)[offsets[0]:offsets[-1]].reshape(n, width)
    out = np.full((n, 2 * width - 1), ord(","), np.uint8)
    out[:, 0::2] = data
    new_offsets = np.arange(n + 1, dtype=np.int32) * (2 * width - 1)
    return pa.StringArray.from_buffers(n, pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(out.tobytes()))


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_UUID = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]*")
_CSV_SCORES = str.maketrans({"n": "NA", "-": ""})
CSV_ANSWERS = {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "n": "NA", "-": ""}
XLSX_ANSWERS = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "n": "NA", "-": None}


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
        # One read transaction: the lines SQLite writes and those written in Python come from one snapshot.
        db.execute("BEGIN")
        yield ("\ufeff" + ",".join(map(csv_text, spec.header)) + "\r\n").encode("utf-8")
        yield from spec.csv_chunks(db)
    finally:
        db.close()


def xlsx_stream(spec: ExportSpec) -> Iterator[bytes]:
    db = _export_connection(spec)
    try:
        # Count and read in one read transaction, so that the rows fit the sheets declared
        # up front. (With more rows than one sheet holds, an over-count can leave the last
        # sheet with its header only.)
        db.execute("BEGIN")
        yield from xlsx.stream([inert(h) for h in spec.header], spec.rows(db, "xlsx"), spec.count_at_most(db))
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
