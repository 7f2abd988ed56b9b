"""GET and POST /authorize: the authorization endpoint, its sign-in and consent pages.

Django views and templates, not DRF: these are pages for people. Parse -> decide -> render: the
rules are accounts.oauth.authorize's and the sign-in is accounts.signin's; this view reads the
request and renders what the decision says. A client's POST carries no token of this service and
is taken as the same GET would be; the service's own forms (sign-in, consent) are the ones
checked for CSRF. Every page is no-store, and no page can be framed (X-Frame-Options and CSP
frame-ancestors, set for the whole site).
"""

from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts import clock
from accounts.errors import OAuthError, UntrustedRedirect
from accounts.oauth import authorize, clients, pushed
from accounts.responses import SeeOther
from accounts.signin import methods, pages, state

OWN_FORM_FIELDS = ("username", "password", "allow", "deny", "switch", "csrfmiddlewaretoken")


class SeeOtherToClient(SeeOther):
    """A 303 to a URI that the request matched against the client's registration (its redirect_uri
    or post_logout_redirect_uri), whose scheme may also be a native app's private-use one
    (RFC 8252 §7.1), which Django's list refuses. Any other scheme is still refused."""

    def __init__(self, location: str) -> None:
        scheme = urlsplit(location).scheme
        if clients.is_private_use_scheme(scheme):
            self.allowed_schemes = [*SeeOther.allowed_schemes, scheme]
        super().__init__(location)


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class AuthorizeView(View):
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.handle(request, {name: request.GET.getlist(name) for name in request.GET})

    def post(self, request: HttpRequest) -> HttpResponse:
        values = {name: request.POST.getlist(name) for name in request.POST}
        if any(
            name in values for name in ("username", "allow", "deny", "switch")
        ):  # our own form: CSRF first
            return csrf_protect(lambda request: self.handle(request, values, submitted=True))(request)
        return self.handle(request, values)

    def handle(self, request: HttpRequest, values: dict, *, submitted: bool = False) -> HttpResponse:
        pushed_at = request_uri = None  # a pushed request's (RFC 9126): when this browser took it up
        try:
            parameters = values
            if any(value.strip() for value in values.get("request_uri", [])):
                parameters, pushed_at, request_uri = pushed_request(request, values)
            target = authorize.redirect_target(parameters)
        except UntrustedRedirect as e:
            return render(
                request, "oauth/error.html", {"description": e.description}, status=HTTPStatus.BAD_REQUEST
            )
        try:
            authz = authorize.parse(parameters, target, pushed=pushed_at is not None)
        except OAuthError as e:
            return SeeOtherToClient(target.error_redirect(e))
        now = clock.now()
        hidden = [
            (name, value) for name, sent in values.items() if name not in OWN_FORM_FIELDS for value in sent
        ]
        signed_in, just_signed_in = state.signed_in(request), False
        if submitted and "switch" in values:  # "Not you?" on the consent page: sign out, sign in again
            kept = request.session.get(PUSHED_REQUESTS)
            state.sign_out(request)
            if kept:  # the pushed request stays this browser's
                request.session[PUSHED_REQUESTS] = kept
            signed_in = None
        if submitted and "username" in values:
            form = methods.PasswordForm(request, data=request.POST)
            proof = methods.password(form)
            if proof is None:
                return self.sign_in_page(request, authz, hidden, form)
            continue_to = "/authorize?" + urlencode(signed_in_parameters(authz, hidden))
            signed_in = state.first_factor_proven(
                request, proof.user, methods=proof.methods, auth_time=now, next_url=continue_to
            )
            if signed_in is None:  # the second factor first, then this request
                return SeeOther(state.SECOND_STEP_PATH)
            just_signed_in = True
        if pushed_at is not None and signed_in is not None and signed_in.auth_time >= pushed_at:
            just_signed_in = True  # signed in since the request began (another way in, a second step)
        answer = next((name for name in ("deny", "allow") if submitted and name in values), None)
        decision = authorize.decide(
            authz,
            signed_in=signed_in,
            just_signed_in=just_signed_in,
            answer=answer,
            now=now,
            spend=(lambda: pushed.answer(request_uri=request_uri, now=now)) if request_uri else None,
        )
        if isinstance(decision, authorize.NeedsSignIn):
            form = methods.PasswordForm(request, initial={"username": authz.login_hint})
            return self.sign_in_page(request, authz, hidden, form)
        if isinstance(decision, authorize.NeedsConsent):
            # The sign-in just happened (or was recent enough): the consent form does not ask again.
            return render(
                request,
                "oauth/consent.html",
                {
                    "client": authz.client,
                    "scopes": decision.scopes,
                    "hidden": signed_in_parameters(authz, hidden),
                    "user": signed_in.user,
                },
            )
        if request_uri is not None:  # answered: the pushed request is spent for this browser too
            request.session[PUSHED_REQUESTS] = {
                key: kept
                for key, kept in request.session.get(PUSHED_REQUESTS, {}).items()
                if key != pushed.uri_hash(request_uri)
            }
        return SeeOtherToClient(decision.location)

    @staticmethod
    def sign_in_page(request, authz: authorize.AuthorizationRequest, hidden, form) -> HttpResponse:
        # After another way in (the provider's), the same request continues without asking again;
        # prompt=login and max_age move to the provider, which must prove a recent sign-in.
        return pages.sign_in_page(
            request,
            form=form,
            hidden=hidden,
            continue_to="/authorize?" + urlencode(signed_in_parameters(authz, hidden)),
            max_age=0 if "login" in authz.prompts else authz.max_age,
            client=authz.client,
        )


PUSHED_REQUESTS = "accounts.oauth.pushed"  # the browser session's pushed requests, by request_uri hash


def pushed_request(request: HttpRequest, values: dict) -> tuple[dict, datetime, str]:
    """The parameters of the pushed request that `values` names (request_uri, client_id), when
    this browser took it up (from its own session, or spent now: accounts.oauth.pushed.bind), and
    its request_uri. Raises UntrustedRedirect for one that cannot be used."""
    uris = [value.strip() for value in values.get("request_uri", []) if value.strip()]
    if len(uris) > 1:
        raise UntrustedRedirect("The parameter 'request_uri' was sent more than once.")
    client_id = next((value for value in values.get("client_id", []) if value.strip()), None)
    key = pushed.uri_hash(uris[0])
    kept = request.session.get(PUSHED_REQUESTS, {}).get(key)
    if kept is not None and kept["client_id"] == client_id:
        return kept["parameters"], datetime.fromtimestamp(kept["taken_at"], tz=UTC), uris[0]
    now = clock.now()
    parameters = pushed.bind(request_uri=uris[0], client_id=client_id, now=now)
    request.session[PUSHED_REQUESTS] = {
        **request.session.get(PUSHED_REQUESTS, {}),
        key: {"parameters": parameters, "client_id": client_id, "taken_at": int(now.timestamp())},
    }
    return parameters, now.replace(microsecond=0), uris[0]


def signed_in_parameters(authz: authorize.AuthorizationRequest, hidden: list) -> list[tuple[str, str]]:
    """The request's parameters once the user has just signed in: without max_age and
    prompt=login, which would ask for the sign-in again."""
    kept = [(name, value) for name, value in hidden if name not in ("prompt", "max_age")]
    prompts = authz.prompts - {"login"}
    return kept + ([("prompt", " ".join(sorted(prompts)))] if prompts else [])
