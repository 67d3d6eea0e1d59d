"""Command-line commands: ``flask --app survey <command>``."""
from __future__ import annotations

import secrets
import sys
from datetime import date, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import catalog, db as database, units as unit_store
from .frames_cli import COMMANDS as FRAME_COMMANDS
from .kiosk.cli import COMMANDS as KIOSK_COMMANDS
from .parquet_export import COMMANDS as PARQUET_COMMANDS


def _open():
    if not current_app.testing:   # `restore` refuses while a command has the database open
        from .dblock import hold_shared

        hold_shared(current_app.config["DATABASE"])
    return database.connect(current_app.config["DATABASE"], current_app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.command("init-db")
@click.option("--demo", is_flag=True,
              help="Also load the demo units: Ho Chi Minh City's 168 wards and communes (from 2025-07-01), "
                   "its 22 districts as the previous period (2021-01-01 to 2025-06-30, with 2019 census "
                   "margins) and the crosswalk between them.")
@click.option("--province", "provinces", multiple=True, metavar="CODE",
              help="Also load a province's communes valid from 2025-07-01 (2-digit code of the 34, e.g. 01 "
                   "Hà Nội, 48 Đà Nẵng, 79 Hồ Chí Minh); repeatable.")
@with_appcontext
def init_db_command(demo: bool, provinces: tuple[str, ...]) -> None:
    """Create or migrate the database and register the shipped questionnaires.

    Safe to run again: it never removes or changes responses. It also writes
    a random SECRET_KEY to instance/config.py the first time.

    Example: flask --app survey init-db --demo

    Example: flask --app survey init-db --province 01
    """
    _ensure_secret_key(current_app)
    applied = database.init_db(current_app)
    db = _open()
    try:
        try:
            added = catalog.register_shipped(db)
        except ValueError as exc:
            _fail(str(exc))
        click.echo(f"Database: {current_app.config['DATABASE']}")
        click.echo(f"Migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")
        click.echo(f"Questionnaires registered: {', '.join(added) if added else 'none new'}")
        for code in provinces:
            try:
                with click.progressbar(length=1, label=f"Loading province {code}", file=sys.stderr) as bar:
                    added_units, updated = unit_store.load_province(
                        db, code.zfill(2) if code.isdigit() else code, progress=lambda n: bar.update(1))
            except unit_store.UnitImportError as exc:
                _fail(str(exc))
            click.echo(f"Province {code}: {added_units} units added, {updated} already present "
                       f"(valid from {unit_store.REFORM_2025})")
        if demo:
            with click.progressbar(length=1, label="Loading demo units", file=sys.stderr) as bar:
                added_units, updated = unit_store.load_demo(db, reform=True, progress=lambda n: bar.update(1))
            click.echo(f"Demo units: {added_units} added, {updated} already present "
                       f"(HCMC's 22 districts until 2025-06-30, its 168 wards and communes from "
                       f"{unit_store.REFORM_2025}, and the crosswalk between them)")
            late = unit_store.responses_after_end(db)
            if late:
                click.echo(f"Note: {late} response(s) are dated after their unit's end; they are kept under that "
                           "unit (nothing is moved or removed).")
            set_count = _demo_targets(db)
            if set_count:
                click.echo(f"Demo targets: {set_count} units without a target got one from the confidence-interval "
                           "calculator (±5 points at 95 %, share 80 %, design effect 1.5, unit population)")
    finally:
        db.close()


def _demo_targets(db) -> int:
    """Give every reporting unit without a target the calculator's default one (never overwrites)."""
    from .db import write_transaction
    from .staff import queries, targets

    have = targets.all_targets(db)
    count = 0
    with write_transaction(db):
        for unit in queries.reporting_units(db, None):
            if unit["id"] in have:
                continue
            size = targets.sample_size(half_width_points=5, confidence_percent=95, share_percent=80,
                                       design_effect=1.5, population=unit["population"] or None)
            targets.set_target(db, unit["id"], size.n, method=targets.ci_method(size), by="init-db --demo")
            count += 1
    return count


def _ensure_secret_key(app: Flask) -> None:
    from . import files

    config = Path(app.instance_path) / "config.py"
    if config.exists() and "SECRET_KEY" in config.read_text(encoding="utf-8"):
        return
    files.create_private_file(config)
    files.make_private(config)        # no key in it yet: tighten it before writing one
    with open(config, "a", encoding="utf-8") as handle:
        handle.write(f"# Written by `flask --app survey init-db`; keep it secret.\nSECRET_KEY = {secrets.token_hex(32)!r}\n")
    app.config.from_pyfile(str(config))
    click.echo(f"Wrote a new random SECRET_KEY to {config}")


@click.command("import-units")
@click.argument("csv_path", type=click.Path(dir_okay=False))
@click.option("--period", help="Only import rows whose period column equals this (e.g. 2021-2025).")
@click.option("--parent", help="Slug of the unit the imported units belong to, when the CSV has no parent column.")
@with_appcontext
def import_units_command(csv_path: str, period: str | None, parent: str | None) -> None:
    """Import (add or update by slug) reporting units from a CSV file.

    Columns: code, slug, name_vi, name_en, kind; optional: period, parent (a
    slug), population (or population_2019). Every row is checked first; if any
    row is bad, the problems are listed by line and nothing is imported.

    Example: flask --app survey import-units wards-2025.csv --parent tp-ho-chi-minh
    """
    db = _open()
    try:
        rows = unit_store.read_units_csv(csv_path, period=period)
        added, updated = unit_store.import_units(db, rows, source=csv_path, default_parent=parent)
    except unit_store.UnitImportError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo(f"Imported {len(rows)} units from {csv_path}: {added} added, {updated} updated.")


@click.command("import-crosswalk")
@click.argument("csv_path", type=click.Path(dir_okay=False))
@with_appcontext
def import_crosswalk_command(csv_path: str) -> None:
    """Import which former unit each new unit took its area from (a reform's crosswalk).

    Columns: old_slug, old_name_vi, old_name_en, new_slug (or new_code),
    relation (full: the new unit lies wholly within the former one; partial:
    only part of its area came from it), main (1 on the former unit each new
    unit is grouped under). The links of every new unit in the file replace its
    old ones; any bad row is reported by line and nothing is imported.

    Example: flask --app survey import-crosswalk survey/data/hcmc_crosswalk_2025.csv
    """
    db = _open()
    try:
        rows = unit_store.read_crosswalk_csv(csv_path)
        written = unit_store.import_crosswalk(db, rows, source=Path(csv_path).name)
    except unit_store.UnitImportError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo(f"Imported {written} crosswalk links for {len({r.new_slug for r in rows})} new units "
               f"from {len({r.old_slug for r in rows})} former units.")


@click.command("import-margins")
@click.argument("csv_path", type=click.Path(dir_okay=False))
@with_appcontext
def import_margins_command(csv_path: str) -> None:
    """Import population counts per unit and group, the margins weighting uses.

    Columns: unit (slug), dimension (age_band, gender, ..., or total for the
    unit's population used by design weights), category (the questionnaire's
    option code, e.g. 18-24 or female; all for total), population. Counts of a
    (unit, dimension) in the file replace the stored ones. Weighting refuses a
    unit without margins rather than invent them.

    Example: flask --app survey import-margins margins-2025.csv
    """
    db = _open()
    try:
        n_units, n_counts = unit_store.import_margins(db, csv_path)
    except unit_store.UnitImportError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo(f"Imported {n_counts} population counts for {n_units} units from {csv_path}.")


def _period(value: str | None) -> tuple[date, date]:
    if not value:
        today = date.today()
        return today - timedelta(days=29), today
    try:
        first, last = value.split(":")
        start, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not FROM:TO with ISO dates, e.g. 2025-01-01:2025-03-31")
    if end < start:
        raise click.BadParameter(f"the period ends ({end}) before it starts ({start})")
    return start, end


@click.command("simulate")
@click.option("--responses", "n", type=click.IntRange(min=1), help="How many responses to write.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same data).")
@click.option("--period", help="FROM:TO submission dates (default: the last 30 days); never after now.")
@click.option("--questionnaire", help="Questionnaire id (default: the DEFAULT_QUESTIONNAIRE setting).")
@click.option("--alongside-real", is_flag=True,
              help="Write them even though the database holds real responses (they stay marked and left out).")
@click.option("--remove", is_flag=True, help="Delete every simulated response instead (real ones are kept).")
@with_appcontext
def simulate_command(n: int | None, seed: int, period: str | None, questionnaire: str | None,
                     alongside_real: bool, remove: bool) -> None:
    """Write realistic simulated responses, marked as simulated, through the normal storage code.

    Simulated responses are never attributed to a kiosk, never dated in the future, and left out of
    the dashboard, exports and reports unless those are asked to include them. A database that
    holds real responses is refused unless --alongside-real is given. --remove deletes them all.

    Example: flask --app survey simulate --responses 10000 --seed 7 --period 2025-01-01:2025-03-31

    Example: flask --app survey simulate --remove
    """
    from .simulate import RealResponsesPresent, remove as remove_simulated, simulate

    db = _open()
    try:
        if remove:
            if n is not None:
                _fail("give either --remove or --responses, not both")
            removed = remove_simulated(db)
            click.echo(f"Removed {removed} simulated responses; real responses were not touched.")
            return
        if n is None:
            _fail("give --responses N (how many to write), or --remove")
        start, end = _period(period)
        qid = questionnaire or current_app.config["DEFAULT_QUESTIONNAIRE"]
        q = catalog.latest(db, qid)
        if q is None:
            _fail(f"questionnaire {qid!r} is not registered: run `flask --app survey init-db` first")
        with click.progressbar(length=n, label="Simulating responses", file=sys.stderr) as bar:
            try:
                written = simulate(db, q, n, seed, start, end, tz=current_app.config["TIMEZONE"],
                                   progress=bar.update, alongside_real=alongside_real)
            except RealResponsesPresent as exc:
                _fail(f"refused: {exc}")
            except ValueError as exc:
                _fail(str(exc))
    finally:
        db.close()
    click.echo(f"Wrote {written} simulated responses ({start} to {min(end, date.today())}, questionnaire "
               f"{q.id} v{q.version}), marked as simulated. Remove them with `flask --app survey simulate --remove`.")


@click.command("backup")
@click.argument("path", type=click.Path())
@with_appcontext
def backup_command(path: str) -> None:
    """Copy the database to PATH (a file, or a folder for a timestamped file).

    Uses SQLite's online backup: safe while the server is running and taking
    responses. The copy is checked with PRAGMA integrity_check before it is
    put in place. Restore with `flask --app survey restore`.

    Example: flask --app survey backup /var/backups/sipas/
    """
    from .backup import BackupError, backup

    bar = click.progressbar(length=1, label="Backing up", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.length = total
        bar.update(done - bar.pos)

    try:
        with bar:
            target = backup(current_app.config["DATABASE"], path, progress)
    except (BackupError, OSError) as exc:
        _fail(str(exc))
    click.echo(f"Backup written to {target}")


@click.command("restore")
@click.argument("backup_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(backup_path: str, yes: bool) -> None:
    """Replace the database with a backup made by `backup`. Stop the server first.

    The backup is checked first (integrity, survey schema): anything else is
    refused before a single file is touched. Restoring is refused while a
    server or another command has the database open. Responses collected after
    the backup was taken would be lost, so the current database is first
    copied to a new <database>.before-restore-<UTC time> (earlier copies are
    never overwritten).

    Example: flask --app survey restore /var/backups/sipas/survey-20250301T020000Z.sqlite3 --yes
    """
    from .backup import BackupError, check_backup, restore
    from .dblock import DatabaseInUse

    database = current_app.config["DATABASE"]
    try:
        count = check_backup(backup_path)
    except BackupError as exc:
        _fail(str(exc))
    if not yes:
        click.confirm(f"Replace {database} with {backup_path} ({count} responses)? Stop the server first.",
                      abort=True)
    try:
        restored = restore(backup_path, database)
    except (BackupError, DatabaseInUse, OSError) as exc:
        _fail(f"{exc}" if not isinstance(exc, DatabaseInUse) else f"refusing to restore: {exc}")
    kept = f"; the previous database is kept as {restored.safety_copy}" if restored.safety_copy else ""
    click.echo(f"Restored {backup_path} ({restored.responses} responses){kept}")


COMMANDS = [init_db_command, import_units_command, import_crosswalk_command, import_margins_command,
            simulate_command, backup_command, restore_command, *KIOSK_COMMANDS, *PARQUET_COMMANDS, *FRAME_COMMANDS]


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
