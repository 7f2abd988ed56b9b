"""POST /par's parameters and answer (RFC 9126 §2.1, §2.2)."""

from rest_framework import serializers

from accounts.errors import InvalidRequest
from accounts.oauth.authorize import PARAMETERS
from accounts.serializers import NOT_A_STRING, ClientAssertionFields, OAuthParametersSerializer


class PushedAuthorizationRequestSerializer(ClientAssertionFields, OAuthParametersSerializer):
    """The parameters of an authorization request (those of /authorize), and the client's
    authentication as at /token. Each at most once, each a string."""

    response_type = serializers.CharField(initial="code")
    client_id = serializers.CharField(help_text="the client (a public client names itself)")
    client_secret = serializers.CharField(
        required=False, style={"input_type": "password"}, help_text="client_secret_post"
    )
    redirect_uri = serializers.CharField()
    scope = serializers.CharField(required=False)
    state = serializers.CharField(required=False)
    code_challenge = serializers.CharField(help_text="PKCE, S256")
    code_challenge_method = serializers.CharField(initial="S256")
    nonce = serializers.CharField(required=False)
    prompt = serializers.CharField(required=False)
    max_age = serializers.CharField(required=False)
    login_hint = serializers.CharField(required=False)
    acr_values = serializers.CharField(required=False)
    resource = serializers.CharField(required=False, help_text="RFC 8707: an API's identifier")
    request_uri = serializers.CharField(required=False, help_text="refused: a pushed request cannot hold one")

    def check_parameters(self, params):
        for name in PARAMETERS:
            if params.get(name) is NOT_A_STRING:
                raise InvalidRequest(f"The parameter '{name}' must be a string.")
        return params


class PushedAuthorizationResponseSerializer(serializers.Serializer):
    request_uri = serializers.CharField(
        help_text="urn:ietf:params:oauth:request_uri:..., for /authorize, once"
    )
    expires_in = serializers.IntegerField(help_text="Seconds it may wait for /authorize.")
