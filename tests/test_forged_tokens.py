"""RFC 8725: forged tokens are refused everywhere, with the contract's answer, never a 500.

Every forgery (tests/forgery.py) is a real token of the service signed again with the service's
own key for it (the access signing key and its real `kid`, the refresh HMAC key), so that the
property its test id names is the only thing wrong with it. The controls at the end prove that
the same re-signing with nothing changed gives tokens the service accepts.
"""

from http import HTTPStatus

import pytest

from accounts.models import Session
from tests import forgery
from tests.forgery import Genuine

# Nothing here can differ by database (signatures and claims): runs once, in the SQLite run.
pytestmark = pytest.mark.once

CREDENTIALS_ERROR = {"detail": "Could not validate credentials"}


@pytest.fixture
def genuine_access(settings, login, user):
    """genuine_access(mode) -> a Genuine access token of a fresh login under that algorithm."""

    def make(mode: str) -> Genuine:
        settings.ACCESS_TOKEN_ALGORITHM = mode
        return Genuine.of(login(user)["access_token"])

    return make


@pytest.fixture
def genuine_refresh(tokens) -> Genuine:
    return Genuine.of(tokens["refresh_token"])


def assert_nothing_happened_to_the_session() -> None:
    session = Session.objects.get()
    assert session.revoked_at is None
    assert session.end_reason == ""


@pytest.mark.parametrize(("mode", "forged"), forgery.access_params())
def test_a_forged_access_token_is_401_at_users_me(me, genuine_access, mode, forged):
    response = me(forged(genuine_access(mode)))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == CREDENTIALS_ERROR
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("forged", forgery.params("refresh"))
def test_a_forged_refresh_token_is_invalid_grant_at_token_and_spends_nothing(
    refresh, genuine_refresh, forged
):
    response = refresh(forged(genuine_refresh))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == "invalid_grant"
    assert_nothing_happened_to_the_session()
    assert refresh(genuine_refresh.token).status_code == HTTPStatus.OK  # not spent


@pytest.mark.parametrize(("mode", "forged"), forgery.access_params())
def test_a_forged_access_token_revokes_nothing(api_client, genuine_access, mode, forged):
    response = api_client.post(
        "/revoke", {"token": forged(genuine_access(mode)), "token_type_hint": "access_token"}
    )

    assert response.status_code == HTTPStatus.OK
    assert_nothing_happened_to_the_session()


@pytest.mark.parametrize("forged", forgery.params("refresh"))
def test_a_forged_refresh_token_revokes_nothing(api_client, genuine_refresh, forged):
    response = api_client.post("/revoke", {"token": forged(genuine_refresh)})

    assert response.status_code == HTTPStatus.OK
    assert_nothing_happened_to_the_session()


# The controls: if these fail, the forgeries above prove nothing.


@pytest.mark.parametrize("mode", forgery.ACCESS_MODES)
def test_control_an_access_token_signed_again_unchanged_is_accepted(me, genuine_access, mode):
    genuine = genuine_access(mode)

    assert me(genuine.signed()).status_code == HTTPStatus.OK


def test_control_a_refresh_token_signed_again_unchanged_is_accepted(refresh, genuine_refresh):
    assert refresh(genuine_refresh.signed()).status_code == HTTPStatus.OK


@pytest.mark.parametrize("mode", forgery.ACCESS_MODES)
def test_control_revoking_an_access_token_signed_again_revokes_its_session(api_client, genuine_access, mode):
    api_client.post("/revoke", {"token": genuine_access(mode).signed(), "token_type_hint": "access_token"})

    assert Session.objects.get().end_reason == "logout"


def test_control_revoking_a_refresh_token_signed_again_revokes_its_session(api_client, genuine_refresh):
    api_client.post("/revoke", {"token": genuine_refresh.signed()})

    assert Session.objects.get().end_reason == "logout"
