"""``flask --app survey export-parquet DIR``: a province's responses as partitioned Parquet.

One file per calendar quarter (or month/year), ``DIR/province=P/period=2026q4/part-0.parquet``,
in the layout ``python -m analysis indices --parquet DIR [--dask]`` and ``summarize --parquet``
read (see docs/scale.md). Each period's rows carry their final weights, computed by the analysis
engine over that period (``--weights``, default design weights).
"""
from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext


def _periods(first: date, last: date, by: str):
    """(label, first day, last day) of every period touching [first, last]."""
    y, m = first.year, first.month
    step = {"month": 1, "quarter": 3, "year": 12}[by]
    m = (m - 1) // step * step + 1
    while date(y, m, 1) <= last:
        start = date(y, m, 1)
        ny, nm = (y + (m - 1 + step) // 12, (m - 1 + step) % 12 + 1)
        end = date(ny, nm, 1) - timedelta(days=1)
        label = {"month": f"{y}-{m:02d}", "quarter": f"{y}q{(m - 1) // 3 + 1}", "year": f"{y}"}[by]
        yield label, max(start, first), min(end, last)
        y, m = ny, nm


@click.command("export-parquet")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--period", help="FROM:TO days to export (default: every response).")
@click.option("--by", type=click.Choice(["quarter", "month", "year"]), default="quarter", show_default=True,
              help="One Parquet file per this period.")
@click.option("--province", help="Province label (default: the slug of the top unit).")
@click.option("--weights", type=click.Choice(["none", "design", "poststratify", "rake"]), default="design",
              show_default=True, help="Final weights written with each response, computed per period.")
@click.option("--questionnaire", help="Questionnaire id (needed when the responses hold several).")
@click.option("--timezone", default="Asia/Ho_Chi_Minh", show_default=True, help="Time zone of the days.")
@click.option("--include-simulated", is_flag=True,
              help="Also export responses written by `simulate` (left out by default: they are demo data).")
@with_appcontext
def export_parquet_command(folder: str, period: str | None, by: str, province: str | None, weights: str,
                           questionnaire: str | None, timezone: str, include_simulated: bool) -> None:
    """Write the responses as Parquet partitioned by province and period.

    Files appear as DIR/province=P/period=Q/part-0.parquet (columns respondent_id, district,
    stratum, weight and one column per criterion, 1..5 or null; the questionnaire's factors in
    the file's metadata). Excluded responses are left out, as in every analysis, and so are
    simulated ones (``simulate``) unless --include-simulated.

    Example: flask --app survey export-parquet exports/ --period 2026-01-01:2026-12-31
    """
    from analysis.db import DbError, load_db
    from analysis.parquet import write_parquet
    from analysis.scale_cli import _questionnaire_from_notes as questionnaire_from_notes

    from . import db as database

    db_path = current_app.config["DATABASE"]
    zone = ZoneInfo(timezone)
    conn = database.connect(db_path, current_app.config["SQLITE_BUSY_TIMEOUT_MS"])
    try:
        first, last = conn.execute("SELECT min(submitted_at), max(submitted_at) FROM responses "
                                   "WHERE excluded_at IS NULL" + ("" if include_simulated else " AND simulated = 0")
                                   ).fetchone()
        units = conn.execute("SELECT u.slug, u.name_vi, p.slug FROM units u LEFT JOIN units p "
                             "ON p.id = u.parent_id ORDER BY u.id").fetchall()
    finally:
        conn.close()
    if first is None:
        click.echo("Error: no responses to export.", err=True)
        sys.exit(1)
    roots = [slug for slug, _, parent in units if parent is None]
    if not province:
        if len(roots) != 1:
            click.echo("Error: the units have no single top unit: give --province.", err=True)
            sys.exit(1)
        province = roots[0]

    def local(ts: str) -> date:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(zone).date()

    d0, d1 = local(first), local(last)
    if period:
        try:
            a, b = period.split(":")
            d0, d1 = max(d0, date.fromisoformat(a)) if a else d0, min(d1, date.fromisoformat(b)) if b else d1
        except ValueError:
            raise click.BadParameter(f"{period!r} is not FROM:TO with ISO dates", param_hint="--period") from None
    spans = list(_periods(d0, d1, by)) if d0 <= d1 else []
    tree = [{"slug": s, "name": n, "parent": p} for s, n, p in units]
    written = total = 0
    with click.progressbar(spans, label="Exporting", file=sys.stderr) as bar:
        for label, a, b in bar:
            try:
                data = load_db(db_path, date_from=a, date_to=b, questionnaire=questionnaire, weights=weights,
                               tz=timezone, include_simulated=include_simulated)
            except DbError as exc:
                if str(exc).startswith("no responses"):
                    continue
                click.echo(f"\nError: {label}: {exc}", err=True)
                sys.exit(1)
            q = questionnaire_from_notes(data.notes)
            write_parquet(data, folder, province=province, period=label, meta={
                "questionnaire": q, "units": tree, "source": f"survey database {Path(db_path).name}",
                "weighting": {"scheme": weights, "scope": "province and period", "mergeable": True,
                              "description": "; ".join(n.removeprefix("weights: ") for n in data.notes
                                                       if n.startswith("weights: ")) or weights}})
            written += 1
            total += data.n
    click.echo(f"Wrote {total} responses in {written} file(s) under {Path(folder) / f'province={province}'}")


COMMANDS = [export_parquet_command]
