"""Production serving: `gunicorn -c gunicorn.conf.py 'survey:create_app()'`.

Settings a city changes through the environment:
  SURVEY_BIND     address to listen on (default 127.0.0.1:8000; put nginx with HTTPS in front)
  SURVEY_WORKERS  worker processes (default 2 x cores + 1)
"""
import multiprocessing
import os

bind = os.environ.get("SURVEY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SURVEY_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Threads let a long export stream past `timeout` without the worker being killed.
worker_class = "gthread"
threads = int(os.environ.get("SURVEY_THREADS", 2))
timeout = 30
graceful_timeout = 10
# Access logs carry no client addresses: responses are anonymous.
accesslog = os.environ.get("SURVEY_ACCESS_LOG") or None
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
# Proxy headers (X-Forwarded-Proto, ...) are trusted only when the app is told a proxy is in front
# (SURVEY_TRUSTED_PROXIES, issue 12 item 13): gunicorn's default trusts them from 127.0.0.1, so
# any local process could turn on HSTS and Secure cookies. Set TRUSTED_PROXIES in the environment
# (not only in instance/config.py) so that gunicorn sees it too.
_trusted_proxies = int(os.environ.get("SURVEY_TRUSTED_PROXIES", "0") or 0)
forwarded_allow_ips = os.environ.get("SURVEY_FORWARDED_ALLOW_IPS", "127.0.0.1,::1" if _trusted_proxies else "")

# gunicorn's control socket (for `gunicornc`) defaults to one path per user
# ($XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl): two servers on one machine
# would share it, and stopping one removes the other's (issue 12 item 14). Each server gets
# its own, named after the address it listens on (which no other running server can have),
# in the same folder: e.g. ~/.gunicorn/sipas-127.0.0.1_8000.ctl. SURVEY_CONTROL_SOCKET (or
# --control-socket) sets the path; `gunicornc -s <path>` talks to that server.
if os.environ.get("SURVEY_CONTROL_SOCKET"):
    control_socket = os.environ["SURVEY_CONTROL_SOCKET"]


def control_socket_for(binds) -> str:
    """The control socket path of a server listening on ``binds`` (next to gunicorn's default)."""
    import hashlib
    import re

    from gunicorn.config import _get_default_control_socket

    name = re.sub(r"[^A-Za-z0-9.-]+", "_", "+".join(binds)).strip("_")
    if len(name) > 40:                     # a Unix socket path must stay short (108 bytes)
        name = hashlib.sha256("+".join(binds).encode()).hexdigest()[:16]
    return os.path.join(os.path.dirname(_get_default_control_socket()), f"sipas-{name}.ctl")


def on_starting(server):
    from gunicorn.config import _get_default_control_socket

    if server.cfg.control_socket == _get_default_control_socket():   # not chosen by config or command line
        server.cfg.set("control_socket", control_socket_for(server.cfg.bind))
    if not server.cfg.control_socket_disable:
        server.log.info("Control socket: %s (gunicornc -s %s)", server.cfg.control_socket, server.cfg.control_socket)


def post_worker_init(worker):
    """The worker's app is loaded: its objects are set aside from the garbage collector's full
    collections (survey.web.freeze_startup_objects: a ~33 ms pause every few dashboard requests)."""
    from survey.web import freeze_startup_objects

    worker.log.info("Objects set aside from garbage collection: %d", freeze_startup_objects())


# Secrets in addresses never reach the access log. Invitation codes (/i/<code>,
# survey/invitations.py) are written /i/…; a kiosk's token (/k/<token>, /k/<token>/thanks,
# requested on every navigation by its service worker; issue 12 item 9) is written /k/….
# The routes stay readable (/i/answer, /i/thanks, /k/api/..., /k/sw.js are not secrets). Every
# string atom is redacted (the path, the request line, the Referer), whatever access_log_format holds.
import re as _re  # noqa: E402

from gunicorn.glogging import Logger as _Logger  # noqa: E402

_CODE_IN_PATH = _re.compile(r"(/i/)(?!(?:answer|thanks)\b)[^\s/?\"']+")
_KIOSK_TOKEN_IN_PATH = _re.compile(r"(/k/)(?!(?:api|sw\.js)(?:[/?\s\"']|$))[^\s/?\"'#]+")


def _redact(text: str) -> str:
    return _KIOSK_TOKEN_IN_PATH.sub(r"\1…", _CODE_IN_PATH.sub(r"\1…", text))


class RedactingLogger(_Logger):
    """Gunicorn's logger with every ``/i/<code>`` written as ``/i/…`` and ``/k/<token>`` as ``/k/…``."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: _redact(v) if isinstance(v, str) else v for k, v in atoms.items()}


logger_class = RedactingLogger
