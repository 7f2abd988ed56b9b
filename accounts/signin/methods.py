"""The sign-in methods: each proves a user or refuses. No HTTP here beyond the form's request.

A method answers a `Proof` (the user and the RFC 8176 names of what was shown) or refuses with
the reason to show. The password is the one built in; a provider's sign-in (accounts.federation)
proves the user at its callback and registers the link the sign-in page shows for it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.forms import AuthenticationForm

from accounts.models import User
from accounts.throttling.forms import ThrottledAuthenticationMixin

# The RFC 8176 names of `amr`: the one list of them (sessions, codes and ID tokens carry them).
PASSWORD = "pwd"
PROVIDER = "fed"  # a federated sign-in (the provider's own methods are its business)
OTP = "otp"  # a one-time password (an authenticator app's code, a recovery code)
MFA = "mfa"  # more than one factor
HWK = "hwk"  # a key bound to a device (a passkey that is not synced)
SWK = "swk"  # a key in software (a passkey synced between devices)


@dataclass(frozen=True)
class Proof:
    """A user proven by `methods` (RFC 8176 names)."""

    user: User
    methods: tuple[str, ...]


class PasswordForm(ThrottledAuthenticationMixin, AuthenticationForm):
    """The username and password, checked by the one sign-in rule (Django's backends, throttled
    like /login); one message for an unknown user, a wrong password or a disabled user."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Incorrect username or password.",
        "inactive": "Incorrect username or password.",
    }


def password(form: PasswordForm, *, of: User | None = None) -> Proof | None:
    """The proof of a bound password form, or None (the form then says why). With `of`, only
    that user's password proves anything (a step that already knows whose account it is)."""
    if not form.is_valid():
        return None
    user = form.get_user()
    if of is not None and user.pk != of.pk:
        return None
    return Proof(user=user, methods=(PASSWORD,))


@dataclass(frozen=True)
class ExternalLink:
    """A way in that the sign-in page shows as a button: a provider's sign-in."""

    label: str
    url: str


# Each returns the link for a pending request (`next`, and how recent the sign-in must be), or
# None when it is not configured.
ExternalMethod = Callable[[str, int | None], ExternalLink | None]
_external: list[ExternalMethod] = []


def register_external(method: ExternalMethod) -> None:
    """Add a way in to the sign-in page (accounts.apps registers the provider's)."""
    if method not in _external:
        _external.append(method)


# Each says whether a user proven by a first factor must also pass the second step (accounts.mfa).
_second_steps: list[Callable[[User], bool]] = []


def register_second_step(needed: Callable[[User], bool]) -> None:
    if needed not in _second_steps:
        _second_steps.append(needed)


def needs_second_step(user: User) -> bool:
    """Whether a sign-in of `user` asks for a second factor before the browser is signed in."""
    return any(needed(user) for needed in _second_steps)


def external_links(*, next_url: str, max_age: int | None) -> list[ExternalLink]:
    """The sign-in page's other ways in for the pending request `next_url`."""
    return [link for method in _external if (link := method(next_url, max_age)) is not None]
