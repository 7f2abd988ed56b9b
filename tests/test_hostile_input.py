"""Malformed requests get a 4xx with the contract's body, never a 500, and change nothing."""

import json
from http import HTTPStatus

import pytest

from accounts.models import Session


@pytest.mark.parametrize("path", ["/login", "/token", "/revoke"])
def test_deeply_nested_json_is_invalid_request(api_client, db, path):
    body = "[" * 30_000 + "]" * 30_000  # within the size limit, far past the recursion limit

    response = api_client.post(path, body, content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/login", "/token", "/revoke"])
def test_a_huge_body_is_refused_with_an_oauth_error(api_client, db, path):
    response = api_client.post(path, "a=" + "x" * 200_000, content_type="application/x-www-form-urlencoded")

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json()["error"] == "invalid_request"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/login", "/token", "/revoke", "/admin/login/"])
def test_a_huge_multipart_body_is_refused_before_any_part_is_read(api_client, db, path, monkeypatch):
    """Django caps form and JSON bodies, but spools multipart file parts to disk at any size."""
    from django.core.files import uploadhandler

    spooled = []
    for handler in (uploadhandler.TemporaryFileUploadHandler, uploadhandler.MemoryFileUploadHandler):
        monkeypatch.setattr(handler, "new_file", lambda self, *args, **kwargs: spooled.append(args))
    boundary = "x" * 20
    part = "x" * 3_000_000  # 3 MB: far past the 64 KiB every request of this service fits in
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n{part}\r\n--{boundary}--\r\n"
    )

    response = api_client.generic(
        "POST", path, body, content_type=f"multipart/form-data; boundary={boundary}"
    )

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert spooled == []
    if not path.startswith("/admin/"):
        assert response.json()["error"] == "invalid_request"
        assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/login", "/token", "/revoke"])
def test_too_many_form_fields_are_refused_with_an_oauth_error(api_client, db, path):
    body = "&".join(f"f{i}=1" for i in range(1001))

    response = api_client.post(path, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "john\x00doe", "password": "x"},
        {"username": "johndoe", "password": "sec\x00ret"},
    ],
)
def test_a_nul_character_in_the_credentials_is_an_unknown_user_or_a_wrong_password(api_client, user, payload):
    as_json = api_client.post("/login", json.dumps(payload), content_type="application/json")
    as_form = api_client.post("/login", payload)

    for response in (as_json, as_form):
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == {"detail": "Incorrect username or password"}


def test_a_nul_character_in_a_refresh_token_is_invalid_grant(api_client, tokens):
    response = api_client.post("/token", {"grant_type": "refresh_token", "refresh_token": "a\x00b"})

    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_a_nul_character_in_a_client_id_is_an_unknown_client(api_client, db, path):
    body = {"grant_type": "refresh_token", "refresh_token": "x", "token": "x"}

    as_form = api_client.post(path, {**body, "client_id": "a\x00b", "client_secret": "s"})
    as_basic = api_client.post(path, body, HTTP_AUTHORIZATION="Basic YQBiOnM=")  # a<NUL>b:s

    for response in (as_form, as_basic):
        assert response.json() == {"error": "invalid_client", "error_description": "Unknown client."}


def test_a_nul_character_in_a_client_id_at_authorize_and_logout_is_an_unknown_client(client, db):
    authorize = client.get("/authorize", {"client_id": "a\x00b", "response_type": "code"})
    logout = client.get("/logout", {"client_id": "a\x00b"})

    assert authorize.status_code == HTTPStatus.BAD_REQUEST
    assert logout.status_code < 500


def test_a_nul_character_in_the_user_agent_is_dropped(api_client, user, password):
    response = api_client.post(
        "/login", {"username": user.username, "password": password}, HTTP_USER_AGENT="evil\x00agent"
    )

    assert response.status_code == HTTPStatus.OK
    assert Session.objects.get().user_agent == "evilagent"


@pytest.mark.parametrize(
    ("path", "payload", "error"),
    [
        # A non-string value is judged where the contract's order reaches that parameter.
        ("/login", {"grant_type": "client_credentials", "username": 1}, "unsupported_grant_type"),
        ("/login", {"grant_type": 5, "username": "a", "password": "b"}, "unsupported_grant_type"),
        ("/login", {"username": 1, "password": "x"}, "invalid_request"),
        ("/token", {"grant_type": ["refresh_token"], "refresh_token": "x"}, "unsupported_grant_type"),
        ("/token", {"grant_type": "refresh_token", "refresh_token": {"a": 1}}, "invalid_request"),
        ("/revoke", {"token": 12}, "invalid_request"),
    ],
)
def test_non_string_json_values_follow_the_contract_order(api_client, db, path, payload, error):
    response = api_client.post(path, payload, format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == error


def test_scope_of_any_json_type_is_accepted_and_ignored(api_client, user, password):
    response = api_client.post(
        "/login", {"username": user.username, "password": password, "scope": ["a", "b"]}, format="json"
    )

    assert response.status_code == HTTPStatus.OK


def test_a_non_string_token_type_hint_is_ignored(api_client, tokens):
    response = api_client.post(
        "/revoke", {"token": tokens["refresh_token"], "token_type_hint": 3}, format="json"
    )

    assert response.status_code == HTTPStatus.OK
    assert Session.objects.get().revoked_at is not None


@pytest.mark.parametrize("field", ["username", "password"])
def test_a_lone_surrogate_in_json_is_invalid_request(api_client, user, field):
    body = '{"username": "johndoe", "password": "x"}'.replace(f'"{field}": "', f'"{field}": "\\ud800')

    response = api_client.post("/login", body, content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; charset=punycode",
        "application/x-www-form-urlencoded; charset=idna",
        "multipart/form-data; boundary=b; charset=idna",
        "application/x-www-form-urlencoded; charset=no-such-charset",
    ],
)
def test_an_odd_charset_is_a_4xx_never_a_500(api_client, db, content_type):
    body = b'--b\r\nContent-Disposition: form-data; name="username"\r\n\r\na\xc3\xa9\r\n--b--\r\n'
    if content_type.startswith("application"):
        body = b"username=a%C3%A9\xc3\xa9&password=b"

    response = api_client.generic("POST", "/login", body, content_type=content_type)

    assert 400 <= response.status_code < 500
    if response.status_code != HTTPStatus.UNAUTHORIZED:  # decoded after all: an unknown user
        assert response.json()["error"] == "invalid_request"


def test_a_form_that_is_not_utf8_is_read_without_error(api_client, user):
    response = api_client.post(
        "/login", b"username=john\xffdoe&password=x", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED  # an unknown user, not a crash


def test_a_format_query_parameter_changes_nothing(api_client, user, password):
    response = api_client.post("/login?format=xml", {"username": user.username, "password": password})

    assert response.status_code == HTTPStatus.OK
