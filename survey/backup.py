"""Online backups with SQLite's backup API, and restoring one."""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path


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
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
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


def restore(backup_path: str | Path, database: str | Path) -> int:
    """Replace ``database`` with a checked copy of ``backup_path``; return its response count.

    Stop the server first: a running server keeps the old file open.
    """
    backup_path, database = Path(backup_path), Path(database)
    try:
        conn = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
        _check(conn, backup_path)
        count = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{backup_path}: not a readable SQLite database ({exc})") from exc
    staging = database.with_name(database.name + ".restoring")
    src = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
    dst = sqlite3.connect(staging)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    for suffix in ("-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    os.replace(staging, database)
    return count
