"""The browser flow of "Sign in with Google": pages for people (Django views and templates).

GET /login/google             sends the browser to the provider (state, nonce, PKCE S256 by
                              Authlib's Django client, kept in this browser's session)
GET /login/google/callback    spends the state, exchanges the code, verifies the ID token,
                              signs the browser in, continues the pending /authorize request
GET|POST /login/google/link   the password step that links a provider account to the local
                              account with its email (once)

Every failed check is a 400 page that signs no one in; a provider that does not answer is a
503 page.
"""

import re
import time
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.django_client import DjangoOAuth2App
from authlib.integrations.django_client.integration import DjangoIntegration
from django.conf import settings
from django.contrib.auth import login as browser_sign_in
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from accounts import audit
from accounts.callers import caller_of
from accounts.federation import providers
from accounts.federation.idtokens import LEEWAY, IdTokenRefused, VerifiedIdToken, id_token_verify
from accounts.federation.linking import IdentityRefused, LinkNeedsPassword, identity_link, user_for_identity
from accounts.federation.providers import Provider, ProviderUnavailable
from accounts.models import User
from accounts.oauth.forms import SignInForm
from accounts.oauth.views import AUTH_TIME, SeeOther

BACKEND = "accounts.throttling.backends.ThrottledModelBackend"
PENDING_LINK = "accounts.federation.pending_link"
# How long the password step waits after the provider's sign-in.
PENDING_LINK_SECONDS = 600
# How long a sign-in started at the provider may take before its state is refused.
STATE_SECONDS = 600
SCOPE = "openid email profile"
MAX_AGE = re.compile(r"^[0-9]{1,10}$")


def callback_uri(provider: Provider) -> str:
    """The redirect URI registered at the provider: this service's issuer and the callback path."""
    return f"{settings.TOKEN_ISSUER.rstrip('/')}/login/{provider.name}/callback"


def continue_to(next_url: str | None) -> str | None:
    """`next_url` when it is a pending /authorize request of this service, else None."""
    if not next_url or not url_has_allowed_host_and_scheme(next_url, allowed_hosts=None):
        return None
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or parts.path.rstrip("/") != "/authorize":
        return None
    return next_url


def _provider() -> Provider:
    provider = providers.google()
    if provider is None:
        raise Http404("Sign-in with a provider is not configured.")
    return provider


def _oauth_client(provider: Provider) -> DjangoOAuth2App:
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


def _error_page(request: HttpRequest, description: str, *, status=HTTPStatus.BAD_REQUEST) -> HttpResponse:
    return render(
        request,
        "federation/error.html",
        {"description": description, "status": status},
        status=status,
    )


def _unavailable(request: HttpRequest) -> HttpResponse:
    response = _error_page(
        request,
        "The identity provider does not answer. Try again in a moment.",
        status=HTTPStatus.SERVICE_UNAVAILABLE,
    )
    response["Retry-After"] = "5"
    return response


def _signed_in(
    request: HttpRequest, user: User, *, auth_time: datetime, next_url: str | None
) -> HttpResponse:
    browser_sign_in(request, user, backend=BACKEND)
    request.session[AUTH_TIME] = int(auth_time.timestamp())
    audit.event("provider sign-in", user=user.pk, ip=caller_of(request).ip_address)
    if next_url:
        return SeeOther(next_url)
    return render(request, "federation/signed_in.html", {"user": user})


def _auth_time(token: VerifiedIdToken) -> datetime:
    """When the user signed in: the provider's `auth_time` when it says (never in the future),
    else now, the moment the provider vouched for the user."""
    now = datetime.now(tz=UTC)
    return min(token.auth_time or now, now)


def _fresh_enough(token: VerifiedIdToken, pending: dict) -> bool:
    """Whether the provider's sign-in is as recent as the pending request asked (prompt=login
    or max_age, passed on to the provider as max_age): proven by the token's `auth_time`."""
    max_age = pending.get("max_age")
    if max_age is None:
        return True
    if token.auth_time is None:
        return False
    since = pending["started_at"] if max_age == 0 else time.time() - max_age
    return token.auth_time.timestamp() >= since - LEEWAY.total_seconds()


@method_decorator(never_cache, name="dispatch")
class ProviderSignInView(View):
    """Send the browser to the provider's authorization endpoint.

    `next` is the pending /authorize request to continue; `max_age` (0 for prompt=login) is how
    recent its sign-in must be, which the provider is asked for and must prove.
    """

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        provider = _provider()
        max_age = request.GET.get("max_age", "")
        max_age = int(max_age) if MAX_AGE.match(max_age) else None
        extra = (
            {}
            if max_age is None
            else {"max_age": str(max_age), **({"prompt": "login"} if max_age == 0 else {})}
        )
        redirect_uri = callback_uri(provider)
        try:
            client = _oauth_client(provider)
            # Authlib makes state, nonce and the PKCE verifier (its authorize_redirect, plus the
            # pending request and its freshness): kept in this browser's session under the state.
            authorization = client.create_authorization_url(redirect_uri, **extra)
        except ProviderUnavailable:
            return _unavailable(request)
        client.framework.set_state_data(
            request.session,
            authorization["state"],
            {
                "redirect_uri": redirect_uri,
                "code_verifier": authorization["code_verifier"],
                "nonce": authorization["nonce"],
                "next": continue_to(request.GET.get("next")),
                "max_age": max_age,
                "started_at": time.time(),
            },
        )
        return HttpResponseRedirect(authorization["url"])


@method_decorator(never_cache, name="dispatch")
class ProviderCallbackView(View):
    """The provider's redirect back: spend the state, exchange the code, sign the browser in."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        provider = _provider()
        pending = self.spend_state(request, provider)
        if pending is None:
            return _error_page(
                request,
                "This sign-in is not valid here: it was already used, expired, or started in "
                "another browser. Start again from the application.",
            )
        if "error" in request.GET:
            error = request.GET.get("error_description") or request.GET.get("error")
            return _error_page(request, f"{provider.label} did not sign you in: {error}")
        code = request.GET.get("code")
        if not code:
            return _error_page(request, f"{provider.label} sent no authorization code.")
        try:
            token = _oauth_client(provider).fetch_access_token(
                code=code, redirect_uri=pending["redirect_uri"], code_verifier=pending["code_verifier"]
            )
            id_token = token.get("id_token") if isinstance(token, dict) else None
            if not isinstance(id_token, str):
                return _error_page(request, f"{provider.label} sent no ID token.")
            verified = id_token_verify(
                provider, id_token, audiences=(provider.client_id,), nonce=pending["nonce"]
            )
        except OAuthError as e:
            return _error_page(request, f"{provider.label} refused the sign-in: {e.description or e.error}")
        except IdTokenRefused as e:
            audit.event("provider sign-in refused", ip=caller_of(request).ip_address, reason=e.description)
            return _error_page(request, e.description)
        except (ProviderUnavailable, requests.RequestException, ValueError, TypeError, KeyError):
            # Unreachable, or an answer that is not an OAuth token response.
            return _unavailable(request)
        if not _fresh_enough(verified, pending):
            return _error_page(
                request,
                f"The application asks for a fresh sign-in, and {provider.label} did not confirm one.",
            )
        try:
            user = user_for_identity(provider=provider, token=verified)
        except LinkNeedsPassword as e:
            request.session[PENDING_LINK] = {
                "claims": verified.claims,
                "fingerprint": verified.fingerprint,
                "expires_at": verified.expires_at.isoformat(),
                "user": e.user.pk,
                "next": pending.get("next"),
                "until": time.time() + PENDING_LINK_SECONDS,
            }
            return SeeOther(f"/login/{provider.name}/link")
        except IdentityRefused as e:
            audit.event("provider sign-in refused", ip=caller_of(request).ip_address, reason=e.description)
            return _error_page(request, e.description)
        return _signed_in(request, user, auth_time=_auth_time(verified), next_url=pending.get("next"))

    @staticmethod
    def spend_state(request: HttpRequest, provider: Provider) -> dict | None:
        """The data this browser kept under the callback's `state`, removed: single use, whatever
        happens next. None for a missing, unknown, used or expired state."""
        state = request.GET.get("state")
        if not state:
            return None
        framework = DjangoIntegration(provider.name)
        pending = framework.get_state_data(request.session, state)
        framework.clear_state_data(request.session, state)
        if not isinstance(pending, dict) or time.time() - pending.get("started_at", 0) > STATE_SECONDS:
            return None
        return pending


@method_decorator([never_cache, csrf_protect], name="dispatch")
class LinkView(View):
    """Link the provider account to the local account with its email: that account's password, once."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        provider, pending, user = self.pending(request)
        if user is None:
            return self.nothing_pending(request)
        return self.page(request, provider, pending, user, SignInForm(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        provider, pending, user = self.pending(request)
        if user is None:
            return self.nothing_pending(request)
        data = {"username": user.get_username(), "password": request.POST.get("password", "")}
        form = SignInForm(request, data=data)
        if not form.is_valid() or form.get_user().pk != user.pk:
            status = HTTPStatus.TOO_MANY_REQUESTS if form.throttled else HTTPStatus.OK
            return self.page(request, provider, pending, user, form, status=status)
        # The claims verified at the callback, kept in this browser's (server-side) session.
        token = VerifiedIdToken(
            claims=pending["claims"],
            fingerprint=pending["fingerprint"],
            expires_at=datetime.fromisoformat(pending["expires_at"]),
        )
        request.session.pop(PENDING_LINK, None)
        try:
            linked = identity_link(provider=provider, token=token, user=form.get_user())
        except IdentityRefused as e:
            return _error_page(request, e.description)
        # The password was just entered: that is the sign-in's time.
        return _signed_in(request, linked, auth_time=datetime.now(tz=UTC), next_url=pending.get("next"))

    @staticmethod
    def pending(request: HttpRequest) -> tuple[Provider, dict | None, User | None]:
        provider = _provider()
        pending = request.session.get(PENDING_LINK)
        if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
            return provider, None, None
        user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
        return provider, pending, user

    @staticmethod
    def nothing_pending(request: HttpRequest) -> HttpResponse:
        return _error_page(
            request, "There is no account to link here, or the link step expired. Start again."
        )

    @staticmethod
    def page(request, provider, pending, user, form, *, status=HTTPStatus.OK) -> HttpResponse:
        return render(
            request,
            "federation/link.html",
            {"provider": provider, "user": user, "email": pending["claims"].get("email"), "form": form},
            status=status,
        )
