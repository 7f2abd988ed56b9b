"""The checks of an authorization request (GET or POST /authorize), in the contract's order, and
the decisions that follow a valid one. No HTTP here: the view hands in the parameters.

Order: the cases shown as an error page (no usable client or redirect_uri: never redirect to an
unchecked URI), then response_type, a repeated parameter, PKCE, scope, prompt, max_age; all of
them before any page is shown.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from accounts.oauth.clients import redirect_uri_matches
from accounts.oauth.codes import CODE_CHALLENGE
from accounts.oauth.models import Client, Consent

# Each scope a client may ask for, with the line the consent page shows for it.
SCOPES = {
    "openid": "Know who you are: a stable identifier of your account.",
    "profile": "See your name and username.",
    "email": "See your email address.",
}
PROMPTS = ("none", "login", "consent")
MAX_AGE = re.compile(r"^[0-9]+$")
# Beyond this (about 31 years) a max_age asks for no more than no max_age does.
MAX_AGE_CEILING = 10**9
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
)


class ErrorPage(Exception):
    """An error shown to the user (status 400), never redirected: there is no URI to trust."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class ErrorRedirect(Exception):
    """An error sent back to the client's redirect_uri (RFC 6749 §4.1.2.1)."""

    def __init__(self, request: "AuthorizationRequest", error: str, description: str) -> None:
        super().__init__(description)
        self.location = request.redirect_to(error=error, error_description=description)


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    state: str | None
    scope: str = ""
    code_challenge: str = ""
    nonce: str = ""
    prompts: frozenset[str] = frozenset()
    max_age: int | None = None
    login_hint: str | None = None

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

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def needs_sign_in(self, *, auth_time: datetime | None, now: datetime) -> bool:
        """Whether the user must sign in (again): not signed in, prompt=login, or past max_age."""
        if auth_time is None or "login" in self.prompts:
            return True
        return self.max_age is not None and now - auth_time >= timedelta(seconds=self.max_age)


def parse(values: dict[str, list[str]]) -> AuthorizationRequest:
    """Check the parameters (name -> every value sent); raise ErrorPage or ErrorRedirect."""

    def single(name: str) -> str | None:
        sent = [value for value in values.get(name, []) if value.strip()]
        return sent[0] if sent else None

    client_ids = [value for value in values.get("client_id", []) if value.strip()]
    if len(client_ids) != 1:
        raise ErrorPage(
            "The request names no client." if not client_ids else "The client_id was sent more than once."
        )
    client = Client.objects.filter(pk=client_ids[0], is_active=True).first()
    if client is None:
        raise ErrorPage("The request names an unknown client.")
    redirect_uris = [value for value in values.get("redirect_uri", []) if value.strip()]
    if len(redirect_uris) != 1:
        raise ErrorPage(
            "The request has no redirect_uri."
            if not redirect_uris
            else "The redirect_uri was sent more than once."
        )
    if not redirect_uri_matches(client.redirect_uris, redirect_uris[0]):
        raise ErrorPage("The redirect_uri is not registered for this client.")
    request = AuthorizationRequest(client=client, redirect_uri=redirect_uris[0], state=single("state"))

    if single("response_type") != "code":
        raise ErrorRedirect(request, "unsupported_response_type", 'The only response_type is "code".')
    for name in PARAMETERS:
        if len([value for value in values.get(name, []) if value.strip()]) > 1:
            raise ErrorRedirect(
                request, "invalid_request", f"The parameter '{name}' was sent more than once."
            )
    challenge = single("code_challenge")
    if challenge is None:
        raise ErrorRedirect(request, "invalid_request", "PKCE is required: send a code_challenge (S256).")
    if single("code_challenge_method") != "S256":
        raise ErrorRedirect(request, "invalid_request", 'The code_challenge_method must be "S256".')
    if not CODE_CHALLENGE.match(challenge):
        raise ErrorRedirect(request, "invalid_request", "The code_challenge must be 43 base64url characters.")
    scopes = (single("scope") or "").split()
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ErrorRedirect(request, "invalid_scope", f"Unknown scope: {' '.join(unknown)}.")
    prompts = frozenset((single("prompt") or "").split())
    if not prompts <= set(PROMPTS) or ("none" in prompts and len(prompts) > 1):
        raise ErrorRedirect(request, "invalid_request", "prompt is none, or any of login and consent.")
    max_age = single("max_age")
    if max_age is not None and not MAX_AGE.match(max_age.strip()):
        raise ErrorRedirect(request, "invalid_request", "max_age must be a whole number of seconds.")
    return AuthorizationRequest(
        client=client,
        redirect_uri=request.redirect_uri,
        state=request.state,
        scope=" ".join(dict.fromkeys(scopes)),
        code_challenge=challenge,
        nonce=single("nonce") or "",
        prompts=prompts,
        max_age=min(int(max_age), MAX_AGE_CEILING) if max_age is not None else None,
        login_hint=single("login_hint"),
    )


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
