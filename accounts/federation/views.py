"""The browser flow of "Sign in with Google": pages for people (Django views and templates).

GET /login/google             sends the browser to the provider (state, nonce, PKCE S256 by
                              Authlib's Django client, kept in this browser's session)
GET /login/google/callback    spends the state, exchanges the code, verifies the ID token,
                              signs the browser in, continues the pending /authorize request
GET|POST /login/google/link   the password step that links a provider account to the local
                              account with its email (once)

The rules are accounts.federation.signin's; these views keep the browser's session and render.
Every failed check is a 400 page that signs no one in; a provider that does not answer is a
503 page.
"""

from http import HTTPStatus

from authlib.integrations.django_client.integration import DjangoIntegration
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from accounts import audit, clock
from accounts.callers import caller_of
from accounts.errors import InvalidRequest
from accounts.federation import providers, signin
from accounts.federation.linking import IdentityRefused
from accounts.federation.providers import Provider, ProviderUnavailable
from accounts.responses import SeeOther
from accounts.signin import methods, redirects, state

PENDING_LINK = "accounts.federation.pending_link"


def _provider() -> Provider:
    provider = providers.google()
    if provider is None:
        raise Http404("Sign-in with a provider is not configured.")
    return provider


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


def _signed_in(request: HttpRequest, outcome: signin.SignedInByProvider) -> HttpResponse:
    user = outcome.proof.user
    audit.event("provider sign-in", user=user.pk, ip=caller_of(request).ip_address)
    # The provider proved the first factor; this service asks the second of a user who has one.
    signed_in = state.first_factor_proven(
        request,
        user,
        methods=outcome.proof.methods,
        auth_time=outcome.auth_time,
        next_url=outcome.next_url or "",
    )
    if signed_in is None:
        return SeeOther(state.SECOND_STEP_PATH)
    if outcome.next_url:
        return SeeOther(outcome.next_url)
    return render(request, "federation/signed_in.html", {"user": user})


@method_decorator(never_cache, name="dispatch")
class ProviderSignInView(View):
    """Send the browser to the provider's authorization endpoint.

    `next` is the pending /authorize request to continue; `max_age` (0 for prompt=login) is how
    recent its sign-in must be, which the provider is asked for and must prove.
    """

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        provider = _provider()
        max_age = signin.requested_max_age(request.GET.get("max_age"))
        extra = (
            {}
            if max_age is None
            else {"max_age": str(max_age), **({"prompt": "login"} if max_age == 0 else {})}
        )
        redirect_uri = signin.callback_uri(provider)
        try:
            client = signin.oauth_client(provider)
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
                "next": redirects.after_sign_in(request.GET.get("next")),
                "max_age": max_age,
                "started_at": clock.now().timestamp(),
            },
        )
        return HttpResponseRedirect(authorization["url"])


@method_decorator(never_cache, name="dispatch")
class ProviderCallbackView(View):
    """The provider's redirect back: spend the state, exchange the code, sign the browser in."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        provider = _provider()
        now = clock.now()
        pending = self.spend_state(request, provider)
        if not signin.pending_is_valid(pending, now=now):
            return _error_page(
                request,
                "This sign-in is not valid here: it was already used, expired, or started in "
                "another browser. Start again from the application.",
            )
        try:
            outcome = signin.callback_outcome(
                provider, pending, request.GET, caller=caller_of(request), now=now
            )
        except ProviderUnavailable:
            return _unavailable(request)
        except InvalidRequest as e:
            return _error_page(request, e.description)
        if isinstance(outcome, signin.NeedsLink):
            request.session[PENDING_LINK] = outcome.pending
            return SeeOther(f"/login/{provider.name}/link")
        return _signed_in(request, outcome)

    @staticmethod
    def spend_state(request: HttpRequest, provider: Provider):
        """The data this browser kept under the callback's `state`, removed: single use, whatever
        happens next. None for a missing or unknown state."""
        state_value = request.GET.get("state")
        if not state_value:
            return None
        framework = DjangoIntegration(provider.name)
        pending = framework.get_state_data(request.session, state_value)
        framework.clear_state_data(request.session, state_value)
        return pending


@method_decorator([never_cache, csrf_protect], name="dispatch")
class LinkView(View):
    """Link the provider account to the local account with its email: that account's password, once."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        provider = _provider()
        link = signin.pending_link(request.session.get(PENDING_LINK), now=clock.now())
        if link is None:
            return self.nothing_pending(request)
        return self.page(request, provider, link, methods.PasswordForm(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        provider = _provider()
        now = clock.now()
        link = signin.pending_link(request.session.get(PENDING_LINK), now=now)
        if link is None:
            return self.nothing_pending(request)
        data = {"username": link.user.get_username(), "password": request.POST.get("password", "")}
        form = methods.PasswordForm(request, data=data)
        proof = methods.password(form, of=link.user)
        if proof is None:
            return self.page(request, provider, link, form)
        request.session.pop(PENDING_LINK, None)
        try:
            outcome = signin.link_with_password(provider, link, proof, now=now)
        except IdentityRefused as e:
            return _error_page(request, e.description)
        return _signed_in(request, outcome)

    @staticmethod
    def nothing_pending(request: HttpRequest) -> HttpResponse:
        return _error_page(
            request, "There is no account to link here, or the link step expired. Start again."
        )

    @staticmethod
    def page(request, provider, link: signin.PendingLink, form) -> HttpResponse:
        status = HTTPStatus.TOO_MANY_REQUESTS if form.throttled else HTTPStatus.OK
        return render(
            request,
            "federation/link.html",
            {"provider": provider, "user": link.user, "email": link.token.claims.get("email"), "form": form},
            status=status,
        )
