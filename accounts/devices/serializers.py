"""POST /device_authorization's parameters and answer (RFC 8628 §3.1, §3.2)."""

from rest_framework import serializers

from accounts.serializers import ClientAssertionFields, OAuthParametersSerializer


class DeviceAuthorizationRequestSerializer(ClientAssertionFields, OAuthParametersSerializer):
    client_id = serializers.CharField(required=False, help_text="a public client, or client_secret_post")
    client_secret = serializers.CharField(
        required=False, style={"input_type": "password"}, help_text="client_secret_post"
    )
    scope = serializers.CharField(required=False, help_text='e.g. "openid profile"')
    resource = serializers.CharField(required=False, help_text="RFC 8707: the API the tokens are for")


class DeviceAuthorizationResponseSerializer(serializers.Serializer):
    device_code = serializers.CharField(help_text="The device's secret: poll /token with it.")
    user_code = serializers.CharField(help_text="What the person types at verification_uri: XXXX-XXXX.")
    verification_uri = serializers.URLField()
    verification_uri_complete = serializers.URLField(
        help_text="verification_uri with the user code (a QR code)."
    )
    expires_in = serializers.IntegerField(help_text="Seconds until the codes expire.")
    interval = serializers.IntegerField(help_text="Seconds to wait between polls.")
