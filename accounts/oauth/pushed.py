"""Pushed authorization requests (RFC 9126). No HTTP here.

A client sends its authorization request to POST /par, authenticated as at /token (a public
client names itself with client_id), instead of through the browser. Everything /authorize checks
is checked here first (accounts.oauth.authorize's redirect_target, then parse), so a bad request
fails at the client, as JSON. The answer is a `request_uri` (256 random bits, kept only as its
SHA-256) that the browser takes to /authorize with the same client_id, once, within
PUSHED_REQUEST_LIFETIME_SECONDS.

Once: the first /authorize to present it spends it with a conditional UPDATE (`bind`), and the
browser that did keeps its parameters in its own session for the rest of that request's pages
(sign-in, second step, consent), so the person is never hurried by the 60 s. Another browser,
a second use, or another client_id gets the error page. /authorize uses only the pushed
parameters (§4: what the browser adds beside request_uri and client_id is ignored).
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from accounts import audit, clock
from accounts.errors import InvalidRequest, UntrustedRedirect
from accounts.oauth import authorize
from accounts.oauth.models import Client, PushedRequest

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"  # RFC 9126 §2.2


@dataclass(frozen=True)
class Pushed:
    request_uri: str
    expires_in: int


def push(*, client: Client, values: dict[str, list[str]], now: datetime | None = None) -> Pushed:
    """Check the authorization request `values` (name -> values, as /authorize reads them) of
    the authenticated `client` and keep it. Raises InvalidRequest (an UntrustedRedirect too: no
    usable redirect_uri) or the OAuth error /authorize would send back to the redirect_uri."""
    now = now or clock.now()
    if "request_uri" in values:
        raise InvalidRequest("A pushed request cannot hold a request_uri (RFC 9126 §2.1).")
    named = [value for value in values.get("client_id", []) if value.strip()]
    if any(value != client.client_id for value in named):
        raise InvalidRequest("The client_id is not the authenticated client's.")
    values = {**values, "client_id": [client.client_id]}
    authorize.parse(values, authorize.redirect_target(values), pushed=True)
    request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
    lifetime = settings.PUSHED_REQUEST_LIFETIME_SECONDS
    PushedRequest.objects.create(
        uri_hash=uri_hash(request_uri),
        client=client,
        parameters=values,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime),
    )
    audit.event("authorization request pushed", client=client.client_id)
    return Pushed(request_uri=request_uri, expires_in=lifetime)


def bind(*, request_uri: str, client_id: str | None, now: datetime | None = None) -> dict[str, list[str]]:
    """Spend `request_uri` at its first use by /authorize (with its client's `client_id`) and
    return the pushed parameters. Raises UntrustedRedirect (the error page: there is no
    redirect_uri to trust yet) for one that is unknown, expired, used, or another client's."""
    now = now or clock.now()
    if client_id is None or "\x00" in client_id:  # no client, or one PostgreSQL cannot look up
        client_id = ""
    spent = PushedRequest.objects.filter(
        uri_hash=uri_hash(request_uri), client_id=client_id, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not spent:
        raise UntrustedRedirect(
            "The request_uri is unknown, has expired, was used already, or is another client's: "
            "the application must push its request again."
        )
    return PushedRequest.objects.values_list("parameters", flat=True).get(uri_hash=uri_hash(request_uri))


def answer(*, request_uri: str, now: datetime | None = None) -> bool:
    """Mark a bound request answered, just before its code is issued: True for exactly one of
    any number of windows of the browser answering it at once (a conditional UPDATE)."""
    return bool(
        PushedRequest.objects.filter(uri_hash=uri_hash(request_uri), answered_at__isnull=True).update(
            answered_at=now or clock.now()
        )
    )


def delete_expired(*, now: datetime | None = None) -> int:
    deleted, _ = PushedRequest.objects.filter(expires_at__lte=now or clock.now()).delete()
    return deleted


def uri_hash(request_uri: str) -> str:
    return hashlib.sha256(request_uri.encode("utf-8", errors="replace")).hexdigest()
