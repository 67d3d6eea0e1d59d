"""Staff CLI commands: ``create-user``, ``set-password``, ``refresh-summaries``."""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .. import db as database
from . import summary, users


def _open():
    return database.connect(current_app.config["DATABASE"], current_app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _read_password() -> str:
    """Ask twice on a terminal; otherwise read the first line of standard input."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


@click.command("create-user")
@click.argument("name")
@click.option("--role", type=click.Choice(users.ROLES), required=True,
              help="staff: monitoring; analyst: also exports and reports; admin: also users, targets, kiosks.")
@with_appcontext
def create_user_command(name: str, role: str) -> None:
    """Create a staff account NAME with a role; asks for the password (or reads it from stdin).

    Passwords need at least 10 characters and are stored hashed (scrypt).

    Example: flask --app survey create-user lan --role admin
    """
    password = _read_password()
    db = _open()
    try:
        users.create(db, name, password, role, by="cli")
    except users.UserError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo(f"Created user {name} with the role {role}.")


@click.command("set-password")
@click.argument("name")
@with_appcontext
def set_password_command(name: str) -> None:
    """Give user NAME a new password (asked, or read from stdin); also lifts a sign-in lock.

    Example: printf '%s\\n' 'a long new secret' | flask --app survey set-password lan
    """
    password = _read_password()
    db = _open()
    try:
        users.set_password(db, name, password)
    except users.UserError as exc:
        _fail(str(exc))
    finally:
        db.close()
    click.echo(f"New password set for {name}; their sessions are signed out.")


@click.command("refresh-summaries")
@click.option("--force", is_flag=True, help="Rebuild everything even if the settings did not change.")
@with_appcontext
def refresh_summaries_command(force: bool) -> None:
    """Rebuild the dashboard's summary tables after TIMEZONE or QUALITY_* settings changed.

    Submissions wait while it runs (a few seconds per million responses).

    Example: flask --app survey refresh-summaries
    """
    try:
        rules = summary.rules_from_config(current_app.config)
    except ValueError as exc:
        _fail(str(exc))
    db = _open()
    try:
        with click.progressbar(length=1, label="Rebuilding summaries", file=sys.stderr) as bar:
            done = summary.refresh(db, rules, force=force)
            bar.update(1)
    finally:
        db.close()
    click.echo(f"Rebuilt: {', '.join(done)} ({rules.describe()})." if done else
               f"Up to date ({rules.describe()}).")


COMMANDS = [create_user_command, set_password_command, refresh_summaries_command]


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
