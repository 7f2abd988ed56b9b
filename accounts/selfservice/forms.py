"""The pages' forms: input checks only (the rules are in services.py, which adds its refusals to
the fields they concern)."""

from django import forms

from accounts.models import User


def _password(label: str, autocomplete: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


class SignUpForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        validators=[User.username_validator],
        help_text="Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    full_name = forms.CharField(
        label="Full name",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    password = _password("Password", "new-password")


class EmailForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class SetPasswordForm(forms.Form):
    new_password = _password("New password", "new-password")
    sign_in = forms.BooleanField(label="Sign me in on this device", required=False)


class ChangePasswordForm(forms.Form):
    current_password = _password("Current password", "current-password")
    new_password = _password("New password", "new-password")


class ChangeEmailForm(forms.Form):
    email = forms.EmailField(
        label="New email address", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = _password("Password", "current-password")
