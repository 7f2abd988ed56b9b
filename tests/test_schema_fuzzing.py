"""Schemathesis: requests generated from /schema/ (valid and invalid), in process, never a 500.

Bounded: MAX_EXAMPLES per operation. Protected operations get a valid bearer token, so their
own logic is exercised too, not only the authentication that would refuse them. Run on
PostgreSQL, production's database, whose refusals (a NUL in a text value, a value too long for
its column) are the ones a generated request can reach; SQLite accepts both.
"""

from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

MAX_EXAMPLES = 30  # per operation; eleven operations
pytestmark = pytest.mark.postgres


# Loaded at collection: serving /schema/ touches no database.
schema = schemathesis.openapi.from_wsgi("/schema/?format=json", get_wsgi_application())


@contextmanager
def connection_kept_open():
    """Django closes the database connection when a request ends; Django's test client prevents
    that, a plain WSGI call does not, and the test's transaction needs the connection."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case, login, user):
    token = login(user)["access_token"]
    with connection_kept_open():
        response = case.call(headers={"Authorization": f"Bearer {token}"})

    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    case.validate_response(response, checks=[not_a_server_error])
