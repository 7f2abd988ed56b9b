"""The rules of "Sign in with Google" in the browser, out of its views: the link on the sign-in
page, the callback's checks, and the password step that links an account. No HTTP of our own
here (the views keep Django's session and render); Authlib's client talks to the provider.

The callback (`callback_outcome`) refuses, signing no one in, anything but a fresh answer to a
sign-in this browser started: a state spent once, the provider's code exchanged with the PKCE
verifier, an ID token verified for this client and nonce, as recent as the pending request asked
(`fresh_enough`), and an identity the linking rules accept (accounts.federation.linking).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client.errors import OAuthError as ProviderOAuthError
from authlib.integrations.django_client import DjangoOAuth2App
from authlib.integrations.django_client.integration import DjangoIntegration
from django.conf import settings

from accounts import audit
from accounts.callers import Caller
from accounts.errors import InvalidRequest
from accounts.federation import providers
from accounts.federation.idtokens import LEEWAY, IdTokenRefused, VerifiedIdToken, id_token_verify
from accounts.federation.linking import IdentityRefused, LinkNeedsPassword, identity_link, user_for_identity
from accounts.federation.providers import Provider, ProviderUnavailable
from accounts.models import User
from accounts.signin import methods
from accounts.signin.methods import ExternalLink, Proof

SCOPE = "openid email profile"
MAX_AGE = re.compile(r"^[0-9]{1,10}$")
# How long a sign-in started at the provider may take before its state is refused.
STATE_SECONDS = 600
# How long the password step waits after the provider's sign-in.
PENDING_LINK_SECONDS = 600


class SignInRefused(InvalidRequest):
    """The provider's answer signs no one in; the description says why (shown on the error page)."""


def provider_link(next_url: str, max_age: int | None) -> ExternalLink | None:
    """The sign-in page's "Sign in with <provider>": after the provider's sign-in, the pending
    request `next_url` continues; `max_age` (0 for prompt=login) moves to the provider, which
    must prove a sign-in that recent. None while no provider is configured."""
    provider = providers.google()
    if provider is None:
        return None
    query = {"next": next_url, **({"max_age": max_age} if max_age is not None else {})}
    return ExternalLink(label=provider.label, url=f"/login/{provider.name}?" + urlencode(query))


def requested_max_age(value: str | None) -> int | None:
    """The `max_age` of the sign-in link (whole seconds), or None."""
    return int(value) if value and MAX_AGE.match(value) else None


def callback_uri(provider: Provider) -> str:
    """The redirect URI registered at the provider: this service's issuer and the callback path."""
    return f"{settings.TOKEN_ISSUER.rstrip('/')}/login/{provider.name}/callback"


def oauth_client(provider: Provider) -> DjangoOAuth2App:
    """Authlib's Django client for `provider`: state, nonce and PKCE, and the code exchange.

    Only the two endpoints are taken from the discovery document: the rest of it must not
    override this client's own settings (PKCE, scope, client id).
    """
    metadata = providers.metadata(provider)
    return DjangoOAuth2App(
        DjangoIntegration(provider.name),
        name=provider.name,
        client_id=provider.client_id,
        client_secret=provider.client_secret or None,
        authorize_url=metadata["authorization_endpoint"],
        access_token_url=metadata["token_endpoint"],
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "default_timeout": settings.UPSTREAM_OIDC_TIMEOUT_SECONDS,
            "token_endpoint_auth_method": "client_secret_basic" if provider.client_secret else "none",
        },
    )


def pending_is_valid(pending, *, now: datetime) -> bool:
    """Whether the data a browser kept under a callback's state is a sign-in started here within
    STATE_SECONDS."""
    return isinstance(pending, dict) and now.timestamp() - pending.get("started_at", 0) <= STATE_SECONDS


@dataclass(frozen=True)
class SignedInByProvider:
    """The callback proved `user`: sign the browser in at `auth_time`, then go to `next_url`."""

    proof: Proof
    auth_time: datetime
    next_url: str | None


@dataclass(frozen=True)
class NeedsLink:
    """A local account has the identity's email: its password must be entered once to link it.
    `pending` is what the browser keeps for the password step."""

    pending: dict


def callback_outcome(
    provider: Provider, pending: dict, query, *, caller: Caller, now: datetime
) -> SignedInByProvider | NeedsLink:
    """Judge the provider's redirect back (`query`: its parameters) to the sign-in `pending`.

    Raises SignInRefused, IdTokenRefused or IdentityRefused (all InvalidRequest: a 400 page that
    signs no one in), or ProviderUnavailable (a 503 page)."""
    if "error" in query:
        error = query.get("error_description") or query.get("error")
        raise SignInRefused(f"{provider.label} did not sign you in: {error}")
    code = query.get("code")
    if not code:
        raise SignInRefused(f"{provider.label} sent no authorization code.")
    try:
        token = oauth_client(provider).fetch_access_token(
            code=code, redirect_uri=pending["redirect_uri"], code_verifier=pending["code_verifier"]
        )
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not isinstance(id_token, str):
            raise SignInRefused(f"{provider.label} sent no ID token.")
        verified = id_token_verify(
            provider, id_token, audiences=(provider.client_id,), nonce=pending["nonce"]
        )
    except ProviderOAuthError as e:
        raise SignInRefused(f"{provider.label} refused the sign-in: {e.description or e.error}") from None
    except IdTokenRefused as e:
        audit.event("provider sign-in refused", ip=caller.ip_address, reason=e.description)
        raise
    except (requests.RequestException, ValueError, TypeError, KeyError):
        # Unreachable, or an answer that is not an OAuth token response.
        raise ProviderUnavailable() from None
    if not fresh_enough(verified, pending, now=now):
        raise SignInRefused(
            f"The application asks for a fresh sign-in, and {provider.label} did not confirm one."
        )
    try:
        user = user_for_identity(provider=provider, token=verified)
    except LinkNeedsPassword as e:
        return NeedsLink(
            pending={
                "claims": verified.claims,
                "fingerprint": verified.fingerprint,
                "expires_at": verified.expires_at.isoformat(),
                "user": e.user.pk,
                "next": pending.get("next"),
                "until": now.timestamp() + PENDING_LINK_SECONDS,
            }
        )
    except IdentityRefused as e:
        audit.event("provider sign-in refused", ip=caller.ip_address, reason=e.description)
        raise
    return SignedInByProvider(
        proof=Proof(user=user, methods=(methods.PROVIDER,)),
        auth_time=min(verified.auth_time or now, now),  # never in the future; else: now it vouched
        next_url=pending.get("next"),
    )


def fresh_enough(token: VerifiedIdToken, pending: dict, *, now: datetime) -> bool:
    """Whether the provider's sign-in is as recent as the pending request asked (prompt=login
    or max_age, passed on to the provider as max_age): proven by the token's `auth_time`."""
    max_age = pending.get("max_age")
    if max_age is None:
        return True
    if token.auth_time is None:
        return False
    since = pending["started_at"] if max_age == 0 else now.timestamp() - max_age
    return token.auth_time.timestamp() >= since - LEEWAY.total_seconds()


@dataclass(frozen=True)
class PendingLink:
    """The password step after the provider's sign-in: whose account, the verified identity."""

    user: User
    token: VerifiedIdToken
    next_url: str | None


def pending_link(kept, *, now: datetime) -> PendingLink | None:
    """The password step this browser kept, while it lasts and its account is active."""
    if not isinstance(kept, dict) or kept.get("until", 0) < now.timestamp():
        return None
    user = User.objects.filter(pk=kept.get("user"), is_active=True).first()
    if user is None:
        return None
    token = VerifiedIdToken(
        claims=kept["claims"],
        fingerprint=kept["fingerprint"],
        expires_at=datetime.fromisoformat(kept["expires_at"]),
    )
    return PendingLink(user=user, token=token, next_url=kept.get("next"))


def link_with_password(
    provider: Provider, link: PendingLink, proof: Proof, *, now: datetime
) -> SignedInByProvider:
    """Link the identity to the account whose password was just entered (`proof`); the sign-in
    time is now. Raises IdentityRefused when it cannot be linked (meanwhile, to another user)."""
    linked = identity_link(provider=provider, token=link.token, user=proof.user)
    return SignedInByProvider(
        proof=Proof(user=linked, methods=(*proof.methods, methods.PROVIDER)),
        auth_time=now,
        next_url=link.next_url,
    )
