from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts and sessions"

    def ready(self) -> None:
        from accounts import checks, schema  # noqa: F401  (registers system checks and OpenAPI extensions)

        post_migrate.connect(_signing_key_after_migrate, sender=self)

        from accounts import services
        from accounts.models import User, sessions_must_end

        # The password rule: a password set or a user disabled ends the user's sessions.
        sessions_must_end.connect(
            services.sessions_must_end, sender=User, dispatch_uid="accounts.password-rule"
        )

        from corsheaders.signals import check_request_enabled

        from accounts.oauth.cors import origin_is_registered

        check_request_enabled.connect(origin_is_registered, dispatch_uid="accounts.oauth.cors")

        from accounts.federation.signin import provider_link
        from accounts.signin.methods import register_external

        register_external(provider_link)  # "Sign in with Google" on the sign-in page, when configured

        from accounts.mfa import factors
        from accounts.mfa.login import second_factor_at_login
        from accounts.signin.methods import register_second_step

        services.register_second_factor(second_factor_at_login)  # `otp` at POST /login
        register_second_step(factors.has_factor)  # the browser's second step after the first factor

        from accounts import grants, issuance
        from accounts.devices.grants import DeviceCodeGrant
        from accounts.federation.grants import TokenExchangeGrant
        from accounts.federation.grants import enabled as provider_configured
        from accounts.machines.grants import ClientCredentialsGrant
        from accounts.oauth.grants import AuthorizationCodeGrant
        from accounts.oidc.idtokens import id_token_response

        issuance.register_response(id_token_response)  # OpenID Connect's ID token beside the pair

        # The grants of /token, in the order discovery lists them.
        grants.register_grant(grants.RefreshTokenGrant)
        grants.register_grant(AuthorizationCodeGrant)
        grants.register_grant(TokenExchangeGrant, enabled=provider_configured)
        grants.register_grant(ClientCredentialsGrant, enabled=grants.SomeClientMayUse("client_credentials"))
        grants.register_grant(DeviceCodeGrant, enabled=grants.SomeClientMayUse(DeviceCodeGrant.grant_type))


def _signing_key_after_migrate(using: str = "default", **kwargs) -> None:
    """`migrate` leaves a signing key behind, as a server's start-up does (accounts.keys.lifecycle)."""
    from accounts.keys import lifecycle

    if using == "default":
        lifecycle.ensure_signing_key()
