"""The emails of the accounts' doors: composed and sent by the task queue, never by a request.

`send(kind, **arguments)` enqueues one email in the caller's transaction (the database backend's
row commits with the change that asks for it, or not at all). `manage.py db_worker` runs
`deliver`, which composes the message at that moment (a link made then, for the user's state
then: nothing is sent when there is nothing left to say) and sends it through Django's email
backend. A failed attempt is recorded as a failed task (the admin's task list shows its
traceback) and retried by a new task after EMAIL_RETRY_SECONDS, doubling each time up to an hour,
until EMAIL_SEND_ATTEMPTS attempts: an SMTP server that is down for a while loses nothing.
"""

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError
from django.template.loader import render_to_string
from django.utils import timezone
from django_tasks import task

from accounts import audit
from accounts.models import User
from accounts.selfservice import links

logger = logging.getLogger("accounts.selfservice")
RETRY_CAP_SECONDS = 3600


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    template: str  # email/<template>.txt and .html
    context: dict


def _account(user_id: int) -> User | None:
    """The user an email is about, as it is when the email is sent (None: deleted meanwhile)."""
    return User.objects.filter(pk=user_id).first()


def _confirm_email(user_id: int) -> Letter | None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or (user.email_verified and not user.pending_email):
        return None  # verified meanwhile, or gone: nothing to confirm
    change = bool(user.pending_email)
    if change:
        owner = User.objects.filter(email__iexact=user.pending_email).exclude(pk=user.pk).first()
        if owner is not None:  # another account's address: its owner is told, no link is sent
            return _address_in_use(owner.pk, "email change")
    return Letter(
        to=user.pending_email or user.email,
        subject="Confirm your new email address" if change else "Confirm your email address",
        template="confirm_email",
        context={
            "user": user,
            "change": change,
            "url": links.email_confirmation_url(user),
            "days": settings.EMAIL_VERIFICATION_LIFETIME_SECONDS // 86400,
            "hours": settings.EMAIL_VERIFICATION_LIFETIME_SECONDS // 3600,
        },
    )


def _password_reset(email: str) -> Letter | None:
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        return None  # no account: the request's answer was the same, and nothing is sent
    return Letter(
        to=user.email,
        subject="Reset your password",
        template="password_reset",
        context={
            "user": user,
            "url": links.password_reset_url(user),
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )


def _address_in_use(user_id: int, attempted: str) -> Letter | None:
    """To the owner of an address that someone tried to sign up with, or to change an account's
    email to: the request's answer said nothing of it (no account enumeration)."""
    if (user := _account(user_id)) is None:
        return None
    return Letter(
        to=user.email,
        subject="Someone tried to use your email address",
        template="address_in_use",
        context={"user": user, "attempted": attempted},
    )


def _email_change_notice(user_id: int, new_email: str, to: str) -> Letter | None:
    """To the address the account had when the change was asked for (`to`), whenever it is sent."""
    if (user := _account(user_id)) is None:
        return None
    return Letter(
        to=to,
        subject="A change of your email address was asked for",
        template="email_change_notice",
        context={"user": user, "new_email": new_email},
    )


def _email_changed(user_id: int, old_email: str) -> Letter | None:
    """To the former address, once the change is done."""
    if (user := _account(user_id)) is None:
        return None
    return Letter(
        to=old_email,
        subject="Your email address was changed",
        template="email_changed",
        context={"user": user, "old_email": old_email},
    )


def _password_changed(user_id: int) -> Letter | None:
    if (user := _account(user_id)) is None:
        return None
    return Letter(
        to=user.email,
        subject="Your password was changed",
        template="password_changed",
        context={"user": user},
    )


COMPOSERS = {
    "confirm_email": _confirm_email,
    "password_reset": _password_reset,
    "address_in_use": _address_in_use,
    "email_change_notice": _email_change_notice,
    "email_changed": _email_changed,
    "password_changed": _password_changed,
}


def send(kind: str, **arguments) -> None:
    """Enqueue the email `kind` (a key of COMPOSERS) with its JSON `arguments`, in the caller's
    transaction."""
    if kind not in COMPOSERS:
        raise ValueError(f"unknown email {kind!r}")
    deliver.enqueue(kind, 1, arguments)


def message(letter: Letter) -> EmailMultiAlternatives:
    context = {**letter.context, "service_name": settings.SERVICE_NAME}
    subject = f"{settings.SERVICE_NAME}: {letter.subject}"
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"email/{letter.template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[letter.to],
    )
    email.attach_alternative(render_to_string(f"email/{letter.template}.html", context), "text/html")
    return email


@task()
def deliver(kind: str, attempt: int, arguments: dict) -> str:
    """Compose and send one email; on an SMTP or network failure, enqueue the next attempt and
    fail this one (the task list keeps why)."""
    try:
        letter = COMPOSERS[kind](**arguments)
        if letter is None:
            return "nothing to send"
        message(letter).send()
    except (OSError, smtplib.SMTPException, DatabaseError) as e:  # refused, down, timed out, TLS
        if attempt >= settings.EMAIL_SEND_ATTEMPTS:
            logger.error("email %r not delivered after %d attempts: %s", kind, attempt, e)
            audit.event("email not delivered", kind=kind, attempts=attempt)
            raise
        delay = min(settings.EMAIL_RETRY_SECONDS * 2 ** (attempt - 1), RETRY_CAP_SECONDS)
        deliver.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(
            kind, attempt + 1, arguments
        )
        logger.warning("email %r: attempt %d failed (%s); next in %d s", kind, attempt, e, delay)
        raise
    return "sent"
