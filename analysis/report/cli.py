"""``python -m analysis report``: the four report files from the survey database.

``add_report(subparsers)`` registers the command in the engine's CLI
(``analysis/__main__.py``, list ``SUBCOMMANDS``); ``main(argv)`` runs it alone
(``python -m analysis.report``).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

DESCRIPTION = """\
Write an index report for a period: report.html (one self-contained file, charts
inline), report.pdf (A4), indices.xlsx (one sheet per table) and indices.csv (the
full indices table, as `python -m analysis indices` writes it) into --out.

The report has a summary (overall index with its 95 % confidence interval,
against the target and the comparison period), the units ranked with intervals,
sample sizes, effective sample sizes, flags and a verdict against the target, a
forest plot, a factor x unit heatmap, the criteria lowest first, the 1-5 answers
per factor, breakdowns by channel, field of procedure and respondent group,
response counts, the weighting and its fit, and the methodology.

The files appear only when all four are complete: a bad request (empty period,
unknown unit, no responses) stops with a message and writes nothing."""

EPILOG = """\
Example:
  python -m analysis report --db instance/survey.sqlite3 --from 2024-07-01 --to 2024-12-31 \\
      --compare-from 2024-01-01 --compare-to 2024-06-30 --target 80 --lang vi --out reports/2024h2
  python -m analysis report --db instance/survey.sqlite3 --from 2024-01-01 --to 2024-12-31 \\
      --units quan-1,quan-3 --weights rake --lang en --out reports/q1-q3-2024
  python -m analysis report --db instance/survey.sqlite3 --from 2025-07-01 --to 2025-12-31 \\
      --sae --sae-covariates wards.csv --lang vi --out reports/wards-2025h2"""


class ReportCliError(ValueError):
    """A problem the analyst can fix (printed without a traceback)."""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _target(text: str) -> float:
    """``80`` or ``80%`` (percent) or ``0.8`` (a share) -> 0.8."""
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    share = value / 100 if value > 1 else value
    if not 0 < share < 1:
        raise argparse.ArgumentTypeError(f"must be a percentage between 0 and 100 (e.g. 80), got {text}")
    return share


def _units(text: str) -> tuple[str, ...]:
    units = tuple(u.strip() for u in text.split(",") if u.strip())
    if not units:
        raise argparse.ArgumentTypeError("give unit slugs separated by commas, e.g. quan-1,quan-3")
    return units


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--db", required=True, metavar="PATH", help="the survey database (SQLite file)")
    p.add_argument("--from", dest="date_from", type=_day, metavar="DATE",
                   help="first day, YYYY-MM-DD (default: the first day with a response)")
    p.add_argument("--to", dest="date_to", type=_day, metavar="DATE",
                   help="last day, inclusive (default: the last day with a response)")
    p.add_argument("--units", type=_units, metavar="SLUG,...",
                   help="units to report (a parent unit means its units; default: all)")
    p.add_argument("--target", type=_target, default=0.80, metavar="PERCENT",
                   help="target share satisfied, in percent (default 80)")
    p.add_argument("--compare-from", type=_day, metavar="DATE", help="first day of the comparison period")
    p.add_argument("--compare-to", type=_day, metavar="DATE", help="last day of the comparison period")
    p.add_argument("--lang", choices=("vi", "en"), default="vi", help="language of the report (default vi)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the four files to")
    p.add_argument("--questionnaire", metavar="ID", help="questionnaire id (default: the period's questionnaire with the most responses; "
                   "the report names the others with their counts)")
    p.add_argument("--weights", choices=("none", "design", "poststratify", "rake"), default="design",
                   help="weighting, as for `indices` (default: design = unit population / unit responses)")
    p.add_argument("--drop-incomplete", action="store_true",
                   help="drop responses without the age band/gender that poststratify/rake need (else an error)")
    p.add_argument("--timezone", default="Asia/Ho_Chi_Minh", help="time zone of the days (default Asia/Ho_Chi_Minh)")
    p.add_argument("--include-simulated", action="store_true",
                   help="also count responses written by `flask --app survey simulate` (left out by default)")
    p.add_argument("--sae", action="store_true",
                   help="add small-area (Fay-Herriot) estimates of the unit index next to the direct ones, "
                        "ranked with rank ranges (many units with few responses, e.g. 168 wards)")
    p.add_argument("--sae-covariates", metavar="FILE.csv",
                   help="with --sae: one row per unit, a key column (ward, unit, district or slug) and covariates")
    p.add_argument("--sae-columns", metavar="COLS", help="with --sae-covariates: the columns to use (default all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run_report)
    return p


def add_report(sub) -> None:
    """Register ``report`` in the engine's CLI (``analysis/__main__.py``)."""
    configure(sub.add_parser("report", formatter_class=argparse.RawDescriptionHelpFormatter,
                             help="index report for a period: HTML, PDF, XLSX and CSV",
                             description=DESCRIPTION, epilog=EPILOG))


class Bar:
    """``stage [#####     ] 45 %`` on stderr, redrawn in place on a terminal, one line per stage otherwise."""

    def __init__(self, enabled: bool, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.stage = None
        self.start = time.perf_counter()

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        if not self.tty and stage == self.stage:
            return
        self.stage = stage
        filled = int(30 * min(max(fraction, 0.0), 1.0))
        line = f"report: [{'#' * filled}{' ' * (30 - filled)}] {100 * fraction:3.0f} % {stage:<12}"
        if self.tty:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _period_bounds(db: Path, tz: str) -> tuple[date | None, date | None]:
    """First and last day (local) with a response, for a missing --from/--to."""
    import sqlite3
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from .gather import _connect

    try:
        zone = ZoneInfo(tz)
    except Exception:
        raise ReportCliError(f"unknown time zone {tz!r}") from None
    conn = _connect(db)
    try:
        first, last = conn.execute("SELECT min(submitted_at), max(submitted_at) FROM responses "
                                   "WHERE excluded_at IS NULL").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ReportCliError(f"--db {db}: cannot read the survey database: {exc}") from None
    finally:
        conn.close()

    def day(stamp):
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date() \
            if stamp else None
    return day(first), day(last)


def run_report(args) -> int:
    from . import make_report
    from .gather import ReportRequest, ReportRequestError

    db = Path(args.db)
    if not db.is_file():
        raise ReportCliError(f"--db {db}: no such database file")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ReportCliError(f"--out {out} is a file, not a folder")
    date_from, date_to = args.date_from, args.date_to
    if date_from is None or date_to is None:
        first, last = _period_bounds(db, args.timezone)
        if first is None:
            raise ReportCliError(f"--db {db} has no responses: nothing to report")
        date_from, date_to = date_from or first, date_to or last
    request = ReportRequest(db=db, date_from=date_from, date_to=date_to, units=args.units, target=args.target,
                            compare_from=args.compare_from, compare_to=args.compare_to,
                            questionnaire=args.questionnaire, weights=args.weights,
                            drop_incomplete=args.drop_incomplete, tz=args.timezone, sae=args.sae,
                            sae_covariates=Path(args.sae_covariates) if args.sae_covariates else None,
                            sae_columns=tuple(c.strip() for c in args.sae_columns.split(",") if c.strip())
                            if args.sae_columns else None,
                            include_simulated=args.include_simulated)
    bar = Bar(enabled=not args.quiet)
    try:
        files = make_report(request, args.lang, out, progress=bar, parallel=True)
    except ReportRequestError as exc:
        raise ReportCliError(str(exc)) from None
    finally:
        bar.close()
    if not args.quiet:
        print(f"report for {date_from} to {date_to} ({len(files.report.units)} units, "
              f"{files.report.overall.n} responses) written to {out}/: {', '.join(files.files)} "
              f"({len(files.pdf_pages)} PDF pages) in {time.perf_counter() - bar.start:.1f} s", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """``python -m analysis.report``: the report command on its own."""
    parser = configure(argparse.ArgumentParser(prog="python -m analysis.report",
                                               formatter_class=argparse.RawDescriptionHelpFormatter,
                                               description=DESCRIPTION, epilog=EPILOG))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
