"""Commands of probability samples: import-frame, draw-sample, export-invitations, record-outcomes,
response-rates, purge-contacts."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from . import db as database, frames, invitations


def _open():
    return database.connect(current_app.config["DATABASE"], current_app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _period(value: str) -> tuple[str, str]:
    try:
        return frames.parse_period(value)
    except frames.FrameError as exc:
        raise click.BadParameter(str(exc))


PERIOD = click.option("--period", required=True, help="FROM:TO, the days the dossiers were completed in "
                                                      "(e.g. 2026-10-01:2026-12-31).")


@click.command("import-frame")
@click.argument("csv_path", type=click.Path(dir_okay=False))
@PERIOD
@click.option("--replace", is_flag=True, help="Replace the period's frame (only while no sample is drawn).")
@with_appcontext
def import_frame_command(csv_path: str, period: str, replace: bool) -> None:
    """Import the register of dossiers completed in a period (the sampling frame).

    Columns: dossier (the one-stop system's code), unit (code or slug of a unit
    valid in the period), field (a code of the questionnaire's field question),
    completed_at (YYYY-MM-DD or ISO date-time inside the period); optional
    contact (phone or e-mail, used only to deliver invitations and deleted by
    purge-contacts). Every row is checked first: any bad row is reported by line
    and nothing is imported.

    Example: flask --app survey import-frame dossiers-2026q4.csv --period 2026-10-01:2026-12-31
    """
    span = _period(period)
    db = _open()
    started = time.perf_counter()
    try:
        fields = frames.field_codes(db, current_app.config["DEFAULT_QUESTIONNAIRE"])
        lines = _count_lines(csv_path)
        with click.progressbar(length=max(2 * lines, 1), label="Checking, then importing dossiers",
                               file=sys.stderr) as bar:
            result = frames.import_frame(db, csv_path, span, fields=fields, replace=replace, progress=bar.update)
    except frames.FrameError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo(f"Imported {result.dossiers:,} dossiers for {span[0]}:{span[1]} in {result.strata} strata "
               f"(unit x field), {result.with_contact:,} with a contact, in {time.perf_counter() - started:.1f} s.")


def _count_lines(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return 0


@click.command("draw-sample")
@PERIOD
@click.option("--margin", type=click.FloatRange(0.001, 0.5), help="Half-width of the 95 %% interval of each "
              "unit's index wanted, as a share (0.05 = ±5 points). Default: the targets on the dashboard.")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True,
              help="Confidence level of that interval.")
@click.option("--seed", type=int, required=True, help="Random seed: the same frame and seed draw the same sample.")
@click.option("--deff", type=click.FloatRange(1, 20), help="Design effect to assume where the last period gives "
              "none (default 1).")
@click.option("--response-rate", type=click.FloatRange(0.01, 1), help="Response rate (RR3) to expect where the "
              "last period gives none.")
@click.option("--wave", type=click.IntRange(1), default=1, show_default=True,
              help="2 or more: invite again the sampled dossiers that have not answered and are not ineligible.")
@click.option("--dry-run", is_flag=True, help="Show the sizes, draw nothing.")
@with_appcontext
def draw_sample_command(period, margin, confidence, seed, deff, response_rate, wave, dry_run) -> None:
    """Draw the stratified sample of a frame (simple random sampling without replacement per unit x field).

    Each unit's number of responses needed comes from --margin (at --confidence,
    for an assumed share of 50 %, times the design effect, with the finite
    population correction) or else from the unit's target on the dashboard; it is
    divided by the expected response rate (the last period's RR3 where known).
    The unit's sample is shared among its fields in proportion to their
    dossiers, at least 2 per field. docs/sampling.md has the rule in full.

    Example: flask --app survey draw-sample --period 2026-10-01:2026-12-31 --margin 0.05 --seed 7
    """
    span = _period(period)
    db = _open()
    try:
        frame = frames.find_frame(db, span)
        if wave == 1:
            previous = frames.previous_frame(db, frame)
            prev_deff = _previous_deff(previous) if previous else None
            plans = frames.plan_sample(db, frame, margin=margin, confidence=confidence, deff=deff,
                                       response_rate=response_rate, previous=previous, previous_deff=prev_deff)
            click.echo(f"{'unit':<24} {'dossiers':>9} {'needed':>7} {'rate':>6} {'deff':>5} {'invite':>7}")
            for p in plans:
                click.echo(f"{p.slug:<24} {p.population:>9,} {p.completes:>7} {p.response_rate:>6.3f} "
                           f"{p.deff:>5.2f} {p.sample:>7}")
            if dry_run:
                click.echo("Dry run: nothing drawn.")
                return
            method = {"margin": margin, "confidence": confidence, "seed": seed,
                      "previous_period": f"{previous['period_from']}:{previous['period_to']}" if previous else None,
                      "units": {p.slug: p.source for p in plans}}
            result = frames.draw_sample(db, frame, seed=seed, plans=plans, method=method)
            click.echo(f"Drew {result.invited:,} dossiers in {result.strata} strata (seed {seed}); "
                       f"next: flask --app survey export-invitations --period {period} --out invitations.csv")
        else:
            result = frames.draw_sample(db, frame, seed=seed, wave=wave)
            click.echo(f"Wave {wave}: {result.invited:,} non-respondents will be invited again; "
                       f"next: flask --app survey export-invitations --period {period} --wave {wave} --out wave{wave}.csv")
    except frames.FrameError as exc:
        _fail(str(exc))
    finally:
        db.close()


def _previous_deff(previous: dict) -> dict[int, float] | None:
    """Kish's design effect from weighting (1 + CV² of the final weights) per unit in the last period."""
    try:
        from analysis.frame import FrameDesignError, frame_weights
        import sqlite3

        conn = sqlite3.connect(current_app.config["DATABASE"])
        try:
            fw = frame_weights(conn, previous["id"])
        finally:
            conn.close()
    except (ImportError, FrameDesignError):
        return None
    out = {}
    for uid in set(fw.unit_id.tolist()):
        w = fw.weights[fw.unit_id == uid]
        if w.size > 1:
            out[int(uid)] = float(1 + w.var() / w.mean() ** 2)
    return out


@click.command("export-invitations")
@PERIOD
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="CSV for the SMS or e-mail gateway: dossier, contact, link, short_code, unit, field, wave, expires_on.")
@click.option("--slips", type=click.Path(dir_okay=False), help="Also write printable slips with QR codes (HTML).")
@click.option("--wave", type=click.IntRange(1), help="Wave to issue (default: the latest).")
@click.option("--base-url", help="Address citizens reach the server at (default: the PUBLIC_BASE_URL setting).")
@click.option("--reissue", is_flag=True, help="Make new codes for invitations already issued and not answered "
              "(the old codes stop working).")
@with_appcontext
def export_invitations_command(period, out, slips, wave, base_url, reissue) -> None:
    """Make the one-time codes of a wave and write them for delivery (codes are shown only here).

    Each invitation gets a link code (in the link /i/<code>, and the QR code of its
    slip) and an 8-character short code to type at a kiosk at /i. Only hashes
    are stored: keep the files safe and delete them once delivered.

    Example: flask --app survey export-invitations --period 2026-10-01:2026-12-31 --out invitations.csv --slips slips.html
    """
    span = _period(period)
    base = base_url or current_app.config["PUBLIC_BASE_URL"] or "http://127.0.0.1:5000"
    for target in (out, slips):
        if target and not Path(target).resolve().parent.is_dir():
            _fail(f"{target}: its folder does not exist")
    db = _open()
    try:
        frame = frames.find_frame(db, span)
        names = _field_names(db)

        def deliver(issued):   # inside the transaction: a file that cannot be written issues no code
            Path(out).write_text(invitations.gateway_csv(issued), encoding="utf-8")
            if slips:
                Path(slips).write_text(invitations.slips_html(issued, kiosk_url=f"{base.rstrip('/')}/i",
                                                              field_names=names), encoding="utf-8")

        issued = invitations.issue(db, frame, wave=wave, base_url=base,
                                   valid_days=int(current_app.config["INVITATION_VALID_DAYS"]),
                                   today=invitations.local_today(current_app.config["TIMEZONE"]), reissue=reissue,
                                   deliver=deliver)
    except frames.FrameError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo(f"Issued {len(issued):,} invitations (wave {issued[0].wave}, valid until {issued[0].expires_on}) "
               f"to {out}" + (f" and slips to {slips}" if slips else "") + ".")


def _field_names(db) -> dict[str, dict[str, str]]:
    from . import catalog

    q = catalog.latest(db, current_app.config["DEFAULT_QUESTIONNAIRE"])
    for question in (q.respondent if q else []):
        if question.code == "field":
            return {o.code: dict(o.text) if hasattr(o.text, "items") else {"vi": o.text, "en": o.text}
                    for o in question.options}
    return {}


@click.command("record-outcomes")
@click.argument("csv_path", type=click.Path(dir_okay=False))
@PERIOD
@with_appcontext
def record_outcomes_command(csv_path: str, period: str) -> None:
    """Record what the gateway and the counters learned about sampled dossiers.

    Columns: dossier, outcome, with outcome one of delivered (the gateway
    delivered the invitation), undeliverable, ineligible (not part of the survey
    population, e.g. filed by an agency). All rows are checked first.

    Example: flask --app survey record-outcomes delivery-report.csv --period 2026-10-01:2026-12-31
    """
    span = _period(period)
    db = _open()
    try:
        counts = frames.record_outcomes(db, frames.find_frame(db, span), csv_path)
    except frames.FrameError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo("Recorded: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + ".")


@click.command("response-rates")
@PERIOD
@click.option("--by", type=click.Choice(["unit", "stratum"]), default="unit", show_default=True,
              help="One row per unit, or per unit and field (stratum).")
@with_appcontext
def response_rates_command(period: str, by: str) -> None:
    """Sampled, delivered, responded, known ineligible and AAPOR RR1/RR3 per unit (or stratum) and overall.

    Example: flask --app survey response-rates --period 2026-10-01:2026-12-31 --by stratum
    """
    span = _period(period)
    db = _open()
    try:
        frame = frames.find_frame(db, span)
        table = frames.tracking(db, frame["id"])
    except frames.FrameError as exc:
        _fail(str(exc))
    finally:
        db.close()
    rows = table.units if by == "unit" else table.strata
    click.echo(f"{'unit':<24} {'field':<14} {'N':>8} {'sampled':>8} {'deliv.':>7} {'resp.':>6} {'inelig.':>7} "
               f"{'RR1':>6} {'RR3':>6}")

    def pct(v):
        return "—" if v is None else f"{100 * v:.1f}"

    for r in rows + [table.overall]:
        name = getattr(r, "slug", "") or "ALL"
        click.echo(f"{name:<24} {getattr(r, 'field', ''):<14} {r.population:>8,} {r.sampled:>8,} {r.delivered:>7,} "
                   f"{r.responded:>6,} {r.ineligible:>7,} {pct(r.rr1):>6} {pct(r.rr3):>6}")


@click.command("purge-contacts")
@click.option("--period", help="Purge this frame now (its retention must have run out). Default: every frame "
                               "whose retention has run out.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def purge_contacts_command(period: str | None, yes: bool) -> None:
    """Delete contacts and dossier codes of frames whose period ended CONTACT_RETENTION_DAYS ago or more.

    Their invitations stop working; counts, strata and response rates stay.
    Run it daily (cron); it does nothing when no retention has run out.

    Example: flask --app survey purge-contacts --yes
    """
    span = _period(period) if period else None
    if not yes:
        click.confirm("Delete the contacts and dossier codes of closed periods for good?", abort=True)
    db = _open()
    try:
        done = frames.purge_contacts(db, today=invitations.local_today(current_app.config["TIMEZONE"]),
                                     retention_days=int(current_app.config["CONTACT_RETENTION_DAYS"]), period=span)
    except frames.FrameError as exc:
        _fail(str(exc))
    finally:
        db.close()
    if not done:
        click.echo("Nothing to purge: no period's retention has run out.")
    for span_, cleared in done:
        click.echo(f"{span_}: contacts and dossier codes of {cleared:,} dossiers deleted.")


COMMANDS = [import_frame_command, draw_sample_command, export_invitations_command, record_outcomes_command,
            response_rates_command, purge_contacts_command]
