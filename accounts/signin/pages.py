"""The sign-in page, as every flow that asks a person to sign in shows it (Django template)."""

from http import HTTPStatus
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.signin import methods


def sign_in_page(
    request: HttpRequest,
    *,
    form: methods.PasswordForm,
    hidden: list[tuple[str, str]],
    continue_to: str,
    max_age: int | None,
    client=None,
) -> HttpResponse:
    """The page: the password form (with `hidden` fields, the pending request), the other ways in
    (which continue to `continue_to` once signed in, proving a sign-in within `max_age`), and for
    whom (`client`). 429 while the form's user is blocked."""
    status = HTTPStatus.TOO_MANY_REQUESTS if form.throttled else HTTPStatus.OK
    links = methods.external_links(next_url=continue_to, max_age=max_age)
    return render(
        request,
        "oauth/sign_in.html",
        {
            "client": client,
            "form": form,
            "hidden": hidden,
            "external_links": links,
            "continue_to": continue_to,  # where "Sign in with a passkey" continues
            # The accounts' doors (accounts.selfservice): sign-up continues to the same request.
            "signup_url": "/signup?" + urlencode({"next": continue_to}) if settings.SIGNUP_ENABLED else None,
            "reset_url": "/account/password-reset?" + urlencode({"next": continue_to}),
        },
        status=status,
    )
