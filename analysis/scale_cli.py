"""Command line for summaries, merging and Parquet/Dask input: ``summarize``, ``merge``, ``indices --parquet``.

Registered in ``analysis/__main__.py`` (``SUBCOMMANDS``; ``add_parquet_options`` on ``indices``).
"""
from __future__ import annotations

import argparse
import re
import sqlite3
import sys
from pathlib import Path

LARGE_ROWS = 200_000


def _formatter(prog):
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _period(text: str) -> tuple[str, str]:
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})?:(\d{4}-\d{2}-\d{2})?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"expected FROM:TO days such as 2026-10-01:2026-12-31 (got {text!r})")
    return m.group(1), m.group(2)


# ----------------------------------------------------------------------------- indices --parquet [--dask]

def add_parquet_options(p) -> None:
    p.add_argument("--parquet", metavar="DIR", help="read partitioned Parquet (DIR/province=P/period=Q/*.parquet, "
                   "as `flask --app survey export-parquet` writes) instead of a CSV or the database")
    p.add_argument("--dask", nargs="?", const="local", metavar="SCHEDULER",
                   help="with --parquet: compute on a Dask cluster, one task per province, and merge the "
                        "summaries; SCHEDULER is the address of a running cluster (tcp://host:8786), "
                        "default a local cluster of 2 worker processes")
    p.add_argument("--provinces", action="store_true",
                   help="with --dask: add a row per province and measure (level 'province')")


def run_parquet_indices(args) -> int:
    """``indices --parquet DIR [--dask [SCHEDULER]]``."""
    from .__main__ import CliError, _write
    from ._progress import Progress

    if args.input or args.db:
        raise CliError("give one input: INPUT.csv, --db PATH or --parquet DIR")
    used = [k for k, v in {"--from": args.date_from, "--to": args.date_to, "--questionnaire": args.questionnaire,
                           "--units": args.units, "--trim": args.trim,
                           "--origin": getattr(args, "origin", None),
                           "--held": getattr(args, "held", "leave-out") != "leave-out"}.items() if v]
    if used or args.weights != "design":
        raise CliError(f"{', '.join(used) or '--weights'} only apply to --db input (Parquet rows carry their "
                       f"final weights)")
    if args.no_overall:
        raise CliError("--no-overall is not available with --parquet")
    if getattr(args, "sae", False):
        raise CliError("--sae is not available with --parquet yet: run indices --parquet DIR, then the small-area "
                       "step on the database or CSV of the province")
    if args.dask:
        from .distributed import compute_dask

        bar = Progress("provinces summarised", enabled=not args.quiet)
        table = compute_dask(args.parquet, scheduler=None if args.dask == "local" else args.dask,
                             factors=args.factors, level=args.level, target=args.target,
                             lonely_psu=args.lonely_psu, provinces=args.provinces, progress=bar)
        bar.close()
    else:
        from . import compute_table
        from .parquet import read_parquet

        if args.provinces:
            raise CliError("--provinces needs --dask (or merge summaries with `python -m analysis merge`)")
        bar = Progress("reading Parquet", enabled=not args.quiet and args.progress)
        data = read_parquet(args.parquet, factors=args.factors, progress=bar)
        bar.close()
        bar = Progress("estimating", enabled=not args.quiet and (args.progress or data.n > LARGE_ROWS))
        table = compute_table(data, level=args.level, lonely_psu=args.lonely_psu, target=args.target, progress=bar)
        bar.close()
    _write(args.out, table.write_csv)
    if not args.quiet:
        for note in table.notes:
            print(note, file=sys.stderr)
        print(f"wrote {len(table)} rows ({len(table.districts)} units, {len(table.measures)} measures) "
              f"to {args.out}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- summarize

def add_summarize(sub) -> None:
    p = sub.add_parser(
        "summarize", formatter_class=_formatter,
        help="reduce a province's responses to a summary file (.sipas) that merges exactly",
        description="""\
Write the sufficient statistics of one province and period to a summary file: every
unit's estimates and variances, the province's sums (category totals and design Gram
matrices, centred at its estimates), the strata and their PSU counts, and a JSON
header (questionnaire, criteria, factors, unit tree, weighting). No respondent's
answers are in it and its size does not depend on the number of responses.
Summaries of the provinces merge into the national table with `merge`.
The format is described in docs/scale.md.""",
        epilog="""\
Example:
  python -m analysis summarize --db instance/survey.sqlite3 --period 2026-10-01:2026-12-31 \\
      --province 79 --out 79-2026q4.sipas
  python -m analysis summarize survey.csv --factors factors.csv --province 79 --out part.sipas
  python -m analysis summarize --parquet export/province=79 --out 79.sipas""")
    p.add_argument("input", nargs="?", metavar="INPUT.csv", help="survey CSV (or --db / --parquet)")
    p.add_argument("--factors", metavar="FACTORS.csv", help="CSV item,factor[,weight] (CSV or Parquet input)")
    p.add_argument("--db", metavar="PATH", help="read the responses from this survey database")
    p.add_argument("--parquet", metavar="DIR", help="read Parquet files (a folder or one file)")
    p.add_argument("--period", type=_period, metavar="FROM:TO", help="days, e.g. 2026-10-01:2026-12-31 (database)")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD (database)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last day, inclusive (database)")
    p.add_argument("--questionnaire", metavar="ID", help="questionnaire id (database; needed if the period has several)")
    p.add_argument("--units", metavar="SLUGS", help="comma-separated unit slugs (database)")
    p.add_argument("--weights", choices=("none", "design", "poststratify", "rake"), default="design",
                   help="database weighting, within the province (default design); all of them merge exactly")
    p.add_argument("--drop-incomplete", action="store_true", help="as for indices (poststratify/rake)")
    p.add_argument("--trim", type=_bounds, metavar="LO,HI", help="as for indices (rake)")
    p.add_argument("--rake-tol", type=float, default=1e-8, metavar="TOL", help="as for indices (default 1e-8)")
    p.add_argument("--rake-max-iter", type=int, default=100, metavar="N", help="as for indices (default 100)")
    p.add_argument("--timezone", default="Asia/Ho_Chi_Minh", help="time zone of the days (default Asia/Ho_Chi_Minh)")
    p.add_argument("--include-simulated", action="store_true",
                   help="also count responses written by `flask --app survey simulate` (database; left out by default)")
    p.add_argument("--province", metavar="LABEL", help="the province's label in the national table (default: the "
                   "database's top unit, the Parquet province= folder, or the CSV file name)")
    p.add_argument("--lonely-psu", choices=("adjust", "remove", "certainty", "average", "fail"), default="adjust",
                   help="strata with one PSU (default adjust; as for indices); summaries merge only with the same "
                   "choice, and every choice merges exactly (average: each summary counts its strata, the merge "
                   "adds the counts of every province)")
    p.add_argument("--out", required=True, metavar="OUT.sipas", help="the summary file to write")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", action="store_true", help="always show the progress bar")
    bar.add_argument("--quiet", action="store_true", help="no progress bar or notes on stderr")
    p.set_defaults(func=run_summarize)


def _bounds(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOWER,UPPER such as 0.3,3 (got {text!r})") from None
    return lo, hi


def _db_context(path: str) -> tuple[list[dict], str | None]:
    """The unit tree and the top unit's slug (read-only)."""
    from .db import DbError

    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        rows = conn.execute("SELECT u.slug, u.name_vi, u.name_en, p.slug FROM units u "
                            "LEFT JOIN units p ON p.id = u.parent_id ORDER BY u.id").fetchall()
    except sqlite3.DatabaseError as exc:
        raise DbError(f"{path}: cannot read the units: {exc}") from None
    finally:
        try:
            conn.close()
        except UnboundLocalError:
            pass
    units = [{"slug": s, "name": vi, "name_en": en, "parent": par} for s, vi, en, par in rows]
    roots = [u["slug"] for u in units if u["parent"] is None]
    return units, roots[0] if len(roots) == 1 else None


def _questionnaire_from_notes(notes) -> dict:
    q = {"id": None, "versions": []}
    for note in notes:
        if note.startswith("questionnaire: "):
            q["id"] = note.split(": ", 1)[1]
        elif note.startswith("versions: "):
            q["versions"] = re.findall(r"v(\d+)", note)
    q["versions"] = [int(v) for v in q["versions"]]
    return q


def run_summarize(args) -> int:
    from .__main__ import LARGE_BYTES, CliError
    from ._progress import Progress
    from .inputs import read_csv
    from .summary import summarize

    sources = [x for x in (args.input, args.db, args.parquet) if x]
    if len(sources) != 1:
        raise CliError("give one input: INPUT.csv, --db PATH or --parquet DIR")
    if args.period and (args.date_from or args.date_to):
        raise CliError("give either --period FROM:TO or --from/--to")
    date_from, date_to = args.period if args.period else (args.date_from, args.date_to)
    db_only = {"--period": args.period, "--from": args.date_from, "--to": args.date_to,
               "--questionnaire": args.questionnaire, "--units": args.units, "--trim": args.trim,
               "--weights": args.weights != "design", "--drop-incomplete": args.drop_incomplete}
    if not args.db:
        used = [k for k, v in db_only.items() if v]
        if used:
            raise CliError(f"{', '.join(used)} only apply to --db input")
    elif args.factors:
        raise CliError("--factors applies to CSV or Parquet input; the database has the questionnaire's factors")
    target = Path(args.out)
    if not target.parent.is_dir():
        raise CliError(f"{target.parent}: no such folder")
    units = questionnaire = weighting = None
    province = args.province
    period = None if not (date_from or date_to) else f"{date_from or ''}:{date_to or ''}"
    if args.input:
        size = Path(args.input).stat().st_size if Path(args.input).is_file() else 0
        bar = Progress(f"reading {Path(args.input).name}", enabled=not args.quiet and (args.progress or size > LARGE_BYTES))
        data = read_csv(args.input, factors=args.factors, progress=bar)
        bar.close()
        province = province or Path(args.input).stem
        source = f"csv: {Path(args.input).name}"
    elif args.parquet:
        from .parquet import file_meta, partitions, province_partitions, read_parquet

        groups = province_partitions(args.parquet)
        if len(groups) > 1 and not province:
            raise CliError(f"{args.parquet} holds several provinces ({', '.join(sorted(groups))}): summarize each "
                           f"province's folder, or give --province to label them as one")
        files = partitions(args.parquet)
        bar = Progress("reading Parquet", enabled=not args.quiet and args.progress)
        data = read_parquet(files, factors=args.factors, progress=bar)
        bar.close()
        meta = file_meta(files[0])
        province = province or next(iter(groups))
        questionnaire, weighting, units = meta.get("questionnaire"), meta.get("weighting"), meta.get("units")
        period = ",".join(sorted({f.parent.name.removeprefix("period=") for f in files}))
        source = f"parquet: {len(files)} file(s)"
    else:
        from .db import load_db

        unit_tree, root = _db_context(args.db)
        if not province:
            if root is None:
                raise CliError(f"{args.db} has no single top unit: give --province LABEL")
            province = root
        bar = Progress("decoding responses", enabled=not args.quiet)
        sel = [u.strip() for u in args.units.split(",") if u.strip()] if args.units else None
        data = load_db(args.db, date_from=date_from, date_to=date_to, questionnaire=args.questionnaire, units=sel,
                       weights=args.weights, tz=args.timezone, drop_incomplete=args.drop_incomplete, trim=args.trim,
                       rake_tol=args.rake_tol, rake_max_iter=args.rake_max_iter,
                       include_simulated=args.include_simulated,
                       progress=lambda d, t: bar(d, t) if (args.progress or t > LARGE_ROWS) else None)
        bar.close()
        units = unit_tree
        questionnaire = _questionnaire_from_notes(data.notes)
        weighting = {"scheme": args.weights, "scope": "province", "mergeable": True,
                     "description": "; ".join(n.removeprefix("weights: ") for n in data.notes
                                              if n.startswith("weights: "))
                     or args.weights}
        source = f"database: {Path(args.db).name}"
    bar = Progress("summarising", enabled=not args.quiet and (args.progress or data.n > LARGE_ROWS))
    summary = summarize(data, province=province, period=period, lonely_psu=args.lonely_psu,
                        questionnaire=questionnaire, weighting=weighting, units=units, source=source, progress=bar)
    bar.close()
    summary.write(target)
    if not args.quiet:
        for note in data.notes:
            print(note, file=sys.stderr)
        print(f"wrote {target} ({target.stat().st_size:,} bytes): province {province}, {data.n} responses, "
              f"{summary.header['n_units']} unit(s), {len(summary.strata)} strata", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- merge

def add_merge(sub) -> None:
    p = sub.add_parser(
        "merge", formatter_class=_formatter,
        help="the national table from provincial summaries, exactly as from the pooled responses",
        description="""\
Merge summary files written by `summarize` (one or more per province, disjoint units and
strata) into the national table: every unit of every province (level district), every
province (level province) and the nation (level overall, district ALL), with the same
columns as `indices`, equal to the computation on the pooled responses.

Refused with the reason: different questionnaire versions (or criteria, factors,
criterion weights, satisfied_from), different --lonely-psu, a unit or a stratum in two
files, and raking to national margins (--rake-national), which cannot be merged.""",
        epilog="""\
Example:
  python -m analysis merge summaries/*.sipas --out national.csv --report national.md""")
    p.add_argument("summaries", nargs="+", metavar="FILE.sipas", help="summary files")
    p.add_argument("--out", required=True, metavar="OUT.csv", help="output CSV ('-' for standard output)")
    p.add_argument("--report", metavar="REPORT.md", help="also write a short report: the inputs, the national "
                   "index and the provinces ranked, with intervals ('-' for standard output)")
    p.add_argument("--level", type=_level, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--target", type=_level, default=0.80, help="target share satisfied (default 0.80)")
    p.add_argument("--no-provinces", action="store_true", help="leave out the province rows")
    p.add_argument("--rake-national", metavar="MARGINS.csv",
                   help="rake to national margins: refused, with the reason (see --help of summarize)")
    p.add_argument("--quiet", action="store_true", help="no notes on stderr")
    p.set_defaults(func=run_merge)


def _level(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (e.g. 0.95), got {text}")
    return v


def run_merge(args) -> int:
    from .__main__ import CliError, _write
    from .merge import NATIONAL_RAKING, merge_summaries
    from .summary import read_summary

    if args.rake_national:
        raise CliError(NATIONAL_RAKING)
    seen = {}
    for f in args.summaries:
        key = Path(f).resolve()
        if key in seen:
            raise CliError(f"{f} is given twice")
        seen[key] = f
    summaries = [read_summary(f) for f in args.summaries]
    table = merge_summaries(summaries, level=args.level, target=args.target, provinces=not args.no_provinces)
    if args.report:
        text = national_report(table, summaries, level=args.level, target=args.target)
        _write(args.report, lambda handle: handle.write(text))
    _write(args.out, table.write_csv)
    if not args.quiet:
        n = sum(int(s.header.get("n_respondents", 0)) for s in summaries)
        print(f"merged {len(summaries)} summaries ({len({s.province for s in summaries})} provinces, "
              f"{len(table.districts)} units, {n:,} responses); wrote {len(table)} rows to {args.out}",
              file=sys.stderr)
    return 0


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def national_report(table, summaries, *, level: float, target: float | None, measure: str = "INDEX:ITEM_AVG") -> str:
    """A short Markdown report of a merged table."""
    pc = f"{100 * level:g} %"
    lines = ["# National SIPAS index", ""]
    overall = table.row("ALL", measure)
    lines += [f"**{_pct(overall['p'])} %** satisfied ({pc} interval {_pct(overall['ci_logit_l'])}–"
              f"{_pct(overall['ci_logit_u'])}; {int(overall['n']):,} respondents, design effect "
              f"{overall['deff']:.2f})" + (f", {overall['vs_target']} the target of {_pct(target)} %." if target else "."),
              "", "## Provinces", "",
              f"| rank | province | index % | {pc} interval | respondents | vs target | flags |",
              "| ---: | --- | ---: | --- | ---: | --- | --- |"]
    prov = [r for r in table.rows() if r["level"] == "province" and r["measure"] == measure]
    for r in sorted(prov, key=lambda r: (r["rank"] or 0)):
        flags = ", ".join(f for f, on in (("suppress", r["nchs_suppress"]), ("review", r["nchs_review"])) if on)
        lines.append(f"| {r['rank']:.0f} ({r['rank_best']:.0f}–{r['rank_worst']:.0f}) | {r['district']} | "
                     f"{_pct(r['p'])} | {_pct(r['ci_logit_l'])}–{_pct(r['ci_logit_u'])} | {int(r['n']):,} | "
                     f"{r['vs_target'] or ''} | {flags} |")
    lines += ["", "## Inputs", "", "| file | province | period | responses | units | weighting | questionnaire |",
              "| --- | --- | --- | ---: | ---: | --- | --- |"]
    for s in summaries:
        h = s.header
        q = h.get("questionnaire") or {}
        lines.append(f"| {Path(s.name).name} | {s.province} | {h.get('period') or ''} | {h.get('n_respondents'):,} | "
                     f"{len(s.districts)} | {(h.get('weighting') or {}).get('scheme')} | "
                     f"{q.get('id') or 'CSV'} {','.join(map(str, q.get('versions') or []))} |")
    lines += ["", "Merged exactly from the summaries (equal to the pooled computation); units and provinces are "
              "domains of the national design. Columns of the table: docs/analysis.md.", ""]
    return "\n".join(lines)
