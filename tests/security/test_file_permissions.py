"""Item 2 of issue 12: the secret key and the data are readable by the service's user only,
whatever the umask -- with the real CLI and a real gunicorn, under umask 022 (files 0644 by
default), as a local user who is not the service would try to read them."""
from __future__ import annotations

import os
import re
import stat
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def loose_umask():
    old = os.umask(0o022)        # what most systems give a service: new files 0644, folders 0755
    yield
    os.umask(old)


def _modes(folder: Path) -> dict[str, int]:
    found = {}
    for root, dirs, names in os.walk(folder):
        for name in [root, *(os.path.join(root, n) for n in dirs + names)]:
            found[os.path.relpath(name, folder)] = stat.S_IMODE(os.lstat(name).st_mode)
    return found


def _open_to_others(folder: Path) -> dict[str, str]:
    return {name: f"{mode:04o}" for name, mode in _modes(folder).items() if mode & 0o077}


def _busiest_unit(server) -> str:
    """One unit (with the most responses): a report of all 168 wards takes minutes on a busy machine."""
    return server.rows("SELECT u.slug FROM responses r JOIN units u ON u.id = r.unit_id GROUP BY u.slug "
                       "ORDER BY count(*) DESC, u.slug LIMIT 1")[0]["slug"]


def _report(server, browser) -> int:
    today = date.today()
    answer = browser.post("/staff/reports/", {"from": (today - timedelta(days=40)).isoformat(),
                                              "to": today.isoformat(), "target": "80", "lang": "en",
                                              "weights": "none", "units": _busiest_unit(server),
                                              "simulated": "1",   # the responses are `simulate`'s: ticked in
                                            "csrf_token": browser.csrf("/staff/reports/")})
    assert answer.status == 303, answer.text[:3000]
    job = int(answer.header("location").rstrip("/").rsplit("/", 1)[1])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page = browser.get(f"/staff/reports/{job}")
        if "report.pdf" in page.text and "refresh" not in page.text.split("</head>")[0]:
            return job
        time.sleep(0.5)
    raise AssertionError(f"report {job} not done:\n{page.text[:2000]}")


def test_everything_the_platform_writes_is_private_whatever_the_umask(make_server, tmp_path):
    server = make_server(workers=2).init()                           # real init-db: config.py, the database
    server.create_user("boss", "admin")
    server.flask("simulate", "--responses", "300")
    server.flask("backup", str(server.instance / "manual-backup.sqlite3"))
    server.flask("restore", str(server.instance / "manual-backup.sqlite3"), "--yes")   # a safety copy
    outside = tmp_path / "backups"
    outside.mkdir()
    server.flask("backup", str(outside))                             # a backup elsewhere is private too
    [copy] = outside.iterdir()
    assert f"{stat.S_IMODE(copy.stat().st_mode):04o}" == "0600"

    server.start()
    boss = server.browser()
    assert boss.login("boss").status == 302
    _report(server, boss)
    kiosk_page = boss.get("/staff/")
    assert kiosk_page.status == 200

    names = _modes(server.instance)
    # (-wal and -shm exist while a connection is open; SQLite gives them the database's mode, and
    # they are checked with everything else when present)
    for expected in ("config.py", "survey.sqlite3", "survey.sqlite3.lock", "reports"):
        assert expected in names, sorted(names)
    assert any(n.startswith("survey.sqlite3.before-restore-") for n in names)
    assert any(n.startswith("reports/") and n.endswith("report.pdf") for n in names)
    assert names["."] == 0o700
    assert _open_to_others(server.instance) == {}


def test_an_older_install_is_fixed_at_start_with_a_warning(make_server):
    server = make_server(workers=1).init(demo=False)
    server.flask("backup", str(server.instance / "old-backup.sqlite3"))
    # What an earlier release left under umask 022: everything readable by any local user
    # (but the secret file, which the admin already fixed).
    os.chmod(server.instance, 0o755)
    for path in server.instance.iterdir():
        os.chmod(path, 0o644)
    os.chmod(server.instance / "config.py", 0o600)
    server.start()
    assert server.browser().get("/").status == 200
    assert _open_to_others(server.instance) == {}
    log = server.log.read_text()
    assert re.search(r"old-backup\.sqlite3 was readable by other local users; it is now 0600", log), log
    assert "survey.sqlite3 was readable by other local users" in log


def test_the_server_refuses_to_start_with_a_secret_key_others_can_read(make_server):
    server = make_server(workers=1).init(demo=False)
    os.chmod(server.instance / "config.py", 0o644)                 # as init-db left it before the fix
    with pytest.raises(AssertionError) as refused:
        server.start()
    message = str(refused.value)
    assert "refusing to start" in message and "can be read by other local users" in message
    assert "chmod 600" in message and "new random SECRET_KEY" in message     # says how to fix it
    os.chmod(server.instance / "config.py", 0o600)
    server.start()                                                 # once fixed, it serves
    assert server.browser().get("/").status == 200


def test_an_exposed_config_file_whose_key_is_not_in_use_only_warns(make_server):
    """SURVEY_SECRET_KEY in the environment signs the sessions (as in a developer's checkout whose
    instance/config.py an older init-db wrote 0644): the file's key is not the one in use."""
    server = make_server(workers=1, env={"SURVEY_SECRET_KEY": "from-the-environment-" + "k" * 30}).init(demo=False)
    os.chmod(server.instance / "config.py", 0o644)
    server.start()
    assert server.browser().get("/").status == 200
    assert "the key in use comes from the environment" in server.log.read_text()
