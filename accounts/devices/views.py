"""POST /device_authorization (DRF, an OAuth endpoint) and the /device page (Django, for people).

The page: a signed-in person types the user code (GET ?user_code= only fills the field in, so a
link or QR code never decides anything), sees which application on which scopes asks, and allows
or denies. A browser not signed in signs in first and comes back. The rules are
accounts.devices.flow's; every code typed is counted first (accounts.throttling.policy).
"""

from http import HTTPStatus
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.apis import scopes as api_scopes
from accounts.callers import caller_of
from accounts.devices import flow
from accounts.devices.serializers import (
    DeviceAuthorizationRequestSerializer,
    DeviceAuthorizationResponseSerializer,
)
from accounts.errors import NO_STORE, InvalidRequest, TooManyAttempts
from accounts.oauth.credentials import named_client
from accounts.responses import SeeOther
from accounts.schema import BODY_ERRORS, OAUTH_ERROR, form_or_json
from accounts.serializers import NOT_A_STRING
from accounts.signin import methods, state
from accounts.throttling import policy
from accounts.views import OAuthEndpoint

DEVICE_PATH = "/device"


def verification_uri() -> str:
    return settings.TOKEN_ISSUER.rstrip("/") + DEVICE_PATH


class DeviceAuthorizationView(OAuthEndpoint):
    """RFC 8628 §3.1: a device's request for a device code and a user code. The client
    authenticates as at /token (a public client sends its client_id)."""

    serializer_class = DeviceAuthorizationRequestSerializer

    @extend_schema(
        request=form_or_json(DeviceAuthorizationRequestSerializer),
        responses={
            200: DeviceAuthorizationResponseSerializer,
            400: OAUTH_ERROR,
            401: OAUTH_ERROR,
            **BODY_ERRORS,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        params = self.parameters(request)
        client = named_client(request, params)
        for name in ("scope", "resource"):
            if params[name] is NOT_A_STRING:
                raise InvalidRequest(f"The parameter '{name}' must be a string.")
        policy.stored_request(caller=caller_of(request), kind="device")
        started = flow.start(client=client, scope=params["scope"], resource=params["resource"])
        uri = verification_uri()
        body = {
            "device_code": started.device_code,
            "user_code": started.user_code,
            "verification_uri": uri,
            "verification_uri_complete": f"{uri}?{urlencode({'user_code': started.user_code})}",
            "expires_in": started.expires_in,
            "interval": started.interval,
        }
        return Response(body, headers=NO_STORE)


@method_decorator(never_cache, name="dispatch")
class DevicePage(View):
    """GET: the form for the user code. POST: the code typed (the consent page next), or the
    person's answer on the consent page (`allow` or `deny`, with the code)."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.signed_in = state.signed_in(request)
        if self.signed_in is None:
            back = DEVICE_PATH
            if request.GET.get("user_code"):
                back += "?" + urlencode({"user_code": request.GET["user_code"]})
            return SeeOther("/account/sign-in?" + urlencode({"next": back}))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, "devices/enter", user_code=request.GET.get("user_code", "")[:32])

    def post(self, request: HttpRequest) -> HttpResponse:
        typed = request.POST.get("user_code", "")[:32]
        try:
            policy.user_code_attempt(caller=caller_of(request), user_id=self.signed_in.user.pk)
        except TooManyAttempts as e:
            return self.page(
                request,
                "devices/enter",
                user_code=typed,
                error=f"Too many codes tried. Try again in {max(1, e.retry_after // 60)} minute(s).",
                status=HTTPStatus.TOO_MANY_REQUESTS,
                headers={"Retry-After": str(e.retry_after)},
            )
        authorization = flow.find_pending(typed)
        if authorization is None:
            return self.page(
                request,
                "devices/enter",
                user_code=typed,
                error="That code is not valid, or it has expired. Check the code your device shows.",
                status=HTTPStatus.BAD_REQUEST,
            )
        client = authorization.client
        if client.require_second_factor and methods.MFA not in self.signed_in.methods:
            return self.page(
                request,
                "devices/enter",
                user_code=typed,
                error=f"{client.name} requires two-step sign-in: sign in with your second factor "
                "(turn one on at /account/security), then enter the code again.",
                status=HTTPStatus.FORBIDDEN,
            )
        answer = next((name for name in ("deny", "allow") if name in request.POST), None)
        if answer is None:
            scopes = api_scopes.describe(authorization.scope)
            return self.page(
                request,
                "devices/confirm",
                client=client,
                scopes=scopes,
                user_code=flow.shown(authorization.user_code),
            )
        allow = answer == "allow"
        decided = flow.decide(
            authorization,
            user=self.signed_in.user,
            allow=allow,
            auth_time=self.signed_in.auth_time,
            amr=self.signed_in.methods,
        )
        if not decided:
            return self.page(
                request,
                "devices/enter",
                user_code="",
                error="That code was used or has expired meanwhile. Check the code your device shows.",
                status=HTTPStatus.BAD_REQUEST,
            )
        return self.page(request, "devices/done", client=client, allowed=allow)

    def page(self, request, template: str, *, status=HTTPStatus.OK, headers=None, **context) -> HttpResponse:
        response = render(
            request, f"{template}.html", {"user": self.signed_in.user, **context}, status=status
        )
        for name, value in (headers or {}).items():
            response[name] = value
        return response
