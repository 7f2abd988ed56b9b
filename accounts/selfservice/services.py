"""The rules of people's own accounts. No HTTP here.

Every change and the email it sends commit together (accounts.selfservice.mail enqueues in the
caller's transaction). No answer says whether an email address has an account: a sign-up with a
taken address answers as a new one would (its owner is told by email), and a password reset is
enqueued for any address, the worker finding the account or not. The unique constraints decide
races (a username or an address taken meanwhile); a link is checked and spent under the user's
row lock, so it works once however many requests present it.
"""

import uuid
from dataclasses import dataclass

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import audit, services
from accounts.callers import Caller
from accounts.errors import FieldErrors, InvalidCredentials
from accounts.models import User
from accounts.selfservice import links, mail
from accounts.throttling import policy

USERNAME_TAKEN = "A user with that username already exists."


class LinkRefused(Exception):
    """A link that is unknown, already used, expired or for another state of the account."""

    def __init__(self, reason: str = "This link is invalid, expired or already used.") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NewUser:
    """What a sign-up answers: the public fields, the same whether or not the email was taken."""

    username: str
    email: str
    full_name: str


def password_problems(password: str, *, user: User) -> list[str]:
    """Django's AUTH_PASSWORD_VALIDATORS' messages for `password` of `user` ([] when it passes)."""
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as e:
        return list(e.messages)
    return []


def sign_up(*, username: str, email: str, password: str, full_name: str, caller: Caller) -> NewUser:
    """Open an account (SIGNUP_ENABLED), unverified, with a link to its email to verify it.

    Raises FieldErrors for a taken username or a password the validators refuse, TooManyRequests
    beyond the email requests' limits.
    """
    email = User.objects.normalize_email(email)
    username = User.normalize_username(username)  # NFKC, as Django's sign-in forms read it
    policy.email_request(caller=caller, email=email)
    candidate = User(username=username, email=email, full_name=full_name)
    errors = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = [USERNAME_TAKEN]
    if problems := password_problems(password, user=candidate):
        errors["password"] = problems
    if errors:
        raise FieldErrors(errors)
    answer = NewUser(username=username, email=email, full_name=full_name)
    owner = User.objects.filter(email__iexact=email).first()
    if owner is None:
        candidate.set_password(password)
        try:
            with transaction.atomic():
                candidate.save(force_insert=True)
                mail.send("confirm_email", user_id=candidate.pk)
        except IntegrityError:  # the username or the address, taken meanwhile: which one?
            if User.objects.filter(username__iexact=username).exists():
                raise FieldErrors({"username": [USERNAME_TAKEN]}) from None
            owner = User.objects.filter(email__iexact=email).first()
            if owner is None:
                raise
        else:
            audit.event("sign-up", user=candidate.pk, username=username, ip=caller.ip_address)
            return answer
    # The address has an account: the same answer, the same hashing cost, and its owner is told.
    make_password(password)
    mail.send("address_in_use", user_id=owner.pk, attempted="sign-up")
    audit.event("sign-up with a taken email", user=owner.pk, ip=caller.ip_address)
    return answer


def verification_resend(*, user: User, caller: Caller) -> bool:
    """Send the link that verifies the user's email (or confirms the pending new one) again.
    False when there is nothing to verify."""
    if user.email_verified and not user.pending_email:
        return False
    policy.email_request(caller=caller, email=user.pending_email or user.email)
    mail.send("confirm_email", user_id=user.pk)
    return True


def _user(public_id: str, *, lock: bool = False) -> User | None:
    """The active user of a link's id (its public id), locked until the transaction ends."""
    try:
        pk = uuid.UUID(str(public_id))
    except ValueError:
        return None
    users = User.objects.select_for_update() if lock else User.objects
    return users.filter(public_id=pk, is_active=True).first()


def _link_user(public_id: str, token: str, tokens, *, lock: bool = False) -> User:
    """The user a link of `tokens` is for, while it is valid; raises LinkRefused otherwise."""
    user = _user(public_id, lock=lock)
    if user is None or not tokens.check_token(user, token):
        raise LinkRefused()
    return user


def email_link_user(*, public_id: str, token: str) -> User:
    """The user an email link is for, while it is valid (the page before its button). Reads only."""
    return _link_user(public_id, token, links.email_confirmation_tokens)


def reset_link_user(*, public_id: str, token: str) -> User:
    """The user a password reset link is for, while it is valid. Reads only."""
    return _link_user(public_id, token, links.password_reset_tokens)


def email_confirm(*, public_id: str, token: str) -> User:
    """Follow an email link: the email is verified, or the pending new email becomes the
    user's, verified (older refresh tokens, which carry the old email, stop working). Raises
    LinkRefused, also when the new address was taken meanwhile."""
    with transaction.atomic():
        user = _link_user(public_id, token, links.email_confirmation_tokens, lock=True)
        old_email = user.email
        if user.pending_email:
            user.email, user.pending_email = user.pending_email, ""
        user.email_verified = True
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "pending_email", "email_verified"])
        except IntegrityError:
            raise LinkRefused("This address now belongs to another account.") from None
        changed = old_email != user.email
        if changed:
            mail.send("email_changed", user_id=user.pk, old_email=old_email)
    audit.event("email changed" if changed else "email verified", user=user.pk)
    return user


def password_reset_request(*, email: str, caller: Caller) -> None:
    """Ask for a password reset link for `email`: enqueued for any address (the worker sends it
    only when an active account has it), so the answer and its cost never tell."""
    email = User.objects.normalize_email(email.strip())
    policy.email_request(caller=caller, email=email)
    mail.send("password_reset", email=email)


def password_reset(*, public_id: str, token: str, password: str) -> User:
    """Set the password through a reset link: it works once (the password it is bound to
    changes), and every session of the user ends (the password rule). Raises LinkRefused or
    FieldErrors (the validators)."""
    with transaction.atomic():
        user = _link_user(public_id, token, links.password_reset_tokens, lock=True)
        problems = password_problems(password, user=user)
        if problems:
            raise FieldErrors({"new_password": problems})
        user.set_password(password)
        if not user.pending_email:
            user.email_verified = True  # the link reached this mailbox: it is the user's
        # A pending email change ends with the password: whoever asked for it knew the old one.
        user.pending_email = ""
        user.save(update_fields=["password", "email_verified", "pending_email"])
        mail.send("password_changed", user_id=user.pk)
    audit.event("password reset", user=user.pk)
    return user


def _password_check(user: User, password: str, *, field: str, caller: Caller) -> None:
    """The user's current password, checked as a sign-in (a wrong one counts as a failed login;
    TooManyAttempts while blocked); FieldErrors on `field` when wrong."""
    try:
        proven = services.credentials_check(username=user.get_username(), password=password, caller=caller)
    except InvalidCredentials:
        proven = None
    if proven is None or proven.pk != user.pk:
        raise FieldErrors({field: ["The password is incorrect."]})


def password_change(
    *, user: User, current_password: str, new_password: str, caller: Caller, keep_session: uuid.UUID | None
) -> User:
    """Change one's own password: every session but `keep_session` ends (None: all of them; a
    browser keeps its sign-in through Django's update_session_auth_hash with the user returned).
    A pending email change ends too. Only the password and the pending email are written, on the
    row as it is now (locked): nothing the request read earlier is written back."""
    _password_check(user, current_password, field="current_password", caller=caller)
    problems = password_problems(new_password, user=user)
    if problems:
        raise FieldErrors({"new_password": problems})
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        current.set_password(new_password, keep_session=keep_session)
        current.pending_email = ""
        current.save(update_fields=["password", "pending_email"])
        mail.send("password_changed", user_id=user.pk)
    audit.event("password changed", user=user.pk, ip=caller.ip_address)
    return current


def email_change_request(*, user: User, email: str, password: str, caller: Caller) -> None:
    """Ask to change one's email: the pending new address is recorded, the current address gets
    a notice, and the new one a link (the change happens when it is followed). An address of
    another account is treated alike here (the answer, the pending address, the notice); the
    worker then sends its owner a notice instead of the link (accounts.selfservice.mail)."""
    email = User.objects.normalize_email(email.strip())
    _password_check(user, password, field="password", caller=caller)
    if email.lower() == user.email.lower():
        raise FieldErrors({"email": ["This is already your email address."]})
    policy.email_request(caller=caller, email=email)
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        current.pending_email = email
        current.save(update_fields=["pending_email"])
        mail.send("confirm_email", user_id=user.pk)
        mail.send("email_change_notice", user_id=user.pk, new_email=email, to=current.email)
    user.pending_email = email
    audit.event("email change asked", user=user.pk, ip=caller.ip_address)


def admin_password_reset(*, users, admin: User) -> int:
    """An administrator sends the active `users` a password reset email each (audited); how many."""
    sent = 0
    with transaction.atomic():
        for user in users.filter(is_active=True):
            mail.send("password_reset", email=user.email)
            audit.event("password reset sent by an administrator", user=user.pk, admin=admin.pk)
            sent += 1
    return sent
