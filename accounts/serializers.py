"""Request and response shapes. Parsing only: no database access, no rules of the service."""

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from accounts.errors import InvalidRequest, UnsupportedGrantType

NOT_A_STRING = object()  # a JSON value that is not a string: invalid wherever it matters


class OAuthParametersSerializer(serializers.Serializer):
    """RFC 6749 parameters: each at most once, a string, a blank one counting as not sent.

    Errors are raised as the contract's OAuth errors, in the contract's order, from
    `check_parameters`; the fields describe the parameters for the browsable API and the docs.
    """

    def run_validation(self, data: Any = serializers.empty) -> dict[str, Any]:
        # Every check is check_parameters'; DRF's own steps would only build the field objects.
        return self.to_internal_value({} if data is serializers.empty else data)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # The declared names, not `self.fields`: building the field objects (a deep copy of each)
        # costs more than the rest of the parsing, and parsing needs only their names.
        return self.check_parameters(single_parameters(data, names=list(self._declared_fields)))

    def check_parameters(self, params: dict[str, Any]) -> dict[str, Any]:
        return params


def single_parameters(data: Any, *, names: list[str]) -> dict[str, Any]:
    """Return `names` read from a form or JSON body: None when missing or blank, NOT_A_STRING
    for a JSON value that is not a string, else the string.

    Raises InvalidRequest for a parameter sent more than once (RFC 6749 §3.2), or a body that is
    neither a form nor a JSON object.
    """
    if hasattr(data, "getlist"):  # a form (QueryDict)
        for name in data:
            if len(data.getlist(name)) > 1:
                raise InvalidRequest(f"The parameter '{name}' was sent more than once.")
    elif not isinstance(data, Mapping):
        raise InvalidRequest("The request body must be a form or a JSON object.")
    params = {}
    for name in names:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            params[name] = NOT_A_STRING
        elif value is None or not value.strip():
            params[name] = None
        elif not _encodable(value):  # a lone surrogate from JSON "\ud800": not text at all
            raise InvalidRequest(f"The parameter '{name}' is not valid Unicode text.")
        else:
            params[name] = value
    return params


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def required_string(params: dict[str, Any], name: str) -> str:
    """The value of a required parameter; raises InvalidRequest when it is missing or not a string."""
    value = params[name]
    if value is None:
        raise InvalidRequest(f"The parameter '{name}' is required.")
    if value is NOT_A_STRING:
        raise InvalidRequest(f"The parameter '{name}' must be a string.")
    return value


class LoginSerializer(OAuthParametersSerializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})
    grant_type = serializers.CharField(required=False, help_text='Optional; when sent it must be "password".')
    scope = serializers.CharField(required=False, help_text="Accepted and ignored.")
    otp = serializers.CharField(
        required=False,
        help_text="A user with a second factor: a code of the authenticator app, or a recovery code.",
    )

    def check_parameters(self, params):
        if params["grant_type"] not in (None, "password"):
            raise UnsupportedGrantType('The only grant type at /login is "password".')
        checked = {name: required_string(params, name) for name in ("username", "password")}
        if params["otp"] is not None:
            checked["otp"] = required_string(params, "otp")
        return checked


class ClientAssertionFields(serializers.Serializer):
    """private_key_jwt's parameters (RFC 7523 §2.2), wherever a client authenticates."""

    client_assertion = serializers.CharField(
        required=False, help_text="private_key_jwt: a JWT signed with the client's key (RFC 7523)"
    )
    client_assertion_type = serializers.CharField(
        required=False, help_text='private_key_jwt: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"'
    )


class TokenRequestSerializer(ClientAssertionFields, OAuthParametersSerializer):
    """POST /token: the grant's parameters and the client's (its checks are the grant's)."""

    grant_type = serializers.CharField(
        initial="refresh_token",
        help_text='"refresh_token", "authorization_code", "client_credentials", '
        '"urn:ietf:params:oauth:grant-type:device_code", or (with Google sign-in configured) '
        '"urn:ietf:params:oauth:grant-type:token-exchange"',
    )
    refresh_token = serializers.CharField(required=False, help_text="grant_type=refresh_token")
    code = serializers.CharField(required=False, help_text="grant_type=authorization_code")
    redirect_uri = serializers.CharField(required=False, help_text="grant_type=authorization_code")
    code_verifier = serializers.CharField(required=False, help_text="grant_type=authorization_code (PKCE)")
    device_code = serializers.CharField(
        required=False, help_text="grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628)"
    )
    subject_token = serializers.CharField(required=False, help_text="token exchange: the provider's ID token")
    subject_token_type = serializers.CharField(
        required=False, help_text='token exchange: "urn:ietf:params:oauth:token-type:id_token"'
    )
    requested_token_type = serializers.CharField(
        required=False, help_text='token exchange, optional: "urn:ietf:params:oauth:token-type:access_token"'
    )
    client_id = serializers.CharField(required=False, help_text="a public client, or client_secret_post")
    client_secret = serializers.CharField(
        required=False, style={"input_type": "password"}, help_text="client_secret_post"
    )
    scope = serializers.CharField(required=False, help_text="narrows a client session's new access token")
    resource = serializers.CharField(
        required=False,
        help_text="RFC 8707: an API's identifier (client credentials; elsewhere, the session's)",
    )

    def __init__(self, *args, grant_types=None, **kwargs) -> None:  # accounts.grants.Grants
        super().__init__(*args, **kwargs)
        self.grant_types = grant_types

    def check_parameters(self, params):
        grant_type = params["grant_type"]
        if grant_type is None:
            raise InvalidRequest("The parameter 'grant_type' is required.")
        if not self.grant_types.accepts(grant_type):
            raise self.grant_types.unsupported()
        return params


class TokenResponseSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField(default="bearer")
    expires_in = serializers.IntegerField(help_text="Lifetime of the access token, in seconds.")
    refresh_token = serializers.CharField()
    refresh_expires_in = serializers.IntegerField(help_text="Seconds until the refresh token expires.")
    scope = serializers.CharField(required=False, help_text="A client's session: the access token's scope.")
    issued_token_type = serializers.CharField(required=False, help_text="A token exchange (RFC 8693).")
    id_token = serializers.CharField(required=False, help_text="OpenID Connect: when the scope holds openid.")


class UserSerializer(serializers.Serializer):
    """GET /users/me/, as `user_representation` builds it (the schema's description of it)."""

    username = serializers.CharField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    disabled = serializers.SerializerMethodField()
    email_verified = serializers.BooleanField(
        help_text="Whether the user followed the link sent to the email."
    )

    def get_disabled(self, user) -> bool:
        return not user.is_active


def user_representation(user) -> dict:
    """The body of GET /users/me/ (UserSerializer's shape), built directly: a serializer's field
    objects would cost a third of the request."""
    return {
        "username": user.get_username(),
        "email": user.email,
        "full_name": user.full_name,
        "disabled": not user.is_active,
        "email_verified": user.email_verified,
    }


class RevocationSerializer(ClientAssertionFields, OAuthParametersSerializer):
    token = serializers.CharField()
    token_type_hint = serializers.CharField(
        required=False,
        help_text='"refresh_token" or "access_token"; only a hint, unknown values are ignored.',
    )
    client_id = serializers.CharField(required=False, help_text="a confidential client (client_secret_post)")
    client_secret = serializers.CharField(required=False, style={"input_type": "password"})

    def check_parameters(self, params):
        return {
            **params,
            "token_type_hint": params["token_type_hint"]
            if isinstance(params["token_type_hint"], str)
            else None,
        }


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The `sid` claim of the session's tokens.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(help_text="The latest login or refresh.")
    expires_at = serializers.SerializerMethodField(help_text="When it ends unless refreshed or revoked.")
    user_agent = serializers.CharField()
    ip_address = serializers.IPAddressField(allow_null=True)
    current = serializers.SerializerMethodField(help_text="Whether this is the session of the token used.")
    client = serializers.SerializerMethodField(
        help_text="The client it was started through; null for /login."
    )

    def get_client(self, session) -> dict | None:
        if session.client is None:
            return None
        return {"client_id": session.client.client_id, "name": session.client.name}

    def get_expires_at(self, session) -> str:
        return serializers.DateTimeField().to_representation(session.ends_at())

    def get_current(self, session) -> bool:
        return session.pk == self.context["current_session_id"]


class OAuthErrorSerializer(serializers.Serializer):
    error = serializers.ChoiceField(
        choices=[
            "invalid_request",
            "invalid_client",
            "unsupported_grant_type",
            "invalid_grant",
            "invalid_scope",
            "too_many_requests",
            "temporarily_unavailable",
        ],
        help_text="RFC 6749 §5.2 (too_many_requests with 429)",
    )
    error_description = serializers.CharField()


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    detail = serializers.CharField(required=False, help_text="Why it is unavailable.")


class JwkSerializer(serializers.Serializer):
    """A public key (RFC 7517); members beyond these depend on `kty`."""

    kid = serializers.CharField(help_text="RFC 7638 thumbprint; the `kid` header of the tokens it signs.")
    kty = serializers.ChoiceField(choices=["RSA", "EC", "OKP"])
    alg = serializers.ChoiceField(choices=["RS256", "ES256", "EdDSA"])
    use = serializers.ChoiceField(choices=["sig"])
    n = serializers.CharField(required=False, help_text="RSA modulus")
    e = serializers.CharField(required=False, help_text="RSA exponent")
    crv = serializers.CharField(required=False, help_text="EC or OKP curve")
    x = serializers.CharField(required=False)
    y = serializers.CharField(required=False)


class JwksSerializer(serializers.Serializer):
    keys = JwkSerializer(many=True)


class AuthorizationServerMetadataSerializer(serializers.Serializer):
    """RFC 8414 §2."""

    issuer = serializers.URLField()
    token_endpoint = serializers.URLField()
    revocation_endpoint = serializers.URLField()
    jwks_uri = serializers.URLField()
    authorization_endpoint = serializers.URLField()
    response_types_supported = serializers.ListField(child=serializers.CharField())
    response_modes_supported = serializers.ListField(child=serializers.CharField())
    code_challenge_methods_supported = serializers.ListField(child=serializers.CharField())
    scopes_supported = serializers.ListField(child=serializers.CharField())
    prompt_values_supported = serializers.ListField(child=serializers.CharField())
    authorization_response_iss_parameter_supported = serializers.BooleanField()
    grant_types_supported = serializers.ListField(child=serializers.CharField())
    token_endpoint_auth_methods_supported = serializers.ListField(child=serializers.CharField())
    token_endpoint_auth_signing_alg_values_supported = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="private_key_jwt's algorithms, once a client has registered keys",
    )
    revocation_endpoint_auth_methods_supported = serializers.ListField(child=serializers.CharField())
    service_documentation = serializers.URLField()
