"""Who has the database open: a lock file next to it (issue 12 item 7).

Every server process (and every CLI command that writes) holds a *shared*
``flock`` on ``<database>.lock`` for as long as it runs; the kernel drops it
when the process ends, even on kill -9. ``restore`` takes the *exclusive* lock
without waiting, so it refuses while anything holds the shared one, and a
server started during a restore waits for it to finish. Processes that do not
take the lock (an ``sqlite3`` shell, an older release) are caught by SQLite's
own locking: see ``survey.backup.restore``.
"""
from __future__ import annotations

import fcntl
import logging
import os
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

from . import files

log = logging.getLogger(__name__)
_HELD: dict[str, int] = {}


class DatabaseInUse(RuntimeError):
    """Another process has the database open."""


def lock_path(database: str | Path) -> Path:
    return Path(str(database) + ".lock")


def _open(database: str | Path) -> int:
    path = lock_path(database)
    files.create_private_file(path)
    return os.open(path, os.O_RDWR)


def hold_shared(database: str | Path) -> None:
    """Hold a shared lock on ``database`` until this process ends (waits while a restore runs)."""
    key = os.path.abspath(str(database))
    if key in _HELD or str(database) == ":memory:":
        return
    try:
        fd = _open(database)
    except OSError as exc:       # e.g. the database's folder does not exist yet: opening it will say so
        log.warning("could not open the lock file of %s: %s", database, exc)
        return
    fcntl.flock(fd, fcntl.LOCK_SH)
    _HELD[key] = fd


@contextmanager
def exclusive(database: str | Path) -> Iterator[None]:
    """The exclusive lock on ``database``, or DatabaseInUse at once when any process holds it."""
    fd = _open(database)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseInUse(
                f"{database} is in use: a server (or another command) has it open. Stop the server "
                f"(e.g. systemctl stop sipas, or kill the gunicorn master) and wait for running commands "
                f"to end, then restore again.") from None
        yield
    finally:
        os.close(fd)
