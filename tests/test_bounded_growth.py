"""What one valid credential can make the service store, or a process hold, is bounded."""

import gc
import threading
import weakref
from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts import services
from accounts.callers import Caller
from accounts.models import RefreshTokenRecord, Session


def test_cleanup_deletes_spent_records_once_the_reuse_interval_has_passed(user, refresh, settings):
    settings.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS = 30
    issued = services.session_start(user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD)
    chain = [issued.refresh_token]
    for _ in range(5):
        chain.append(services.refresh_token_rotate(refresh_token=chain[-1], caller=Caller()).refresh_token)
    BlacklistedToken.objects.filter(
        token__jti__in=[services.RefreshToken(t)["jti"] for t in chain[:3]]
    ).update(blacklisted_at=timezone.now() - timedelta(seconds=31))
    out = StringIO()

    call_command("cleanup_tokens", stdout=out)

    assert RefreshTokenRecord.objects.count() == 3  # two spent within the interval, and the newest
    assert "3 spent record(s)" in out.getvalue()
    assert refresh(chain[1]).json()["error"] == "invalid_grant"  # an old spent token is still reuse ...
    assert Session.objects.get().end_reason == Session.EndReason.REUSE_DETECTED  # ... and revokes


def test_starting_more_sessions_than_the_limit_revokes_the_oldest(user, settings, login, me):
    settings.SESSIONS_PER_USER_MAX = 3
    first = login(user)
    later = [login(user) for _ in range(3)]

    assert me(first["access_token"]).status_code == HTTPStatus.UNAUTHORIZED
    assert all(me(tokens["access_token"]).status_code == HTTPStatus.OK for tokens in later)
    oldest = Session.objects.order_by("created_at").first()
    assert oldest.end_reason == Session.EndReason.SESSION_LIMIT
    assert Session.objects.active().filter(user=user).count() == 3


def test_the_sessions_list_is_bounded_by_the_limit(user, settings, api_client):
    settings.SESSIONS_PER_USER_MAX = 50
    newest = [
        services.session_start(user=user, caller=Caller(), grant_type=Session.Grant.PASSWORD)
        for _ in range(5)
    ][-1]
    settings.SESSIONS_PER_USER_MAX = 2  # lowered since: five are active, the list shows two

    response = api_client.get("/users/me/sessions/", HTTP_AUTHORIZATION=f"Bearer {newest.access_token}")

    assert response.status_code == HTTPStatus.OK
    assert Session.objects.active().filter(user=user).count() == 5
    assert len(response.json()) == 2
    assert response.json()[0]["current"] is True


def test_the_schema_is_generated_once_per_process(api_client, db):
    first = api_client.get("/schema/")
    with CaptureQueriesContext(connection):
        from drf_spectacular.generators import SchemaGenerator

        calls = []
        original = SchemaGenerator.get_schema

        def counting(self, *args, **kwargs):
            calls.append(1)
            return original(self, *args, **kwargs)

        SchemaGenerator.get_schema = counting
        try:
            second = api_client.get("/schema/")
        finally:
            SchemaGenerator.get_schema = original

    assert first.status_code == second.status_code == HTTPStatus.OK
    assert first.content == second.content
    assert calls == []


@pytest.mark.django_db(transaction=True)  # other threads' connections must see the session
def test_the_compiled_session_query_goes_with_its_connection(tokens, me):
    """The compiled session query lives on its connection: a thread's connection, once the thread
    has ended, is not kept alive by it (a global cache keyed by connection was)."""
    compiled, gone = [], []

    def request_in_a_new_thread():
        assert me(tokens["access_token"]).status_code == HTTPStatus.OK
        wrapper = connections["default"]
        compiled.append(hasattr(wrapper, "_accounts_for_token"))
        gone.append(weakref.ref(wrapper))
        wrapper.close()

    for _ in range(5):
        thread = threading.Thread(target=request_in_a_new_thread)
        thread.start()
        thread.join()
    gc.collect()

    assert compiled == [True] * 5
    assert [ref() for ref in gone] == [None] * 5
