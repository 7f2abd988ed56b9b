"""Reading a client's credentials off a request (RFC 6749 §2.3.1): the HTTP half of client
authentication; accounts.oauth.clients.client_authenticate is the rule."""

import base64
import binascii
from urllib.parse import unquote_plus

from django.conf import settings
from django.http import HttpRequest

from accounts.errors import InvalidClient
from accounts.oauth.clients import ClientCredentials, client_authenticate
from accounts.oauth.models import Client
from accounts.serializers import NOT_A_STRING

CLIENT_PARAMETERS = ("client_id", "client_secret", "client_assertion", "client_assertion_type")


def client_credentials(request: HttpRequest, params: dict) -> ClientCredentials:
    """The credentials of `Authorization: Basic` (client_secret_basic) and of the body's
    client_id and client_secret (client_secret_post, or a public client's client_id), or its
    client_assertion and client_assertion_type (private_key_jwt).

    Raises InvalidClient for a Basic header that cannot be decoded.
    """
    for name in CLIENT_PARAMETERS:
        if params.get(name) is NOT_A_STRING:
            raise InvalidClient(f"The parameter '{name}' must be a string.")
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    assertion, assertion_type = params.get("client_assertion"), params.get("client_assertion_type")
    # The URL the request was sent to, as clients know this service (TOKEN_ISSUER), not its Host.
    endpoint = settings.TOKEN_ISSUER.rstrip("/") + request.path_info
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return ClientCredentials(
            client_id=body_id,
            client_secret=body_secret,
            client_assertion=assertion,
            client_assertion_type=assertion_type,
            endpoint=endpoint,
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        raw_id, separator, raw_secret = decoded.partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClient("The Authorization header is not valid Basic credentials.", basic=True) from None
    if not separator or not raw_id:
        raise InvalidClient("The Authorization header is not valid Basic credentials.", basic=True)
    # The id and secret are form-urlencoded before base64 (RFC 6749 §2.3.1).
    return ClientCredentials(
        client_id=unquote_plus(raw_id),
        client_secret=unquote_plus(raw_secret) or None,
        basic=True,
        both=any(value is not None for value in (body_id, body_secret, assertion, assertion_type)),
        endpoint=endpoint,
    )


def named_client(request: HttpRequest, params: dict) -> Client:
    """The client of a request that must name one (POST /par, POST /device_authorization),
    authenticated as at /token (a public client by its client_id). Raises InvalidClient."""
    client = client_authenticate(client_credentials(request, params))
    if client is None:
        raise InvalidClient("Name the client: its client_id, or its authentication.")
    return client
