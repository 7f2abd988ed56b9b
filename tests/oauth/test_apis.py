"""APIs and their scopes (RFC 8707 resource indicators): an operator registers an API (identifier,
name, scopes with the consent page's lines) with create_api or the admin, and allows a client
some of its scopes (create_client --scope). /authorize, /token and /device_authorization take
`resource` and the API's scopes; the access token's `aud` is the API (beside this service's own
when `openid` was granted), its `scope` what was granted; discovery lists the scopes.
"""

import json
from http import HTTPStatus
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.core.management import CommandError, call_command

from accounts.apis import scopes as api_scopes
from accounts.apis.models import Api, ApiScope
from accounts.machines.models import ClientToken
from accounts.models import Client, Session
from tests.oauth.conftest import IssuedCode, client_authentication, pkce_s256

ORDERS = "https://orders.example.com"
ISSUER = "http://127.0.0.1:8000"
CC = "client_credentials"


@pytest.fixture
def orders_api(db):
    return api_scopes.create_api(
        identifier=ORDERS,
        name="Orders",
        scopes=[("orders:read", "Read your orders"), ("orders:write", "Place and cancel orders")],
    )


@pytest.fixture
def shop(oauth_client_factory, orders_api):
    """A third-party app allowed to read orders (not to write them)."""
    return oauth_client_factory(name="Shop app", client_id="shop", api_scopes=("orders:read",))


@pytest.fixture
def warehouse(oauth_client_factory, orders_api):
    """A service allowed both scopes of the Orders API for its own tokens."""
    return oauth_client_factory(
        name="Warehouse",
        client_id="warehouse",
        confidential=True,
        redirect_uris=(),
        grant_types=(CC,),
        api_scopes=("orders:read", "orders:write"),
    )


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def authorization_params(registered, **extra) -> tuple[dict, object]:
    pkce = pkce_s256()
    params = {
        "response_type": "code",
        "client_id": registered.client_id,
        "redirect_uri": registered.redirect_uri,
        "state": "s",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return params, pkce


def redirected_error(response) -> dict:
    assert response.status_code == HTTPStatus.SEE_OTHER, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    return {"error": query["error"][0], "error_description": query["error_description"][0]}


@pytest.fixture
def signed_in(client, user, password):
    """A browser signed in as johndoe (on the sign-in page)."""
    client.post("/account/sign-in", {"username": user.username, "password": password})
    return client


def authorize_and_exchange(signed_in, api_client, registered, **extra) -> dict:
    params, pkce = authorization_params(registered, **extra)
    consent = signed_in.get("/authorize", params)
    assert consent.status_code == HTTPStatus.OK, consent.content
    answer = signed_in.post("/authorize", {**params, "allow": "allow"})
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    issued = IssuedCode(
        code=code, verifier=pkce.verifier, redirect_uri=registered.redirect_uri, registered=registered
    )
    data, headers = client_authentication(registered)
    response = api_client.post(
        "/token",
        {
            "grant_type": "authorization_code",
            "code": issued.code,
            "redirect_uri": issued.redirect_uri,
            "code_verifier": issued.verifier,
            **data,
        },
        **headers,
    )
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


# --- Registering APIs ---------------------------------------------------------------------------


def test_create_api_registers_an_api_and_prints_it_as_json(db):
    out = StringIO()

    call_command(
        "create_api",
        ORDERS,
        "--name",
        "Orders",
        "--scope",
        "orders:read: Read your orders",
        "--scope",
        "refunds:Issue refunds",
        stdout=out,
    )

    assert json.loads(out.getvalue()) == {
        "identifier": ORDERS,
        "name": "Orders",
        "scopes": [
            {"name": "orders:read", "description": "Read your orders"},
            {"name": "refunds", "description": "Issue refunds"},
        ],
    }
    assert Api.objects.get().scopes.count() == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["orders", "--name", "O"], "absolute URI without a fragment"),
        ([ORDERS + "#x", "--name", "O"], "absolute URI without a fragment"),
        ([ORDERS, "--name", "O", "--scope", "openid:Who you are"], "OpenID Connect scope"),
        ([ORDERS, "--name", "O", "--scope", "read"], "give each scope a description"),
        ([ORDERS, "--name", "O", "--scope", 'bad"name:x'], "printable ASCII"),
        ([ORDERS, "--name", "O", "--scope", "a:x", "--scope", "a:y"], "named twice"),
        ([ORDERS, "--name", " "], "needs a name"),
    ],
)
def test_create_api_refuses_what_cannot_work(db, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api", *arguments, stdout=StringIO())

    assert not Api.objects.exists()


def test_an_identifier_or_a_scope_name_is_registered_once(orders_api):
    with pytest.raises(CommandError, match="exists"):
        call_command("create_api", ORDERS, "--name", "Again", stdout=StringIO())
    with pytest.raises(CommandError, match="another API's"):
        call_command(
            "create_api", "urn:example:billing", "--name", "B", "--scope", "orders:read: x", stdout=StringIO()
        )

    assert Api.objects.count() == 1


def test_create_client_allows_a_client_some_scopes(orders_api):
    out = StringIO()

    call_command(
        "create_client",
        "Reports",
        "--redirect-uri",
        "https://r.example/cb",
        "--scope",
        "orders:read",
        stdout=out,
    )

    client = Client.objects.get(pk=json.loads(out.getvalue())["client_id"])
    assert list(client.api_scopes.values_list("name", flat=True)) == ["orders:read"]
    with pytest.raises(CommandError, match="no API's scope"):
        call_command(
            "create_client",
            "Other",
            "--redirect-uri",
            "https://r.example/cb",
            "--scope",
            "nope",
            stdout=StringIO(),
        )


def test_the_admin_registers_an_api_with_its_scopes(oauth_admin_client):
    response = oauth_admin_client.post(
        "/admin/accounts/api/add/",
        {
            "identifier": ORDERS,
            "name": "Orders",
            "scopes-TOTAL_FORMS": "1",
            "scopes-INITIAL_FORMS": "0",
            "scopes-0-name": "orders:read",
            "scopes-0-description": "Read your orders",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.content
    assert list(ApiScope.objects.values_list("api__identifier", "name")) == [(ORDERS, "orders:read")]
    refused = oauth_admin_client.post(
        "/admin/accounts/api/add/",
        {"identifier": "not a uri", "name": "X", "scopes-TOTAL_FORMS": "0", "scopes-INITIAL_FORMS": "0"},
    )
    assert b"absolute URI" in refused.content
    assert Api.objects.count() == 1


def test_the_admin_allows_a_client_an_apis_scopes(oauth_admin_client, orders_api):
    read = ApiScope.objects.get(name="orders:read")

    response = oauth_admin_client.post(
        "/admin/accounts/client/add/",
        {
            "name": "Reports",
            "confidential": "on",
            "is_active": "on",
            "grant_types_choice": [CC],
            "api_scopes": [read.pk],
            "redirect_uris_text": "",
            "allowed_origins_text": "",
            "post_logout_redirect_uris_text": "",
        },
    )

    assert response.status_code == HTTPStatus.FOUND, response.content
    assert list(Client.objects.get(name="Reports").api_scopes.all()) == [read]


# --- /authorize and the code grant ------------------------------------------------------------


def test_the_consent_page_names_the_apis_scopes(signed_in, shop):
    params, _ = authorization_params(shop, scope="openid orders:read", resource=ORDERS)

    page = signed_in.get("/authorize", params).content.decode()

    assert "Read your orders (Orders)" in page
    assert "Know who you are" in page


def test_a_code_for_an_api_gives_tokens_whose_audience_is_the_api(signed_in, api_client, shop, user):
    body = authorize_and_exchange(signed_in, api_client, shop, scope="orders:read", resource=ORDERS)

    claims = claims_of(body["access_token"])
    assert claims["aud"] == ORDERS
    assert claims["scope"] == body["scope"] == "orders:read"
    assert Session.objects.get().resource == ORDERS
    # Not this service's audience: its own endpoints refuse the token; introspection tells the API.
    me = api_client.get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert me.status_code == HTTPStatus.UNAUTHORIZED
    data, _ = client_authentication(shop)
    refreshed = api_client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], **data}
    )
    assert claims_of(refreshed.json()["access_token"])["aud"] == ORDERS


def test_with_openid_the_token_is_for_the_api_and_for_userinfo(signed_in, api_client, shop, user):
    body = authorize_and_exchange(
        signed_in, api_client, shop, scope="openid profile orders:read", resource=ORDERS
    )

    assert claims_of(body["access_token"])["aud"] == [ORDERS, ISSUER]
    userinfo = api_client.get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert userinfo.json()["preferred_username"] == user.username
    assert claims_of(body["id_token"])["aud"] == "shop"


def test_introspection_tells_an_api_its_tokens_audience_and_scope(
    signed_in, api_client, shop, oauth_client_factory
):
    api_server = oauth_client_factory(name="Orders API", client_id="orders-api", confidential=True)
    body = authorize_and_exchange(signed_in, api_client, shop, scope="orders:read", resource=ORDERS)

    answer = api_client.post(
        "/introspect",
        {"token": body["access_token"]},
        **client_authentication(api_server, "client_secret_basic")[1],
    ).json()

    assert (answer["active"], answer["aud"], answer["scope"]) == (True, ORDERS, "orders:read")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"scope": "orders:read"},
            ("invalid_scope", f"The scope 'orders:read' is an API's: send resource={ORDERS}."),
        ),
        ({"scope": "payroll"}, ("invalid_scope", "Unknown scope: payroll.")),
        (
            {"scope": "orders:write", "resource": ORDERS},
            ("invalid_scope", "This client may not have the scope 'orders:write'."),
        ),
        (
            {"scope": "orders:nope", "resource": ORDERS},
            ("invalid_scope", f"Unknown scope of {ORDERS}: orders:nope."),
        ),
        (
            {"scope": "openid", "resource": "https://elsewhere.example"},
            ("invalid_target", "Unknown resource: no API has this identifier."),
        ),
    ],
)
def test_an_authorization_request_beyond_the_clients_apis_goes_back_with_the_error(
    signed_in, shop, extra, expected
):
    params, _ = authorization_params(shop, **extra)

    response = signed_in.get("/authorize", params)

    assert redirected_error(response) == dict(zip(("error", "error_description"), expected, strict=True))


def test_two_resources_are_a_repeated_parameter(signed_in, shop):
    params, _ = authorization_params(shop, scope="orders:read")
    query = "&".join(f"{k}={v}" for k, v in params.items())

    response = signed_in.get(f"/authorize?{query}&resource={ORDERS}&resource=urn:example:other")

    assert redirected_error(response)["error"] == "invalid_request"


def test_another_resource_at_the_exchange_or_the_refresh_is_invalid_target(signed_in, api_client, shop):
    params, pkce = authorization_params(shop, scope="orders:read", resource=ORDERS)
    signed_in.get("/authorize", params)
    code = parse_qs(urlsplit(signed_in.post("/authorize", {**params, "allow": "allow"})["Location"]).query)[
        "code"
    ][0]
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": shop.redirect_uri,
        "code_verifier": pkce.verifier,
        "client_id": "shop",
    }

    wrong = api_client.post("/token", {**exchange, "resource": "urn:example:other"})
    assert wrong.json()["error"] == "invalid_target"
    body = api_client.post("/token", {**exchange, "resource": ORDERS}).json()
    assert claims_of(body["access_token"])["aud"] == ORDERS

    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": "shop"}
    assert (
        api_client.post("/token", {**refresh, "resource": "urn:example:other"}).json()["error"]
        == "invalid_target"
    )
    assert api_client.post("/token", {**refresh, "resource": ORDERS}).status_code == HTTPStatus.OK


# --- Client credentials -----------------------------------------------------------------------


def cc_token(api_client, registered, **extra):
    data, headers = client_authentication(registered)
    return api_client.post("/token", {"grant_type": CC, **data, **extra}, **headers)


def test_a_service_gets_a_token_for_an_api_with_every_scope_it_may_have(api_client, warehouse):
    response = cc_token(api_client, warehouse, resource=ORDERS)

    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert body["scope"] == "orders:read orders:write"
    claims = claims_of(body["access_token"])
    assert (claims["aud"], claims["scope"], claims["sub"]) == (
        ORDERS,
        "orders:read orders:write",
        "warehouse",
    )
    assert ClientToken.objects.get().scope == "orders:read orders:write"


def test_a_service_may_ask_for_fewer_scopes_but_not_others(api_client, warehouse, oauth_client_factory):
    narrow = cc_token(api_client, warehouse, resource=ORDERS, scope="orders:read").json()
    assert claims_of(narrow["access_token"])["scope"] == "orders:read"

    reporting = oauth_client_factory(
        name="Reporting",
        client_id="reporting",
        confidential=True,
        redirect_uris=(),
        grant_types=(CC,),
        api_scopes=("orders:read",),
    )
    refused = cc_token(api_client, reporting, resource=ORDERS, scope="orders:write")
    assert refused.json() == {
        "error": "invalid_scope",
        "error_description": "This client may not have the scope 'orders:write'.",
    }
    unknown = cc_token(api_client, reporting, resource="urn:example:nothing")
    assert unknown.json()["error"] == "invalid_target"
    assert ClientToken.objects.count() == 1


def test_introspection_and_revocation_work_on_a_services_api_token(
    api_client, warehouse, oauth_client_factory
):
    api_server = oauth_client_factory(name="Orders API", client_id="orders-api", confidential=True)
    token = cc_token(api_client, warehouse, resource=ORDERS).json()["access_token"]
    introspect = client_authentication(api_server, "client_secret_basic")[1]

    assert api_client.post("/introspect", {"token": token}, **introspect).json()["aud"] == ORDERS
    revoked = api_client.post(
        "/revoke", {"token": token}, **client_authentication(warehouse, "client_secret_basic")[1]
    )
    assert revoked.status_code == HTTPStatus.OK
    assert api_client.post("/introspect", {"token": token}, **introspect).json() == {"active": False}


# --- The device flow and discovery ------------------------------------------------------------


def test_a_device_asks_for_an_api_and_the_person_sees_its_scopes(
    api_client, oauth_client_factory, orders_api, signed_in
):
    oauth_client_factory(
        name="Till",
        client_id="till",
        redirect_uris=(),
        grant_types=("urn:ietf:params:oauth:grant-type:device_code",),
        api_scopes=("orders:read",),
    )
    codes = api_client.post(
        "/device_authorization", {"client_id": "till", "scope": "orders:read", "resource": ORDERS}
    ).json()
    page = signed_in.post("/device", {"user_code": codes["user_code"]}).content.decode()
    assert "Read your orders (Orders)" in page
    signed_in.post("/device", {"user_code": codes["user_code"], "allow": "allow"})
    token = api_client.post(
        "/token",
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": codes["device_code"],
            "client_id": "till",
        },
    ).json()

    assert claims_of(token["access_token"])["aud"] == ORDERS
    refused = api_client.post(
        "/device_authorization", {"client_id": "till", "scope": "orders:write", "resource": ORDERS}
    )
    assert refused.json()["error"] == "invalid_scope"


def test_discovery_lists_the_apis_scopes(api_client, orders_api):
    document = api_client.get("/.well-known/openid-configuration").json()

    assert document["scopes_supported"] == ["openid", "profile", "email", "orders:read", "orders:write"]


def test_without_apis_nothing_changes(api_client, db):
    document = api_client.get("/.well-known/oauth-authorization-server").json()

    assert document["scopes_supported"] == ["openid", "profile", "email"]


# --- Hostile input: a clear 4xx on both databases, never a 500 ----------------------------------


@pytest.mark.parametrize(
    ("extra", "at_token", "at_authorize"),
    [
        ({"resource": "https://orders.example.com\x00"}, "invalid_target", "invalid_request"),
        ({"resource": "https://" + "o" * 300}, "invalid_target", "invalid_target"),
        ({"scope": "orders:read\x00", "resource": ORDERS}, "invalid_scope", "invalid_scope"),
        ({"scope": "orders\x00read"}, "invalid_scope", "invalid_scope"),
        ({"scope": "openid\x00"}, "invalid_scope", "invalid_scope"),
    ],
)
def test_a_nul_or_an_overlong_resource_or_scope_is_refused_at_every_door(
    api_client, signed_in, warehouse, shop, extra, at_token, at_authorize
):
    """/authorize and /par refuse a NUL in any parameter but scope first (invalid_request); a
    scope with a NUL is invalid_scope everywhere (API.md: a scope other than the known ones);
    /token's client credentials refuse it as the resource or scope it cannot be."""
    params, _ = authorization_params(shop, **extra)
    assert redirected_error(signed_in.get("/authorize", params))["error"] == at_authorize
    assert cc_token(api_client, warehouse, **extra).json()["error"] == at_token
    par = api_client.post("/par", params)
    assert (par.status_code, par.json()["error"]) == (HTTPStatus.BAD_REQUEST, at_authorize)


def test_a_scope_longer_than_what_is_kept_is_invalid_scope(api_client, oauth_client_factory):
    names = [f"reports:{'x' * 24}{n}" for n in range(9)]
    api_scopes.create_api(
        identifier="urn:example:reports", name="Reports", scopes=[(n, "Read") for n in names]
    )
    machine = oauth_client_factory(
        name="Big",
        client_id="big",
        confidential=True,
        redirect_uris=(),
        grant_types=(CC,),
        api_scopes=tuple(names),
    )

    response = cc_token(api_client, machine, resource="urn:example:reports")

    assert response.json() == {
        "error": "invalid_scope",
        "error_description": "Ask for at most 200 characters of scope.",
    }
    assert not ClientToken.objects.exists()


def test_an_api_is_never_asked_for_without_one_of_its_scopes(
    api_client, signed_in, shop, oauth_client_factory
):
    """A token for an API carries what the client may do there: an audience alone would open an
    API that checks only aud, and the consent page would not name the API."""
    params, _ = authorization_params(shop, scope="openid", resource=ORDERS)
    assert redirected_error(signed_in.get("/authorize", params)) == {
        "error": "invalid_scope",
        "error_description": f"Ask for at least one scope of {ORDERS} that this client may have.",
    }
    stranger = oauth_client_factory(
        name="Stranger", client_id="stranger", confidential=True, redirect_uris=(), grant_types=(CC,)
    )
    refused = cc_token(api_client, stranger, resource=ORDERS)
    assert refused.json()["error"] == "invalid_scope"
    assert not ClientToken.objects.exists()


def test_a_session_of_an_api_that_was_deleted_refreshes_no_more(signed_in, api_client, shop):
    body = authorize_and_exchange(signed_in, api_client, shop, scope="orders:read", resource=ORDERS)
    Api.objects.filter(identifier=ORDERS).delete()

    response = api_client.post(
        "/token", {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": "shop"}
    )

    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The API of this refresh token's session is no longer registered.",
    }


def test_a_resource_that_is_not_a_string_is_invalid_request(api_client, warehouse):
    data, _ = client_authentication(warehouse)

    response = api_client.post(
        "/token", {"grant_type": CC, **data, "resource": [ORDERS, "urn:x"]}, format="json"
    )

    assert response.json() == {
        "error": "invalid_request",
        "error_description": "The parameter 'resource' must be a string.",
    }
    assert not ClientToken.objects.exists()
