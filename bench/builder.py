"""The one way the benchmarks build their databases of simulated responses.

:func:`build` writes ``path`` (through ``path.partial``, renamed at the end, so an interrupted build
leaves no half database): the migrations, the units (``load_units(db)``), the shipped questionnaires,
``n`` responses from the simulator over ``period`` (marked real: the staff pages leave simulated
responses out since issue 11, and here they stand in for real ones), the dashboard's summaries,
the admin 'bench', the fieldwork period and a target for every unit valid at its start.
Used by bench_dashboard, bench_units_scale and bench_integrity.
"""
from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path
from typing import Callable

PASSWORD = "benchmark password"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(path: Path, n: int, *, seed: int, period: tuple[date, date], load_units: Callable, target: int,
          fast: bool, leaves_on: date | None = None) -> None:
    """Build the database (see the module's docstring).

    ``fast``: the summary triggers are dropped while the simulator writes (several times faster on a
    busy machine) and every summary is rebuilt afterwards by ``summary.refresh(force=True)``, as
    ``refresh-summaries --force`` does (the unit-validity trigger stays); otherwise the triggers keep
    the summaries as responses are stored and ``summary.rebuild_in_place`` recounts them once the
    responses are marked real. ``leaves_on``: the day the targeted units must be valid on (None: today).
    """
    import click

    from survey import catalog, migrations, units
    from survey import db as database
    from survey.settings import defaults
    from survey.simulate import simulate
    from survey.staff import periods, summary, targets, users

    partial = path.with_suffix(".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    db = database.connect(partial)
    migrations.migrate(db)
    catalog.register_shipped(db)
    load_units(db)
    q = catalog.latest(db, "sipas-hcm-26")
    if fast:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'staff_%'"
                                  ).fetchall():
            db.execute(f"DROP TRIGGER {name}")
    started = time.perf_counter()
    with click.progressbar(length=n, label=f"Simulating {n:,} responses", file=sys.stderr) as bar:
        written = simulate(db, q, n, seed, *period, progress=bar.update)
    log(f"simulated {written:,} responses in {time.perf_counter() - started:.0f} s "
        f"({written / (time.perf_counter() - started):,.0f}/s)")
    with db.conn:
        db.execute("UPDATE responses SET simulated = 0")
    started = time.perf_counter()
    if fast:
        summary.refresh(db, summary.rules_from_config(defaults()), force=True)
    else:
        summary.rebuild_in_place(db)
    log(f"rebuilt the dashboard's summaries in {time.perf_counter() - started:.0f} s")
    users.create(db, "bench", PASSWORD, "admin")
    targets.set_fieldwork(db, periods.Period(*period), by="bench")
    for unit in units.leaf_units(db, leaves_on):
        targets.set_target(db, unit["id"], target, method="manual", by="bench")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()
    partial.rename(path)
