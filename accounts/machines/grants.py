"""The client credentials grant of POST /token (registered in accounts.apps)."""

from accounts import services
from accounts.grants import Grant
from accounts.machines import tokens


class ClientCredentialsGrant(Grant):
    """RFC 6749 §4.4: a confidential client, allowed the grant, gets an access token for itself."""

    grant_type = "client_credentials"
    needs_client = True

    def issue(self) -> services.IssuedTokens:
        return tokens.issue(client=self.client, scope=self.scope, resource=self.resource, caller=self.caller)
