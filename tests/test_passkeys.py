"""Passkeys (WebAuthn Level 2): added on /account/security, "Sign in with a passkey" on the sign-in
page (no username, no password: two factors), a passkey as the second step after the password,
and every rule of the answers broken once (origin, RP ID, user verification, challenge used twice
or too old, another account's key, a cloned authenticator's counter, a disabled user, garbage).

The answers come from tests/authenticator.py, a software authenticator that signs what a browser's
would; tests/test_passkeys_in_chromium.py runs the same flows in Chromium with its own.
"""

import json
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client as Browser

from accounts.mfa import factors
from accounts.mfa.models import Passkey, RecoveryCode
from accounts.models import Session, User
from accounts.oauth.authorize import MFA_ACR
from tests.authenticator import Authenticator, b64
from tests.test_second_factor import (
    authorization_request,
    id_token_claims,
    sign_in,
    signed_in_browser,
)

ORIGIN = "http://localhost:8000"


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.PASSKEY_RP_ID = "localhost"
    settings.PASSKEY_ORIGINS = [ORIGIN]


def registration_options(browser: Browser, name: str = "Laptop") -> dict:
    response = browser.post("/account/security/passkey-options", {"name": name})
    assert response.status_code == HTTPStatus.OK, response.content
    assert "no-store" in response["Cache-Control"]
    return response.json()


def add_passkey(browser: Browser, authenticator: Authenticator, *, name="Laptop", **create):
    answer = authenticator.create(registration_options(browser, name), **create)
    return browser.post("/account/security", {"action": "passkey-add", "credential": answer})


@pytest.fixture
def with_passkey(user, password, clock):
    """`user` with one passkey (their first factor): its authenticator."""
    authenticator = Authenticator()
    response = add_passkey(signed_in_browser(user, password), authenticator)
    assert response.status_code == HTTPStatus.OK, response.content
    return authenticator


def sign_in_options(browser: Browser, *, second_step: bool = False) -> dict:
    response = browser.post("/sign-in/passkey/options" + ("?purpose=second-step" if second_step else ""))
    assert response.status_code == HTTPStatus.OK
    return response.json()


def passkey_sign_in(browser: Browser, authenticator: Authenticator, *, next_url="/account", **get):
    answer = authenticator.get(sign_in_options(browser), **get)
    return browser.post("/sign-in/passkey", {"credential": answer, "next": next_url})


def passkey_browser(authenticator: Authenticator) -> Browser:
    """A browser signed in with the passkey (just now: changes are allowed), on /account/security."""
    browser = Browser()
    response = passkey_sign_in(browser, authenticator, next_url="/account/security")
    assert response["Location"] == "/account/security", response.content
    return browser


# --- adding a passkey --------------------------------------------------------------------------


def test_the_options_ask_a_discoverable_credential_with_user_verification_for_the_users_handle(
    user, password, clock
):
    options = registration_options(signed_in_browser(user, password))

    assert options["rp"] == {"id": "localhost", "name": "authproject"}
    assert options["user"]["id"] == b64(user.public_id.bytes)  # the `sub`, not a name or a key
    assert options["user"]["name"] == user.username
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["excludeCredentials"] == []


def test_adding_a_first_passkey_shows_recovery_codes_once_and_turns_the_second_step_on(user, password, clock):
    browser = signed_in_browser(user, password)
    authenticator = Authenticator()

    response = add_passkey(browser, authenticator, name="  Work   laptop ")

    assert response.status_code == HTTPStatus.OK
    assert b"Added the passkey &#x27;Work laptop&#x27;" in response.content
    assert b"Your recovery codes" in response.content
    passkey = Passkey.objects.get(user=user)
    assert (passkey.name, bytes(passkey.credential_id)) == ("Work laptop", authenticator.credential_id)
    assert passkey.transports == ["internal"]
    assert RecoveryCode.objects.filter(user=user).count() == 10
    assert factors.has_factor(user)
    page = browser.get("/account/security")
    assert b"Work laptop" in page.content
    assert b"Your recovery codes" not in page.content


def test_a_second_passkey_keeps_the_recovery_codes_and_the_options_exclude_the_first(
    user, password, with_passkey, clock
):
    browser = passkey_browser(with_passkey)
    before = set(RecoveryCode.objects.filter(user=user).values_list("digest", flat=True))
    options = registration_options(browser, "Phone")
    assert [d["id"] for d in options["excludeCredentials"]] == [b64(with_passkey.credential_id)]

    response = browser.post(
        "/account/security",
        {"action": "passkey-add", "name": "Phone", "credential": Authenticator().create(options)},
    )

    assert response.status_code == HTTPStatus.OK
    assert b"Your recovery codes" not in response.content
    assert set(RecoveryCode.objects.filter(user=user).values_list("digest", flat=True)) == before
    assert list(Passkey.objects.filter(user=user).order_by("pk").values_list("name", flat=True)) == [
        "Laptop",
        "Phone",
    ]


@pytest.mark.parametrize(
    ("breaks", "create", "reason"),
    [
        ("origin", {"origin": "http://localhost:9999"}, b"could not be checked"),
        ("user verification", {}, b"could not be checked"),
    ],
)
def test_an_answer_from_another_origin_or_without_user_verification_adds_nothing(
    user, password, clock, breaks, create, reason
):
    authenticator = Authenticator(user_verified=breaks != "user verification")

    response = add_passkey(signed_in_browser(user, password), authenticator, **create)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert reason in response.content
    assert not Passkey.objects.exists()
    assert not RecoveryCode.objects.exists()


def test_an_answer_for_another_relying_party_adds_nothing(user, password, clock):
    browser = signed_in_browser(user, password)
    options = registration_options(browser)
    options["rp"]["id"] = "evil.example"

    response = browser.post(
        "/account/security",
        {"action": "passkey-add", "name": "Key", "credential": Authenticator().create(options)},
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not Passkey.objects.exists()


def put_back(browser: Browser, purpose: str, options: dict, *, started: int, user=None) -> None:
    """The ceremony of `options` in the browser's session again, as if just asked for."""
    session = browser.session
    session["accounts.passkey_ceremony"] = {
        "purpose": purpose,
        "challenge": options["challenge"],
        "started": started,
        "user": user.pk if user else None,
        "name": "Key" if purpose == "register" else None,
    }
    session.save()


def test_an_answer_is_used_once_and_within_five_minutes(user, password, clock):
    browser = signed_in_browser(user, password)
    options = registration_options(browser)
    answer = Authenticator().create(options)
    put_back(browser, "register", options, started=int(clock.now().timestamp()) - 301, user=user)

    late = browser.post("/account/security", {"action": "passkey-add", "name": "Key", "credential": answer})
    assert late.status_code == HTTPStatus.BAD_REQUEST
    assert b"longer than 5 minutes" in late.content

    options = registration_options(browser)
    answer = Authenticator().create(options)
    assert (
        browser.post(
            "/account/security", {"action": "passkey-add", "name": "Key", "credential": answer}
        ).status_code
        == HTTPStatus.OK
    )
    # The same answer again, with the challenge put back in the session: the challenge is spent.
    put_back(browser, "register", options, started=int(clock.now().timestamp()), user=user)
    again = browser.post(
        "/account/security", {"action": "passkey-add", "name": "Other", "credential": answer}
    )
    assert again.status_code == HTTPStatus.BAD_REQUEST
    assert b"already used" in again.content
    assert Passkey.objects.count() == 1


def test_a_passkey_asked_for_by_one_account_is_not_added_to_another(user, password, clock, user_factory):
    browser = signed_in_browser(user, password)
    answer = Authenticator().create(registration_options(browser))  # made for johndoe's handle
    browser.post("/logout")
    other = user_factory()
    browser.post(
        "/account/sign-in", {"username": other.username, "password": password, "next": "/account/security"}
    )

    response = browser.post(
        "/account/security", {"action": "passkey-add", "name": "Key", "credential": answer}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"no passkey request waiting" in response.content
    assert not Passkey.objects.exists()


def test_adding_needs_a_sign_in_of_the_last_five_minutes(user, password, clock):
    browser = signed_in_browser(user, password)
    clock.advance(301)

    options = browser.post("/account/security/passkey-options")
    add = browser.post("/account/security", {"action": "passkey-add", "name": "Key", "credential": "{}"})

    assert options.status_code == HTTPStatus.FORBIDDEN
    assert options.json() == {"detail": "Sign in again first: changes need a sign-in of the last 5 minutes."}
    assert add.status_code == HTTPStatus.SEE_OTHER
    assert add["Location"] == "/account/sign-in?next=%2Faccount%2Fsecurity"
    assert not Passkey.objects.exists()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("   ", "Give the passkey a name of 1 to 64 characters."),
        ("x" * 65, "Give the passkey a name of 1 to 64 characters."),
        ("bad\x00name", "Give the passkey a name of 1 to 64 characters."),
        ("Laptop", "You already have a passkey named 'Laptop': choose another name."),
    ],
)
def test_a_name_is_checked_before_the_browser_makes_a_key(user, password, with_passkey, clock, name, reason):
    browser = passkey_browser(with_passkey)

    response = browser.post("/account/security/passkey-options", {"name": name})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"detail": reason}
    assert "accounts.passkey_ceremony" not in browser.session  # no challenge: no key is made
    assert Passkey.objects.count() == 1


@pytest.mark.parametrize(
    ("authenticator", "reason"),
    [
        (Authenticator(discoverable=False), b"cannot keep a passkey"),
        (Authenticator(credential_id=bytes(1024)), b"could not be checked"),
        (Authenticator(public_key=b"\x81\x00"), b"could not be checked"),  # CBOR [0]: no key
        (Authenticator(public_key=b"\xa1\x01\x02"), b"could not be checked"),  # {1: 2}: EC2 with no curve
    ],
    ids=["not discoverable", "credential id over 1023 bytes", "not a key", "half a key"],
)
def test_keys_that_cannot_serve_are_refused_when_added(user, password, clock, authenticator, reason):
    response = add_passkey(signed_in_browser(user, password), authenticator)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert reason in response.content
    assert not Passkey.objects.exists()


def test_the_same_authenticator_cannot_be_added_twice(user, password, with_passkey, clock):
    response = add_passkey(passkey_browser(with_passkey), with_passkey, name="Again")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"already registered" in response.content
    assert Passkey.objects.count() == 1


@pytest.mark.parametrize(
    "credential",
    ["", "not json", "{}", "[]", '{"id": 1}', json.dumps({"response": {}}), "x" * 20_000, "[" * 5000],
)
def test_garbage_answers_are_a_400_page_and_add_nothing(user, password, clock, credential):
    browser = signed_in_browser(user, password)
    registration_options(browser)

    response = browser.post(
        "/account/security", {"action": "passkey-add", "name": "Key", "credential": credential}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not Passkey.objects.exists()


def test_removing_the_last_passkey_removes_the_recovery_codes_and_the_second_step(
    user, password, with_passkey, clock, user_factory
):
    browser = passkey_browser(with_passkey)
    passkey = Passkey.objects.get()
    someone_else = signed_in_browser(other := user_factory(), password)
    assert (
        someone_else.post(
            "/account/security", {"action": "passkey-remove", "passkey": str(passkey.pk)}
        ).status_code
        == HTTPStatus.BAD_REQUEST
    )  # not theirs
    assert Passkey.objects.filter(pk=passkey.pk).exists()
    assert other.pk != user.pk

    response = browser.post("/account/security", {"action": "passkey-remove", "passkey": str(passkey.pk)})

    assert response.status_code == HTTPStatus.OK
    assert b"The passkey is removed. Two-step sign-in is off." in response.content
    assert not Passkey.objects.exists()
    assert not RecoveryCode.objects.exists()
    assert not factors.has_factor(user)


# --- signing in with a passkey -----------------------------------------------------------------


def test_the_sign_in_page_offers_a_passkey_continuing_to_the_pending_request(app, client):
    params, _ = authorization_request()

    page = client.get("/authorize", params)

    assert page.status_code == HTTPStatus.OK
    assert b"Sign in with a passkey" in page.content
    assert b'data-action="/sign-in/passkey"' in page.content
    assert page.content.count(b"<form") == 1  # the password's: the passkey's way in is a link
    assert b'data-origins="http://localhost:8000"' in page.content
    assert b"accounts/passkeys.js" in page.content
    options = sign_in_options(client)
    assert options["rpId"] == "localhost"
    assert options["allowCredentials"] == []  # discoverable: the authenticator knows whose
    assert options["userVerification"] == "required"


def test_authorize_with_a_passkey_alone_gives_an_id_token_with_two_factors(
    app, client, api_client, user, with_passkey, clock
):
    params, verifier = authorization_request()
    page = client.get("/authorize", params)
    continue_to = page.context["continue_to"]

    response = passkey_sign_in(client, with_passkey, next_url=continue_to)

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == continue_to
    redirect = client.get(continue_to)  # first party: no consent page
    claims = id_token_claims(api_client, redirect, verifier)
    assert claims["sub"] == str(user.public_id)
    assert claims["amr"] == ["hwk", "mfa"]
    assert claims["acr"] == MFA_ACR
    passkey = Passkey.objects.get()
    assert passkey.sign_count == 1
    assert abs((clock.now() - passkey.last_used_at).total_seconds()) < 5


def test_a_synced_passkey_says_swk(app, client, api_client, user, password, clock):
    authenticator = Authenticator(synced=True, counting=False)
    add_passkey(signed_in_browser(user, password), authenticator)
    params, verifier = authorization_request()
    continue_to = client.get("/authorize", params).context["continue_to"]

    redirect = client.get(passkey_sign_in(client, authenticator, next_url=continue_to)["Location"])

    assert id_token_claims(api_client, redirect, verifier)["amr"] == ["swk", "mfa"]


def test_a_passkey_sign_in_goes_only_to_pages_of_this_service(client, user, with_passkey, clock):
    response = passkey_sign_in(client, with_passkey, next_url="https://evil.example/")

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == "/account"


def test_a_passkey_from_another_origin_signs_no_one_in(client, with_passkey, clock):
    response = passkey_sign_in(client, with_passkey, origin="http://localhost:9999")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"Passkey not accepted" in response.content
    assert client.get("/account").status_code == HTTPStatus.SEE_OTHER  # still signed out
    assert Passkey.objects.get().last_used_at is None


def test_a_passkey_without_user_verification_signs_no_one_in(client, with_passkey, clock):
    with_passkey.user_verified = False

    response = passkey_sign_in(client, with_passkey)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert client.get("/account").status_code == HTTPStatus.SEE_OTHER


def test_a_cloned_authenticator_is_refused_once_its_counter_falls_behind(client, with_passkey, clock, caplog):
    clone = with_passkey.clone()  # counter 0, like the original now
    assert passkey_sign_in(Browser(), with_passkey).status_code == HTTPStatus.SEE_OTHER  # counter 1
    assert passkey_sign_in(Browser(), with_passkey).status_code == HTTPStatus.SEE_OTHER  # counter 2

    response = passkey_sign_in(client, clone)  # counter 1: behind what was seen

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"may have been copied" in response.content
    assert Passkey.objects.get().sign_count == 2
    assert "its signature counter went back" in caplog.text
    assert client.get("/account").status_code == HTTPStatus.SEE_OTHER


def test_an_authenticator_without_a_counter_signs_in_each_time(user, password, clock):
    authenticator = Authenticator(counting=False)
    add_passkey(signed_in_browser(user, password), authenticator)

    for _ in range(2):
        assert passkey_sign_in(Browser(), authenticator).status_code == HTTPStatus.SEE_OTHER
    assert Passkey.objects.get().sign_count == 0


def test_an_answer_signs_in_once(client, with_passkey, clock):
    options = sign_in_options(client)
    answer = with_passkey.get(options)
    assert client.post("/sign-in/passkey", {"credential": answer}).status_code == HTTPStatus.SEE_OTHER

    thief = Browser()
    put_back(thief, "sign-in", options, started=int(clock.now().timestamp()))
    replay = thief.post("/sign-in/passkey", {"credential": answer})

    assert replay.status_code == HTTPStatus.BAD_REQUEST
    assert b"already used" in replay.content
    assert thief.get("/account").status_code == HTTPStatus.SEE_OTHER


def test_an_answer_without_options_first_is_refused(client, with_passkey, clock):
    answer = with_passkey.get({"challenge": b64(b"made up by the client"), "rpId": "localhost"})

    response = client.post("/sign-in/passkey", {"credential": answer})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"no passkey request waiting" in response.content


def test_a_key_whose_user_handle_names_another_account_is_refused(client, with_passkey, clock, user_factory):
    response = passkey_sign_in(client, with_passkey, user_handle=user_factory().public_id.bytes)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"belongs to another account" in response.content


def test_a_passkey_sign_in_without_a_user_handle_is_refused(client, with_passkey, clock):
    response = passkey_sign_in(client, with_passkey, no_handle=True)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"belongs to another account" in response.content


def test_a_passkey_whose_backup_eligibility_changes_is_refused(client, with_passkey, clock):
    with_passkey.synced = True  # registered as bound to one device

    response = passkey_sign_in(client, with_passkey)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Passkey.objects.get().last_used_at is None


def test_the_sign_in_pages_passkey_replaces_a_half_done_sign_in(
    app, client, user, password, with_passkey, clock, user_factory
):
    other = user_factory()
    sign_in(client, authorization_request()[0], other, password)  # someone's password, then left
    options = sign_in_options(client)
    assert options["allowCredentials"] == []

    response = client.post("/sign-in/passkey", {"credential": with_passkey.get(options), "next": "/account"})

    assert response["Location"] == "/account"
    assert client.get("/account").context["user"] == user
    assert client.get("/sign-in/second-factor").status_code == HTTPStatus.BAD_REQUEST  # no step left


def test_second_step_options_without_a_step_with_a_passkey_are_a_400(client, user, password, user_factory):
    assert client.post("/sign-in/passkey/options?purpose=second-step").json() == {
        "detail": "There is no second step with a passkey waiting here: sign in again."
    }


def test_a_disabled_users_passkey_signs_no_one_in(client, user, with_passkey, clock):
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = passkey_sign_in(client, with_passkey)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"not registered here" in response.content


@pytest.mark.parametrize("credential", ["", "{", "[]", '{"rawId": "@@"}', "x" * 20_000, "[" * 5000])
def test_garbage_at_the_passkey_sign_in_is_a_400_page(client, db, credential):
    sign_in_options(client)

    response = client.post("/sign-in/passkey", {"credential": credential})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"Passkey not accepted" in response.content


# --- a passkey as the second step --------------------------------------------------------------


def test_after_the_password_a_passkey_is_the_second_step(
    app, client, api_client, user, password, with_passkey, clock
):
    params, verifier = authorization_request()
    after_password = sign_in(client, params, user, password)
    assert after_password["Location"] == "/sign-in/second-factor"
    step = client.get("/sign-in/second-factor")
    assert b"Use a passkey" in step.content
    assert b"/sign-in/passkey/options?purpose=second-step" in step.content
    options = sign_in_options(client, second_step=True)
    assert [d["id"] for d in options["allowCredentials"]] == [b64(with_passkey.credential_id)]

    done = client.post("/sign-in/passkey", {"credential": with_passkey.get(options), "next": "/account"})

    assert done.status_code == HTTPStatus.SEE_OTHER
    assert done["Location"].startswith("/authorize?")  # the step's own request, not the posted `next`
    claims = id_token_claims(api_client, client.get(done["Location"]), verifier)
    assert claims["amr"] == ["pwd", "hwk", "mfa"]
    assert claims["acr"] == MFA_ACR


def test_the_second_step_takes_only_the_users_own_passkey(
    app, client, user, password, with_passkey, clock, user_factory
):
    other = user_factory()
    other_key = Authenticator()
    add_passkey(signed_in_browser(other, password), other_key)
    sign_in(client, authorization_request()[0], user, password)

    response = client.post(
        "/sign-in/passkey", {"credential": other_key.get(sign_in_options(client, second_step=True))}
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"not registered here" in response.content
    assert client.get("/account").status_code == HTTPStatus.SEE_OTHER  # not signed in as either


def test_a_passkey_user_at_post_login_needs_a_recovery_code(api_client, user, password, with_passkey, clock):
    without = api_client.post("/login", {"username": user.username, "password": password})
    assert without.status_code == HTTPStatus.UNAUTHORIZED
    assert without.json()["error"] == "mfa_required"
    assert not Session.objects.exists()


def test_the_admin_lists_passkeys_by_name_and_its_reset_removes_them(user, user_factory, with_passkey):
    admin = Browser()
    admin.force_login(user_factory(username="root", is_staff=True, is_superuser=True))

    page = admin.get(f"/admin/accounts/user/{user.pk}/change/")
    assert b"passkey &#x27;Laptop&#x27; (since" in page.content
    assert b"10 recovery code(s) left" in page.content
    admin.post(
        "/admin/accounts/user/", {"action": "reset_second_factors", "_selected_action": [str(user.pk)]}
    )

    assert not Passkey.objects.exists()
    assert not RecoveryCode.objects.exists()
    assert not factors.has_factor(user)


def test_the_code_of_the_second_step_page_names_what_the_user_has(app, client, user, password, with_passkey):
    sign_in(client, authorization_request()[0], user, password)

    page = client.get("/sign-in/second-factor").content.decode()

    assert "Now one of your passkeys." in page
    assert "authenticator app" not in page.split("<form")[0]


def test_the_passkey_flow_answers_json_errors_never_500(client, db):
    assert client.get("/sign-in/passkey/options").status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert client.get("/sign-in/passkey").status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert client.post("/account/security/passkey-options")["Location"].startswith("/account/sign-in")


def test_the_code_exchange_counts_the_passkey_sign_in(app, client, api_client, user, with_passkey, clock):
    params, verifier = authorization_request(acr_values=MFA_ACR)
    continue_to = client.get("/authorize", params).context["continue_to"]
    redirect = client.get(passkey_sign_in(client, with_passkey, next_url=continue_to)["Location"])

    assert parse_qs(urlsplit(redirect["Location"]).query)["state"] == ["s1"]
    assert id_token_claims(api_client, redirect, verifier)["acr"] == MFA_ACR
