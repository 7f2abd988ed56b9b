"""The second factor's pages: the sign-in's second step, the account's security page where a
signed-in person sets up or removes an authenticator app, passkeys and recovery codes, and the
passkey ceremonies' two halves (JSON options for the browser's navigator.credentials, then the
answer, posted by the page's form: accounts/static/accounts/passkeys.js)."""

import contextlib
import json
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from accounts import audit, clock
from accounts.callers import caller_of
from accounts.errors import TooManyAttempts
from accounts.mfa import factors, passkeys
from accounts.models import Session
from accounts.responses import SeeOther
from accounts.selfservice.views import AccountPage
from accounts.signin import redirects, state

REAUTHENTICATE_SECONDS = 300  # a change of factors needs a sign-in this recent
CEREMONY = "accounts.passkey_ceremony"  # the browser's pending passkey ceremony (its challenge)


def _begin_ceremony(
    request: HttpRequest, purpose: str, ceremony: passkeys.Ceremony, *, user, name: str | None = None
) -> JsonResponse:
    """Keep the challenge in the browser's session and answer the options (JSON)."""
    request.session[CEREMONY] = {
        "purpose": purpose,
        "challenge": ceremony.challenge,
        "started": ceremony.started,
        "user": user.pk if user else None,
        "name": name,
    }
    return JsonResponse(json.loads(ceremony.options_json))  # never cached (never_cache)


def _take_ceremony(request: HttpRequest, purpose: str, *, user) -> dict:
    """The pending ceremony of `purpose` (and `user`), taken out of the session: each is answered once."""
    pending = request.session.pop(CEREMONY, None)
    if (
        not isinstance(pending, dict)
        or pending.get("purpose") != purpose
        or pending.get("user") != (user.pk if user else None)
        or not isinstance(pending.get("challenge"), str)
        or not isinstance(pending.get("started"), int)
    ):
        raise passkeys.PasskeyRefused("There is no passkey request waiting here: try again.")
    return pending


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
            {
                "form": form,
                "user": self.step.user,
                "blocked": blocked,
                "totp": factors.has_totp(self.step.user),
                "passkeys": self.step.user.passkeys.exists(),
            },
            status=status,
        )


class SecurityPage(AccountPage):
    """/account/security: the factors, sessions and linked identities of the signed-in account."""

    template = "mfa/security"

    def recent(self) -> bool:
        """A change of factors needs a sign-in of the last 5 minutes (the password, or a factor)."""
        auth_time = self.signed_in.auth_time
        return auth_time is not None and clock.now() - auth_time <= timedelta(seconds=REAUTHENTICATE_SECONDS)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        user = self.signed_in.user
        if not self.recent():
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
            return self.show(request, recovery_codes=codes, added="an authenticator app")
        if action == "recovery-new":
            try:
                return self.show(request, recovery_codes=factors.recovery_codes_regenerate(user))
            except ValueError:  # turned off meanwhile
                return self.show(request, status=HTTPStatus.BAD_REQUEST)
        if action == "totp-remove":
            factors.totp_remove(user)
            return self.show(request, removed="The authenticator app is removed.")
        if action == "passkey-add":
            try:
                pending = _take_ceremony(request, "register", user=user)
                passkey, codes = passkeys.register(
                    user,
                    name=pending.get("name") or "",  # the name checked before the key was made
                    answer=request.POST.get("credential", ""),
                    challenge=pending["challenge"],
                    started=pending["started"],
                )
            except passkeys.PasskeyRefused as e:
                return self.show(request, passkey_error=e.reason, status=HTTPStatus.BAD_REQUEST)
            return self.show(request, recovery_codes=codes, added=f"the passkey {passkey.name!r}")
        if action == "passkey-remove":
            try:
                passkey_id = int(request.POST.get("passkey", ""))
            except ValueError:
                return self.show(request, status=HTTPStatus.BAD_REQUEST)
            if not passkeys.remove(user, passkey_id):
                return self.show(request, status=HTTPStatus.BAD_REQUEST)
            return self.show(request, removed="The passkey is removed.")
        return self.show(request, status=HTTPStatus.BAD_REQUEST)

    def show(self, request, *, status=HTTPStatus.OK, **context) -> HttpResponse:
        user = self.signed_in.user
        sessions = (
            Session.objects.active().filter(user=user).select_related("client").order_by("-last_used_at")
        )
        totp_on, keys = factors.has_totp(user), list(user.passkeys.order_by("created_at"))
        return self.page(
            request,
            status=status,
            totp_on=totp_on,
            factor_on=totp_on or bool(keys),  # factors.has_factor, from what the page reads anyway
            enrolment=factors.enrolment(user),
            passkeys=keys,
            recovery_left=factors.recovery_codes_left(user),
            sessions=sessions[:20],
            identities=user.identities.all(),
            confirm_form=context.pop("confirm_form", ConfirmForm()),
            **context,
        )


class PasskeyRegistrationOptions(SecurityPage):
    """POST /account/security/passkey-options (`name`: the new passkey's): the options of a new
    passkey (JSON); 400 `{"detail": ...}` for a name that is blank, too long or taken (before the
    browser makes a key); 403 without a sign-in of the last 5 minutes (the page's form then asks
    for one)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not self.recent():
            return JsonResponse(
                {"detail": "Sign in again first: changes need a sign-in of the last 5 minutes."},
                status=HTTPStatus.FORBIDDEN,
            )
        user = self.signed_in.user
        try:
            name = passkeys.checked_name(user, request.POST.get("name"))
        except passkeys.PasskeyRefused as e:
            return JsonResponse({"detail": e.reason}, status=HTTPStatus.BAD_REQUEST)
        return _begin_ceremony(request, "register", passkeys.registration_options(user), user=user, name=name)


SIGN_IN, SECOND_STEP = "sign-in", "second-step"  # the two purposes of a passkey's sign-in


@method_decorator(never_cache, name="dispatch")
class PasskeySignInOptions(View):
    """POST /sign-in/passkey/options: the options of a passkey sign-in (JSON): any passkey of this
    service; with `?purpose=second-step` (the second step's page), one of that step's user's:
    400 `{"detail": ...}` when no second step is waiting or its user has no passkey."""

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.GET.get("purpose") != SECOND_STEP:
            return _begin_ceremony(request, SIGN_IN, passkeys.authentication_options(), user=None)
        step = state.second_step(request, now=clock.now())
        if step is None or not step.user.passkeys.exists():
            return JsonResponse(
                {"detail": "There is no second step with a passkey waiting here: sign in again."},
                status=HTTPStatus.BAD_REQUEST,
            )
        return _begin_ceremony(
            request, SECOND_STEP, passkeys.authentication_options(step.user), user=step.user
        )


@method_decorator(never_cache, name="dispatch")
class PasskeySignIn(View):
    """POST /sign-in/passkey (`credential`: the browser's answer as JSON; `next`: the pending
    request): as the options said, signs the browser in (two factors) or passes the second step;
    303 to `next` (the step's own request)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        now = clock.now()
        pending = request.session.get(CEREMONY)
        purpose = pending.get("purpose") if isinstance(pending, dict) else None
        step = state.second_step(request, now=now) if purpose == SECOND_STEP else None
        next_url = redirects.after_sign_in(step.next_url if step else request.POST.get("next"))
        try:
            pending = _take_ceremony(
                request, SECOND_STEP if step else SIGN_IN, user=step.user if step else None
            )
            proof = passkeys.authenticate(
                request.POST.get("credential", ""),
                challenge=pending["challenge"],
                started=pending["started"],
                user=step.user if step else None,
                now=now,
            )
        except passkeys.PasskeyRefused as e:
            return render(
                request,
                "mfa/passkey_refused.html",
                {
                    "reason": e.reason,
                    "again": state.SECOND_STEP_PATH if step else next_url or "/account/sign-in",
                },
                status=HTTPStatus.BAD_REQUEST,
            )
        ip = caller_of(request).ip_address
        if step:
            state.finish_second_step(request, step, methods=proof.methods)
            audit.event("second factor passed", user=proof.user.pk, ip=ip, kind="passkey")
        else:
            request.session.pop(state.SECOND_STEP, None)  # a half-done sign-in is replaced by this one
            state.sign_in(request, proof.user, methods=proof.methods, auth_time=now)
            audit.event("signed in with a passkey", user=proof.user.pk, ip=ip)
        return SeeOther(next_url or "/account")
