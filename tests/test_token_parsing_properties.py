"""Hypothesis: token parsing refuses everything it did not issue, and fails only with its own errors."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.exceptions import TokenError

from accounts import services
from accounts.callers import Caller
from accounts.errors import InvalidGrant, UnusableAccessToken
from accounts.tokens import AccessToken, RefreshToken

# Nothing here can differ by database (parsing of token strings): runs once, in the SQLite run.
pytestmark = pytest.mark.once

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
# JWT-looking text: three base64url-ish segments, plus anything at all.
segment = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=80)
jwt_like = st.builds(lambda a, b, c: f"{a}.{b}.{c}", segment, segment, segment)
any_text = st.one_of(st.text(max_size=500), jwt_like)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(raw=any_text)
def test_arbitrary_text_is_never_an_access_token(raw):
    with pytest.raises(UnusableAccessToken):
        services.access_token_authenticate(access_token=raw)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(raw=any_text)
def test_arbitrary_text_is_never_a_refresh_token(raw):
    with pytest.raises(InvalidGrant):
        services.refresh_token_rotate(refresh_token=raw, caller=Caller())


@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=500))
def test_arbitrary_bytes_fail_with_a_token_error_only(raw):
    for kind in (AccessToken, RefreshToken):
        with pytest.raises(TokenError):
            kind(raw)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_changed_character_is_refused_or_changes_nothing(tokens, data):
    """Base64url's unused trailing bits make a few one-character changes decode to the very same
    bytes; every other change must be refused."""
    for name, kind in (("access_token", AccessToken), ("refresh_token", RefreshToken)):
        token = tokens[name]
        position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
        replacement = data.draw(st.characters(codec="ascii"))
        mutated = token[:position] + replacement + token[position + 1 :]
        try:
            parsed = kind(mutated)
        except TokenError:
            continue
        assert parsed.payload == kind(token).payload
