"""Device authorization (RFC 8628): a device asks POST /device_authorization for a device code and
a user code; a signed-in person types the user code at /device and allows or denies; the device
polls POST /token with grant_type urn:ietf:params:oauth:grant-type:device_code and gets
authorization_pending, slow_down (the interval grows by 5 s), access_denied, expired_token, or,
once, the tokens of a new session of its client.

Checklist (RFC 8628):
- §3.1/§3.2 the request and its answer (device_code, user_code, verification_uri[_complete],
  expires_in, interval), client authentication as at /token, unauthorized_client, invalid_scope;
- §3.3 the user code typed case- and dash-insensitively, signed in first, the client named and
  confirmed (§5.4: remote phishing);
- §3.4/§3.5 polling errors in order, slow_down growing the interval, exactly one exchange;
- §5.1 user-code guessing throttled; §6.1 the consonant alphabet, 8 characters, XXXX-XXXX.
"""

import re
from http import HTTPStatus
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.core.management import call_command
from django.test import Client as BrowserClient

from accounts import clock as service_clock
from accounts.devices import flow
from accounts.devices.models import DeviceAuthorization
from accounts.errors import InvalidGrant, SlowDown
from accounts.models import Session
from accounts.oauth.models import Client
from tests.oauth.conftest import client_authentication
from tests.test_accounts_concurrency import CONCURRENT, at_once

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
ISSUER = "http://127.0.0.1:8000"
USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")


@pytest.fixture
def tv(oauth_client_factory):
    """A TV app: a public client allowed the device grant (and refreshing), no redirect URIs."""
    return oauth_client_factory(
        name="Living-room TV",
        client_id="tv-app",
        redirect_uris=(),
        grant_types=(DEVICE_CODE, "refresh_token"),
    )


@pytest.fixture
def browser(user, password) -> BrowserClient:
    """The person's phone: a browser signed in as johndoe."""
    phone = BrowserClient()
    response = phone.post("/account/sign-in", {"username": user.username, "password": password})
    assert response.status_code == HTTPStatus.SEE_OTHER
    return phone


def start(api_client, registered, **extra):
    data, headers = client_authentication(registered)
    return api_client.post("/device_authorization", {**data, **extra}, **headers)


def started(api_client, registered, **extra) -> dict:
    response = start(api_client, registered, **extra)
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


def poll(api_client, registered, device_code: str):
    data, headers = client_authentication(registered)
    return api_client.post(
        "/token", {"grant_type": DEVICE_CODE, "device_code": device_code, **data}, **headers
    )


def error_of(response) -> str:
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    return response.json()["error"]


def approve(browser, user_code: str, answer: str = "allow"):
    confirm = browser.post("/device", {"user_code": user_code})
    assert confirm.status_code == HTTPStatus.OK, confirm.content
    return browser.post("/device", {"user_code": user_code, answer: answer})


def test_a_device_gets_a_device_code_and_a_user_code_to_show(api_client, tv):
    response = start(api_client, tv, scope="openid profile")

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert USER_CODE.match(body["user_code"])
    assert body["verification_uri"] == f"{ISSUER}/device"
    assert body["verification_uri_complete"] == f"{ISSUER}/device?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)
    record = DeviceAuthorization.objects.get()
    assert record.user_code == body["user_code"].replace("-", "")
    assert body["device_code"] not in record.device_code_hash  # kept only as its hash
    assert (record.status, record.scope, record.client_id) == ("pending", "openid profile", "tv-app")


def test_each_request_gets_new_codes(api_client, tv):
    first, second = started(api_client, tv), started(api_client, tv)

    assert first["device_code"] != second["device_code"]
    assert first["user_code"] != second["user_code"]


def test_a_client_not_allowed_the_grant_is_unauthorized_client(api_client, tv, public_oauth_client):
    response = start(api_client, public_oauth_client)

    assert error_of(response) == "unauthorized_client"
    assert not DeviceAuthorization.objects.exists()


@pytest.mark.parametrize(
    ("body", "description"),
    [
        ({}, "Name the client: its client_id, or its authentication."),
        ({"client_id": "nobody"}, "Unknown client."),
    ],
)
def test_a_request_without_a_known_client_is_invalid_client(api_client, tv, body, description):
    response = api_client.post("/device_authorization", body)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"error": "invalid_client", "error_description": description}
    assert not DeviceAuthorization.objects.exists()


def test_a_confidential_client_authenticates_as_at_token(api_client, oauth_client_factory):
    console = oauth_client_factory(
        name="Console", client_id="console", confidential=True, redirect_uris=(), grant_types=(DEVICE_CODE,)
    )

    assert started(api_client, console)["user_code"]
    wrong = api_client.post("/device_authorization", {"client_id": "console", "client_secret": "wrong"})
    assert wrong.status_code == HTTPStatus.UNAUTHORIZED
    assert DeviceAuthorization.objects.count() == 1


def test_an_unknown_scope_is_invalid_scope(api_client, tv):
    response = start(api_client, tv, scope="openid payroll")

    assert response.json() == {"error": "invalid_scope", "error_description": "Unknown scope: payroll."}
    assert not DeviceAuthorization.objects.exists()


def test_a_repeated_parameter_is_invalid_request(api_client, tv):
    response = api_client.post(
        "/device_authorization",
        "client_id=tv-app&scope=openid&scope=email",
        content_type="application/x-www-form-urlencoded",
    )

    assert error_of(response) == "invalid_request"


def test_a_person_approves_and_the_device_gets_a_session_once(api_client, tv, browser, user, clock):
    codes = started(api_client, tv, scope="openid profile")

    # The link or QR code only fills the form in: lower case and no dash are the same code.
    form = browser.get(
        urlsplit(codes["verification_uri_complete"]).path
        + "?"
        + urlsplit(codes["verification_uri_complete"]).query
    )
    assert form.status_code == HTTPStatus.OK
    assert f'value="{codes["user_code"]}"' in form.content.decode()
    confirm = browser.post("/device", {"user_code": codes["user_code"].replace("-", "").lower()})
    assert confirm.status_code == HTTPStatus.OK
    page = confirm.content.decode()
    assert "Allow Living-room TV on your device?" in page
    assert codes["user_code"] in page
    assert "See your name and username." in page
    assert DeviceAuthorization.objects.get().status == "pending"  # seeing the page decides nothing

    done = browser.post("/device", {"user_code": codes["user_code"], "allow": "allow"})
    assert done.status_code == HTTPStatus.OK
    assert "Device connected" in done.content.decode()

    response = poll(api_client, tv, codes["device_code"])  # its first poll: on time
    assert response.status_code == HTTPStatus.OK, response.content
    body = response.json()
    assert {"access_token", "refresh_token", "id_token"} <= set(body)
    assert body["scope"] == "openid profile"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["client_id"]) == (user.username, "tv-app")
    session = Session.objects.get()
    assert (session.grant_type, session.client_id, session.scope) == (DEVICE_CODE, "tv-app", "openid profile")
    assert str(session.pk) == claims["sid"]
    assert DeviceAuthorization.objects.get().status == "exchanged"
    userinfo = api_client.get("/userinfo", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert userinfo.status_code == HTTPStatus.OK, userinfo.content
    assert userinfo.json()["preferred_username"] == user.username

    clock.advance(5)
    again = poll(api_client, tv, codes["device_code"])
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "The device_code was already used.",
    }
    assert Session.objects.count() == 1


def test_polling_sooner_than_the_interval_is_slow_down_and_the_interval_grows(api_client, tv, clock):
    device_code = started(api_client, tv)["device_code"]
    assert error_of(poll(api_client, tv, device_code)) == "authorization_pending"

    too_soon = poll(api_client, tv, device_code)
    assert too_soon.json() == {"error": "slow_down", "error_description": "Poll at most every 10 seconds."}
    clock.advance(5)  # the old interval is now too soon
    assert error_of(poll(api_client, tv, device_code)) == "slow_down"
    assert DeviceAuthorization.objects.get().interval == 15

    clock.advance(15)
    assert error_of(poll(api_client, tv, device_code)) == "authorization_pending"
    clock.advance(15)
    assert error_of(poll(api_client, tv, device_code)) == "authorization_pending"


def test_a_denied_device_gets_access_denied(api_client, tv, browser, clock):
    codes = started(api_client, tv)

    refused = approve(browser, codes["user_code"], "deny")

    assert "Device refused" in refused.content.decode()
    response = poll(api_client, tv, codes["device_code"])
    assert response.json() == {"error": "access_denied", "error_description": "The user denied access."}
    assert not Session.objects.exists()


def test_an_exchanged_device_code_stays_invalid_grant_after_it_expires(api_client, tv, browser, clock):
    codes = started(api_client, tv)
    approve(browser, codes["user_code"])
    assert poll(api_client, tv, codes["device_code"]).status_code == HTTPStatus.OK
    clock.advance(600)

    response = poll(api_client, tv, codes["device_code"])

    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The device_code was already used.",
    }
    assert DeviceAuthorization.objects.get().interval == 5  # and no slow_down grew it


def test_a_scope_or_resource_that_is_not_a_string_is_invalid_request(api_client, tv):
    for body in ({"client_id": "tv-app", "scope": ["openid"]}, {"client_id": "tv-app", "resource": 5}):
        response = api_client.post("/device_authorization", body, format="json")
        assert response.json()["error"] == "invalid_request"
    assert not DeviceAuthorization.objects.exists()


def test_an_expired_device_code_is_expired_token_and_cannot_be_approved(api_client, tv, browser, clock):
    codes = started(api_client, tv)
    clock.advance(600)

    assert error_of(poll(api_client, tv, codes["device_code"])) == "expired_token"
    late = browser.post("/device", {"user_code": codes["user_code"]})
    assert late.status_code == HTTPStatus.BAD_REQUEST
    assert "not valid, or it has expired" in late.content.decode()


@pytest.mark.parametrize("device_code", ["not-a-device-code", "a\x00b"])
def test_an_unknown_device_code_is_invalid_grant(api_client, tv, device_code):
    started(api_client, tv)

    response = poll(api_client, tv, device_code)

    assert response.json() == {"error": "invalid_grant", "error_description": "The device_code is invalid."}


def test_another_clients_device_code_is_invalid_grant(api_client, tv, browser, oauth_client_factory, clock):
    other = oauth_client_factory(
        name="Other TV", client_id="other-tv", redirect_uris=(), grant_types=(DEVICE_CODE,)
    )
    codes = started(api_client, tv)
    approve(browser, codes["user_code"])

    response = poll(api_client, other, codes["device_code"])

    assert response.json()["error_description"] == "The device_code is invalid."
    assert DeviceAuthorization.objects.get().status == "approved"
    assert not Session.objects.exists()


def test_polling_needs_the_client_and_a_device_code(api_client, tv):
    codes = started(api_client, tv)

    anonymous = api_client.post("/token", {"grant_type": DEVICE_CODE, "device_code": codes["device_code"]})
    assert anonymous.status_code == HTTPStatus.UNAUTHORIZED
    assert anonymous.json()["error"] == "invalid_client"
    missing = api_client.post("/token", {"grant_type": DEVICE_CODE, "client_id": "tv-app"})
    assert missing.json() == {
        "error": "invalid_request",
        "error_description": "The parameter 'device_code' is required.",
    }


def test_a_client_not_allowed_the_grant_cannot_poll(api_client, tv, public_oauth_client):
    codes = started(api_client, tv)

    response = poll(api_client, public_oauth_client, codes["device_code"])

    assert error_of(response) == "unauthorized_client"


def test_a_signed_out_browser_signs_in_first_and_comes_back_to_the_code(api_client, tv, user, password):
    codes = started(api_client, tv)
    phone = BrowserClient()

    response = phone.get("/device", {"user_code": codes["user_code"]})

    assert response.status_code == HTTPStatus.SEE_OTHER
    next_url = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    assert next_url == f"/device?user_code={codes['user_code']}"
    assert phone.post("/device", {"user_code": codes["user_code"]})["Location"].startswith("/account/sign-in")
    signed_in = phone.post(
        "/account/sign-in", {"username": user.username, "password": password, "next": next_url}
    )
    assert signed_in["Location"] == next_url
    assert codes["user_code"] in phone.get(next_url).content.decode()


def test_a_sign_in_continues_to_no_other_page_than_the_device_one(user, password):
    phone = BrowserClient()

    response = phone.post(
        "/account/sign-in", {"username": user.username, "password": password, "next": "//evil.example/device"}
    )

    assert response["Location"] == "/account"


def test_a_wrong_user_code_is_refused_and_changes_nothing(api_client, tv, browser):
    started(api_client, tv)

    for typed in ("BCDF-GHJK", "AEIO-UAEI", "", "x" * 40):
        response = browser.post("/device", {"user_code": typed, "allow": "allow"})
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert "not valid, or it has expired" in response.content.decode()
    assert DeviceAuthorization.objects.get().status == "pending"


def test_guessing_user_codes_is_throttled_per_user(api_client, tv, browser, settings):
    settings.DEVICE_USER_CODE_LIMIT = 3
    codes = started(api_client, tv)
    for guess in ("BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM"):
        assert browser.post("/device", {"user_code": guess}).status_code == HTTPStatus.BAD_REQUEST

    blocked = browser.post("/device", {"user_code": codes["user_code"], "allow": "allow"})

    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(blocked["Retry-After"]) > 0
    assert "Too many codes tried" in blocked.content.decode()
    assert DeviceAuthorization.objects.get().status == "pending"  # even the right code waits


def test_guessing_user_codes_is_throttled_per_address_across_users(
    api_client, tv, user_factory, password, settings
):
    settings.DEVICE_USER_CODE_LIMIT = 2
    codes = started(api_client, tv)
    for n in range(2):
        guesser = BrowserClient()
        guesser.post(
            "/account/sign-in", {"username": user_factory(username=f"g{n}").username, "password": password}
        )
        assert guesser.post("/device", {"user_code": "BCDF-GHJK"}).status_code == HTTPStatus.BAD_REQUEST
    third = BrowserClient()
    third.post("/account/sign-in", {"username": user_factory(username="g2").username, "password": password})

    assert (
        third.post("/device", {"user_code": codes["user_code"]}).status_code == HTTPStatus.TOO_MANY_REQUESTS
    )
    assert DeviceAuthorization.objects.get().status == "pending"


def test_a_user_code_is_decided_once(api_client, tv, browser):
    codes = started(api_client, tv)
    approve(browser, codes["user_code"])

    again = browser.post("/device", {"user_code": codes["user_code"], "deny": "deny"})

    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert DeviceAuthorization.objects.get().status == "approved"


def test_the_decision_needs_the_pages_csrf_token(api_client, tv, user, password):
    codes = started(api_client, tv)
    phone = BrowserClient(enforce_csrf_checks=True)
    phone.force_login(user)

    forged = phone.post("/device", {"user_code": codes["user_code"], "allow": "allow"})

    assert forged.status_code == HTTPStatus.FORBIDDEN
    assert DeviceAuthorization.objects.get().status == "pending"


def test_a_client_requiring_a_second_factor_needs_a_sign_in_with_one(api_client, tv, browser):
    Client.objects.filter(pk="tv-app").update(require_second_factor=True)
    codes = started(api_client, tv)

    response = browser.post("/device", {"user_code": codes["user_code"], "allow": "allow"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "requires two-step sign-in" in response.content.decode()
    assert DeviceAuthorization.objects.get().status == "pending"


def test_a_disabled_client_can_neither_start_nor_be_approved(api_client, tv, browser):
    codes = started(api_client, tv)
    Client.objects.filter(pk="tv-app").update(is_active=False)

    assert browser.post("/device", {"user_code": codes["user_code"]}).status_code == HTTPStatus.BAD_REQUEST
    assert start(api_client, tv).status_code == HTTPStatus.UNAUTHORIZED


def test_a_user_disabled_after_approving_gets_no_tokens(api_client, tv, browser, user, clock):
    codes = started(api_client, tv)
    approve(browser, codes["user_code"])
    user.is_active = False
    user.save()

    response = poll(api_client, tv, codes["device_code"])

    assert response.json()["error"] == "invalid_grant"
    assert not Session.objects.exists()


def test_discovery_names_the_grant_and_endpoint_once_a_client_is_allowed_it(
    api_client, public_oauth_client, tv
):
    document = api_client.get("/.well-known/openid-configuration").json()
    assert DEVICE_CODE in document["grant_types_supported"]
    assert document["device_authorization_endpoint"] == f"{ISSUER}/device_authorization"

    Client.objects.filter(pk="tv-app").update(is_active=False)

    document = api_client.get("/.well-known/openid-configuration").json()
    assert DEVICE_CODE not in document["grant_types_supported"]
    assert "device_authorization_endpoint" not in document
    assert error_of(poll(api_client, public_oauth_client, "x")) == "unsupported_grant_type"


def test_create_client_registers_a_device_client_without_redirect_uris(db):
    out = StringIO()

    call_command(
        "create_client",
        "Kitchen TV",
        "--grant-type",
        DEVICE_CODE,
        "--grant-type",
        "refresh_token",
        stdout=out,
    )

    assert Client.objects.get(name="Kitchen TV").grant_types == [DEVICE_CODE, "refresh_token"]


def test_cleanup_deletes_expired_device_authorizations(api_client, tv, clock):
    started(api_client, tv)
    clock.advance(600)
    out = StringIO()

    call_command("cleanup_tokens", stdout=out)

    assert "1 expired device authorization(s)" in out.getvalue()
    assert not DeviceAuthorization.objects.exists()


@pytest.mark.postgres
def test_concurrent_polls_of_an_approved_code_get_one_session(transactional_db, tv, user):
    """The exchange race on PostgreSQL: 8 polls at once, none too soon; the conditional UPDATE of
    the status lets exactly one through, the rest are invalid_grant (or slow_down)."""
    started_codes = flow.start(client=tv.client, scope="openid")
    # No interval: every poll is on time, so all eight reach the exchange and race on its UPDATE.
    DeviceAuthorization.objects.update(interval=0)
    record = DeviceAuthorization.objects.get()
    flow.decide(record, user=user, allow=True, auth_time=service_clock.now(), amr=("pwd",))

    def exchange():
        from accounts.callers import Caller

        return flow.poll(
            device_code=started_codes.device_code, client=tv.client, caller=Caller("", "127.0.0.1")
        )

    results = at_once(exchange)

    issued = [r for r in results if not isinstance(r, Exception)]
    assert len(issued) == 1, results
    assert all(isinstance(r, SlowDown | InvalidGrant) for r in results if r not in issued), results
    assert Session.objects.count() == 1
    assert DeviceAuthorization.objects.get().session_id == issued[0].session.pk
    assert len(results) == CONCURRENT


def test_device_authorization_requests_are_throttled_per_address(api_client, tv, settings):
    settings.STORED_REQUEST_LIMIT = 2
    started(api_client, tv)
    started(api_client, tv)

    refused = start(api_client, tv)

    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert DeviceAuthorization.objects.count() == 2
