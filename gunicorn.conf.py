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
