"""Two-step sign-in with TOTP (RFC 6238, pyotp) and recovery codes: set up on /account/security,
asked after the password at /authorize and the account's sign-in, `otp` at POST /login, `amr` and
`acr` in ID tokens, and what an administrator can see and reset. TOTP codes are made with pyotp
on the service's clock (accounts.clock), which the tests move: replay, the window, a step of skew."""

from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import jwt
import pyotp
import pytest
from django.test import Client as Browser

from accounts.mfa import factors
from accounts.mfa.models import RecoveryCode, TotpDevice
from accounts.models import Session, User
from accounts.oauth.authorize import MFA_ACR
from accounts.oauth.clients import Registration, register
from tests.oauth.conftest import pkce_s256

STEP = 30  # seconds of one TOTP step


@pytest.fixture
def enrolled(user, clock):
    """`user` with an authenticator app on: (its pyotp.TOTP, its recovery codes). The clock is
    moved past the step of the confirming code, which is spent."""
    factors.totp_begin(user)
    totp = pyotp.TOTP(factors.enrolment(user).secret)
    codes = factors.totp_confirm(user, totp.at(clock.now()))
    assert codes is not None
    clock.advance(STEP)
    return totp, codes


def code_now(totp, clock, *, steps: int = 0) -> str:
    return totp.at(clock.now().timestamp() + steps * STEP)


def login(api_client, user, password, **extra):
    return api_client.post("/login", {"username": user.username, "password": password, **extra})


# --- POST /login ---------------------------------------------------------------------------------


def test_login_without_the_code_is_401_mfa_required_and_starts_nothing(api_client, user, password, enrolled):
    response = login(api_client, user, password)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {
        "error": "mfa_required",
        "error_description": "This account has a second factor: send its code as 'otp'.",
    }
    assert response["WWW-Authenticate"] == "Bearer"
    assert not Session.objects.exists()


def test_login_with_a_wrong_code_is_the_401_of_a_failed_login(api_client, user, password, enrolled):
    response = login(api_client, user, password, otp="000000")

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": "Incorrect username or password"}
    assert not Session.objects.exists()


def test_login_with_the_code_starts_a_session_signed_in_with_two_factors(
    api_client, user, password, enrolled, clock, me
):
    totp, _ = enrolled

    response = login(api_client, user, password, otp=code_now(totp, clock))

    assert response.status_code == HTTPStatus.OK
    assert Session.objects.get().amr == ["pwd", "otp", "mfa"]
    assert set(response.json()) >= {"access_token", "refresh_token"}


def test_a_user_without_a_factor_logs_in_as_before(api_client, user, password):
    assert login(api_client, user, password).status_code == HTTPStatus.OK
    assert Session.objects.get().amr == ["pwd"]


def test_a_totp_code_is_accepted_once(api_client, user, password, enrolled, clock):
    totp, _ = enrolled
    code = code_now(totp, clock)

    assert login(api_client, user, password, otp=code).status_code == HTTPStatus.OK
    assert login(api_client, user, password, otp=code).status_code == HTTPStatus.UNAUTHORIZED  # replay


def test_one_step_of_skew_either_way_is_accepted_and_two_are_not(api_client, user, password, enrolled, clock):
    totp, _ = enrolled
    clock.advance(10 * STEP)

    assert login(api_client, user, password, otp=code_now(totp, clock, steps=-2)).status_code == 401
    assert login(api_client, user, password, otp=code_now(totp, clock, steps=2)).status_code == 401
    assert login(api_client, user, password, otp=code_now(totp, clock, steps=-1)).status_code == 200
    # The previous step's code moved `last_step` forward: that step and any older are spent.
    assert login(api_client, user, password, otp=code_now(totp, clock, steps=-1)).status_code == 401
    assert login(api_client, user, password, otp=code_now(totp, clock, steps=1)).status_code == 200
    assert (
        login(api_client, user, password, otp=code_now(totp, clock)).status_code == 401
    )  # older than the last


def test_a_recovery_code_works_once_whatever_its_case_and_dashes(api_client, user, password, enrolled):
    _, codes = enrolled

    first = login(api_client, user, password, otp=codes[0].upper().replace("-", ""))
    again = login(api_client, user, password, otp=codes[0])

    assert first.status_code == HTTPStatus.OK
    assert again.status_code == HTTPStatus.UNAUTHORIZED
    assert factors.recovery_codes_left(user) == 9


def test_wrong_codes_are_throttled_per_user_with_429(api_client, user, password, enrolled, clock, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    totp, _ = enrolled
    for _ in range(3):
        assert login(api_client, user, password, otp="123456").status_code == HTTPStatus.UNAUTHORIZED

    blocked = login(api_client, user, password, otp=code_now(totp, clock), REMOTE_ADDR="203.0.113.7")

    assert blocked.status_code == HTTPStatus.TOO_MANY_REQUESTS  # from another address too: per user
    assert int(blocked["Retry-After"]) > 0
    assert not Session.objects.exists()


@pytest.mark.parametrize("otp", [["123456", "654321"], 123456])
def test_a_repeated_or_non_string_otp_is_invalid_request(api_client, user, password, enrolled, otp):
    if isinstance(otp, list):
        response = api_client.post("/login", {"username": user.username, "password": password, "otp": otp})
    else:
        response = api_client.post(
            "/login", {"username": user.username, "password": password, "otp": otp}, format="json"
        )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_request"


# --- the browser -----------------------------------------------------------------------------------


def authorization_request(**extra) -> tuple[dict, str]:
    pkce = pkce_s256()
    params = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": "https://app.example/cb",
        "scope": "openid profile",
        "state": "s1",
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return params, pkce.verifier


def id_token_claims(api_client, redirect, verifier: str) -> dict:
    """The claims of the ID token that the code of `redirect` (to app's redirect URI) is exchanged for."""
    code = parse_qs(urlsplit(redirect["Location"]).query)["code"][0]
    tokens = api_client.post(
        "/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://app.example/cb",
            "code_verifier": verifier,
            "client_id": "app",
        },
    ).json()
    return jwt.decode(tokens["id_token"], options={"verify_signature": False})


def sign_in(browser: Browser, params: dict, user, password):
    page = browser.get("/authorize", params)
    assert page.status_code == HTTPStatus.OK
    return browser.post(
        "/authorize?" + page.request["QUERY_STRING"],
        {**params, "username": user.username, "password": password},
    )


def test_authorize_asks_the_code_after_the_password_and_the_id_token_says_so(
    app, client, api_client, user, password, enrolled, clock
):
    totp, _ = enrolled
    params, verifier = authorization_request()

    after_password = sign_in(client, params, user, password)

    assert after_password.status_code == HTTPStatus.SEE_OTHER
    assert after_password["Location"] == "/sign-in/second-factor"
    assert client.get("/account")["Location"].startswith("/account/sign-in")  # not signed in yet
    step = client.get("/sign-in/second-factor")
    assert step.status_code == HTTPStatus.OK
    assert b"authenticator app" in step.content
    wrong = client.post("/sign-in/second-factor", {"code": "000000"})
    assert wrong.status_code == HTTPStatus.BAD_REQUEST
    assert b"This code is not right" in wrong.content

    done = client.post("/sign-in/second-factor", {"code": code_now(totp, clock)})

    assert done.status_code == HTTPStatus.SEE_OTHER
    assert done["Location"].startswith("/authorize?")
    redirect = client.get(done["Location"])
    assert redirect.status_code == HTTPStatus.SEE_OTHER
    claims = id_token_claims(api_client, redirect, verifier)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == MFA_ACR


def test_a_sign_in_without_a_factor_says_pwd_and_no_acr(app, client, api_client, user, password):
    params, verifier = authorization_request()
    redirect = sign_in(client, params, user, password)

    claims = id_token_claims(api_client, redirect, verifier)

    assert claims["amr"] == ["pwd"]
    assert "acr" not in claims


def test_the_second_step_expires_after_five_minutes(app, client, user, password, enrolled, clock):
    totp, _ = enrolled
    sign_in(client, authorization_request()[0], user, password)
    clock.advance(301)

    response = client.post("/sign-in/second-factor", {"code": code_now(totp, clock)})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"Sign in again" in response.content


def test_the_second_step_without_a_first_is_a_400_page(client, db):
    assert client.get("/sign-in/second-factor").status_code == HTTPStatus.BAD_REQUEST


def test_acr_values_asking_for_mfa_signs_a_password_only_browser_in_again(app, client, user, password, clock):
    params, _ = authorization_request()
    sign_in(client, params, user, password)  # no factor yet: signed in with the password alone
    factors.totp_begin(user)
    totp = pyotp.TOTP(factors.enrolment(user).secret)
    factors.totp_confirm(user, totp.at(clock.now()))
    clock.advance(STEP)

    without = client.get("/authorize", authorization_request()[0])
    asking = client.get("/authorize", authorization_request(acr_values=MFA_ACR)[0])

    assert without.status_code == HTTPStatus.SEE_OTHER  # the sign-in stands
    assert asking.status_code == HTTPStatus.OK
    assert b"<h1>Sign in</h1>" in asking.content


def test_discovery_names_the_acr_and_the_claims(api_client, db):
    metadata = api_client.get("/.well-known/openid-configuration").json()

    assert metadata["acr_values_supported"] == [MFA_ACR]
    assert {"amr", "acr"} <= set(metadata["claims_supported"])


def test_a_password_reset_that_signs_in_still_asks_the_second_factor(client, user, enrolled, clock):
    from accounts.selfservice import links

    url = links.password_reset_url(user)
    path = url[url.index("/password-reset/") :]

    response = client.post(path, {"new_password": "a brand new passphrase 2027", "sign_in": "on"})

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == "/sign-in/second-factor"
    assert client.get("/account").status_code == HTTPStatus.SEE_OTHER


# --- the security page -------------------------------------------------------------------------


def signed_in_browser(user, password, *, code: str | None = None) -> Browser:
    browser = Browser()
    response = browser.post(
        "/account/sign-in", {"username": user.username, "password": password, "next": "/account/security"}
    )
    if code is not None:  # the user has a factor: the second step
        assert response["Location"] == "/sign-in/second-factor"
        response = browser.post("/sign-in/second-factor", {"code": code})
    assert response["Location"] == "/account/security"
    return browser


def test_setting_up_an_authenticator_app_shows_a_qr_code_and_then_recovery_codes_once(user, password, clock):
    browser = signed_in_browser(user, password)

    begun = browser.post("/account/security", {"action": "totp-begin"})

    assert begun.status_code == HTTPStatus.OK
    assert b"<svg" in begun.content
    secret = factors.enrolment(user).secret
    assert secret.encode() in begun.content
    stored = TotpDevice.objects.get(user=user).secret
    assert secret not in stored  # encrypted
    assert not factors.has_factor(user)  # not on before a first code
    wrong = browser.post("/account/security", {"action": "totp-confirm", "code": "000000"})
    assert wrong.status_code == HTTPStatus.BAD_REQUEST
    assert not factors.has_factor(user)

    confirmed = browser.post(
        "/account/security", {"action": "totp-confirm", "code": pyotp.TOTP(secret).at(clock.now())}
    )

    assert confirmed.status_code == HTTPStatus.OK
    assert factors.has_factor(user)
    assert confirmed.content.count(b"<li><code>") == 10
    assert RecoveryCode.objects.filter(user=user).count() == 10
    again = browser.get("/account/security")
    assert b"<li><code>" not in again.content  # shown once
    assert b"Recovery codes left: 10" in again.content


def test_changes_need_a_sign_in_of_the_last_five_minutes(user, password, enrolled, clock):
    totp, _ = enrolled
    browser = signed_in_browser(user, password, code=code_now(totp, clock))
    assert browser.get("/account/security").status_code == HTTPStatus.OK
    clock.advance(301)

    response = browser.post("/account/security", {"action": "totp-remove"})

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == "/account/sign-in?next=%2Faccount%2Fsecurity"
    assert factors.has_factor(user)


def test_removing_the_factor_turns_the_second_step_off(user, password, clock):
    browser = signed_in_browser(user, password)
    browser.post("/account/security", {"action": "totp-begin"})
    browser.post(
        "/account/security",
        {"action": "totp-confirm", "code": pyotp.TOTP(factors.enrolment(user).secret).at(clock.now())},
    )

    removed = browser.post("/account/security", {"action": "totp-remove"})

    assert removed.status_code == HTTPStatus.OK
    assert not factors.has_factor(user)
    assert not RecoveryCode.objects.filter(user=user).exists()


def test_new_recovery_codes_replace_the_old_ones(user, password, enrolled, api_client):
    _, old_codes = enrolled
    browser = Browser()
    browser.force_login(user)  # auth_time unknown: a change asks for a fresh sign-in
    assert browser.post("/account/security", {"action": "recovery-new"}).status_code == HTTPStatus.SEE_OTHER

    new_codes = factors.recovery_codes_regenerate(user)

    assert login(api_client, user, "correct horse battery staple", otp=old_codes[0]).status_code == 401
    assert login(api_client, user, "correct horse battery staple", otp=new_codes[0]).status_code == 200


# --- the admin -----------------------------------------------------------------------------------


def test_the_admin_shows_the_factors_never_a_secret_and_can_reset_them(user, user_factory, enrolled):
    admin = Browser()
    admin.force_login(user_factory(username="root", is_staff=True, is_superuser=True))
    secret = factors._secret(TotpDevice.objects.get(user=user))

    page = admin.get(f"/admin/accounts/user/{user.pk}/change/")
    assert b"authenticator app (since" in page.content
    assert b"10 recovery code(s) left" in page.content
    assert secret.encode() not in page.content
    from accounts import services
    from accounts.callers import Caller

    services.session_start(user=user, caller=Caller())

    response = admin.post(
        "/admin/accounts/user/",
        {"action": "reset_second_factors", "_selected_action": [str(user.pk)]},
        follow=True,
    )

    assert b"Second factors reset for 1 user(s); 1 session(s) revoked." in response.content
    assert not factors.has_factor(user)
    assert not Session.objects.active().filter(user=user).exists()
    assert User.objects.get(pk=user.pk).is_active


# --- a client that requires a second factor ----------------------------------------------------


@pytest.fixture
def strict_app(db):
    client, _ = register(
        Registration(
            name="Payroll",
            redirect_uris=("https://payroll.example/cb",),
            first_party=True,
            client_id="payroll",
            require_second_factor=True,
        )
    )
    return client


def strict_request() -> dict:
    params, _ = authorization_request()
    return {**params, "client_id": "payroll", "redirect_uri": "https://payroll.example/cb"}


def test_a_client_requiring_a_second_factor_refuses_a_user_without_one(strict_app, client, user, password):
    response = sign_in(client, strict_request(), user, password)

    assert response.status_code == HTTPStatus.SEE_OTHER
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert "two-step sign-in" in query["error_description"][0]


def test_a_client_requiring_a_second_factor_asks_it_of_a_user_with_one(
    strict_app, client, user, password, enrolled, clock
):
    totp, _ = enrolled

    after_password = sign_in(client, strict_request(), user, password)
    assert after_password["Location"] == "/sign-in/second-factor"
    done = client.post("/sign-in/second-factor", {"code": code_now(totp, clock)})
    redirect = client.get(done["Location"])

    assert redirect.status_code == HTTPStatus.SEE_OTHER
    assert "code" in parse_qs(urlsplit(redirect["Location"]).query)


def test_create_client_can_require_a_second_factor(db):
    from django.core.management import call_command

    from accounts.models import Client

    call_command(
        "create_client",
        "Strict",
        "--redirect-uri",
        "https://s.example/cb",
        "--require-second-factor",
        "--client-id",
        "strict",
    )

    assert Client.objects.get(client_id="strict").require_second_factor


# --- every way in asks for it --------------------------------------------------------------------


def test_the_admins_sign_in_asks_the_second_factor(user_factory, clock):
    staff = user_factory(username="root", is_staff=True, is_superuser=True)
    factors.totp_begin(staff)
    totp = pyotp.TOTP(factors.enrolment(staff).secret)
    factors.totp_confirm(staff, totp.at(clock.now()))
    clock.advance(STEP)
    browser = Browser()

    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": "correct horse battery staple", "next": "/admin/"},
    )

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == "/sign-in/second-factor"
    assert browser.get("/admin/").status_code == HTTPStatus.FOUND  # to the admin's sign-in: not in
    done = browser.post("/sign-in/second-factor", {"code": code_now(totp, clock)})
    assert done["Location"] == "/admin"
    assert browser.get("/admin/").status_code == HTTPStatus.OK


def test_the_second_step_window_runs_from_its_start_not_from_an_older_auth_time(
    client, user, enrolled, clock
):
    from datetime import timedelta

    from django.test import RequestFactory

    from accounts.signin import state

    totp, _ = enrolled
    request = RequestFactory().get("/")
    request.session = client.session
    request.user = user
    state.begin_second_step(
        request, user, methods=("fed",), auth_time=clock.now() - timedelta(hours=1), next_url="/account"
    )
    request.session.save()
    client.cookies["sessionid"] = request.session.session_key

    response = client.post("/sign-in/second-factor", {"code": code_now(totp, clock)})

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert response["Location"] == "/account"


def test_recovery_codes_survive_a_secret_key_rotation(api_client, user, password, enrolled, settings):
    _, codes = enrolled
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a rotated secret key " * 3

    assert login(api_client, user, password, otp=codes[0]).status_code == HTTPStatus.OK


def test_a_signed_in_authorization_that_asks_no_second_factor_reads_no_factor(app, client, user, password):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sign_in(client, authorization_request()[0], user, password)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/authorize", authorization_request()[0])

    assert response.status_code == HTTPStatus.SEE_OTHER
    assert not [query for query in queries.captured_queries if "accounts_totpdevice" in query["sql"]]
