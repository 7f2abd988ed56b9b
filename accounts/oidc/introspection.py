"""RFC 7662 token introspection: what a resource server may learn of a token. No HTTP here.

Active: a valid access token of an active session of an active user (and client), or the newest refresh token
of such a session, or a client's own access token (client credentials) not revoked, of an
active client. Everything else is {"active": false} and nothing more. A revocation shows at
the next call: the session is read every time (one query for an access token).
"""

from rest_framework_simplejwt.exceptions import TokenError

from accounts import services
from accounts.machines import tokens as client_tokens
from accounts.tokens import IssuedAccessToken, RefreshToken

INACTIVE = {"active": False}


def token_introspect(*, token: str, token_type_hint: str | None = None) -> dict:
    """The RFC 7662 answer for `token` (the hint only orders the attempts)."""
    kinds = (
        (RefreshToken, IssuedAccessToken)
        if token_type_hint == "refresh_token"
        else (IssuedAccessToken, RefreshToken)
    )
    for kind in kinds:
        try:
            parsed = kind(token)
        except TokenError:
            continue
        session = services.session_of_token(parsed)
        if session is None or not session.lets_tokens_in():
            return INACTIVE
        if kind is IssuedAccessToken:
            if session.user.get_username() != parsed["sub"]:
                return INACTIVE
            answer = {"token_type": "access_token", "aud": parsed.payload.get("aud"), **_confirmation(parsed)}
            scope = parsed.payload.get("scope")
        else:
            if parsed["jti"] != session.newest_record.jti or session.user.email != parsed["sub"]:
                return INACTIVE
            answer = {"token_type": "refresh_token"}
            scope = session.scope
        return {
            "active": True,
            **answer,
            "sub": parsed["sub"],
            "username": session.user.get_username(),
            **({"client_id": session.client_id} if session.client_id else {}),
            **({"scope": scope} if session.client_id and scope else {}),
            "exp": parsed["exp"],
            "iat": parsed["iat"],
            "iss": parsed["iss"],
            "sid": parsed["sid"],
            "jti": parsed["jti"],
        }
    return _client_token(token)


def _client_token(token: str) -> dict:
    """A client's own access token (client credentials): active while its record is."""
    parsed = client_tokens.parse(token)
    record = client_tokens.record_of(parsed) if parsed is not None else None
    if record is None:
        return INACTIVE
    return {
        "active": True,
        "token_type": "access_token",
        "aud": parsed.payload.get("aud"),
        **_confirmation(parsed),
        "sub": parsed["sub"],
        "client_id": record.client_id,
        **({"scope": record.scope} if record.scope else {}),
        "exp": parsed["exp"],
        "iat": parsed["iat"],
        "iss": parsed["iss"],
        "jti": parsed["jti"],
    }


def _confirmation(token) -> dict:
    """`cnf` of a DPoP-bound access token (RFC 9449 §6.2: the resource server checks the proof's key)."""
    confirmation = token.payload.get("cnf")
    return (
        {"cnf": {"jkt": confirmation["jkt"]}}
        if isinstance(confirmation, dict) and "jkt" in confirmation
        else {}
    )
