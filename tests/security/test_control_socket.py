"""Item 14 of issue 12 (part): two servers on one machine (same user, same HOME) each keep their
own gunicorn control socket, so stopping one leaves the other controllable with `gunicornc`."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(240)


def _answering(home: Path) -> dict[str, set[int]]:
    """Every control socket under ``home`` that answers, with the worker pids its server reports."""
    found = {}
    for sock in sorted((home / ".gunicorn").glob("*.ctl")):
        result = subprocess.run([sys.executable, "-m", "gunicorn.ctl.cli", "-s", str(sock), "-j",
                                 "-c", "show workers"], capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            found[str(sock)] = {w["pid"] for w in json.loads(result.stdout)["workers"]}
    return found


def _workers(server) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server.proc.pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_two_servers_keep_their_own_control_sockets(make_server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": ""}
    first = make_server(workers=1, env=env).init(demo=False).start()
    second = make_server(workers=2, env=env).init(demo=False).start()
    for _ in range(50):                                  # the control socket starts just after the workers
        sockets = _answering(home)
        if len(sockets) == 2:
            break
        time.sleep(0.2)
    assert sorted(sockets.values(), key=len) == [_workers(first), _workers(second)], sockets

    first.stop()
    left = _answering(home)
    assert list(left.values()) == [_workers(second)]     # the second is still under control
    assert second.browser().get("/").status == 200
