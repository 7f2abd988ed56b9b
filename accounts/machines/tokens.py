"""The rules of a client's own tokens (client credentials, RFC 6749 §4.4). No HTTP here.

A confidential client that the operator allows the grant gets an access token whose `sub` and
`client_id` are the client: no refresh token, no ID token, no session (so none in any user's
lists). Each token is recorded by its `jti` (accounts.machines.models.ClientToken): revocation
marks the record, introspection reads it. Its `scope` is what was asked of the client's allowed
scopes (none yet: the APIs' scopes come with them).
"""

from datetime import UTC, datetime, timedelta

import jwt
from django.conf import settings
from rest_framework_simplejwt.exceptions import TokenError

from accounts import audit, clock, issuance
from accounts.apis import scopes as api_scopes
from accounts.callers import Caller
from accounts.errors import InvalidScope, UnauthorizedClient
from accounts.machines.models import ClientToken
from accounts.oauth.models import Client
from accounts.tokens import ClientAccessToken, IssuedClientAccessToken


def issue(
    *,
    client: Client,
    scope: str | None,
    caller: Caller,
    resource: str | None = None,
    now: datetime | None = None,
) -> issuance.IssuedTokens:
    """An access token of `client` for itself: for the API `resource` (its `aud`) with the API
    scopes asked for, or all the client may have of that API when it asks none. Raises
    UnauthorizedClient for a public client (RFC 6749 §4.4: confidential clients only),
    InvalidScope for a scope it may not have (an identity scope: there is no person),
    InvalidTarget for an unknown resource."""
    now = now or clock.now()
    if not client.confidential:
        raise UnauthorizedClient("The client_credentials grant is for confidential clients.")
    personal = [name for name in (scope or "").split() if name in api_scopes.IDENTITY_SCOPES]
    if personal:
        raise InvalidScope(f"This client may not have the scope {personal[0]!r}.")
    granted = api_scopes.resolve(client=client, scope=scope, resource=resource, all_when_none=True)
    issued = issuance.issue(
        subject=client.client_id,
        session=None,
        client_id=client.client_id,
        scope=granted.scope or None,
        scope_in_response=bool(granted.scope),
        now=now,
        not_after=now + timedelta(seconds=settings.ACCESS_TOKEN_LIFETIME_SECONDS),
        audience=api_scopes.audience(resource=granted.resource, scope=granted.scope),
        jkt=caller.dpop_jkt,
    )
    claims = jwt.decode(issued.access_token, options={"verify_signature": False})  # signed just now
    ClientToken.objects.create(
        jti=claims["jti"],
        client=client,
        scope=granted.scope,
        issued_at=now,
        expires_at=datetime.fromtimestamp(claims["exp"], tz=UTC),
    )
    audit.event("client credentials token issued", client=client.client_id, ip=caller.ip_address)
    return issued


def parse(token: str) -> ClientAccessToken | None:
    """`token` as a verified client's own access token (for any audience), or None."""
    try:
        return IssuedClientAccessToken(token)
    except TokenError:
        return None


def record_of(token: ClientAccessToken, *, now: datetime | None = None) -> ClientToken | None:
    """The record of an active client token: not revoked, not expired, its client active."""
    return (
        ClientToken.objects.select_related("client")
        .filter(
            jti=token["jti"],
            client_id=token["client_id"],
            client__is_active=True,
            revoked_at__isnull=True,
            expires_at__gt=now or clock.now(),
        )
        .first()
    )


def revoke(token: ClientAccessToken, *, client: Client | None, now: datetime | None = None) -> bool:
    """Revoke `token` when `client` (its own) presents it (RFC 7009 §2.1: another's is ignored)."""
    if client is None or client.client_id != token["client_id"]:
        return False
    revoked = ClientToken.objects.filter(jti=token["jti"], client=client, revoked_at__isnull=True).update(
        revoked_at=now or clock.now()
    )
    if revoked:
        audit.event("client credentials token revoked", client=client.client_id)
    return bool(revoked)


def delete_expired(*, now: datetime | None = None) -> int:
    deleted, _ = ClientToken.objects.filter(expires_at__lte=now or clock.now()).delete()
    return deleted
