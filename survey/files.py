"""Files the platform writes are readable by the service's own user only.

The instance folder holds the secret key (``config.py``), the database with its
-wal/-shm files, backups' safety copies and reports: a local user who can read
them can forge an admin session or read every response. Folders are created
0700 and files 0600 whatever the process umask is; ``secure_instance`` fixes
older installs (with a warning) and ``check_secret_file`` refuses to serve with
a secret key that other local users can read.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("survey.files")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


class ExposedSecret(RuntimeError):
    """The secret-key file is readable or writable by other local users."""


def make_private_dir(path: str | Path) -> Path:
    """Create ``path`` (and parents) if needed; the folder itself is left 0700."""
    path = Path(path)
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        try:
            os.chmod(path, PRIVATE_DIR)
        except PermissionError:
            pass
    return path


def create_private_file(path: str | Path) -> None:
    """Create an empty file 0600 unless it exists (existing files are left as they are)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    except OSError:
        return  # e.g. the folder does not exist: let the caller's open report it
    try:
        os.fchmod(fd, PRIVATE_FILE)  # the umask may have taken bits away, never added: make sure
    finally:
        os.close(fd)


def write_private_text(path: str | Path, text: str) -> None:
    """Write ``text`` to a file that is 0600 from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def make_private(path: str | Path) -> None:
    """chmod a file 0600 or a folder (and everything under it) 0700/0600."""
    path = Path(path)
    if path.is_dir():
        os.chmod(path, PRIVATE_DIR)
        for root, dirs, names in os.walk(path):
            for d in dirs:
                os.chmod(os.path.join(root, d), PRIVATE_DIR)
            for n in names:
                os.chmod(os.path.join(root, n), PRIVATE_FILE)
    elif path.exists():
        os.chmod(path, PRIVATE_FILE)


def exposed(path: str | Path) -> bool:
    """True when group or others have any permission on ``path``."""
    return bool(stat.S_IMODE(os.lstat(path).st_mode) & 0o077)


def secure_instance(instance_path: str | Path, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Make the instance folder 0700 and every file in it 0600; return what was fixed (with a warning each).

    Symbolic links are not followed. Names in ``skip`` (relative to the folder) are left alone.
    """
    root = Path(instance_path)
    fixed = []
    if not root.is_dir():
        return fixed
    for current, dirs, names in os.walk(root):
        for name in [current] + [os.path.join(current, d) for d in dirs] + [os.path.join(current, n) for n in names]:
            path = Path(name)
            if path.is_symlink() or os.path.relpath(path, root) in skip:
                continue
            try:
                if not exposed(path):
                    continue
                os.chmod(path, PRIVATE_DIR if path.is_dir() else PRIVATE_FILE)
            except OSError:
                continue
            fixed.append(str(path))
            log.warning("%s was readable by other local users; it is now %s", path,
                        "0700" if path.is_dir() else "0600")
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(current, d))]
    return fixed


def check_secret_file(path: str | Path) -> None:
    """Refuse a secret-key file that other local users can read (it may already be known)."""
    path = Path(path)
    if path.exists() and exposed(path):
        raise ExposedSecret(
            f"refusing to start: {path} (it holds SECRET_KEY) can be read by other local users "
            f"(mode {stat.S_IMODE(path.stat().st_mode):04o}). Anyone who read it can forge a staff "
            f"session: run `chmod 600 {path}` and put a new random SECRET_KEY in it "
            f"(python -c 'import secrets; print(secrets.token_hex(32))'); every staff member will have "
            f"to sign in again.")
