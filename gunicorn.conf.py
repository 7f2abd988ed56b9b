"""gunicorn configuration for production: `gunicorn -c gunicorn.conf.py authproject.wsgi`.

Override any value on the command line (e.g. `--workers 4 --bind 0.0.0.0:8000`). The service is
CPU-bound (password hashing, token signing) and keeps no state in its processes, so one sync
worker per core is the starting point; add hosts, not threads, to scale.
"""

import multiprocessing
import os
import sys

bind = "127.0.0.1:8000"  # behind a TLS-terminating proxy
workers = multiprocessing.cpu_count()
worker_class = "sync"
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory fragmentation); jitter so they do not restart together.
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"
errorlog = "-"
# Headers and request lines far larger than any request of this service are refused early.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190


def on_starting(server) -> None:
    """Before any worker boots: the settings load and the start-up checks pass, or gunicorn
    stops with one line that says why (instead of a traceback from every worker)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authproject.settings")
    from accounts.operator import boot_problem

    problem = boot_problem()
    if problem is not None:
        print(f"gunicorn: {problem}", file=sys.stderr)
        sys.exit(1)
