"""The accounts' doors over HTTP: the API (DRF, form or JSON bodies) and the pages (Django
templates: CSRF, no framing, no-store). Each parses, calls one service, renders."""

from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import clock
from accounts.authentication import OwnAccount
from accounts.callers import caller_of
from accounts.errors import NO_STORE, FieldErrors, TooManyAttempts
from accounts.responses import SeeOther
from accounts.schema import BODY_ERRORS, UNAUTHORIZED, form_or_json
from accounts.selfservice import forms, serializers, services
from accounts.serializers import DetailSerializer, OAuthErrorSerializer
from accounts.signin import methods, redirects, state
from accounts.signin.pages import sign_in_page

# The pending /authorize request that a sign-up or a password reset started from: the page at the
# end of the email's link (in the same browser) continues to it.
PENDING_REQUEST = "accounts.selfservice.next"
TOO_MANY = OpenApiResponse(OAuthErrorSerializer, description="Too many requests: Retry-After says when.")


def field_errors(description: str) -> OpenApiResponse:
    """A 400 of DRF's shape, `{field: [message, ...]}`."""
    return OpenApiResponse(OpenApiTypes.OBJECT, description=f"`{{field: [message, ...]}}`: {description}")


def _signup_enabled() -> None:
    if not settings.SIGNUP_ENABLED:
        raise Http404("Sign-up is not enabled here.")


def new_user_body(answer: services.NewUser) -> dict:
    return {
        "username": answer.username,
        "email": answer.email,
        "full_name": answer.full_name,
        "email_verified": False,
        "disabled": False,
    }


# --- the API -----------------------------------------------------------------------------------


class AccountEndpoint(GenericAPIView):
    """A POST endpoint with a body; the serializer's errors are DRF's `{field: [message]}`."""

    def body(self, request: Request) -> dict:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class UsersView(AccountEndpoint):
    """Sign up (when SIGNUP_ENABLED): a new account, signed in at once, its email unverified
    until the link sent to it is followed."""

    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = serializers.SignUpSerializer

    @extend_schema(
        request=form_or_json(serializers.SignUpSerializer),
        responses={
            201: serializers.NewUserSerializer,
            400: field_errors("a taken username, a refused password, a malformed field."),
            404: OpenApiResponse(DetailSerializer, description="Sign-up is not enabled."),
            429: TOO_MANY,
            **BODY_ERRORS,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        _signup_enabled()
        params = self.body(request)
        answer = services.sign_up(**params, caller=caller_of(request))
        return Response(new_user_body(answer), status=HTTPStatus.CREATED, headers=NO_STORE)


class VerificationView(APIView):
    """Send the link that verifies the email (or confirms a pending new one) again."""

    permission_classes = [IsAuthenticated, OwnAccount]

    @extend_schema(
        request=None,
        responses={
            202: DetailSerializer,
            400: OpenApiResponse(DetailSerializer, description="The email is already verified."),
            401: UNAUTHORIZED,
            429: TOO_MANY,
        },
    )
    def post(self, request: Request) -> Response:
        if not services.verification_resend(user=request.user, caller=caller_of(request)):
            return Response(
                {"detail": "The email address is already verified."}, status=HTTPStatus.BAD_REQUEST
            )
        address = request.user.pending_email or request.user.email
        return Response({"detail": f"A new link is on its way to {address}."}, status=HTTPStatus.ACCEPTED)


RESET_ACCEPTED = "If an account has this email address, a link to reset its password is on its way."


class PasswordResetView(AccountEndpoint):
    """Ask for a password reset link: 202, the same answer whether or not the address has an account."""

    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = serializers.EmailSerializer

    @extend_schema(
        request=form_or_json(serializers.EmailSerializer),
        responses={
            202: DetailSerializer,
            400: field_errors("a missing or malformed email."),
            429: TOO_MANY,
            **BODY_ERRORS,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        params = self.body(request)
        services.password_reset_request(email=params["email"], caller=caller_of(request))
        return Response({"detail": RESET_ACCEPTED}, status=HTTPStatus.ACCEPTED, headers=NO_STORE)

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:  # a person who typed the address: the page
        return SeeOther("/account/password-reset")


class PasswordChangeView(AccountEndpoint):
    """Change one's own password (a first-party token): every other session ends, this one stays."""

    permission_classes = [IsAuthenticated, OwnAccount]
    serializer_class = serializers.PasswordChangeSerializer

    @extend_schema(
        request=form_or_json(serializers.PasswordChangeSerializer),
        responses={
            204: OpenApiResponse(description="Changed; every other session ended."),
            400: field_errors("a wrong current password (counted as a failed login), a refused new one."),
            401: UNAUTHORIZED,
            429: TOO_MANY,
            **BODY_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        params = self.body(request)
        services.password_change(
            user=request.user, **params, caller=caller_of(request), keep_session=request.auth.pk
        )
        return Response(status=HTTPStatus.NO_CONTENT, headers=NO_STORE)


class EmailChangeView(AccountEndpoint):
    """Ask to change one's email: the new address gets a link, and the change happens when it is followed."""

    permission_classes = [IsAuthenticated, OwnAccount]
    serializer_class = serializers.EmailChangeSerializer

    @extend_schema(
        request=form_or_json(serializers.EmailChangeSerializer),
        responses={
            202: DetailSerializer,
            400: field_errors("a wrong password (counted as a failed login), the same email."),
            401: UNAUTHORIZED,
            429: TOO_MANY,
            **BODY_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        params = self.body(request)
        services.email_change_request(user=request.user, **params, caller=caller_of(request))
        return Response(
            {"detail": f"A link to confirm it is on its way to {params['email']}."},
            status=HTTPStatus.ACCEPTED,
            headers=NO_STORE,
        )


# --- the pages ---------------------------------------------------------------------------------


def _page(request, template: str, context: dict, *, status=HTTPStatus.OK) -> HttpResponse:
    return render(request, f"selfservice/{template}.html", context, status=status)


def _refused(form, error: FieldErrors) -> None:
    for field, messages in error.errors.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


def _too_many(request, template: str, context: dict, error: TooManyAttempts) -> HttpResponse:
    response = _page(
        request, template, {**context, "blocked": error.description}, status=HTTPStatus.TOO_MANY_REQUESTS
    )
    response["Retry-After"] = str(error.retry_after)
    return response


@method_decorator(never_cache, name="dispatch")
class SignUpPage(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        _signup_enabled()
        next_url = redirects.after_sign_in(request.GET.get("next")) or ""
        return _page(request, "signup", {"form": forms.SignUpForm(), "next": next_url})

    def post(self, request: HttpRequest) -> HttpResponse:
        _signup_enabled()
        form = forms.SignUpForm(request.POST)
        next_url = redirects.after_sign_in(request.POST.get("next"))
        context = {"form": form, "next": next_url or ""}
        if not form.is_valid():
            return _page(request, "signup", context, status=HTTPStatus.BAD_REQUEST)
        try:
            answer = services.sign_up(**form.cleaned_data, caller=caller_of(request))
        except FieldErrors as e:
            _refused(form, e)
            return _page(request, "signup", context, status=HTTPStatus.BAD_REQUEST)
        except TooManyAttempts as e:
            return _too_many(request, "signup", context, e)
        # The browser is not signed in, whether or not the account is new: signing in only a new
        # one would tell that a taken email was taken. It signs in with the new password next.
        if next_url:
            request.session[PENDING_REQUEST] = next_url
        return _page(request, "check_email", {"email": answer.email, "next": next_url})


@method_decorator(never_cache, name="dispatch")
class EmailConfirmPage(View):
    """The link of an email: a page with one button (a POST), so a mail scanner that fetches the
    link confirms nothing."""

    def get(self, request: HttpRequest, public_id: str, token: str) -> HttpResponse:
        try:
            user = services.email_link_user(public_id=public_id, token=token)
        except services.LinkRefused as e:
            return _page(request, "link_refused", {"reason": e.reason}, status=HTTPStatus.BAD_REQUEST)
        return _page(
            request,
            "confirm_email",
            {"address": user.pending_email or user.email, "change": bool(user.pending_email)},
        )

    def post(self, request: HttpRequest, public_id: str, token: str) -> HttpResponse:
        try:
            user = services.email_confirm(public_id=public_id, token=token)
        except services.LinkRefused as e:
            return _page(request, "link_refused", {"reason": e.reason}, status=HTTPStatus.BAD_REQUEST)
        next_url = redirects.after_sign_in(request.session.pop(PENDING_REQUEST, None))
        return _page(request, "email_confirmed", {"address": user.email, "next": next_url})


@method_decorator(never_cache, name="dispatch")
class PasswordResetRequestPage(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        next_url = redirects.after_sign_in(request.GET.get("next")) or ""
        return _page(request, "password_reset", {"form": forms.EmailForm(), "next": next_url})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = forms.EmailForm(request.POST)
        next_url = redirects.after_sign_in(request.POST.get("next"))
        context = {"form": form, "next": next_url or ""}
        if not form.is_valid():
            return _page(request, "password_reset", context, status=HTTPStatus.BAD_REQUEST)
        try:
            services.password_reset_request(email=form.cleaned_data["email"], caller=caller_of(request))
        except TooManyAttempts as e:
            return _too_many(request, "password_reset", context, e)
        if next_url:
            request.session[PENDING_REQUEST] = next_url
        return _page(request, "check_email", {"email": form.cleaned_data["email"], "reset": True})


@method_decorator(never_cache, name="dispatch")
class PasswordResetPage(View):
    """The link of a password reset email: a form that sets a new password."""

    def get(self, request: HttpRequest, public_id: str, token: str) -> HttpResponse:
        try:
            user = services.reset_link_user(public_id=public_id, token=token)
        except services.LinkRefused as e:
            return _page(request, "link_refused", {"reason": e.reason}, status=HTTPStatus.BAD_REQUEST)
        return _page(request, "set_password", {"form": forms.SetPasswordForm(), "user": user})

    def post(self, request: HttpRequest, public_id: str, token: str) -> HttpResponse:
        form = forms.SetPasswordForm(request.POST)
        if not form.is_valid():
            return _page(request, "set_password", {"form": form}, status=HTTPStatus.BAD_REQUEST)
        try:
            user = services.password_reset(
                public_id=public_id, token=token, password=form.cleaned_data["new_password"]
            )
        except services.LinkRefused as e:
            return _page(request, "link_refused", {"reason": e.reason}, status=HTTPStatus.BAD_REQUEST)
        except FieldErrors as e:
            _refused(form, e)
            return _page(request, "set_password", {"form": form}, status=HTTPStatus.BAD_REQUEST)
        next_url = redirects.after_sign_in(request.session.pop(PENDING_REQUEST, None))
        if form.cleaned_data["sign_in"]:
            # The reset link proves the mailbox, not a second factor: a user with one is asked it next.
            signed_in = state.first_factor_proven(
                request,
                user,
                methods=(methods.PASSWORD,),
                auth_time=clock.now(),
                next_url=next_url or "/account",
            )
            if signed_in is None:
                return SeeOther(state.SECOND_STEP_PATH)
        else:
            state.sign_out(request)  # a browser signed in as anyone is signed out: the password changed
        return _page(request, "password_set", {"signed_in": form.cleaned_data["sign_in"], "next": next_url})


ACCOUNT_PAGES = ("/account", "/account/security", "/account/password", "/account/email")


class AccountPage(View):
    """A page of the signed-in browser's own account; a browser not signed in signs in first."""

    template: str

    @method_decorator(never_cache)
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.signed_in = state.signed_in(request)
        if self.signed_in is None:
            return SeeOther("/account/sign-in?" + urlencode({"next": request.path}))
        return super().dispatch(request, *args, **kwargs)

    def page(self, request, **context) -> HttpResponse:
        status = context.pop("status", HTTPStatus.OK)
        return render(
            request, f"{self.template}.html", {"user": self.signed_in.user, **context}, status=status
        )

    def submit(self, request, form, action) -> HttpResponse:
        """`action(cleaned_data)` for a valid form; the form again with its refusals otherwise
        (400, or 429 while the user's sign-ins are blocked)."""
        if not form.is_valid():
            return self.page(request, form=form, status=HTTPStatus.BAD_REQUEST)
        try:
            return action(form.cleaned_data)
        except FieldErrors as e:
            _refused(form, e)
            return self.page(request, form=form, status=HTTPStatus.BAD_REQUEST)
        except TooManyAttempts as e:
            return self.page(request, form=form, blocked=e.description, status=HTTPStatus.TOO_MANY_REQUESTS)


class AccountOverviewPage(AccountPage):
    template = "selfservice/account"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request)

    def post(self, request: HttpRequest) -> HttpResponse:  # "send the link again"
        try:
            sent = services.verification_resend(user=self.signed_in.user, caller=caller_of(request))
        except TooManyAttempts as e:
            return self.page(request, blocked=e.description, status=HTTPStatus.TOO_MANY_REQUESTS)
        return self.page(request, resent=sent)


class PasswordChangePage(AccountPage):
    template = "selfservice/change_password"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, form=forms.ChangePasswordForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        def change(fields: dict) -> HttpResponse:
            user = services.password_change(
                user=self.signed_in.user, **fields, caller=caller_of(request), keep_session=None
            )
            update_session_auth_hash(request, user)  # this browser stays signed in; every other one is out
            return self.page(request, form=None, changed=True)

        return self.submit(request, forms.ChangePasswordForm(request.POST), change)


class EmailChangePage(AccountPage):
    template = "selfservice/change_email"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, form=forms.ChangeEmailForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        def change(fields: dict) -> HttpResponse:
            services.email_change_request(user=self.signed_in.user, **fields, caller=caller_of(request))
            return _page(request, "check_email", {"email": fields["email"], "change": True})

        return self.submit(request, forms.ChangeEmailForm(request.POST), change)


@method_decorator(never_cache, name="dispatch")
class AccountSignInPage(View):
    """The sign-in page of the account's own pages: the one /authorize shows, continuing to `next`."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(request, methods.PasswordForm(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = methods.PasswordForm(request, data=request.POST)
        proof = methods.password(form)
        if proof is None:
            return self.show(request, form)
        signed_in = state.first_factor_proven(
            request, proof.user, methods=proof.methods, auth_time=clock.now(), next_url=self.next_url(request)
        )
        return SeeOther(self.next_url(request) if signed_in else state.SECOND_STEP_PATH)

    @staticmethod
    def next_url(request: HttpRequest) -> str:
        wanted = request.POST.get("next") or request.GET.get("next") or "/account"
        if wanted in ACCOUNT_PAGES or (
            urlsplit(wanted).path == "/device" and redirects.after_sign_in(wanted)
        ):
            return wanted  # an account page, or /device with the user code being entered
        return "/account"

    def show(self, request: HttpRequest, form) -> HttpResponse:
        next_url = self.next_url(request)
        return sign_in_page(
            request, form=form, hidden=[("next", next_url)], continue_to=next_url, max_age=None
        )
