"""The two tokens, as simplejwt token classes.

Both carry `sid` (their session), `iss`, `iat`, `exp` and `jti`. The access token's `sub` is the
username and it never carries the email; the refresh token's `sub` is the email. Each is signed
and verified by its own backend (accounts.signing) with its own `typ` header, and checks its own
`token_type` claim, so neither is ever accepted as the other.

Unlike simplejwt's RefreshToken, ours does not write to the database when created and does not
copy its claims into the access token: accounts.services records tokens and decides rotation.
"""

from datetime import UTC, datetime, timedelta
from typing import Self

from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import datetime_to_epoch

from accounts import signing


class SessionToken(Token):
    """A token of one session. Subclasses name their type, lifetime setting and backend."""

    lifetime_setting: str

    @property
    def lifetime(self) -> timedelta:  # read when used, so the `settings` fixture applies
        return timedelta(seconds=getattr(settings, self.lifetime_setting))

    @classmethod
    def issue(
        cls,
        *,
        session_id: str | None,
        subject: str,
        jti: str,
        issued_at: datetime,
        not_after: datetime,
        expires_at: datetime | None = None,
        claims: dict | None = None,
    ) -> Self:
        """A new token that expires after its lifetime, or at `not_after` if that comes first
        (or exactly at `expires_at`, to rebuild a token already issued).

        Every claim comes from the arguments, in a fixed order, so the same arguments always
        give the same token string (HS256 is deterministic): the reuse interval relies on it.
        """
        token = cls.__new__(cls)  # not cls(): simplejwt's __init__ would make claims only to be replaced
        token.token = None
        iat = datetime_to_epoch(issued_at)
        if expires_at is not None:
            exp = datetime_to_epoch(expires_at)
        else:
            exp = min(datetime_to_epoch(issued_at + token.lifetime), datetime_to_epoch(not_after))
        token.current_time = issued_at
        token.payload = {
            "token_type": cls.token_type,
            "exp": exp,
            "iat": iat,
            "jti": jti,
            "sub": subject,
            **({"sid": session_id} if session_id is not None else {}),
            **(claims or {}),
        }
        return token

    @property
    def expires_in(self) -> int:
        """Seconds from issue to expiry."""
        return self.payload["exp"] - self.payload["iat"]

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.payload["exp"], tz=UTC)

    @property
    def session_id(self) -> str:
        return self.payload["sid"]

    required_claims = ("sub", "sid", "jti")

    def verify(self) -> None:
        super().verify()  # exp, jti and token_type
        for claim in self.required_claims:
            value = self.payload.get(claim)
            if not isinstance(value, str) or not value:
                raise TokenError(f"Token has no valid '{claim}' claim")


class AccessToken(SessionToken):
    token_type = "access"
    lifetime_setting = "ACCESS_TOKEN_LIFETIME_SECONDS"
    any_audience = False  # only this service's own (ACCESS_TOKEN_AUDIENCE): its endpoints' tokens

    def verify(self) -> None:
        super().verify()
        # This service never issues an access token that lives longer than its lifetime: one that
        # does was forged (with a stolen key, say, `exp` years ahead) and is refused.
        if self.payload["exp"] - self.payload["iat"] > self.lifetime.total_seconds():
            raise TokenError("Token lives longer than an access token can")
        # Every token this service issues names its audience (RFC 9068 §2.2); one without `aud`,
        # or for another audience, is refused.
        audience = self.payload.get("aud")
        if audience == settings.ACCESS_TOKEN_AUDIENCE or (
            isinstance(audience, list) and settings.ACCESS_TOKEN_AUDIENCE in audience
        ):
            return
        if not (self.any_audience and _registered_apis(audience)):
            raise TokenError("Token is for another audience")

    def get_token_backend(self) -> signing.TypedTokenBackend:
        return signing.access_token_backend()


def _registered_apis(audience: object) -> bool:
    """Whether `audience` (a token's `aud`) names registered APIs only (accounts.apis)."""
    from accounts.apis.models import Api

    names = [audience] if isinstance(audience, str) else audience
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        return False
    return Api.objects.filter(identifier__in=set(names)).count() == len(set(names))


class IssuedAccessToken(AccessToken):
    """An access token this service issued for itself or for a registered API (accounts.apis):
    what revocation and introspection read. Only this service's own audience opens its endpoints
    (AccessToken)."""

    any_audience = True


class ClientAccessToken(AccessToken):
    """An access token a client got for itself (client credentials): `sub` is the client, and
    there is no session (no `sid`); accounts.machines keeps its record, for revocation."""

    required_claims = ("sub", "jti", "client_id")

    def verify(self) -> None:
        super().verify()
        if "sid" in self.payload or self.payload["sub"] != self.payload["client_id"]:
            raise TokenError("Token is not a client's own")


class IssuedClientAccessToken(ClientAccessToken):
    """A client's own access token, for this service or a registered API: what revocation and
    introspection read."""

    any_audience = True


class RefreshToken(SessionToken):
    token_type = "refresh"
    lifetime_setting = "REFRESH_TOKEN_LIFETIME_SECONDS"

    def get_token_backend(self) -> signing.TypedTokenBackend:
        return signing.refresh_token_backend()
