"""gunicorn settings for OzyOps: `gunicorn -c gunicorn.conf.py wsgi:app`.

Each worker is a process with a few threads. Password hashing (argon2id, 64 MiB) is the
heavy part of a sign-in and releases the GIL, so threads keep a worker responsive while
one hashes. Every rule that must hold across processes lives in the database or Redis,
so any number of workers and hosts may serve the same install.
"""

import multiprocessing
import os

bind = os.environ.get("OZYOPS_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("OZYOPS_WORKERS", min(4, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("OZYOPS_THREADS", 4))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000  # recycle workers now and then, as a guard against slow leaks
max_requests_jitter = 500
accesslog = os.environ.get("OZYOPS_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
# N.B. client addresses come from Werkzeug's ProxyFix, configured by OZYOPS_TRUSTED_PROXIES;
# gunicorn's own forwarded-header handling stays off so only one place decides.
forwarded_allow_ips = ""
