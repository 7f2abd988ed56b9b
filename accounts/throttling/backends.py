"""The authentication backend: Django's ModelBackend behind the throttling policy.

Every caller of `django.contrib.auth.authenticate` passes here (/login, the admin's sign-in, the
browser sign-in pages of accounts.signin), so none of them can check a password without being counted.
A blocked caller's password is not even checked: no Argon2 hash is spent on it.
"""

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.callers import Caller, caller_of
from accounts.throttling import policy


class ThrottledModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        caller: Caller | None = None,
        **kwargs,
    ):
        """The user with these credentials, or None; raises TooManyAttempts while blocked.

        `caller` is given by services that have no request; otherwise it is the request's.
        TooManyAttempts is not a PermissionDenied on purpose: `authenticate` lets it through
        to the caller, which answers 429 instead of "wrong password".
        """
        if username is None or password is None:
            return None
        caller = caller or (caller_of(request) if request is not None else Caller())
        policy.sign_in_attempt(caller=caller, username=username)
        # No username holds a NUL (and PostgreSQL text cannot): such a user is unknown.
        user = (
            None
            if "\x00" in username
            else super().authenticate(request, username=username, password=password)
        )
        if user is None:
            policy.sign_in_failed(caller=caller, username=username)
        else:
            policy.sign_in_succeeded(caller=caller, username=username)
        return user
