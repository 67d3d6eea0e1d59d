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

# Invitation codes (/i/<code>) never reach the access log (survey/invitations.py).
import re as _re  # noqa: E402

from gunicorn.glogging import Logger as _Logger  # noqa: E402

_CODE_IN_PATH = _re.compile(r"(/i/)(?!(?:answer|thanks)\b)[^\s/?\"']+")


class RedactingLogger(_Logger):
    """Gunicorn's logger with every ``/i/<code>`` written as ``/i/…``."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: _CODE_IN_PATH.sub(r"\1…", v) if isinstance(v, str) else v for k, v in atoms.items()}


logger_class = RedactingLogger
