"""The API's bodies (form or JSON): input checks only; DRF's field errors, `{field: [message]}`."""

from rest_framework import serializers

from accounts.models import User


def _password(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=4096, style={"input_type": "password"}, **kwargs
    )


class SignUpSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, validators=[User.username_validator])
    email = serializers.EmailField(max_length=254)
    password = _password()
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class NewUserSerializer(serializers.Serializer):
    """201 of POST /users/: the account's public fields (the same answer for a taken email)."""

    username = serializers.CharField()
    email = serializers.EmailField()
    full_name = serializers.CharField()
    email_verified = serializers.BooleanField()
    disabled = serializers.BooleanField()


class EmailSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordChangeSerializer(serializers.Serializer):
    current_password = _password()
    new_password = _password()


class EmailChangeSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = _password()
