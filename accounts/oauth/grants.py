"""The grants of POST /token, one class each: a new grant is a new class, not a new branch.

A grant checks its own parameters (invalid_request), knows whether it needs a client, and issues
the token pair through the services. The view has already checked grant_type and authenticated
the client, in the contract's order.
"""

from accounts import services
from accounts.callers import Caller
from accounts.errors import InvalidClient, InvalidRequest
from accounts.federation import exchange, providers
from accounts.oauth import codes
from accounts.oauth.models import Client
from accounts.serializers import NOT_A_STRING, required_string


class Grant:
    grant_type: str
    parameters: tuple[str, ...] = ()
    needs_client = False  # a request naming no client is invalid_client
    issued_token_type: str | None = None  # RFC 8693's issued_token_type, for a token exchange

    def __init__(self, params: dict, *, client: Client | None, caller: Caller) -> None:
        if self.needs_client and client is None:
            raise InvalidClient(
                "This grant needs the client's authentication (a public client: its client_id)."
            )
        self.client = client
        self.caller = caller
        self.params = {name: required_string(params, name) for name in self.parameters}
        scope = params.get("scope")
        self.scope = None if scope is None or scope is NOT_A_STRING else scope

    def issue(self) -> services.IssuedTokens:
        raise NotImplementedError


class RefreshTokenGrant(Grant):
    """RFC 6749 §6: spend a refresh token for a new pair of its session."""

    grant_type = "refresh_token"
    parameters = ("refresh_token",)

    def issue(self) -> services.IssuedTokens:
        return services.refresh_token_rotate(
            refresh_token=self.params["refresh_token"],
            caller=self.caller,
            client=self.client,
            scope=self.scope,
        )


class AuthorizationCodeGrant(Grant):
    """RFC 6749 §4.1.3 with RFC 7636: a code of /authorize, its redirect_uri and PKCE verifier."""

    grant_type = "authorization_code"
    parameters = ("code", "redirect_uri", "code_verifier")
    needs_client = True

    def __init__(self, params: dict, *, client: Client | None, caller: Caller) -> None:
        super().__init__(params, client=client, caller=caller)
        if not codes.CODE_VERIFIER.match(self.params["code_verifier"]):
            raise InvalidRequest("The code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~.")

    def issue(self) -> services.IssuedTokens:
        return codes.code_exchange(
            code=self.params["code"],
            client=self.client,
            redirect_uri=self.params["redirect_uri"],
            code_verifier=self.params["code_verifier"],
            caller=self.caller,
        )


class TokenExchangeGrant(Grant):
    """RFC 8693: an ID token of the configured provider (Google) for a new session's token pair."""

    grant_type = exchange.GRANT_TYPE
    issued_token_type = exchange.ACCESS_TOKEN_TYPE

    def __init__(self, params: dict, *, client: Client | None, caller: Caller) -> None:
        super().__init__(params, client=client, caller=caller)
        if params.get("subject_token_type") != exchange.ID_TOKEN_TYPE:
            raise InvalidRequest(f'The subject_token_type must be "{exchange.ID_TOKEN_TYPE}".')
        if params.get("requested_token_type") not in (None, exchange.ACCESS_TOKEN_TYPE):
            raise InvalidRequest(f'The requested_token_type can only be "{exchange.ACCESS_TOKEN_TYPE}".')
        self.subject_token = required_string(params, "subject_token")

    def issue(self) -> services.IssuedTokens:
        return exchange.id_token_exchange(
            provider=providers.google(),
            subject_token=self.subject_token,
            client=self.client,
            caller=self.caller,
        )


def grants() -> dict[str, type[Grant]]:
    """The grants /token accepts now: the token exchange only while a provider is configured."""
    enabled = [RefreshTokenGrant, AuthorizationCodeGrant]
    if providers.google() is not None:
        enabled.append(TokenExchangeGrant)
    return {grant.grant_type: grant for grant in enabled}
