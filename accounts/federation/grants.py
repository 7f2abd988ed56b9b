"""RFC 8693's grant at POST /token: a provider's ID token for this service's tokens, registered
with the token endpoint (accounts.grants.register_grant, in accounts.apps) while a provider is configured."""

from accounts import services
from accounts.callers import Caller
from accounts.errors import InvalidRequest
from accounts.federation import exchange, providers
from accounts.grants import Grant
from accounts.models import Client
from accounts.serializers import required_string


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


def enabled() -> bool:
    return providers.google() is not None
