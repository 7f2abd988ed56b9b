"""GET and POST /authorize: the authorization endpoint, its sign-in and consent pages.

Django views and templates, not DRF: these are pages for people. A client's POST carries no token
of this service and is taken as the same GET would be; the service's own forms (sign-in,
consent) are the ones checked for CSRF. Every page is no-store, and no page can be framed
(X-Frame-Options and CSP frame-ancestors, set for the whole site).
"""

from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

from django.contrib.auth import login as browser_sign_in
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts.federation import providers
from accounts.oauth import authorize, clients, codes
from accounts.oauth.forms import SignInForm

AUTH_TIME = "accounts.auth_time"  # the browser session's sign-in time (epoch seconds)
OWN_FORM_FIELDS = ("username", "password", "allow", "deny", "csrfmiddlewaretoken")


class SeeOther(HttpResponseRedirect):
    """A 303 to a page of this service or a web site: Django's schemes only (http, https, ftp)."""

    status_code = HTTPStatus.SEE_OTHER


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
        return self.authorize(request, {name: request.GET.getlist(name) for name in request.GET})

    def post(self, request: HttpRequest) -> HttpResponse:
        values = {name: request.POST.getlist(name) for name in request.POST}
        if any(name in values for name in ("username", "allow", "deny")):  # our own form: CSRF first
            return csrf_protect(lambda request: self.authorize(request, values, submitted=True))(request)
        return self.authorize(request, values)

    def authorize(self, request: HttpRequest, values: dict, *, submitted: bool = False) -> HttpResponse:
        try:
            authz = authorize.parse(values)
        except authorize.ErrorPage as e:
            return render(
                request, "oauth/error.html", {"description": e.description}, status=HTTPStatus.BAD_REQUEST
            )
        except authorize.ErrorRedirect as e:
            return SeeOtherToClient(e.location)
        now = timezone.now()
        hidden = [
            (name, value) for name, sent in values.items() if name not in OWN_FORM_FIELDS for value in sent
        ]
        signed_in_now = False
        if submitted and "username" in values:
            form = SignInForm(request, data=request.POST)
            if not form.is_valid():
                status = HTTPStatus.TOO_MANY_REQUESTS if form.throttled else HTTPStatus.OK
                return self.sign_in_page(request, authz, hidden, form, status=status)
            browser_sign_in(
                request, form.get_user(), backend="accounts.throttling.backends.ThrottledModelBackend"
            )
            request.session[AUTH_TIME] = int(now.timestamp())
            signed_in_now = True
        user = request.user if request.user.is_authenticated and request.user.is_active else None
        auth_time = self.auth_time(request) if user is not None else None
        if not signed_in_now and authz.needs_sign_in(auth_time=auth_time, now=now):
            if "none" in authz.prompts:
                return SeeOtherToClient(
                    authz.redirect_to(error="login_required", error_description="Sign-in is required.")
                )
            return self.sign_in_page(
                request, authz, hidden, SignInForm(request, initial={"username": authz.login_hint})
            )
        if submitted and "deny" in values:
            return SeeOtherToClient(
                authz.redirect_to(error="access_denied", error_description="The user denied access.")
            )
        if submitted and "allow" in values:
            authorize.consent_remember(authz, user=user)
        elif authorize.needs_consent(authz, user=user):
            if "none" in authz.prompts:
                return SeeOtherToClient(
                    authz.redirect_to(error="consent_required", error_description="Consent is required.")
                )
            # The sign-in just happened (or was recent enough): the consent form does not ask again.
            consent_hidden = signed_in_parameters(authz, hidden)
            scopes = [(scope, authorize.SCOPES[scope]) for scope in authz.scopes]
            return render(
                request,
                "oauth/consent.html",
                {"client": authz.client, "scopes": scopes, "hidden": consent_hidden, "user": user},
            )
        code = codes.code_issue(
            client=authz.client,
            user=user,
            redirect_uri=authz.redirect_uri,
            code_challenge=authz.code_challenge,
            scope=authz.scope,
            nonce=authz.nonce,
            auth_time=datetime.fromtimestamp(request.session[AUTH_TIME], tz=UTC)
            if signed_in_now
            else auth_time,
            now=now,
        )
        return SeeOtherToClient(authz.redirect_to(code=code))

    @staticmethod
    def auth_time(request: HttpRequest) -> datetime | None:
        seconds = request.session.get(AUTH_TIME)
        return datetime.fromtimestamp(seconds, tz=UTC) if isinstance(seconds, int) else None

    @staticmethod
    def sign_in_page(request, authz, hidden, form, *, status=HTTPStatus.OK) -> HttpResponse:
        provider = providers.google()
        provider_link = None
        if provider is not None:
            # After the provider's sign-in, the same request continues without asking again.
            pending = "/authorize?" + urlencode(signed_in_parameters(authz, hidden))
            # prompt=login and max_age move to the provider, which must prove a recent sign-in.
            max_age = 0 if "login" in authz.prompts else authz.max_age
            link = {"next": pending, **({"max_age": max_age} if max_age is not None else {})}
            provider_link = f"/login/{provider.name}?" + urlencode(link)
        return render(
            request,
            "oauth/sign_in.html",
            {
                "client": authz.client,
                "form": form,
                "hidden": hidden,
                "provider": provider,
                "provider_link": provider_link,
            },
            status=status,
        )


def signed_in_parameters(authz: authorize.AuthorizationRequest, hidden: list) -> list[tuple[str, str]]:
    """The request's parameters once the user has just signed in: without max_age and
    prompt=login, which would ask for the sign-in again."""
    kept = [(name, value) for name, value in hidden if name not in ("prompt", "max_age")]
    prompts = authz.prompts - {"login"}
    return kept + ([("prompt", " ".join(sorted(prompts)))] if prompts else [])
