"""The signed-in state of a browser: the one place for its session keys. No rules of OAuth here.

A browser is signed in when Django's session holds a user (django.contrib.auth) and the time of
that sign-in (`auth_time`, what OpenID Connect's max_age and prompt=login are measured against),
with the methods that proved it (RFC 8176 names, ready for `amr` and `acr`).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.http import HttpRequest

from accounts import clock
from accounts.models import User

# Django's authentication backend that every browser sign-in goes through (throttled like /login).
BACKEND = "accounts.throttling.backends.ThrottledModelBackend"
AUTH_TIME = "accounts.auth_time"  # when the browser signed in (epoch seconds)
METHODS = "accounts.sign_in_methods"  # how (RFC 8176 names: "pwd", ...)


@dataclass(frozen=True)
class SignedIn:
    """Who a browser is signed in as, since when, and how."""

    user: User
    auth_time: datetime | None  # None: signed in before the time was kept (ask again)
    methods: tuple[str, ...] = ()


def sign_in(request: HttpRequest, user: User, *, methods: tuple[str, ...], auth_time: datetime) -> SignedIn:
    """Sign the browser in as `user` (a new Django session: no fixation), at `auth_time`."""
    django_login(request, user, backend=BACKEND)
    request.session[AUTH_TIME] = int(auth_time.timestamp())
    request.session[METHODS] = list(methods)
    return signed_in(request)


def signed_in(request: HttpRequest) -> SignedIn | None:
    """The browser's sign-in, or None when it is not signed in or its user is disabled."""
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return None
    seconds = request.session.get(AUTH_TIME)
    methods = request.session.get(METHODS)
    return SignedIn(
        user=user,
        auth_time=datetime.fromtimestamp(seconds, tz=UTC) if isinstance(seconds, int) else None,
        methods=tuple(methods) if isinstance(methods, list) else (),
    )


SECOND_STEP = "accounts.second_step"  # a first factor proven, the second asked for
SECOND_STEP_SECONDS = 300  # how long the second step waits
SECOND_STEP_PATH = "/sign-in/second-factor"  # its page (accounts.mfa.views)


@dataclass(frozen=True)
class SecondStep:
    """A sign-in half done: `user` proved `methods` at `auth_time`; the browser goes on to `next`."""

    user: User
    methods: tuple[str, ...]
    auth_time: datetime
    next_url: str


def begin_second_step(
    request: HttpRequest, user: User, *, methods: tuple[str, ...], auth_time: datetime, next_url: str
) -> None:
    """Remember the first factor (not a sign-in: the browser is signed out meanwhile)."""
    django_logout(request)
    request.session[SECOND_STEP] = {
        "user": user.pk,
        "password": user.password,  # a password set meanwhile ends the half-done sign-in
        "methods": list(methods),
        "auth_time": int(auth_time.timestamp()),
        "started": int(
            clock.now().timestamp()
        ),  # the window runs from here (a provider's auth_time may be older)
        "next": next_url,
    }


def second_step(request: HttpRequest, *, now: datetime) -> SecondStep | None:
    """The pending second step, while it is fresh and its user is active and unchanged."""
    pending = request.session.get(SECOND_STEP)
    if not isinstance(pending, dict) or not all(
        isinstance(pending.get(key), int) for key in ("auth_time", "started")
    ):
        return None
    if now.timestamp() - pending["started"] > SECOND_STEP_SECONDS:
        return None
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is None or user.password != pending.get("password"):
        return None
    return SecondStep(
        user=user,
        methods=tuple(pending.get("methods") or ()),
        auth_time=datetime.fromtimestamp(pending["auth_time"], tz=UTC),
        next_url=str(pending.get("next") or ""),
    )


def finish_second_step(request: HttpRequest, step: SecondStep, *, methods: tuple[str, ...]) -> SignedIn:
    """Sign the browser in: the first factor's methods and the second's (`methods`)."""
    request.session.pop(SECOND_STEP, None)
    return sign_in(request, step.user, methods=(*step.methods, *methods), auth_time=step.auth_time)


def first_factor_proven(
    request: HttpRequest, user: User, *, methods: tuple[str, ...], auth_time: datetime, next_url: str
) -> SignedIn | None:
    """The one door of every sign-in: the browser is signed in, or, for a user with a second
    factor (accounts.signin.methods.needs_second_step), the second step begins and None says to
    send the browser to SECOND_STEP_PATH, which continues to `next_url` once it is passed."""
    from accounts.signin.methods import needs_second_step

    if needs_second_step(user):
        begin_second_step(request, user, methods=methods, auth_time=auth_time, next_url=next_url)
        return None
    return sign_in(request, user, methods=methods, auth_time=auth_time)


def sign_out(request: HttpRequest) -> None:
    """End the browser's sign-in (Django's logout: the session is flushed)."""
    django_logout(request)
