"""Online backups with SQLite's backup API, and restoring one."""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import dblock, files


class BackupError(ValueError):
    pass


def backup(source: str | Path, target: str | Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Copy the live database ``source`` to ``target`` consistently, even while it is being written.

    The copy is made next to ``target`` and renamed into place only once it is
    complete and passes ``PRAGMA integrity_check``.
    """
    target = Path(target)
    if target.is_dir():
        from datetime import datetime, timezone

        target = target / f"survey-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.sqlite3"
    if not Path(source).exists():
        raise BackupError(f"there is no database at {source}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    files.create_private_file(partial)        # 0600 from the start: a backup holds every response
    src = sqlite3.connect(f"file:{_uri_path(Path(source))}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst, pages=4096, progress=(lambda status, remaining, total: progress(total - remaining, total))
                   if progress else None)
        dst.execute("PRAGMA journal_mode = DELETE")
        _check(dst, partial)
    finally:
        dst.close()
        src.close()
    os.replace(partial, target)
    return target


def _check(conn: sqlite3.Connection, path: Path) -> None:
    result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path}: integrity check failed: {result}")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"schema_migrations", "responses"} <= tables:
        raise BackupError(f"{path}: not a survey database (no responses table)")


@dataclass(frozen=True)
class Restored:
    responses: int                  # responses in the restored database
    safety_copy: Path | None        # where the replaced database was kept (None: there was none)


def check_backup(backup_path: str | Path) -> int:
    """Refuse anything but a sound survey database (integrity, schema); return its response count.

    Reads only: nothing is written anywhere before the input passed this check.
    """
    backup_path = Path(backup_path)
    if not backup_path.is_file():
        raise BackupError(f"{backup_path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{_uri_path(backup_path)}?mode=ro", uri=True)
        try:
            _check(conn, backup_path)
            return conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup_path}: not a readable SQLite database ({exc}); nothing was changed") from exc


def _uri_path(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(path.resolve()))


def safety_copy_name(database: Path) -> Path:
    """A new name for the copy of the replaced database: timestamped, never an existing file's."""
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    candidate = database.with_name(f"{database.name}.before-restore-{stamp}")
    n = 2
    while candidate.exists() or Path(str(candidate) + ".partial").exists():
        candidate = database.with_name(f"{database.name}.before-restore-{stamp}-{n}")
        n += 1
    return candidate


def _alone(database: Path) -> None:
    """SQLite's own check that no other process has ``database`` open (also processes that do not
    take our lock file): leaving WAL mode needs every other connection closed."""
    conn = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        raise dblock.DatabaseInUse(
            f"{database} is open in another process (SQLite reports: {exc}). Stop the server and any "
            f"program using the database (e.g. an sqlite3 shell), then restore again.") from None
    finally:
        conn.close()
    if mode != "delete":
        raise dblock.DatabaseInUse(f"{database} is open in another process (it stays in {mode} mode). "
                                   f"Stop it, then restore again.")


def restore(backup_path: str | Path, database: str | Path) -> Restored:
    """Replace ``database`` with a checked copy of ``backup_path``.

    In this order: the backup is checked (nothing is touched if it is not a sound survey database);
    the database's lock is taken (refused while a server or a command has it open, see
    ``survey.dblock``, and while SQLite sees another connection); the current database is copied to
    a new timestamped ``<database>.before-restore-<UTC time>`` (an earlier safety copy is never
    overwritten); then the backup is copied into place.
    """
    backup_path, database = Path(backup_path), Path(database)
    count = check_backup(backup_path)
    if backup_path.resolve() == database.resolve():
        raise BackupError(f"{backup_path} is the database itself; nothing was changed")
    with dblock.exclusive(database):
        kept = None
        if database.exists():
            _alone(database)
            kept = backup(database, safety_copy_name(database))
        staging = database.with_name(database.name + ".restoring")
        staging.unlink(missing_ok=True)
        files.create_private_file(staging)
        try:
            src = sqlite3.connect(f"file:{_uri_path(backup_path)}?mode=ro", uri=True)
            dst = sqlite3.connect(staging)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                src.close()
                dst.close()
        except BaseException:
            staging.unlink(missing_ok=True)     # the database itself is untouched
            raise
        for suffix in ("-wal", "-shm"):
            Path(str(database) + suffix).unlink(missing_ok=True)
        os.replace(staging, database)
    return Restored(count, kept)
