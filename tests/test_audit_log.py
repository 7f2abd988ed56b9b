"""The audit trail: JSON events for every security decision, never a secret."""

import io
import json
import logging

import pytest
from django.contrib.auth.hashers import make_password

from accounts.audit import JsonFormatter
from accounts.models import User


@pytest.fixture
def audit_events():
    """The audit events logged during the test, as parsed JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("accounts.audit")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()], stream
    logger.removeHandler(handler)


def test_every_security_event_is_logged_with_user_ip_and_session(
    api_client, user, password, settings, audit_events
):
    settings.LOGIN_FAILURE_LIMIT = 1
    read, _ = audit_events
    api_client.post("/login", {"username": "johndoe", "password": "wrong"}, REMOTE_ADDR="10.9.9.9")
    api_client.post(
        "/login", {"username": "johndoe", "password": password}, REMOTE_ADDR="10.9.9.9"
    )  # throttled
    tokens = api_client.post("/login", {"username": "johndoe", "password": password}).json()
    second = api_client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    ).json()
    api_client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )  # reuse
    again = api_client.post("/login", {"username": "johndoe", "password": password}).json()
    api_client.post("/revoke", {"token": again["refresh_token"]})

    events = {event["event"]: event for event in read()}

    assert events["login failed"] | {"time": None} == {
        "time": None,
        "level": "info",
        "event": "login failed",
        "ip": "10.9.9.9",  # not the username as typed: it may be a password typed in the wrong field
    }
    assert events["login throttled"]["retry_after"] > 0
    assert events["login"]["user"] == user.pk
    assert events["login"]["ip"] == "127.0.0.1"
    assert events["login"]["sid"]
    assert events["refresh"]["sid"] == events["refresh token reuse detected"]["sid"]
    assert events["refresh token reuse detected"]["level"] == "warning"
    assert events["refresh refused"]["ip"] == "127.0.0.1"
    assert events["session revoked"]["reason"] == "logout"
    assert second  # the rotation happened


def test_no_token_password_or_hash_is_ever_logged(api_client, user, password, audit_events, caplog):
    _, stream = audit_events
    user.password = make_password(password)
    user.save(update_fields=["password"])
    tokens = api_client.post("/login", {"username": "johndoe", "password": password}).json()
    api_client.post("/login", {"username": "johndoe", "password": "wrong guess"})
    rotated = api_client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    ).json()
    api_client.post("/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    api_client.post("/revoke", {"token": rotated["access_token"]})
    api_client.get("/users/me/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")

    logged = stream.getvalue() + caplog.text
    secrets = [password, "wrong guess", User.objects.get().password]
    secrets += [tokens[kind] for kind in ("access_token", "refresh_token")]
    secrets += [rotated[kind] for kind in ("access_token", "refresh_token")]
    assert stream.getvalue()
    for secret in secrets:
        assert secret not in logged
        assert secret.split(".")[-1] not in logged  # not even a token's signature


def test_an_event_with_an_unexpected_field_is_refused():
    from accounts import audit

    with pytest.raises(ValueError, match="password"):
        audit.event("oops", password="x")
