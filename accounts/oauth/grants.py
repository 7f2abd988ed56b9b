"""The authorization code grant of POST /token (registered in accounts.apps)."""

from accounts import services
from accounts.callers import Caller
from accounts.errors import InvalidRequest
from accounts.grants import Grant
from accounts.oauth import codes
from accounts.oauth.models import Client


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
            resource=self.resource,
        )
