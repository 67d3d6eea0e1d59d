"""Command line: ``python -m analysis <command>``.

Commands are registered in ``SUBCOMMANDS``: each is a function that adds its
sub-parser (with ``--help`` text carrying an ``Example:``) and sets ``func``.
To add one (e.g. ``report``), write ``add_report(subparsers)`` in its module and
append it to ``SUBCOMMANDS``.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

LARGE_BYTES = 20 << 20      # show a progress bar for CSV inputs above 20 MB ...
LARGE_ROWS = 200_000        # ... or databases with more responses than this


class CliError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _level(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (e.g. 0.95), got {text}")
    return v


def _bounds(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOWER,UPPER such as 0.3,3 (got {text!r})") from None
    return lo, hi


def add_indices(sub) -> None:
    p = sub.add_parser(
        "indices", formatter_class=_formatter,
        help="SIPAS indices with confidence intervals per unit (CSV or database)",
        description="""\
Estimate every criterion, every factor and the overall index for every unit and
overall, with design-based standard errors, logit and Korn-Graubard 95 % intervals,
design effects, effective sample sizes and reliability flags (as R's survey package).
Writes one row per (level, district, measure); the columns are listed in docs/analysis.md.

Input is either a CSV (respondent_id, district, stratum, [psu], weight, q01, q02, ...;
answers 1..5 or empty) with an optional factors CSV (item,factor[,weight]), or the
survey database.""",
        epilog="""\
Example:
  python -m analysis indices survey.csv --factors factors.csv --out indices.csv
  python -m analysis indices --db instance/survey.sqlite3 --from 2024-01-01 --to 2024-06-30 \\
      --weights rake --out indices.csv
  python -m analysis indices --db instance/survey.sqlite3 --origin kiosk --out kiosk-indices.csv
  python -m analysis indices --parquet export/ --dask --out national.csv
  python -m analysis indices --db instance/survey.sqlite3 --from 2026-10-01 --to 2026-12-31 --out q4.csv
      (a period with a sampling frame: its probability sample, weighted N_h/n_h with non-response
      adjustment and the finite population correction)

Responses held for review as possibly stuffed are left out unless --held include.""")
    p.add_argument("input", nargs="?", metavar="INPUT.csv", help="survey CSV (or use --db)")
    p.add_argument("--factors", metavar="FACTORS.csv", help="CSV item,factor[,weight]: factor membership "
                   "and criterion weights (CSV input)")
    p.add_argument("--db", metavar="PATH", help="read responses from this survey database instead of a CSV")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD (database)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last day, inclusive (database)")
    p.add_argument("--questionnaire", metavar="ID", help="questionnaire id (database; needed if the period has several)")
    p.add_argument("--units", metavar="SLUGS", help="comma-separated unit slugs; a parent unit means its units")
    p.add_argument("--weights", choices=("none", "design", "poststratify", "rake"), default="design",
                   help="database weighting (default: design = unit population / unit responses; for a "
                        "period that is a sampling frame's period: the frame's probability-sample design)")
    p.add_argument("--no-frame", action="store_true",
                   help="ignore a sampling frame for the period (estimate from every response of the period)")
    p.add_argument("--min-cell", type=int, default=10, metavar="N",
                   help="frame design: smallest number of respondents in a non-response weighting cell; "
                        "smaller cells are collapsed (default 10; docs/sampling.md)")
    p.add_argument("--drop-incomplete", action="store_true",
                   help="drop responses without the age band/gender that poststratify/rake need (else an error)")
    p.add_argument("--include-simulated", action="store_true",
                   help="also count responses written by `flask --app survey simulate` (left out by default)")
    p.add_argument("--trim", type=_bounds, metavar="LO,HI",
                   help="bounds on raked weight / design weight, e.g. 0.3,3 (rake)")
    p.add_argument("--rake-tol", type=float, default=1e-8, metavar="TOL",
                   help="raking stops when every margin is met within this relative error (default 1e-8)")
    p.add_argument("--rake-max-iter", type=int, default=100, metavar="N",
                   help="most raking cycles; if the margins are not met by then, a warning says by how much "
                        "(default 100)")
    p.add_argument("--held", choices=("leave-out", "include"), default="leave-out",
                   help="responses held for review as possibly stuffed (database): left out (default) or included")
    p.add_argument("--origin", choices=("open-link", "kiosk", "paper"),
                   help="only responses from this origin (database): the unit's open link (QR code, web list), "
                        "kiosks or paper; default all")
    p.add_argument("--timezone", default="Asia/Ho_Chi_Minh", help="time zone of --from/--to days "
                   "(default Asia/Ho_Chi_Minh)")
    p.add_argument("--level", type=_level, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--target", type=_level, default=0.80,
                   help="target share satisfied for the above/below judgement (default 0.80)")
    p.add_argument("--lonely-psu", choices=("adjust", "remove", "certainty", "average", "fail"), default="adjust",
                   help="strata with one PSU (default adjust; R's survey.lonely.psu options); the strata "
                        "concerned are listed on stderr")
    p.add_argument("--no-overall", action="store_true", help="leave out the overall (ALL) rows")
    p.add_argument("--fixed-weights-variance", action="store_true",
                   help="poststratify/rake: treat the calibrated weights as fixed in the variance (the default "
                        "is the calibration variance, as R's postStratify()/calibrate() designs)")
    p.add_argument("--missing-items", choices=("drop", "fail"), default="drop",
                   help="a unit where a criterion has no valid answer: drop (default) = index over the criteria "
                        "answered, flagged (flag_items_missing) and not ranked; fail = refuse, naming them")
    sae = p.add_argument_group(
        "small-area estimates (Fay-Herriot, docs/analysis.md)",
        "Example: --sae --sae-covariates wards.csv --sae-columns kind,former_district,last_index")
    sae.add_argument("--sae", action="store_true",
                     help="add small-area estimates (EBLUP, root MSE, interval, benchmarked estimate, rank range) "
                          "for every unit's --sae-measure")
    sae.add_argument("--sae-measure", default="INDEX:ITEM_AVG", metavar="MEASURE",
                     help="the measure to estimate (default INDEX:ITEM_AVG, the unit index)")
    sae.add_argument("--sae-covariates", metavar="FILE.csv",
                     help="CSV with one row per unit: a key column (ward, unit, district or slug) and covariates "
                          "(numbers, or text categories turned into indicators); without it every unit "
                          "shrinks towards the city mean")
    sae.add_argument("--sae-columns", metavar="COLS",
                     help="comma-separated covariate columns of --sae-covariates to use (default: all)")
    sae.add_argument("--sae-method", choices=("REML", "ML"), default="REML",
                     help="estimate of the between-unit variance (default REML, with Prasad-Rao MSE; ML uses "
                          "Datta-Lahiri's MSE)")
    p.add_argument("--out", required=True, metavar="OUT.csv", help="output CSV ('-' for standard output)")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", action="store_true", help="always show the progress bar")
    bar.add_argument("--quiet", action="store_true", help="no progress bar or notes on stderr")
    from .scale_cli import add_parquet_options
    add_parquet_options(p)
    p.set_defaults(func=run_indices)


def run_indices(args) -> int:
    from . import compute_table, read_csv
    from ._progress import Progress
    from .sae import SAE_COLUMNS
    from .table import COLUMNS
    from .db import LoadSpec, load_db

    if getattr(args, "parquet", None) or getattr(args, "dask", None):
        from .scale_cli import run_parquet_indices
        if not args.parquet:
            raise CliError("--dask needs --parquet DIR")
        return run_parquet_indices(args)
    if bool(args.input) == bool(args.db):
        raise CliError("give either INPUT.csv or --db PATH (not both, not neither)")
    db_only = {"--from": args.date_from, "--to": args.date_to, "--questionnaire": args.questionnaire,
               "--units": args.units, "--trim": args.trim, "--no-frame": args.no_frame,
               "--min-cell": args.min_cell != 10,
               "--rake-tol": args.rake_tol != 1e-8, "--rake-max-iter": args.rake_max_iter != 100,
               "--held": args.held != "leave-out", "--origin": args.origin}
    if args.input:
        used = [k for k, v in db_only.items() if v] + (["--weights"] if args.weights != "design" else [])
        if used:
            raise CliError(f"{', '.join(used)} only apply to --db input")
        size = Path(args.input).stat().st_size if Path(args.input).is_file() else 0
        show = not args.quiet and (args.progress or size > LARGE_BYTES)
        bar = Progress(f"reading {Path(args.input).name}", enabled=show)
        data = read_csv(args.input, factors=args.factors, progress=bar)
        bar.close()
    else:
        if args.factors:
            raise CliError("--factors applies to CSV input; the database has the questionnaire's factors")
        bar = Progress("decoding responses", enabled=not args.quiet)
        units = [u.strip() for u in args.units.split(",") if u.strip()] if args.units else None
        spec = LoadSpec.of(date_from=args.date_from, date_to=args.date_to, tz=args.timezone,
                           questionnaire=args.questionnaire, units=units, weights=args.weights,
                           drop_incomplete=args.drop_incomplete, trim=args.trim, rake_tol=args.rake_tol,
                           rake_max_iter=args.rake_max_iter, held=args.held, origin=args.origin,
                           frame=False if args.no_frame else None, min_cell=args.min_cell,
                           include_simulated=args.include_simulated)
        data = load_db(args.db, spec=spec,
                       progress=lambda d, t: bar(d, t) if (args.progress or t > LARGE_ROWS) else None)
        bar.close()
    show = not args.quiet and (args.progress or data.n > LARGE_ROWS)
    bar = Progress("estimating", enabled=show)
    table = compute_table(data, level=args.level, overall=not args.no_overall, lonely_psu=args.lonely_psu,
                          target=args.target, progress=bar, missing_items=args.missing_items,
                          calibrated=not args.fixed_weights_variance)
    bar.close()
    columns = COLUMNS
    sae_notes: list[str] = []
    if args.sae:
        table, model = _small_areas(args, table)
        columns = COLUMNS + SAE_COLUMNS
        preferred = [a for a, f in zip(model.names, model.direct_preferred) if f]
        if preferred:
            sae_notes.append(f"direct estimate preferred (at least as precise) for: {', '.join(preferred[:20])}"
                             + (" ..." if len(preferred) > 20 else ""))
    elif any(v for v in (args.sae_covariates, args.sae_columns)):
        raise CliError("--sae-covariates and --sae-columns need --sae")
    _write(args.out, lambda handle: table.write_csv(handle, columns=columns))
    if not args.quiet:
        for note in list(table.notes) + sae_notes:
            print(note, file=sys.stderr)
        print(f"wrote {len(table)} rows ({len(table.districts)} units, {len(table.measures)} measures) "
              f"to {args.out}", file=sys.stderr)
    return 0


def _small_areas(args, table):
    from .sae import read_covariates, small_area_table

    covariates, columns = None, ()
    if args.sae_covariates:
        chosen = [c.strip() for c in args.sae_columns.split(",") if c.strip()] if args.sae_columns else None
        covariates, columns = read_covariates(args.sae_covariates, columns=chosen)
    elif args.sae_columns:
        raise CliError("--sae-columns needs --sae-covariates FILE.csv")
    return small_area_table(table, measure=args.sae_measure, covariates=covariates, columns=columns,
                            method=args.sae_method)


def add_change(sub) -> None:
    p = sub.add_parser(
        "change", formatter_class=_formatter,
        help="change of every estimate between two periods, with its confidence interval",
        description="""\
Compare two tables written by `indices` (e.g. two half-years): for every (district, measure)
in both, the change after - before, its standard error sqrt(se1^2 + se2^2) (independent
samples), Welch-Satterthwaite degrees of freedom, a t interval, and whether it excludes 0.""",
        epilog="""\
Example:
  python -m analysis change indices-2024h1.csv indices-2024h2.csv --out change.csv""")
    p.add_argument("before", metavar="BEFORE.csv")
    p.add_argument("after", metavar="AFTER.csv")
    p.add_argument("--level", type=_level, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--out", required=True, metavar="OUT.csv", help="output CSV ('-' for standard output)")
    p.set_defaults(func=run_change)


def run_change(args) -> int:
    from .indices import IndexTable
    from .judgements import CHANGE_COLUMNS, change_table

    try:
        before, after = IndexTable.read_csv(args.before), IndexTable.read_csv(args.after)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    rows = change_table(before, after, level=args.level)
    if not rows:
        raise CliError("the two tables have no (district, measure) in common")

    def write(handle):
        w = csv.writer(handle)
        w.writerow(CHANGE_COLUMNS)
        for r in rows:
            w.writerow(["" if r[c] is None or (isinstance(r[c], float) and r[c] != r[c]) else
                        ("TRUE" if r[c] is True else "FALSE" if r[c] is False else r[c]) for c in CHANGE_COLUMNS])
    _write(args.out, write)
    return 0


def add_report(sub) -> None:
    from .report.cli import add_report as add

    add(sub)


def add_former(sub) -> None:
    p = sub.add_parser(
        "former", formatter_class=_formatter,
        help="indices of the new units grouped by the former unit they took their area from (across a reform)",
        description="""\
For each former unit of the crosswalk (e.g. a district abolished on 1 July 2025): the SIPAS index of
the new units grouped under it (its area now) beside the former unit's own index, their change with a
95 % interval, and the caveat where new units straddle the former boundary (partial transfers).

"Now" is the period --from/--to; "before" is --compare-from/--compare-to, or the same period when it
spans the reform. Indices and intervals are shares (0..1), computed like `indices` (units are strata).

Example:
  python -m analysis former --db instance/survey.sqlite3 --from 2026-01-01 --to 2026-03-31 \\
      --compare-from 2025-01-01 --compare-to 2025-03-31 --weights none --out former.csv""")
    p.add_argument("--db", required=True, metavar="PATH", help="the survey database")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first day of the period, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last day of the period, inclusive")
    p.add_argument("--compare-from", metavar="DATE", help="first day of the period of the former units")
    p.add_argument("--compare-to", metavar="DATE", help="last day of the period of the former units")
    p.add_argument("--questionnaire", metavar="ID", help="questionnaire id (needed if the period has several)")
    p.add_argument("--weights", choices=("none", "design", "poststratify", "rake"), default="design",
                   help="weighting (default design); the new units need margins for any but none")
    p.add_argument("--drop-incomplete", action="store_true", help="leave out responses without the "
                   "respondent groups the weighting needs")
    p.add_argument("--timezone", default="Asia/Ho_Chi_Minh", help="time zone of the days")
    p.add_argument("--level", type=_level, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--lang", choices=("vi", "en"), default="en", help="language of the caveat column")
    p.add_argument("--out", required=True, metavar="OUT.csv", help="output CSV ('-' for standard output)")
    p.set_defaults(func=run_former)


def run_former(args) -> int:
    from .crosswalk import COLUMNS, compare_former, read_crosswalk
    from .db import load_db

    if bool(args.compare_from) != bool(args.compare_to):
        raise CliError("give both --compare-from and --compare-to, or neither")
    former = read_crosswalk(args.db) if Path(args.db).is_file() else None
    if former is None:
        raise CliError(f"{args.db}: no such database file")
    if not former:
        raise CliError(f"{args.db}: the database has no crosswalk (load one with "
                       "`flask --app survey import-crosswalk` or `init-db --demo`)")
    common = dict(questionnaire=args.questionnaire, weights=args.weights, tz=args.timezone,
                  drop_incomplete=args.drop_incomplete)
    now = load_db(args.db, date_from=args.date_from, date_to=args.date_to, **common)
    before = load_db(args.db, date_from=args.compare_from, date_to=args.compare_to, **common) \
        if args.compare_from else None
    rows = compare_former(now, former, before, level=args.level, lang=args.lang)

    def write(handle):
        w = csv.writer(handle)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow(["" if r[c] is None else r[c] for c in COLUMNS])
    _write(args.out, write)
    caveats = sum(1 for r in rows if r["caveat"])
    print(f"wrote {len(rows)} former units ({sum(r['n_now'] > 0 for r in rows)} with responses now, "
          f"{sum(r['n_before'] > 0 for r in rows)} before; {caveats} with the partial-transfer caveat) to {args.out}",
          file=sys.stderr)
    return 0


def add_summarize(sub) -> None:
    from .scale_cli import add_summarize as add

    add(sub)


def add_merge(sub) -> None:
    from .scale_cli import add_merge as add

    add(sub)


SUBCOMMANDS = [add_indices, add_change, add_report, add_former, add_summarize, add_merge]


def _write(out: str, writer) -> None:
    """Write through a temporary file renamed at the end: a failure leaves no partial output."""
    if out == "-":
        writer(sys.stdout)
        return
    target = Path(out)
    if target.parent and not target.parent.exists():
        raise CliError(f"{target.parent}: no such directory")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".csv", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer(handle)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis", formatter_class=_formatter,
        description="Weighted SIPAS satisfaction indices with design-based confidence intervals.",
        epilog="""\
Example:
  python -m analysis indices survey.csv --factors factors.csv --out indices.csv
Run `python -m analysis <command> --help` for a command's options.""")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv=None) -> int:
    from .inputs import InputError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, InputError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
