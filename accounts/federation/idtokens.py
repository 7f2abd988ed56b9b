"""Verifying an upstream provider's ID token (OpenID Connect Core §3.1.3.7) with PyJWT.

The algorithm comes from an allow-list of asymmetric algorithms, never from the token alone:
`none` and every HMAC algorithm (whose key would be a client secret, or anything) are refused
before any key is looked at (RFC 8725 §3.1). The key is the provider's published key of the
token's `kid` and algorithm. Then `iss`, `aud`, `exp`, `iat`, `sub` and, in the browser flow,
`nonce` and `azp`. No HTTP here beyond what accounts.federation.providers fetches.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from django.utils.crypto import constant_time_compare

from accounts import clock
from accounts.errors import InvalidRequest
from accounts.federation import providers
from accounts.federation.providers import Provider

# An ID token lives minutes to hours; one claiming to expire further out than this is refused.
MAX_LIFETIME = timedelta(days=1)
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
# Clock skew tolerated between the provider and this service.
LEEWAY = timedelta(seconds=30)


class IdTokenRefused(InvalidRequest):
    """The ID token must not sign anyone in; `description` says why (safe to show).

    At /token (the token exchange) it is RFC 8693 §2.2.2's invalid_request; in the browser, the
    error page shows the description."""


@dataclass(frozen=True)
class VerifiedIdToken:
    claims: dict
    fingerprint: str  # SHA-256 of the signed content: the same token, however it is re-encoded
    expires_at: datetime  # its `exp`, with the clock skew tolerated

    @property
    def auth_time(self) -> datetime | None:
        """When the user signed in at the provider (`auth_time`), when the token says."""
        value = self.claims.get("auth_time")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (ValueError, OverflowError, OSError):
            return None

    @property
    def subject(self) -> str:
        return self.claims["sub"]

    @property
    def email(self) -> str:
        email = self.claims.get("email")
        return email.strip() if isinstance(email, str) else ""

    @property
    def email_verified(self) -> bool:
        # Some providers send the string "true"; anything else is not verified.
        return self.claims.get("email_verified") in (True, "true")


def id_token_verify(
    provider: Provider,
    token: str,
    *,
    audiences: tuple[str, ...],
    nonce: str | None = None,
) -> VerifiedIdToken:
    """The verified claims of `token`, an ID token of `provider` for one of `audiences`.

    `nonce`, when given (the browser flow), must be the token's; `azp`, when present, must then
    be one of `audiences` too. Raises IdTokenRefused, or ProviderUnavailable when the provider's
    keys cannot be had.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        raise IdTokenRefused("The ID token is not a JWT.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise IdTokenRefused("The ID token is not a JWT.") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise IdTokenRefused(f"The ID token's algorithm {algorithm!r} is not accepted.")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise IdTokenRefused("The ID token's kid is not a string.")
    key = providers.verification_key(provider, kid=kid, algorithm=algorithm)
    if key is None:
        raise IdTokenRefused("The ID token is signed with a key the provider does not publish.")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=list(audiences),
            issuer=list(provider.accepted_issuers),
            leeway=LEEWAY,
            options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_iat": True},
        )
    except jwt.ExpiredSignatureError:
        raise IdTokenRefused("The ID token has expired.") from None
    except jwt.InvalidAudienceError:
        raise IdTokenRefused("The ID token is for another audience.") from None
    except jwt.InvalidIssuerError:
        raise IdTokenRefused("The ID token is of another issuer.") from None
    except jwt.MissingRequiredClaimError as e:
        raise IdTokenRefused(f"The ID token has no {e.claim} claim.") from None
    except jwt.InvalidSignatureError:
        raise IdTokenRefused("The ID token's signature does not verify.") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise IdTokenRefused("The ID token is invalid.") from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 255 or not subject.isprintable():
        raise IdTokenRefused("The ID token's sub is not a usable identifier.")
    try:
        expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC) + LEEWAY
    except (ValueError, OverflowError, OSError, TypeError):
        raise IdTokenRefused("The ID token's exp is not a time.") from None
    if expires_at - clock.now() > MAX_LIFETIME:
        raise IdTokenRefused("The ID token claims to live longer than an ID token does.")
    if nonce is not None:
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not constant_time_compare(sent, nonce):
            raise IdTokenRefused("The ID token's nonce is not the one this sign-in sent.")
        azp = claims.get("azp")
        if azp is not None and azp not in audiences:
            raise IdTokenRefused("The ID token was issued to another party (azp).")
    signed_content = token.rpartition(".")[0]
    return VerifiedIdToken(
        claims=claims,
        # Not the whole string: the signature's encoding (and an ECDSA signature itself) can
        # be altered without invalidating it; the signed content cannot.
        fingerprint=hashlib.sha256(signed_content.encode("ascii", errors="replace")).hexdigest(),
        expires_at=expires_at,
    )
