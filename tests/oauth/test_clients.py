"""Registering clients: `manage.py create_client` and the Django admin.

Redirect URIs are absolute, without fragment or userinfo: https, http only on 127.0.0.1 and
[::1], or a private-use scheme that is a reverse domain name (RFC 8252 §7.1); an allowed origin
is scheme://host[:port] exactly. A bad argument registers nothing. A confidential client's secret
is printed once and stored hashed.
"""

import json
import re
import subprocess
import sys
from http import HTTPStatus
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.errors import InvalidClient
from accounts.models import Session
from accounts.oauth.clients import ClientCredentials, client_authenticate
from accounts.oauth.models import Client
from tests.conftest import other_process_environment
from tests.oauth.conftest import basic_authorization

PROJECT = Path(__file__).resolve().parent.parent.parent
GOOD_REDIRECT_URI = "https://app.example.com/callback"


def create_client(*args: str) -> dict:
    """Run create_client in this process; return the JSON object it printed (its only output)."""
    out = StringIO()
    call_command("create_client", *args, stdout=out)
    return json.loads(out.getvalue())


def create_client_process(*args: str) -> subprocess.CompletedProcess:
    """Run `python manage.py create_client ...` as an operator would, on the test database."""
    return subprocess.run(
        [sys.executable, "manage.py", "create_client", *args],
        cwd=PROJECT,
        env=other_process_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- create_client: what it prints and what it stores ----------------------------------------


def test_create_client_prints_one_json_object_and_stores_the_confidential_clients_secret_hashed(
    transactional_db,
):
    result = create_client_process(
        "Billing server",
        "--redirect-uri",
        GOOD_REDIRECT_URI,
        "--redirect-uri",
        "http://127.0.0.1:8080/cb",
        "--confidential",
        "--first-party",
        "--allowed-origin",
        "https://app.example.com",
        "--allowed-origin",
        "http://127.0.0.1:3000",
        "--post-logout-redirect-uri",
        "https://app.example.com/bye",
    )

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert isinstance(printed, dict)
    assert isinstance(printed["client_id"], str)
    assert isinstance(printed["client_secret"], str)
    assert len(printed["client_secret"]) >= 32
    client = Client.objects.get()
    assert client.client_id == printed["client_id"]
    assert (client.name, client.confidential, client.first_party, client.is_active) == (
        "Billing server",
        True,
        True,
        True,
    )
    assert client.redirect_uris == [GOOD_REDIRECT_URI, "http://127.0.0.1:8080/cb"]
    assert client.allowed_origins == ["https://app.example.com", "http://127.0.0.1:3000"]
    assert client.post_logout_redirect_uris == ["https://app.example.com/bye"]
    # Stored hashed: the secret is in no column, but it authenticates the client.
    assert client.secret_hash
    assert client.secret_hash != printed["client_secret"]
    assert all(printed["client_secret"] not in str(value) for value in Client.objects.values().get().values())
    assert client_authenticate(ClientCredentials(printed["client_id"], printed["client_secret"])) == client


def test_create_client_registers_a_public_client_with_a_null_secret(db):
    printed = create_client("Single-page app", "--redirect-uri", GOOD_REDIRECT_URI)

    assert printed["client_secret"] is None
    client = Client.objects.get(pk=printed["client_id"])
    assert (client.confidential, client.first_party, client.secret_hash) == (False, False, "")
    assert client_authenticate(ClientCredentials(client_id=client.client_id)) == client


def test_create_client_gives_each_client_its_own_id_and_secret(db):
    first = create_client("One", "--redirect-uri", GOOD_REDIRECT_URI, "--confidential")
    second = create_client("Two", "--redirect-uri", GOOD_REDIRECT_URI, "--confidential")

    assert first["client_id"] != second["client_id"]
    assert first["client_secret"] != second["client_secret"]
    with pytest.raises(InvalidClient, match="could not be authenticated"):
        client_authenticate(ClientCredentials(first["client_id"], second["client_secret"]))


def test_a_bad_argument_makes_the_process_exit_non_zero_with_a_message_on_stderr(transactional_db):
    result = create_client_process("Bad", "--redirect-uri", "http://localhost/callback")

    assert result.returncode != 0
    assert "localhost" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not Client.objects.exists()


BAD_ARGUMENTS = [
    pytest.param(["--redirect-uri", "not a uri"], id="not a URI"),
    pytest.param(["--redirect-uri", "/callback"], id="a relative URI"),
    pytest.param(["--redirect-uri", "https:///callback"], id="https without a host"),
    pytest.param(["--redirect-uri", "https://app.example.com:99999/cb"], id="a port beyond 65535"),
    pytest.param(["--redirect-uri", "https://app.example.com:http/cb"], id="a port that is not a number"),
    pytest.param(
        ["--redirect-uri", "https://[::1/cb"],
        id="an unclosed IPv6 literal",
    ),
    pytest.param(
        ["--redirect-uri", "https://exa mple.com/cb"],
        id="a space in the host",
    ),
    pytest.param(
        ["--redirect-uri", "https://app.example.com/cb\n"],
        id="a line break at the end",
    ),
    pytest.param(["--redirect-uri", "https://app.example.com/cb#section"], id="a fragment"),
    pytest.param(["--redirect-uri", "https://app.example.com/cb#"], id="an empty fragment"),
    pytest.param(["--redirect-uri", "https://user@app.example.com/cb"], id="userinfo"),
    pytest.param(["--redirect-uri", "https://user:pass@app.example.com/cb"], id="userinfo with a password"),
    pytest.param(["--redirect-uri", "http://app.example.com/cb"], id="http on a host that is not loopback"),
    pytest.param(["--redirect-uri", "http://localhost/cb"], id="http://localhost"),
    pytest.param(["--redirect-uri", "http://localhost:8080/cb"], id="http://localhost with a port"),
    pytest.param(["--redirect-uri", "http://127.0.0.2/cb"], id="127.0.0.2"),
    pytest.param(["--redirect-uri", "http://127.1/cb"], id="127.1"),
    pytest.param(["--redirect-uri", "http://[::2]/cb"], id="[::2]"),
    pytest.param(["--redirect-uri", "javascript:alert(1)"], id="javascript:"),
    pytest.param(["--redirect-uri", "data:text/html,<script>alert(1)</script>"], id="data:"),
    pytest.param(["--redirect-uri", "file:///etc/passwd"], id="file:"),
    pytest.param(["--redirect-uri", "myapp:/callback"], id="a private-use scheme without a dot"),
    pytest.param(
        ["--redirect-uri", "com.example.app://host/callback"], id="a private-use scheme with a host"
    ),
    pytest.param(
        ["--redirect-uri", GOOD_REDIRECT_URI, "--redirect-uri", "http://localhost/cb"],
        id="a good redirect URI and a bad one",
    ),
    pytest.param(
        ["--redirect-uri", GOOD_REDIRECT_URI, "--post-logout-redirect-uri", "https://app.example.com/bye#x"],
        id="a post-logout redirect URI with a fragment",
    ),
    pytest.param(
        ["--redirect-uri", GOOD_REDIRECT_URI, "--allowed-origin", "https://app.example.com/app"],
        id="an origin with a path",
    ),
    pytest.param(
        ["--redirect-uri", GOOD_REDIRECT_URI, "--allowed-origin", "https://app.example.com/"],
        id="an origin with a trailing slash",
    ),
    pytest.param(
        ["--redirect-uri", GOOD_REDIRECT_URI, "--allowed-origin", "app.example.com"],
        id="an origin without a scheme",
    ),
    pytest.param(
        ["--redirect-uri", GOOD_REDIRECT_URI, "--allowed-origin", "https://app.example.com?x=1"],
        id="an origin with a query",
    ),
    pytest.param(
        ["--redirect-uri", GOOD_REDIRECT_URI, "--allowed-origin", "https://user@app.example.com"],
        id="an origin with userinfo",
    ),
    pytest.param(
        [
            "--redirect-uri",
            GOOD_REDIRECT_URI,
            "--allowed-origin",
            "https://app.example.com",
            "--allowed-origin",
            "*",
        ],
        id="a good origin and a wildcard",
    ),
]


@pytest.mark.parametrize("arguments", BAD_ARGUMENTS)
@pytest.mark.parametrize("confidential", [False, True], ids=["public", "confidential"])
def test_a_bad_argument_is_refused_with_a_message_and_registers_nothing(db, arguments, confidential):
    Client.objects.create(client_id="existing", name="Existing", redirect_uris=[GOOD_REDIRECT_URI])
    out = StringIO()

    with pytest.raises(CommandError) as refused:
        call_command(
            "create_client", "Bad", *arguments, *(["--confidential"] if confidential else []), stdout=out
        )

    assert str(refused.value).strip()
    assert out.getvalue() == ""
    assert list(Client.objects.values_list("client_id", flat=True)) == ["existing"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        pytest.param("--redirect-uri", "https://app.example.com/callback", id="https"),
        pytest.param("--redirect-uri", "https://app.example.com/callback?tenant=1", id="https with a query"),
        pytest.param("--redirect-uri", "http://127.0.0.1:8080/cb", id="http on 127.0.0.1 with a port"),
        pytest.param("--redirect-uri", "http://127.0.0.1/cb", id="http on 127.0.0.1"),
        pytest.param("--redirect-uri", "http://[::1]/cb", id="http on [::1]"),
        pytest.param("--redirect-uri", "http://[::1]:5000/cb", id="http on [::1] with a port"),
        pytest.param("--redirect-uri", "com.example.app:/callback", id="a reverse-domain private-use scheme"),
        pytest.param("--allowed-origin", "https://app.example.com", id="an https origin"),
        pytest.param("--allowed-origin", "https://app.example.com:8443", id="an origin with a port"),
        pytest.param("--allowed-origin", "http://127.0.0.1:3000", id="a loopback origin"),
    ],
)
def test_an_allowed_argument_registers_the_client_with_it(db, option, value):
    redirect = [] if option == "--redirect-uri" else ["--redirect-uri", GOOD_REDIRECT_URI]

    printed = create_client("Good", *redirect, option, value)

    client = Client.objects.get(pk=printed["client_id"])
    registered = client.redirect_uris if option == "--redirect-uri" else client.allowed_origins
    assert registered == [value]


def test_a_client_needs_a_redirect_uri(db):
    with pytest.raises(CommandError):
        call_command("create_client", "No redirect", stdout=StringIO(), stderr=StringIO())

    assert not Client.objects.exists()


# --- the admin -------------------------------------------------------------------------------


@pytest.fixture
def two_clients(oauth_client_factory):
    return (
        oauth_client_factory(name="Billing portal", client_id="billing-portal"),
        oauth_client_factory(name="Mobile app", client_id="mobile-app"),
    )


def test_the_admin_lists_clients(oauth_admin_client, two_clients):
    response = oauth_admin_client.get("/admin/accounts/client/")

    assert response.status_code == HTTPStatus.OK
    assert "Billing portal" in response.text
    assert "mobile-app" in response.text


@pytest.mark.parametrize("query", ["billing", "billing-portal"], ids=["by name", "by client_id"])
def test_the_admin_searches_clients(oauth_admin_client, two_clients, query):
    response = oauth_admin_client.get("/admin/accounts/client/", {"q": query})

    assert response.status_code == HTTPStatus.OK
    assert "billing-portal" in response.text
    assert "mobile-app" not in response.text


def admin_add_form(**fields) -> dict:
    return {
        "name": "Admin-made server",
        "is_active": "on",
        "redirect_uris_text": "https://server.example.com/cb\nhttp://127.0.0.1:9000/cb",
        "allowed_origins_text": "https://server.example.com",
        "post_logout_redirect_uris_text": "",
        **fields,
    }


def test_adding_a_confidential_client_in_the_admin_shows_its_secret_once(oauth_admin_client):
    response = oauth_admin_client.post(
        "/admin/accounts/client/add/", admin_add_form(confidential="on"), follow=True
    )

    assert response.status_code == HTTPStatus.OK
    client = Client.objects.get()
    messages = [str(message) for message in response.context["messages"]]
    (shown,) = [message for message in messages if "secret" in message.lower()]
    secret = re.search(r"shown only this once: (\S+)", shown).group(1)
    assert client_authenticate(ClientCredentials(client.client_id, secret)) == client
    assert client.secret_hash != secret
    assert client.redirect_uris == ["https://server.example.com/cb", "http://127.0.0.1:9000/cb"]
    assert client.allowed_origins == ["https://server.example.com"]
    # Once: neither the list nor the client's own page shows it again.
    assert secret not in oauth_admin_client.get("/admin/accounts/client/").text
    assert secret not in oauth_admin_client.get(f"/admin/accounts/client/{client.pk}/change/").text


def test_adding_a_public_client_in_the_admin_shows_no_secret(oauth_admin_client):
    response = oauth_admin_client.post("/admin/accounts/client/add/", admin_add_form(), follow=True)

    assert response.status_code == HTTPStatus.OK
    client = Client.objects.get()
    assert (client.confidential, client.secret_hash) == (False, "")
    assert not [m for m in response.context["messages"] if "secret" in str(m).lower()]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"redirect_uris_text": "http://localhost/cb"}, id="a forbidden redirect URI"),
        pytest.param({"redirect_uris_text": "https://server.example.com/cb#x"}, id="a fragment"),
        pytest.param({"allowed_origins_text": "https://server.example.com/"}, id="an origin with a slash"),
        pytest.param(
            {"redirect_uris_text": "https://[::1/cb"},
            id="an unclosed IPv6 literal",
        ),
    ],
)
def test_the_admin_add_form_refuses_what_create_client_refuses(oauth_admin_client, fields):
    response = oauth_admin_client.post("/admin/accounts/client/add/", admin_add_form(**fields))

    assert response.status_code == HTTPStatus.OK  # the form again, with its error
    assert "errornote" in response.text
    assert not Client.objects.exists()


def test_the_disable_action_disables_the_selected_clients_and_they_can_no_longer_authenticate(
    oauth_admin_client, two_clients
):
    billing, mobile = two_clients

    response = oauth_admin_client.post(
        "/admin/accounts/client/", {"action": "disable", "_selected_action": [billing.client_id]}
    )

    assert response.status_code == HTTPStatus.FOUND
    assert dict(Client.objects.values_list("client_id", "is_active")) == {
        "billing-portal": False,
        "mobile-app": True,
    }
    with pytest.raises(InvalidClient, match="Unknown client"):
        client_authenticate(ClientCredentials(client_id="billing-portal"))
    assert client_authenticate(ClientCredentials(client_id="mobile-app")) == mobile.client


# --- disabling: one path, and a disabled client's tokens open nothing -------------------------


def admin_change_form(client: Client, **fields) -> dict:
    """The fields of `client`'s page in the admin as it shows them, with `fields` changed."""
    form = {
        "name": client.name,
        "first_party": "on" if client.first_party else "",
        "is_active": "on" if client.is_active else "",
        "redirect_uris_text": "\n".join(client.redirect_uris),
        "allowed_origins_text": "\n".join(client.allowed_origins),
        "post_logout_redirect_uris_text": "\n".join(client.post_logout_redirect_uris),
        **fields,
    }
    return {name: value for name, value in form.items() if value != ""}


@pytest.fixture
def tokens_of_a_first_party_client(first_party_oauth_client, client_session_tokens):
    """A first-party client's session (its tokens open /users/me/ and /userinfo) and the client."""
    return client_session_tokens(first_party_oauth_client), first_party_oauth_client.client


@pytest.fixture
def token_checks(api_client, oauth_client_factory):
    """token_checks(tokens) -> the status of /users/me/ and /userinfo with the access token, whether
    introspection calls each token active, and the error of a refresh."""
    resource_server = oauth_client_factory(name="API", client_id="resource-api", confidential=True)

    def check(tokens: dict) -> dict:
        bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
        basic = {"HTTP_AUTHORIZATION": basic_authorization("resource-api", resource_server.secret)}
        refreshed = api_client.post(
            "/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        return {
            "users/me": api_client.get("/users/me/", **bearer).status_code,
            "userinfo": api_client.get("/userinfo", **bearer).status_code,
            "access active": api_client.post(
                "/introspect", {"token": tokens["access_token"]}, **basic
            ).json()["active"],
            "refresh active": api_client.post(
                "/introspect", {"token": tokens["refresh_token"]}, **basic
            ).json()["active"],
            "refresh": refreshed.json().get("error", refreshed.status_code),
        }

    return check


def test_unticking_active_on_a_clients_page_disables_it_through_the_service(
    oauth_admin_client, tokens_of_a_first_party_client, token_checks, caplog
):
    tokens, client = tokens_of_a_first_party_client
    session = Session.objects.get(client=client)

    response = oauth_admin_client.post(
        f"/admin/accounts/client/{client.pk}/change/", admin_change_form(client, is_active="")
    )

    assert response.status_code == HTTPStatus.FOUND, response.content
    client.refresh_from_db()
    session.refresh_from_db()
    assert client.is_active is False
    assert session.end_reason == Session.EndReason.ADMIN
    assert [r.audit["client"] for r in caplog.records if r.getMessage() == "client disabled"] == [client.pk]
    assert token_checks(tokens) == {
        "users/me": HTTPStatus.UNAUTHORIZED,
        "userinfo": HTTPStatus.UNAUTHORIZED,
        "access active": False,
        "refresh active": False,
        "refresh": "invalid_grant",
    }


def test_saving_a_clients_page_without_unticking_active_keeps_its_sessions(
    oauth_admin_client, tokens_of_a_first_party_client, token_checks
):
    tokens, client = tokens_of_a_first_party_client

    response = oauth_admin_client.post(
        f"/admin/accounts/client/{client.pk}/change/", admin_change_form(client, name="Renamed app")
    )

    assert response.status_code == HTTPStatus.FOUND, response.content
    assert Client.objects.get(pk=client.pk).name == "Renamed app"
    assert Session.objects.get(client=client).revoked_at is None
    assert token_checks(tokens)["users/me"] == HTTPStatus.OK


def test_a_client_disabled_by_another_path_has_its_tokens_refused_everywhere(
    tokens_of_a_first_party_client, token_checks
):
    tokens, client = tokens_of_a_first_party_client

    # Not through the service: the session stays unrevoked; the token checks still refuse it.
    Client.objects.filter(pk=client.pk).update(is_active=False)

    assert Session.objects.get(client=client).revoked_at is None
    assert token_checks(tokens) == {
        "users/me": HTTPStatus.UNAUTHORIZED,
        "userinfo": HTTPStatus.UNAUTHORIZED,
        "access active": False,
        "refresh active": False,
        "refresh": "invalid_grant",
    }


def test_deleting_a_client_in_the_admin_revokes_its_sessions_with_their_audit_events(
    oauth_admin_client, tokens_of_a_first_party_client, token_checks, caplog
):
    tokens, client = tokens_of_a_first_party_client

    response = oauth_admin_client.post(f"/admin/accounts/client/{client.pk}/delete/", {"post": "yes"})

    assert response.status_code == HTTPStatus.FOUND
    assert not Client.objects.filter(pk=client.pk).exists()
    assert not Session.objects.filter(client_id=client.pk).exists()
    events = [record.getMessage() for record in caplog.records if record.name == "accounts.audit"]
    assert {"client disabled", "session revoked"} <= set(events)
    assert token_checks(tokens)["users/me"] == HTTPStatus.UNAUTHORIZED


def test_disabling_a_client_already_off_revokes_its_sessions_so_enabling_it_brings_none_back(
    oauth_admin_client, tokens_of_a_first_party_client, token_checks
):
    tokens, client = tokens_of_a_first_party_client
    Client.objects.filter(pk=client.pk).update(is_active=False)  # off by another path

    oauth_admin_client.post("/admin/accounts/client/", {"action": "disable", "_selected_action": [client.pk]})
    Client.objects.filter(pk=client.pk).update(is_active=True)

    assert Session.objects.get(client=client).end_reason == Session.EndReason.ADMIN
    assert token_checks(tokens)["users/me"] == HTTPStatus.UNAUTHORIZED


def test_a_localhost_redirect_uri_is_refused_with_the_loopback_address_to_use_instead(oauth_admin_client):
    response = oauth_admin_client.post(
        "/admin/accounts/client/add/", admin_add_form(redirect_uris_text="http://localhost:8080/cb")
    )

    assert "use &#x27;http://127.0.0.1:8080/cb&#x27;" in response.text
    assert "One redirect URI per line" in response.text


def test_create_client_help_explains_each_flag():
    result = subprocess.run(
        [sys.executable, "manage.py", "create_client", "--help"],
        cwd=PROJECT,
        env=other_process_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    text = " ".join(result.stdout.split())
    for flag in (
        "--redirect-uri URI",
        "--confidential",
        "--first-party",
        "--allowed-origin ORIGIN",
        "--post-logout-redirect-uri URI",
        "--client-id",
    ):
        assert flag in text
    assert "private-use scheme" in text
    assert "printed once" in text


def test_regenerating_a_secret_in_the_admin_shows_the_new_one_once_and_refuses_the_old_at_once(
    oauth_admin_client, confidential_oauth_client, caplog
):
    client = confidential_oauth_client.client

    response = oauth_admin_client.post(
        "/admin/accounts/client/",
        {"action": "regenerate_secret", "_selected_action": [client.pk]},
        follow=True,
    )

    (shown,) = [str(m) for m in response.context["messages"] if "shown only this once" in str(m)]
    secret = re.search(r"shown only this once: (\S+)", shown).group(1)
    assert client_authenticate(ClientCredentials(client.client_id, secret)).pk == client.pk
    with pytest.raises(InvalidClient):
        client_authenticate(ClientCredentials(client.client_id, confidential_oauth_client.secret))
    assert secret not in oauth_admin_client.get(f"/admin/accounts/client/{client.pk}/change/").text
    assert [r.audit["client"] for r in caplog.records if r.getMessage() == "client secret regenerated"] == [
        client.pk
    ]


def test_regenerating_refuses_a_public_client_and_changes_nothing(oauth_admin_client, public_oauth_client):
    response = oauth_admin_client.post(
        "/admin/accounts/client/",
        {"action": "regenerate_secret", "_selected_action": [public_oauth_client.client_id]},
        follow=True,
    )

    assert "Select exactly one confidential client." in [str(m) for m in response.context["messages"]]
    assert Client.objects.get(pk=public_oauth_client.client_id).secret_hash == ""


def test_a_client_named_like_another_is_saved_with_a_warning(oauth_admin_client, two_clients):
    response = oauth_admin_client.post(
        "/admin/accounts/client/add/", admin_add_form(name="billing PORTAL"), follow=True
    )

    assert Client.objects.filter(name="billing PORTAL").exists()
    assert any("Another client is also named" in str(m) for m in response.context["messages"])
