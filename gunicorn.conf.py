"""gunicorn settings for OzyOps: `gunicorn -c gunicorn.conf.py wsgi:app`.

Each worker is a process with many threads, of which at most four run a request at once
(ozyops/admission.py): the others are there for requests that are only waiting, mostly
sign-ins waiting for their password hash (argon2id, ~0.15 s of CPU, one at a time per
worker: ozyops/passwords.py), so that a burst of sign-ins keeps no one else waiting.
Every rule that must hold across processes lives in the database or Redis, so with Redis
any number of workers and hosts may serve the same install (without it, one worker).
"""

import gc
import multiprocessing
import os

bind = os.environ.get("OZYOPS_BIND", "127.0.0.1:8000")
# N.B. without Redis the per-address rate limits live in each worker's memory, so they
# hold as configured only in one process: one worker then (its threads serve a practice
# easily), and several once OZYOPS_REDIS_URL shares the limits between them.
_shared_limits = bool(os.environ.get("OZYOPS_REDIS_URL"))
workers = int(
    os.environ.get(
        "OZYOPS_WORKERS", min(4, multiprocessing.cpu_count() * 2) if _shared_limits else 1
    )
)
# N.B. a request holds one of its worker's threads from start to end, waiting included, and
# a browser's keep-alive connection keeps it on one worker. With 16, a burst of sign-ins
# could leave every thread of one worker waiting for hashes, and the pages and code steps
# of people already signed in on that worker queued behind them for seconds (bench/README.md,
# the seventh session). Waiting threads cost only memory; turns keep four running.
threads = int(os.environ.get("OZYOPS_THREADS", 64))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000  # recycle workers now and then, as a guard against slow leaks
max_requests_jitter = 500
accesslog = os.environ.get("OZYOPS_ACCESS_LOG", "-") or None  # empty: no access log
logger_class = "ozyops.accesslog.RedactingLogger"  # no password-link token in the log
errorlog = "-"
# N.B. client addresses come from Werkzeug's ProxyFix, configured by OZYOPS_TRUSTED_PROXIES;
# gunicorn's own forwarded-header handling stays off so only one place decides.
forwarded_allow_ips = ""
# N.B. gunicorn's runtime control socket (gunicornc) is not used: left on, every instance on
# a host would share one socket path, and a service user with no home logs an error at start.
control_socket_disable = True


def post_worker_init(_worker):
    """The worker has loaded the app: its modules, mappings and templates last as long as
    the worker does. Frozen (CPython's gc.freeze), they are no longer walked by every full
    collection, which under load comes in the middle of requests. N.B. what it saves is
    within the instruction counts' spread: the seventeenth session's 38 against 33 million
    per sign-in was mostly that spread (bench/README.md, the eighteenth session)."""
    gc.freeze()
