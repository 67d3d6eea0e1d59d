"""CPU seconds per rendering stage of ``python -m analysis report`` (charts, HTML, PDF, workbook, CSV).

Gathers the period's numbers once (the engine's part, timed too) and keeps them in a pickle next to
the database, so the rendering stages can be timed again and again without the engine::

    .venv/bin/python -m bench.report_stages --db bench/out/units-3321-1000000.sqlite3 \\
        --from 2026-01-01 --to 2026-06-30 --out bench/out/report-3321-stages [--reuse] [--profile FILE]

Prints ``time.process_time()`` per stage (all threads of the process) and the load average.
"""
from __future__ import annotations

import argparse
import copyreg
import cProfile
import os
import pickle
import time
from datetime import date
from functools import partial
from pathlib import Path
from types import MappingProxyType

from analysis.report import figures, html, pdf, xlsx
from analysis.report.gather import ReportRequest, gather
from analysis.report.i18n import Translator
from analysis.report.model import build_model
from analysis.table import COLUMNS

# the questionnaire's scale labels are read-only mappings
def _mapping_proxy(items: dict) -> MappingProxyType:
    return MappingProxyType(items)


copyreg.pickle(MappingProxyType, lambda m: (_mapping_proxy, (dict(m),)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_stages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat, required=True)
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat, required=True)
    parser.add_argument("--lang", default="vi")
    parser.add_argument("--out", required=True)
    parser.add_argument("--reuse", action="store_true", help="reuse the gathered numbers pickled by an earlier run")
    parser.add_argument("--profile", help="write a cProfile of the rendering stages to this file")
    parser.add_argument("--stages", default="charts,html,pdf,xlsx,csv",
                        help="the stages to run, of charts,html,pdf,xlsx,csv (html needs charts)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(f"{args.db}.report-{args.date_from}-{args.date_to}.pickle")
    print(f"load average at start: {os.getloadavg()}")
    if args.reuse and cache.is_file():
        inputs, table = pickle.loads(cache.read_bytes())
    else:
        clock = time.process_time()
        inputs, table = gather(ReportRequest(db=Path(args.db), date_from=args.date_from, date_to=args.date_to,
                                             weights="none"))
        print(f"gather (engine): {time.process_time() - clock:.1f} s CPU")
        try:
            cache.write_bytes(pickle.dumps((inputs, table), protocol=pickle.HIGHEST_PROTOCOL))
        except (TypeError, pickle.PicklingError) as exc:
            import dataclasses
            bad = [f.name for f in dataclasses.fields(inputs) if not _picklable(getattr(inputs, f.name))]
            print(f"(not kept for --reuse: {exc}; fields {bad})")
    t = Translator(args.lang)
    profile = cProfile.Profile() if args.profile else None
    seconds: dict[str, float] = {}

    def stage(name, fn):
        clock = time.process_time()
        if profile:
            profile.enable()
        try:
            return fn()
        finally:
            if profile:
                profile.disable()
            seconds[name] = time.process_time() - clock
            print(f"{name}: {seconds[name]:.2f} s CPU", flush=True)

    wanted = set(args.stages.split(","))
    report = stage("model", lambda: build_model(inputs))
    with figures.style():
        if "charts" in wanted or "html" in wanted:
            charts = stage("charts", lambda: figures.all_charts(report, t))
        if "html" in wanted:
            stage("html", lambda: (out / "report.html").write_text(html.render(report, t, charts), encoding="utf-8"))
        if "pdf" in wanted:
            stage("pdf", lambda: pdf.render(report, t, out / "report.pdf"))
    if "xlsx" in wanted:
        stage("xlsx", lambda: xlsx.render(report, t, out / "indices.xlsx"))
    if "csv" in wanted:
        stage("csv", lambda: partial(table.to_csv, columns=COLUMNS)(out / "indices.csv"))
    print(f"rendering total: {sum(seconds.values()):.1f} s CPU; load average at end: {os.getloadavg()}")
    if profile:
        profile.dump_stats(args.profile)
    return 0


def _picklable(value) -> bool:
    try:
        pickle.dumps(value)
        return True
    except Exception:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
