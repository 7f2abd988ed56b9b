"""The second factor's pages: the sign-in's second step, and the account's security page where a
signed-in person sets up or removes an authenticator app and recovery codes."""

import contextlib
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from accounts import audit, clock
from accounts.callers import caller_of
from accounts.errors import TooManyAttempts
from accounts.mfa import factors
from accounts.models import Session
from accounts.responses import SeeOther
from accounts.selfservice.views import AccountPage
from accounts.signin import redirects, state

REAUTHENTICATE_SECONDS = 300  # a change of factors needs a sign-in this recent


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=64,
        help_text="The 6 digits of your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "none"}
        ),
    )


class ConfirmForm(CodeForm):
    code = forms.CharField(
        label="Code",
        max_length=6,
        help_text="The 6 digits your authenticator app shows now.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


@method_decorator(never_cache, name="dispatch")
class SecondStepPage(View):
    """/sign-in/second-factor: the code of a user whose first factor was just proven."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.step = state.second_step(request, now=clock.now())
        if self.step is None:
            return render(
                request,
                "mfa/second_step.html",
                {"expired": True},
                status=HTTPStatus.BAD_REQUEST,
            )
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self.page(request, form, status=HTTPStatus.BAD_REQUEST)
        try:
            proven = factors.verify(self.step.user, form.cleaned_data["code"])
        except TooManyAttempts as e:
            response = self.page(request, form, blocked=e.description, status=HTTPStatus.TOO_MANY_REQUESTS)
            response["Retry-After"] = str(e.retry_after)
            return response
        if not proven:
            form.add_error("code", "This code is not right, or was already used.")
            return self.page(request, form, status=HTTPStatus.BAD_REQUEST)
        state.finish_second_step(request, self.step, methods=(factors.OTP, factors.MFA))
        audit.event("second factor passed", user=self.step.user.pk, ip=caller_of(request).ip_address)
        return SeeOther(redirects.after_sign_in(self.step.next_url) or "/account")

    def page(self, request, form, *, status=HTTPStatus.OK, blocked: str | None = None) -> HttpResponse:
        return render(
            request,
            "mfa/second_step.html",
            {"form": form, "user": self.step.user, "blocked": blocked},
            status=status,
        )


class SecurityPage(AccountPage):
    """/account/security: the factors, sessions and linked identities of the signed-in account."""

    template = "mfa/security"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        user = self.signed_in.user
        auth_time = self.signed_in.auth_time
        if auth_time is None or clock.now() - auth_time > timedelta(seconds=REAUTHENTICATE_SECONDS):
            # A change of factors: a sign-in of the last 5 minutes (with the password, or a factor).
            return SeeOther("/account/sign-in?" + urlencode({"next": "/account/security"}))
        action = request.POST.get("action")
        if action == "totp-begin":
            with contextlib.suppress(ValueError):  # turned on meanwhile (another tab)
                factors.totp_begin(user)
            return self.show(request)
        if action == "totp-confirm":
            form = ConfirmForm(request.POST)
            codes = factors.totp_confirm(user, request.POST.get("code", "")) if form.is_valid() else None
            if codes is None:
                form.add_error("code", "This code is not right: enter the one your app shows now.")
                return self.show(request, confirm_form=form, status=HTTPStatus.BAD_REQUEST)
            return self.show(request, recovery_codes=codes)
        if action == "recovery-new":
            try:
                return self.show(request, recovery_codes=factors.recovery_codes_regenerate(user))
            except ValueError:  # turned off meanwhile
                return self.show(request, status=HTTPStatus.BAD_REQUEST)
        if action == "totp-remove":
            factors.totp_remove(user)
            return self.show(request, removed=True)
        return self.show(request, status=HTTPStatus.BAD_REQUEST)

    def show(self, request, *, status=HTTPStatus.OK, **context) -> HttpResponse:
        user = self.signed_in.user
        sessions = (
            Session.objects.active().filter(user=user).select_related("client").order_by("-last_used_at")
        )
        return self.page(
            request,
            status=status,
            factor_on=factors.has_factor(user),
            enrolment=factors.enrolment(user),
            recovery_left=factors.recovery_codes_left(user),
            sessions=sessions[:20],
            identities=user.identities.all(),
            confirm_form=context.pop("confirm_form", ConfirmForm()),
            **context,
        )
