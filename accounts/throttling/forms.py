"""Django's sign-in forms, showing a throttling block as a form error instead of raising it."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from accounts.errors import TooManyAttempts


class ThrottledAuthenticationMixin:
    """For a subclass of Django's AuthenticationForm: a block is a form error, `throttled` is set."""

    throttled: TooManyAttempts | None = None

    def clean(self):
        try:
            return super().clean()
        except TooManyAttempts as e:
            self.throttled = e
            raise forms.ValidationError(e.description, code="throttled") from None


class ThrottledAdminAuthenticationForm(ThrottledAuthenticationMixin, AdminAuthenticationForm):
    pass
