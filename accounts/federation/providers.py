"""An upstream OpenID Connect provider, described by its issuer, and what it publishes.

The discovery document (`{issuer}/.well-known/openid-configuration`) and the JWKS are fetched
over HTTP (accounts.keys.remote: a deadline, a bound on the size) and kept in this process for
UPSTREAM_OIDC_CACHE_SECONDS (the keys by accounts.keys.remote.RemoteKeySets). An ID token signed with a key the cache does not know refetches the
JWKS, at most once per UPSTREAM_OIDC_JWKS_REFRESH_SECONDS: a provider's key rotation is seen at
once, and a flood of made-up `kid`s costs one fetch per interval, not one per request.

Nothing here is specific to Google beyond `google()` reading the GOOGLE_* settings and Google's
second issuer spelling.
"""

import logging
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from jwt import PyJWK

from accounts import clock
from accounts.errors import TemporarilyUnavailable
from accounts.keys import remote

logger = logging.getLogger("accounts.federation")

GOOGLE_ISSUER = "https://accounts.google.com"
# Google's ID tokens carry either spelling of its issuer (Google's "Authenticate with a backend
# server" guide); no other provider gets a second spelling.
GOOGLE_ISSUER_SPELLINGS = (GOOGLE_ISSUER, "accounts.google.com")
LOOPBACK_HOSTS = ("127.0.0.1", "::1")


class ProviderUnavailable(TemporarilyUnavailable):
    """The provider's discovery document or keys cannot be had now (unreachable, or not valid):
    a 503 with Retry-After at /token, a 503 page in the browser."""


@dataclass(frozen=True)
class Provider:
    """One upstream provider, as configured: who it is and who we are to it."""

    name: str
    issuer: str
    client_id: str
    client_secret: str = ""
    audiences: tuple[str, ...] = ()  # the client ids whose ID tokens the token exchange accepts
    label: str = ""  # shown on the sign-in page

    @property
    def accepted_issuers(self) -> tuple[str, ...]:
        """The `iss` values its ID tokens may carry."""
        return GOOGLE_ISSUER_SPELLINGS if self.issuer == GOOGLE_ISSUER else (self.issuer,)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"


def google() -> Provider | None:
    """Google as configured by the GOOGLE_* settings; None while GOOGLE_CLIENT_ID is unset."""
    if not settings.GOOGLE_CLIENT_ID:
        return None
    return Provider(
        name="google",
        issuer=settings.GOOGLE_ISSUER,
        client_id=settings.GOOGLE_CLIENT_ID,
        client_secret=settings.GOOGLE_CLIENT_SECRET,
        audiences=tuple(settings.GOOGLE_TOKEN_AUDIENCES),
        label="Google",
    )


def issuer_problem(issuer: str) -> str | None:
    """Why `issuer` cannot be a provider's issuer, or None: https, or http on a loopback literal."""
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or not parts.hostname:
        return "it must be a URL without query or fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None
    return "it must be https (http only on 127.0.0.1 or [::1])"


def metadata(provider: Provider) -> dict:
    """The provider's discovery document (cached). Raises ProviderUnavailable."""
    entry = _entry(provider)
    with entry.lock:
        if entry.metadata is None or _now() - entry.metadata_at >= settings.UPSTREAM_OIDC_CACHE_SECONDS:
            entry.metadata = _fetch_metadata(provider)
            entry.metadata_at = _now()
        return entry.metadata


def verification_key(provider: Provider, *, kid: str | None, algorithm: str) -> PyJWK | None:
    """The provider's published key that verifies a token of this `kid` and `algorithm`, or None.

    A token without a `kid` is verified only when the provider publishes exactly one key. An
    unknown `kid` refetches the keys (at most once per UPSTREAM_OIDC_JWKS_REFRESH_SECONDS).
    Raises ProviderUnavailable when the keys cannot be had.
    """
    jwks_uri = metadata(provider)["jwks_uri"]
    try:
        return _keys.key(jwks_uri, kid=kid, algorithm=algorithm)
    except remote.FetchFailed as e:
        logger.warning("identity provider keys unavailable: %s", e)
        raise ProviderUnavailable("The identity provider's keys cannot be fetched.") from None


def reset() -> None:
    """Forget every cached document and key (tests; a process starts empty anyway)."""
    with _entries_lock:
        _entries.clear()
    _keys.reset()


# --- helpers ---------------------------------------------------------------------------------


def _now() -> float:
    return clock.monotonic()


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    metadata: dict | None = None
    metadata_at: float = 0.0


_entries: dict[str, _Entry] = {}
_keys = remote.RemoteKeySets(
    timeout=lambda: settings.UPSTREAM_OIDC_TIMEOUT_SECONDS,
    max_age=lambda: settings.UPSTREAM_OIDC_CACHE_SECONDS,
    refresh_interval=lambda: settings.UPSTREAM_OIDC_JWKS_REFRESH_SECONDS,
)
_entries_lock = threading.Lock()


def _entry(provider: Provider) -> _Entry:
    with _entries_lock:
        return _entries.setdefault(provider.issuer, _Entry())


def _get_json(url: str, what: str) -> dict:
    try:
        document = remote.fetch_json(url, timeout=settings.UPSTREAM_OIDC_TIMEOUT_SECONDS)
    except remote.FetchFailed as e:
        logger.warning("identity provider %s unavailable: %s", what, e)
        raise ProviderUnavailable(f"The identity provider's {what} cannot be fetched.") from None
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"The identity provider's {what} is not a JSON object.")
    return document


def _fetch_metadata(provider: Provider) -> dict:
    document = _get_json(provider.discovery_url, "discovery document")
    # OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    if document.get("issuer") != provider.issuer:
        logger.warning(
            "identity provider at %s names issuer %r", provider.discovery_url, document.get("issuer")
        )
        raise ProviderUnavailable("The identity provider's discovery document names another issuer.")
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(name), str):
            raise ProviderUnavailable(f"The identity provider's discovery document has no {name}.")
    return document
