"""An authorization request (GET or POST /authorize): parse, then decide. No HTTP here: the view
hands in the parameters and the browser's sign-in, and renders what `decide` answers.

Parse, in the contract's order: `redirect_target` (no usable client or redirect_uri is an
UntrustedRedirect, shown as an error page: never redirect to an unchecked URI), then `parse`
(response_type, a repeated parameter, PKCE, scope, prompt, max_age), whose errors are the OAuth
error classes of /token, sent back to the redirect_uri; all of them before any page is shown.
Decide (`decide`): NeedsSignIn | NeedsConsent | Redirect (a code, or an error).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.apis import scopes as api_scopes
from accounts.errors import (
    AccessDenied,
    ConsentRequired,
    InvalidRequest,
    LoginRequired,
    OAuthError,
    UnauthorizedClient,
    UnsupportedResponseType,
    UntrustedRedirect,
)
from accounts.oauth import codes
from accounts.oauth.clients import active_client, redirect_uri_matches
from accounts.oauth.codes import CODE_CHALLENGE
from accounts.oauth.models import AUTHORIZATION_CODE, Client, Consent
from accounts.signin import methods
from accounts.signin.state import SignedIn

# The identity scopes, with the line the consent page shows for each (an API's scopes are its own).
SCOPES = api_scopes.IDENTITY_SCOPES
PROMPTS = ("none", "login", "consent")
MAX_AGE = re.compile(r"^[0-9]+$")
# Beyond this (about 31 years) a max_age asks for no more than no max_age does.
MAX_AGE_CEILING = 10**9
MAX_NONCE_LENGTH = 512  # what an authorization code keeps of it
PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "acr_values",
    "resource",
)
# acr_values asking for a second factor (OpenID Connect Core §3.1.2.1; listed in discovery).
MFA_ACR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    state: str | None
    scope: str = ""
    resource: str = ""  # an API's identifier (RFC 8707); "": this service's own audience
    code_challenge: str = ""
    nonce: str = ""
    prompts: frozenset[str] = frozenset()
    max_age: int | None = None
    login_hint: str | None = None
    wants_mfa: bool = False  # acr_values named MFA_ACR

    def redirect_to(self, **params: str) -> str:
        """The redirect_uri with `params`, `state` and `iss` (RFC 9207) added to its query."""
        extra = {
            **params,
            **({"state": self.state} if self.state is not None else {}),
            "iss": settings.TOKEN_ISSUER,
        }
        parts = urlsplit(self.redirect_uri)
        query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *extra.items()])
        return urlunsplit(parts._replace(query=query))

    def error_redirect(self, error: OAuthError) -> str:
        """The redirect_uri with `error` (RFC 6749 §4.1.2.1)."""
        return self.redirect_to(error=error.error, error_description=error.description)

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def needs_sign_in(self, *, auth_time: datetime | None, now: datetime) -> bool:
        """Whether the user must sign in (again): not signed in, prompt=login, or past max_age."""
        if auth_time is None or "login" in self.prompts:
            return True
        return self.max_age is not None and now - auth_time >= timedelta(seconds=self.max_age)


def redirect_target(values: dict[str, list[str]]) -> AuthorizationRequest:
    """The client, its redirect_uri and the state: where errors may be sent. Raises
    UntrustedRedirect (no usable client or redirect_uri: nothing may be redirected to)."""
    client_ids = [value for value in values.get("client_id", []) if value.strip()]
    if len(client_ids) != 1:
        raise UntrustedRedirect(
            "The request names no client." if not client_ids else "The client_id was sent more than once."
        )
    client = active_client(client_ids[0])
    if client is None:
        raise UntrustedRedirect("The request names an unknown client.")
    redirect_uris = [value for value in values.get("redirect_uri", []) if value.strip()]
    if len(redirect_uris) != 1:
        raise UntrustedRedirect(
            "The request has no redirect_uri."
            if not redirect_uris
            else "The redirect_uri was sent more than once."
        )
    if not redirect_uri_matches(client.redirect_uris, redirect_uris[0]):
        raise UntrustedRedirect("The redirect_uri is not registered for this client.")
    return AuthorizationRequest(client=client, redirect_uri=redirect_uris[0], state=_single(values, "state"))


def parse(
    values: dict[str, list[str]], target: AuthorizationRequest, *, pushed: bool = False
) -> AuthorizationRequest:
    """Check the rest of the parameters (name -> every value sent) of a request whose
    `redirect_target` is `target` (`pushed`: through POST /par). Raises the OAuth error
    (InvalidRequest, InvalidScope, UnsupportedResponseType, UnauthorizedClient) that goes back to
    the redirect_uri."""
    if not pushed and pushed_required(target.client):
        raise InvalidRequest("This client must push its authorization requests to /par first (RFC 9126).")
    if _single(values, "response_type") != "code":
        raise UnsupportedResponseType('The only response_type is "code".')
    if not target.client.may_use(AUTHORIZATION_CODE):
        raise UnauthorizedClient("This client may not use the authorization_code grant.")
    for name in PARAMETERS:
        if len([value for value in values.get(name, []) if value.strip()]) > 1:
            raise InvalidRequest(f"The parameter '{name}' was sent more than once.")
        # PostgreSQL text cannot keep a NUL (scope has its own rule: invalid_scope, as the contract says)
        if name != "scope" and any("\x00" in value for value in values.get(name, [])):
            raise InvalidRequest(f"The parameter '{name}' cannot hold a NUL character.")
    challenge = _single(values, "code_challenge")
    if challenge is None:
        raise InvalidRequest("PKCE is required: send a code_challenge (S256).")
    if _single(values, "code_challenge_method") != "S256":
        raise InvalidRequest('The code_challenge_method must be "S256".')
    if not CODE_CHALLENGE.match(challenge):
        raise InvalidRequest("The code_challenge must be 43 base64url characters.")
    requested = api_scopes.resolve(
        client=target.client, scope=_single(values, "scope"), resource=_single(values, "resource")
    )
    prompts = frozenset((_single(values, "prompt") or "").split())
    if not prompts <= set(PROMPTS) or ("none" in prompts and len(prompts) > 1):
        raise InvalidRequest("prompt is none, or any of login and consent.")
    max_age = _single(values, "max_age")
    if max_age is not None and not MAX_AGE.match(max_age.strip()):
        raise InvalidRequest("max_age must be a whole number of seconds.")
    if len(_single(values, "nonce") or "") > MAX_NONCE_LENGTH:
        raise InvalidRequest(f"The nonce is at most {MAX_NONCE_LENGTH} characters.")
    return AuthorizationRequest(
        client=target.client,
        redirect_uri=target.redirect_uri,
        state=target.state,
        scope=requested.scope,
        resource=requested.resource,
        code_challenge=challenge,
        nonce=_single(values, "nonce") or "",
        prompts=prompts,
        max_age=min(int(max_age), MAX_AGE_CEILING) if max_age is not None else None,
        login_hint=_single(values, "login_hint"),
        wants_mfa=MFA_ACR in (_single(values, "acr_values") or "").split(),
    )


def pushed_required(client: Client) -> bool:
    """Whether `client` may send its authorization requests only through POST /par (RFC 9126)."""
    return settings.REQUIRE_PUSHED_AUTHORIZATION_REQUESTS or client.require_pushed_authorization_requests


def _single(values: dict[str, list[str]], name: str) -> str | None:
    sent = [value for value in values.get(name, []) if value.strip()]
    return sent[0] if sent else None


# --- the decision ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedsSignIn:
    """Show the sign-in page (the user is not signed in, or not recently enough)."""


@dataclass(frozen=True)
class NeedsConsent:
    """Show the consent page for these scopes (each with its line)."""

    scopes: list[tuple[str, str]]


@dataclass(frozen=True)
class Redirect:
    """Send the browser back to the client: a code, or an error."""

    location: str


Decision = NeedsSignIn | NeedsConsent | Redirect


def decide(
    request: AuthorizationRequest,
    *,
    signed_in: SignedIn | None,
    just_signed_in: bool = False,
    answer: str | None = None,
    now: datetime,
    spend: Callable[[], bool] | None = None,
) -> Decision:
    """What a valid authorization request gets, given the browser's sign-in and the user's
    answer on the consent page (`answer`: "allow", "deny" or None).

    `just_signed_in`: the sign-in of this very request, which prompt=login and max_age accept.
    `spend`: for a request that may be answered once (a pushed one), asked just before the code
    is issued; False (answered meanwhile, in another window) is an error instead of a code.
    Remembers an "allow" and issues the code; nothing else is written.
    """
    auth_time = signed_in.auth_time if signed_in is not None else None
    # A second factor asked for (acr_values) by a user who has one but signed in without it:
    # signing in again asks for it. A user without one gets the sign-in as it is (acr says so).
    # Whether the user has a factor costs a query: asked only when the request wants one, and
    # only of a browser signed in without it (a sign-in with it proves the factor).
    wants_mfa = request.wants_mfa or request.client.require_second_factor
    has_factor = (
        wants_mfa
        and signed_in is not None
        and (methods.MFA in signed_in.methods or methods.needs_second_step(signed_in.user))
    )
    step_up = has_factor and methods.MFA not in signed_in.methods
    if (
        signed_in is None
        or step_up
        or (not just_signed_in and request.needs_sign_in(auth_time=auth_time, now=now))
    ):
        if "none" in request.prompts:
            return Redirect(request.error_redirect(LoginRequired("Sign-in is required.")))
        return NeedsSignIn()
    user = signed_in.user
    if request.client.require_second_factor and not has_factor:
        return Redirect(
            request.error_redirect(
                AccessDenied("This application requires two-step sign-in: turn it on at /account/security.")
            )
        )
    if answer == "deny":
        return Redirect(request.error_redirect(AccessDenied("The user denied access.")))
    if answer == "allow":
        consent_remember(request, user=user)
    elif needs_consent(request, user=user):
        if "none" in request.prompts:
            return Redirect(request.error_redirect(ConsentRequired("Consent is required.")))
        return NeedsConsent(scopes=api_scopes.describe(request.scope))
    if spend is not None and not spend():
        return Redirect(request.error_redirect(InvalidRequest("This request was answered already.")))
    code = codes.code_issue(
        client=request.client,
        user=user,
        redirect_uri=request.redirect_uri,
        code_challenge=request.code_challenge,
        scope=request.scope,
        resource=request.resource,
        nonce=request.nonce,
        auth_time=auth_time,
        amr=signed_in.methods,
        now=now,
    )
    return Redirect(request.redirect_to(code=code))


def needs_consent(request: AuthorizationRequest, *, user) -> bool:
    """Whether the consent page must be shown: never for a first-party client; otherwise unless
    the user already granted these scopes to this client, or when prompt=consent asks again."""
    if request.client.first_party:
        return False
    if "consent" in request.prompts:
        return True
    granted = (
        Consent.objects.filter(user=user, client=request.client).values_list("scopes", flat=True).first()
    )
    return granted is None or not set(request.scopes) <= set(granted)


def consent_remember(request: AuthorizationRequest, *, user) -> None:
    """Remember that `user` granted these scopes to the client (with any granted before)."""
    for _ in range(2):  # a concurrent first grant may win the insert: then update that row
        consent = Consent.objects.filter(user=user, client=request.client).first()
        if consent is not None:
            consent.scopes = sorted(set(consent.scopes) | set(request.scopes))
            consent.save(update_fields=["scopes"])
            return
        try:
            with transaction.atomic():
                Consent.objects.create(user=user, client=request.client, scopes=sorted(set(request.scopes)))
            return
        except IntegrityError:
            continue
