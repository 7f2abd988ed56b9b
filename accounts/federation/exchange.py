"""RFC 8693 token exchange: a provider's ID token (from its own SDK) for this service's tokens.

The ID token is verified, its identity mapped to a local user by the linking rules, and a new
session started, all in one transaction with the record that spends the ID token: the primary
key of ExchangedIdToken decides, so of many requests presenting one ID token exactly one gets
tokens, and a refused exchange spends nothing. No HTTP here.
"""

from datetime import datetime

from django.db import IntegrityError, transaction

from accounts import audit, services
from accounts.callers import Caller
from accounts.errors import InvalidCredentials, InvalidRequest
from accounts.federation.idtokens import IdTokenRefused, id_token_verify
from accounts.federation.linking import IdentityRefused, user_for_identity
from accounts.federation.models import ExchangedIdToken
from accounts.federation.providers import Provider
from accounts.models import Client, Session
from accounts.signin import methods
from accounts.signin.methods import PROVIDER

GRANT_TYPE = Session.Grant.TOKEN_EXCHANGE.value
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def id_token_exchange(
    *,
    provider: Provider,
    subject_token: str,
    caller: Caller,
    client: Client | None = None,
    now: datetime | None = None,
) -> services.IssuedTokens:
    """The first token pair of a new session (of `client`, when one was named, without scope) for
    the user of `subject_token`, an ID token of `provider` for one of its token audiences.

    Raises IdTokenRefused or IdentityRefused (both InvalidRequest) when the ID token is refused (badly signed, of another issuer or
    audience, expired, already exchanged) or its identity signs no one in (see
    accounts.federation.linking); ProviderUnavailable when the provider's keys cannot be had.
    """
    try:
        token = id_token_verify(provider, subject_token, audiences=provider.audiences)
    except IdTokenRefused as e:
        audit.event("token exchange refused", ip=caller.ip_address, reason=e.description)
        raise
    try:
        with transaction.atomic():
            user = user_for_identity(provider=provider, token=token)
            # The exchange has no second step: a user with a second factor signs in through
            # /authorize, where it is asked (as do the users of a client that requires one).
            if methods.needs_second_step(user) or (client is not None and client.require_second_factor):
                raise IdentityRefused("This account uses two-step sign-in: sign in through /authorize.")
            try:
                with transaction.atomic():
                    ExchangedIdToken.objects.create(token_hash=token.fingerprint, expires_at=token.expires_at)
            except IntegrityError:
                raise IdTokenRefused("The ID token was already exchanged.") from None
            issued = services.session_start(
                user=user,
                caller=caller,
                grant_type=Session.Grant.TOKEN_EXCHANGE,
                client=client,
                amr=[PROVIDER],
                now=now,
            )
    except (IdTokenRefused, IdentityRefused) as e:  # both are invalid_request (RFC 8693 §2.2.2)
        audit.event("token exchange refused", ip=caller.ip_address, reason=e.description)
        raise
    except InvalidCredentials:  # the user was disabled or its password set meanwhile
        raise InvalidRequest("This account cannot sign in now.") from None
    audit.event("token exchange", user=user.pk, ip=caller.ip_address, sid=issued.session.pk)
    return issued


def delete_expired(*, now: datetime) -> int:
    """Forget exchanged ID tokens past their expiry: they would be refused as expired anyway."""
    deleted, _ = ExchangedIdToken.objects.filter(expires_at__lte=now).delete()
    return deleted
