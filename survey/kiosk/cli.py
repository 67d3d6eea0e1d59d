"""Kiosk commands: ``flask --app survey add-kiosk | list-kiosks | revoke-kiosk``."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import catalog
from .. import db as database
from . import kiosks

FALLBACK_BASE_URL = "http://127.0.0.1:5000"


def _open():
    return database.connect(current_app.config["DATABASE"], current_app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def field_codes(db) -> tuple[str, ...] | None:
    """Codes of the default questionnaire's field-of-procedure question (None if it has none)."""
    q = catalog.latest(db, current_app.config["DEFAULT_QUESTIONNAIRE"])
    if q is None:
        return None
    for question in q.respondent:
        if question.code == "field":
            return question.option_codes
    return None


@click.command("add-kiosk")
@click.option("--unit", "unit_slug", required=True, help="Slug of the unit the kiosk serves (e.g. quan-1).")
@click.option("--name", help="Name of the kiosk or its counter (default: Kiosk N).")
@click.option("--field", help="Field of procedure the counter handles (a code of the questionnaire's "
                              "field question, e.g. land); pre-selected on the kiosk's form.")
@click.option("--base-url", help="Address the kiosk reaches the server at (default: the PUBLIC_BASE_URL "
                                 f"setting, else {FALLBACK_BASE_URL}).")
@click.option("--force", is_flag=True, help="Print the address even if it points to this computer or a private "
                                           "network (e.g. a tablet on the office LAN).")
@with_appcontext
def add_kiosk_command(unit_slug: str, name: str | None, field: str | None, base_url: str | None,
                      force: bool) -> None:
    """Register a kiosk for a unit and print its device URL.

    The URL contains the kiosk's secret token: open it once on the tablet (it
    is remembered there) and keep it out of sight. It is printed only now; the
    database keeps only a hash. Lost it? Revoke the kiosk and add a new one.

    Example: flask --app survey add-kiosk --unit quan-1 --name "Quầy 3" --base-url https://khaosat.example.gov.vn
    """
    base = base_url or current_app.config.get("PUBLIC_BASE_URL") or FALLBACK_BASE_URL
    host = kiosks.unreachable_host(base)
    if host and not force:
        _fail(f"the kiosk's address would start with {base.rstrip('/')}, and {host} is this computer or a private "
              "network: a tablet elsewhere cannot reach it. Give the address the tablet reaches the server at "
              "with --base-url https://khaosat.example.gov.vn, or set PUBLIC_BASE_URL once (instance/config.py, "
              "or SURVEY_PUBLIC_BASE_URL in the environment). --force prints it anyway. Nothing was registered.")
    db = _open()
    try:
        kiosk, token = kiosks.register(db, unit_slug, name, field, fields=field_codes(db) if field else None)
    except kiosks.KioskError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo(f"Kiosk {kiosk.id} \"{kiosk.name}\" registered for {kiosk.unit_name_vi} ({kiosk.unit_slug})"
               + (f", field {kiosk.field}" if kiosk.field else "") + ".")
    click.echo("Open this address once on the tablet (it is shown only now):")
    click.echo(kiosks.device_url(base, token))


@click.command("list-kiosks")
@click.option("--unit", "unit_slug", help="Only the kiosks of this unit.")
@click.option("--active", is_flag=True, help="Leave out revoked kiosks.")
@with_appcontext
def list_kiosks_command(unit_slug: str | None, active: bool) -> None:
    """List kiosks: id, unit, name, field, last contact, responses, status.

    Example: flask --app survey list-kiosks --unit quan-1 --active
    """
    db = _open()
    try:
        rows = kiosks.all_kiosks(db, unit_slug=unit_slug, include_revoked=not active)
    finally:
        db.close()
    if not rows:
        click.echo("No kiosks" + (f" for unit {unit_slug}" if unit_slug else "") + ". Add one with add-kiosk.")
        return
    header = ("id", "unit", "name", "field", "last seen", "responses", "status")
    table = [header] + [
        (str(r["id"]), r["unit_slug"], r["name"], r["field"] or "", r["last_seen_at"] or "never",
         str(r["responses"]),
         f"revoked {r['revoked_at']}" if r["revoked_at"] else "active")
        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@click.command("revoke-kiosk")
@click.argument("kiosk_id", type=int)
@with_appcontext
def revoke_kiosk_command(kiosk_id: int) -> None:
    """Revoke a kiosk: its token stops working at once; its responses stay.

    Responses still queued on the device are then refused, and the device
    shows them as not sent, with the reason, instead of dropping them.

    Example: flask --app survey revoke-kiosk 3
    """
    db = _open()
    try:
        kiosk = kiosks.revoke(db, kiosk_id)
    except kiosks.KioskError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo(f"Kiosk {kiosk.id} \"{kiosk.name}\" ({kiosk.unit_slug}) revoked at {kiosk.revoked_at}.")


COMMANDS = [add_kiosk_command, list_kiosks_command, revoke_kiosk_command]
