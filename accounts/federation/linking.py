"""Which local user an identity at a provider is: the linking rules, in one place.

- A user is found by the provider's issuer and the token's `sub` (a linked identity), never by
  email alone.
- No linked user: with a verified email that no user has (compared case-insensitively), a new
  user is created and linked: a username derived from the email, the `name` as full name, no
  usable password, the email counted as verified.
- A user already has that email: not linked automatically, since whoever controls the provider
  account would take over the local one. `LinkNeedsPassword` names that user; the browser asks
  for its password once (`identity_link`), the token exchange refuses.
- An unverified email, or a disabled user, is refused.
No HTTP here.
"""

import re

from django.db import IntegrityError, transaction

from accounts import audit
from accounts.errors import InvalidRequest
from accounts.federation.idtokens import VerifiedIdToken
from accounts.federation.models import LinkedIdentity
from accounts.federation.providers import Provider
from accounts.models import User

USERNAME_CHARACTERS = re.compile(r"[^\w.@+-]")
USERNAME_MAX = 150
EMAIL_MAX = 254  # User.email's max_length


class IdentityRefused(InvalidRequest):
    """The identity signs no one in; `description` says why (safe to show).

    At /token (the token exchange) it is RFC 8693 §2.2.2's invalid_request; in the browser, the
    error page shows the description."""


class LinkNeedsPassword(IdentityRefused):
    """A local user has the identity's email: its password must be entered once to link it."""

    def __init__(self, user: User) -> None:
        super().__init__(
            "An account with this email already exists. Sign in to it with its password once in "
            "the browser to link it; then this provider signs you in."
        )
        self.user = user


def user_for_identity(*, provider: Provider, token: VerifiedIdToken) -> User:
    """The active local user of this identity, linking a new user when the rules allow it.

    Raises IdentityRefused (a disabled user, an unverified or missing email) or
    LinkNeedsPassword (a local user has the email).
    """
    user = _linked_user(provider, token.subject)
    if user is None:
        user = _create_linked_user(provider=provider, token=token)
    if not user.is_active:
        raise IdentityRefused("This account is disabled.")
    return user


def identity_link(*, provider: Provider, token: VerifiedIdToken, user: User) -> User:
    """Link the identity to `user`, whose password was just entered; return the linked user.

    Raises IdentityRefused when the identity was meanwhile linked to another user, or the
    email is no longer the user's.
    """
    if not token.email_verified or token.email.lower() != user.email.lower():
        raise IdentityRefused("The provider's email is not this account's.")
    try:
        with transaction.atomic():
            LinkedIdentity.objects.create(
                user=user, issuer=provider.issuer, subject=token.subject, email=token.email
            )
            User.objects.filter(pk=user.pk).update(email_verified=True)
    except IntegrityError:  # linked meanwhile (the unique pair decides): to whom?
        linked = _linked_user(provider, token.subject)
        if linked is None or linked.pk != user.pk:
            raise IdentityRefused("This provider account is already linked to another user.") from None
    audit.event("identity linked", user=user.pk, issuer=provider.issuer)
    user.email_verified = True
    return user


def _linked_user(provider: Provider, subject: str) -> User | None:
    identity = (
        LinkedIdentity.objects.select_related("user").filter(issuer=provider.issuer, subject=subject).first()
    )
    return identity.user if identity is not None else None


def _create_linked_user(*, provider: Provider, token: VerifiedIdToken) -> User:
    if not token.email:
        raise IdentityRefused("The provider gave no email address.")
    if len(token.email) > EMAIL_MAX or not token.email.isprintable() or "@" not in token.email:
        raise IdentityRefused("The provider's email address cannot be used here.")
    if not token.email_verified:
        raise IdentityRefused("The provider has not verified this email address.")
    for attempt in range(5):
        if attempt:  # a concurrent request may have linked this identity meanwhile
            linked = _linked_user(provider, token.subject)
            if linked is not None:
                return linked
        existing = User.objects.filter(email__iexact=token.email).first()
        if existing is not None:
            # Created with its link by a concurrent first sign-in of this very identity (one
            # commit: the user visible means its link is), or a local user of that email.
            linked = _linked_user(provider, token.subject)
            if linked is not None:
                return linked
            if not existing.is_active:
                raise IdentityRefused("This account is disabled.")
            raise LinkNeedsPassword(existing)
        user = User(
            username=_free_username(token.email, attempt=attempt),
            email=token.email,
            full_name=_full_name(token.claims.get("name")),
            email_verified=True,
        )
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save(force_insert=True)
                LinkedIdentity.objects.create(
                    user=user, issuer=provider.issuer, subject=token.subject, email=token.email
                )
        except IntegrityError:
            # Another request linked this identity, or took the email or the username, first.
            continue
        audit.event("user created by provider", user=user.pk, issuer=provider.issuer)
        return user
    raise IdentityRefused("The account could not be created; try again.")


def _free_username(email: str, *, attempt: int) -> str:
    """A username from the email's local part, made unique with a number when it is taken."""
    base = USERNAME_CHARACTERS.sub("", email.rpartition("@")[0])[: USERNAME_MAX - 8] or "user"
    taken = set(User.objects.filter(username__istartswith=base).values_list("username", flat=True))
    taken = {name.lower() for name in taken}
    if base.lower() not in taken and attempt == 0:
        return base
    number = 2 + attempt
    while f"{base}{number}".lower() in taken:
        number += 1
    return f"{base}{number}"


def _full_name(name) -> str:
    if not isinstance(name, str):
        return ""
    return "".join(character for character in name if character.isprintable()).strip()[:150]
