"""ID tokens: signed with the published keys (the key ring's signing key, `kid` in the header),
verifiable from the JWKS alone. No HTTP here."""

from datetime import datetime, timedelta

import jwt
from django.conf import settings

from accounts.keys import ring
from accounts.oauth.authorize import MFA_ACR
from accounts.oidc.claims import user_claims
from accounts.signin import methods

ID_TOKEN_TYP = "JWT"


def id_token_issue(*, session, scope: str, now: datetime) -> str:
    """The ID token of `session` (its client, user, sign-in time, nonce) for `scope`.

    Raises SigningKeyUnavailable when no key pair signs (ACCESS_TOKEN_ALGORITHM HS256: an ID
    token must be verifiable by the client from the JWKS).
    """
    signing = ring.signing_key()
    if signing is None:
        raise ring.SigningKeyUnavailable("ID tokens need an asymmetric ACCESS_TOKEN_ALGORITHM")
    key, private = signing
    iat = int(now.timestamp())
    claims = {
        "iss": settings.TOKEN_ISSUER,
        **user_claims(session.user, scope.split()),
        "aud": session.client_id,
        "exp": iat + settings.ACCESS_TOKEN_LIFETIME_SECONDS,
        "iat": iat,
        "auth_time": int((session.auth_time or session.created_at).timestamp()),
        "sid": str(session.pk),
    }
    if session.amr:  # RFC 8176; OpenID Connect Core §2
        claims["amr"] = list(session.amr)
        if methods.MFA in session.amr:
            claims["acr"] = MFA_ACR
    if session.nonce:
        claims["nonce"] = session.nonce
    return jwt.encode(claims, private, algorithm=key.algorithm, headers={"kid": key.kid, "typ": ID_TOKEN_TYP})


def id_token_hint_claims(token: str) -> dict | None:
    """The claims of an ID token this service signed, expired or not (RP-Initiated Logout's
    id_token_hint); None for anything else."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        return None
    kid = header.get("kid")
    key = ring.published_key(kid) if isinstance(kid, str) else None
    if key is None or header.get("alg") != key.algorithm:
        return None
    try:
        claims = jwt.decode(
            token,
            key.verifying_key,
            algorithms=[key.algorithm],
            issuer=settings.TOKEN_ISSUER,
            options={"verify_exp": False, "verify_aud": False, "require": ["sub", "aud", "sid", "iat"]},
            leeway=timedelta(seconds=0),
        )
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return None
    # An access token is signed by the same keys: it is never an ID token hint.
    if header.get("typ", "").lower() != "jwt".lower() or "token_type" in claims:
        return None
    return claims


def id_token_response(issue) -> dict:
    """The token response's `id_token` (an accounts.issuance extension, registered in
    accounts.apps): for a client's session whose scope holds openid, at every issue (the code
    exchange and each refresh, OpenID Connect Core §12.2)."""
    session = issue.session
    if session is None or not session.client_id or "openid" not in (issue.scope or "").split():
        return {}
    return {"id_token": id_token_issue(session=session, scope=issue.scope, now=issue.now)}
