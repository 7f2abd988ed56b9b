"""The sign-in form of /authorize: Django's AuthenticationForm, throttled like /login."""

from django.contrib.auth.forms import AuthenticationForm

from accounts.throttling.forms import ThrottledAuthenticationMixin


class SignInForm(ThrottledAuthenticationMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Incorrect username or password.",
        "inactive": "Incorrect username or password.",
    }
