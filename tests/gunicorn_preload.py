"""gunicorn settings of the test suite's servers (tests.conftest.live_service and the like).

The application (Django, the start-up checks, the key ring) is loaded once in the master and the
workers are forked from it: a server of 4 workers costs about 1 s of CPU to start instead of 4,
for the 30-odd servers a run starts. The production configuration (gunicorn.conf.py, each
worker loading the application itself) is started by tests/test_start_up.py and
tests/test_outages.py.
"""

preload_app = True


def when_ready(server):
    """Close the master's database connections (start-up used them) before any worker is forked:
    a worker must open its own, never share the master's socket."""
    from django.db import connections

    connections.close_all()
