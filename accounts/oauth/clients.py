"""The rules of registered clients: which redirect URIs and origins they may have, how their
secrets are made and checked, and how a request authenticates as one. No HTTP here.

Redirect URIs (RFC 8252 §7, RFC 9700 §4.1): absolute, without fragment or userinfo; `https`;
`http` only on the loopback literals 127.0.0.1 and [::1]; or a private-use scheme that is a
reverse domain name. They are compared as exact strings, except that a registered loopback URI
matches the same URI with any port (RFC 8252 §7.3). Nothing else is matched loosely.

Client secrets are 256 random bits, so they need no stretching: the database keeps an HMAC-SHA256
of the secret under a key derived from SECRET_KEY (a copy of the database alone cannot even test
a guess), and checking one costs a microsecond, not a password hash.
"""

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import audit
from accounts.apis.models import ApiScope
from accounts.errors import InvalidClient, InvalidClientMetadata, InvalidRedirectUri
from accounts.keys import remote
from accounts.oauth import assertions
from accounts.oauth.models import AUTHORIZATION_CODE, CLIENT_CREDENTIALS, GRANT_TYPES, REFRESH_TOKEN, Client

LOOPBACK_HOSTS = ("127.0.0.1", "[::1]")
# RFC 8252 §7.1: a private-use scheme is a reverse domain name the app controls (at least one dot).
PRIVATE_USE_SCHEME = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$")
ORIGIN = re.compile(r"^https?://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")


# A client's registration breaks a rule; the description says which (RFC 7591's error names).
InvalidRegistration = InvalidClientMetadata


@dataclass(frozen=True)
class Registration:
    """What an operator registers (create_client, the admin)."""

    name: str
    redirect_uris: tuple[str, ...]
    confidential: bool = False
    first_party: bool = False
    allowed_origins: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    client_id: str | None = None
    require_second_factor: bool = False
    require_dpop: bool = False  # its tokens are always DPoP-bound (RFC 9449)
    require_pushed_authorization_requests: bool = False  # its requests come through /par (RFC 9126)
    grant_types: tuple[str, ...] = (AUTHORIZATION_CODE, REFRESH_TOKEN)
    jwks: dict | None = None  # its public keys: private_key_jwt, no secret (confidential)
    jwks_uri: str = ""  # or where it publishes them
    api_scopes: tuple[str, ...] = ()  # the scopes of APIs it may ask for (accounts.apis)


def check_redirect_uri(uri: str) -> None:
    """Raise InvalidRedirectUri unless `uri` may be registered as a redirect URI."""
    if not uri or any(not 0x21 <= ord(character) <= 0x7E for character in uri):
        raise InvalidRedirectUri(f"{uri!r}: a URI is printable ASCII without spaces (RFC 3986)")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (parses the port: raises ValueError for a malformed one)
    except ValueError:
        raise InvalidRedirectUri(f"{uri!r}: not a well-formed URI") from None
    if not parts.scheme or "#" in uri:
        raise InvalidRedirectUri(f"{uri!r}: a redirect URI is absolute and has no fragment")
    if parts.scheme in ("http", "https"):
        if not parts.netloc or "@" in parts.netloc:
            raise InvalidRedirectUri(f"{uri!r}: a redirect URI has a host and no userinfo")
        if parts.scheme == "http" and _host(parts.netloc) not in LOOPBACK_HOSTS:
            hint = (
                f" (use {uri.replace('localhost', '127.0.0.1', 1)!r})"
                if _host(parts.netloc) == "localhost"
                else ""
            )
            raise InvalidRedirectUri(
                f"{uri!r}: http only on the loopback addresses 127.0.0.1 and [::1]{hint}"
            )
        _port(parts.netloc, uri)
        return
    if not is_private_use_scheme(parts.scheme) or parts.netloc:
        raise InvalidRedirectUri(
            f"{uri!r}: use https, http on 127.0.0.1 or [::1], or a private-use scheme that is a reverse "
            "domain name (com.example.app:/callback)"
        )


def is_private_use_scheme(scheme: str) -> bool:
    """Whether `scheme` is a native app's private-use one: a reverse domain name (RFC 8252 §7.1)."""
    return PRIVATE_USE_SCHEME.match(scheme) is not None


def check_origin(origin: str) -> None:
    """Raise InvalidRegistration unless `origin` is exactly scheme://host[:port]."""
    if not ORIGIN.match(origin):
        raise InvalidRegistration(f"{origin!r}: an allowed origin is scheme://host[:port], with no path")
    _port(urlsplit(origin).netloc, origin)


LOOPBACK_URI = re.compile(r"^http://(127\.0\.0\.1|\[::1\])(?::([0-9]{1,5}))?([/?][^#]*)?$")


def redirect_uri_matches(registered: list[str], presented: str) -> bool:
    """Whether `presented` is one of the `registered` URIs, compared as strings; a registered
    loopback URI also matches the same string with any port (RFC 8252 §7.3)."""
    if presented in registered:
        return True
    loopback = LOOPBACK_URI.match(presented)
    if loopback is None or not _valid_port(loopback.group(2)):
        return False
    without_port = (loopback.group(1), loopback.group(3) or "")
    for uri in registered:
        candidate = LOOPBACK_URI.match(uri)
        if candidate is not None and (candidate.group(1), candidate.group(3) or "") == without_port:
            return True
    return False


def _valid_port(port: str | None) -> bool:
    return port is None or 0 < int(port) < 65536


def register(registration: Registration) -> tuple[Client, str | None]:
    """Create a client; return it and its secret (None for a public client), shown only this once.

    Raises InvalidRegistration, registering nothing, when any part breaks a rule.
    """
    if not registration.name.strip():
        raise InvalidRegistration("a client needs a name")
    grant_types = tuple(dict.fromkeys(registration.grant_types))
    # A client with keys proves itself with them: it is confidential, without a secret.
    has_keys = bool(registration.jwks or registration.jwks_uri)
    confidential = registration.confidential or has_keys
    check_grant_types(grant_types, confidential=confidential)
    if AUTHORIZATION_CODE in grant_types and not registration.redirect_uris:
        raise InvalidRegistration("a client needs at least one redirect URI")
    for uri in registration.redirect_uris:
        check_redirect_uri(uri)
    for uri in registration.post_logout_redirect_uris:
        check_redirect_uri(uri)
    for origin in registration.allowed_origins:
        check_origin(origin)
    client_id = registration.client_id or secrets.token_urlsafe(16)
    if not CLIENT_ID.match(client_id):
        raise InvalidRegistration(f"{client_id!r}: a client id is 1 to 64 of A-Z a-z 0-9 . _ ~ -")
    check_keys(registration.jwks, registration.jwks_uri)
    secret = secrets.token_urlsafe(32) if registration.confidential and not has_keys else None
    wanted_scopes = list(dict.fromkeys(registration.api_scopes))
    api_scopes = list(ApiScope.objects.filter(name__in=wanted_scopes))
    unknown = sorted(set(wanted_scopes) - {scope.name for scope in api_scopes})
    if unknown:
        raise InvalidRegistration(f"{unknown[0]!r} is no API's scope (create_api registers them)")
    with transaction.atomic():
        if Client.objects.filter(pk=client_id).exists():
            raise InvalidRegistration(f"a client {client_id!r} exists already")
        client = Client.objects.create(
            client_id=client_id,
            name=registration.name.strip(),
            confidential=confidential,
            secret_hash=secret_hash(secret) if secret else "",
            jwks=registration.jwks or None,
            jwks_uri=registration.jwks_uri,
            first_party=registration.first_party,
            redirect_uris=list(registration.redirect_uris),
            allowed_origins=list(registration.allowed_origins),
            post_logout_redirect_uris=list(registration.post_logout_redirect_uris),
            require_second_factor=registration.require_second_factor,
            require_dpop=registration.require_dpop,
            require_pushed_authorization_requests=registration.require_pushed_authorization_requests,
            grant_types=list(grant_types),
        )
        client.api_scopes.set(api_scopes)
    return client, secret


def check_grant_types(grant_types: tuple[str, ...], *, confidential: bool) -> None:
    """Raise InvalidRegistration unless a client may be allowed `grant_types`: at least one of
    GRANT_TYPES, and client_credentials only for a confidential client (RFC 6749 §4.4)."""
    if not grant_types:
        raise InvalidRegistration("a client needs at least one grant type")
    unknown = [name for name in grant_types if name not in GRANT_TYPES]
    if unknown:
        raise InvalidRegistration(f"{unknown[0]!r}: the grant types are {', '.join(GRANT_TYPES)}")
    if CLIENT_CREDENTIALS in grant_types and not confidential:
        raise InvalidRegistration("client_credentials is for confidential clients (--confidential)")


# The members of a private or symmetric JWK (RFC 7518 §6.2.2, §6.3.2, §6.4.1): never registered.
PRIVATE_KEY_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MAX_KEYS = 20


def check_keys(jwks: object, jwks_uri: str) -> None:
    """Raise InvalidRegistration unless a client may register these keys (private_key_jwt):
    a JWKS of 1 to MAX_KEYS public, asymmetric signing keys; or a jwks_uri that is https (http only
    on 127.0.0.1 or [::1]); not both (RFC 7591 §2)."""
    if jwks and jwks_uri:
        raise InvalidRegistration("register either a JWKS or a jwks_uri, not both (RFC 7591 §2)")
    if jwks_uri:
        parts = urlsplit(jwks_uri)
        if parts.scheme == "https" and parts.hostname and "#" not in jwks_uri:
            return
        if parts.scheme == "http" and _host(parts.netloc) in LOOPBACK_HOSTS and "#" not in jwks_uri:
            return
        raise InvalidRegistration(f"{jwks_uri!r}: a jwks_uri is https (http only on 127.0.0.1 or [::1])")
    if jwks is None:
        return
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_KEYS:
        raise InvalidRegistration(f'a JWKS is {{"keys": [...]}} with 1 to {MAX_KEYS} keys (RFC 7517 §5)')
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC", "OKP"):
            raise InvalidRegistration("each key of the JWKS is an RSA, EC or OKP public key (RFC 7517 §4)")
        private = [member for member in PRIVATE_KEY_MEMBERS if member in key]
        if private:
            raise InvalidRegistration(
                f"the JWKS holds a private key (member {private[0]!r}): register the public keys only"
            )
    try:
        readable = remote.key_set(jwks)
    except remote.FetchFailed as e:
        raise InvalidRegistration(f"the JWKS cannot be read: {e}") from None
    if len(readable) != len(keys):
        raise InvalidRegistration('each key of the JWKS is a signing key ("use": "sig", or no "use")')


def new_secret(client: Client) -> str:
    """Give a confidential client a new secret (the old one stops at once), with its audit event;
    return it, shown once."""
    secret = secrets.token_urlsafe(32)
    Client.objects.filter(pk=client.pk).update(secret_hash=secret_hash(secret))
    client.secret_hash = secret_hash(secret)
    audit.event("client secret regenerated", client=client.pk)
    return secret


def secret_hash(secret: str, *, key: str | None = None) -> str:
    """What the database keeps of a client secret: HMAC-SHA256 under a key derived from SECRET_KEY."""
    return salted_hmac(
        "accounts.oauth.client-secret", secret, secret=key or settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def secret_matches(client: Client, secret: str) -> bool:
    """Whether `secret` is the client's (SECRET_KEY, then each of SECRET_KEY_FALLBACKS)."""
    if not client.secret_hash:
        return False
    return any(
        constant_time_compare(secret_hash(secret, key=key), client.secret_hash)
        for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    )


@dataclass(frozen=True)
class ClientCredentials:
    """What a request said about its client, as the HTTP edge parsed it."""

    client_id: str | None = None
    client_secret: str | None = None
    basic: bool = False  # the credentials came in an `Authorization: Basic` header
    both: bool = False  # credentials both in the header and in the body
    client_assertion: str | None = None  # private_key_jwt (RFC 7523 §2.2)
    client_assertion_type: str | None = None
    endpoint: str = ""  # the URL of the endpoint that received them (an assertion's `aud`)

    @property
    def asserted(self) -> bool:
        """Whether they carry a client assertion (or its type)."""
        return self.client_assertion is not None or self.client_assertion_type is not None


@dataclass(frozen=True)
class ClientAuthMethod:
    """A way for a request to prove its client (RFC 6749 §2.3, RFC 7591's names): which
    credentials it reads (`applies`), whether it is a confidential client's, and its check."""

    name: str
    applies: Callable[[ClientCredentials], bool]
    confidential: bool
    proves: Callable[[Client, ClientCredentials], bool]  # False, or InvalidClient saying why
    # Whether discovery names it now (private_key_jwt: once an active client has keys).
    advertised: Callable[[], bool] = lambda: True


_auth_methods: dict[str, ClientAuthMethod] = {}


def register_client_auth_method(method: ClientAuthMethod) -> None:
    """Accept `method` at /token, /revoke and /introspect (authlib's register_client_auth_method);
    discovery lists the registered ones, in their order."""
    _auth_methods[method.name] = method


def client_auth_methods(*, confidential_only: bool = False) -> list[str]:
    """The names of the registered methods that discovery names now: a confidential client's
    only, or all. Each is accepted whether named or not."""
    return [
        m.name for m in _auth_methods.values() if (m.confidential or not confidential_only) and m.advertised()
    ]


register_client_auth_method(
    ClientAuthMethod(
        "none",
        applies=lambda credentials: credentials.client_secret is None and not credentials.asserted,
        confidential=False,
        proves=lambda client, credentials: True,  # a public client: PKCE is its proof
    )
)
register_client_auth_method(
    ClientAuthMethod(
        "client_secret_basic",
        applies=lambda credentials: credentials.basic and credentials.client_secret is not None,
        confidential=True,
        proves=lambda client, credentials: secret_matches(client, credentials.client_secret),
    )
)
register_client_auth_method(
    ClientAuthMethod(
        "client_secret_post",
        applies=lambda credentials: not credentials.basic and credentials.client_secret is not None,
        confidential=True,
        proves=lambda client, credentials: secret_matches(client, credentials.client_secret),
    )
)


register_client_auth_method(
    ClientAuthMethod(
        "private_key_jwt",
        applies=lambda credentials: credentials.asserted,
        confidential=True,
        proves=lambda client, credentials: _assertion_proves(client, credentials),
        advertised=lambda: some_client_has_keys(),
    )
)


def some_client_has_keys() -> bool:
    """Whether an active client has registered keys (private_key_jwt)."""
    return Client.objects.filter(is_active=True).filter(Q(jwks__isnull=False) | ~Q(jwks_uri="")).exists()


def _assertion_proves(client: Client, credentials: ClientCredentials) -> bool:
    """private_key_jwt (accounts.oauth.assertions); raises InvalidClient saying which rule failed."""
    if credentials.client_assertion is None:
        raise InvalidClient("A client_assertion_type needs its client_assertion.")
    assertions.check(
        client,
        credentials.client_assertion,
        credentials.client_assertion_type,
        endpoint=credentials.endpoint,
    )
    return True


def active_client(client_id: str) -> Client | None:
    """The active client of this id, or None. No client id holds a NUL (PostgreSQL text cannot:
    querying one would be an error, not an answer): such a client is unknown."""
    if "\x00" in client_id:
        return None
    return Client.objects.filter(pk=client_id, is_active=True).first()


def client_authenticate(credentials: ClientCredentials) -> Client | None:
    """The active client these credentials authenticate, or None when they name no client.

    Raises InvalidClient for an unknown client_id, a wrong secret, a confidential client without
    its secret, a secret for a public client, or credentials both in the header and the body.
    A public client is identified by its client_id alone (PKCE is its proof). The method is the
    first registered one that applies to the credentials; it must be one for the client's kind.
    """
    if credentials.both:
        raise InvalidClient(
            "Send the client's credentials once: in the Authorization header or the body.", basic=True
        )
    if credentials.asserted and credentials.client_secret is not None:
        raise InvalidClient("Authenticate the client one way: a client_secret or a client_assertion.")
    client_id = credentials.client_id
    if client_id is None and credentials.client_assertion is not None:
        # RFC 7523 §3: the assertion names its client; a client_id parameter may be left out.
        client_id = assertions.claimed_client_id(credentials.client_assertion)
        if client_id is None:
            raise InvalidClient("The client_assertion names no client (sub).")
    if client_id is None:
        if credentials.client_secret is not None:
            raise InvalidClient("A client_secret needs its client_id.", basic=credentials.basic)
        if credentials.asserted:
            raise InvalidClient("A client_assertion_type needs its client_assertion.")
        return None
    client = active_client(client_id)
    if client is None:
        raise InvalidClient("Unknown client.", basic=credentials.basic)
    method = next((m for m in _auth_methods.values() if m.applies(credentials)), None)
    if method is not None and method.confidential and not client.confidential:
        raise InvalidClient(
            f"A public client has no {'keys' if credentials.asserted else 'secret'}.", basic=credentials.basic
        )
    if credentials.client_secret is not None and client.has_keys:
        raise InvalidClient(
            "This client authenticates with its keys (private_key_jwt), not a secret.",
            basic=credentials.basic,
        )
    if method is None or method.confidential != client.confidential or not method.proves(client, credentials):
        raise InvalidClient("The client could not be authenticated.", basic=credentials.basic)
    return client


def _host(netloc: str) -> str:
    host = netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]


def _has_valid_port(netloc: str) -> bool:
    rest = netloc[len(_host(netloc)) :]
    return rest == "" or (rest.startswith(":") and rest[1:].isdigit() and 0 < int(rest[1:]) < 65536)


def _port(netloc: str, where: str) -> None:
    if not _has_valid_port(netloc):
        raise InvalidRegistration(f"{where!r}: the port is not a number from 1 to 65535")
