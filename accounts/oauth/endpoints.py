"""POST /par: pushed authorization requests (RFC 9126), the authorization endpoint's JSON door.
Parse -> authenticate the client -> accounts.oauth.pushed.push -> 201."""

from http import HTTPStatus

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.callers import caller_of
from accounts.errors import NO_STORE
from accounts.oauth import pushed
from accounts.oauth.authorize import PARAMETERS
from accounts.oauth.credentials import named_client
from accounts.oauth.serializers import (
    PushedAuthorizationRequestSerializer,
    PushedAuthorizationResponseSerializer,
)
from accounts.schema import BODY_ERRORS, OAUTH_ERROR, form_or_json
from accounts.throttling import policy
from accounts.views import OAuthEndpoint


class PushedAuthorizationView(OAuthEndpoint):
    """RFC 9126: the client pushes its authorization request, checked as /authorize checks it
    (errors as JSON), and gets a request_uri for the browser's /authorize?client_id=&request_uri=."""

    serializer_class = PushedAuthorizationRequestSerializer

    @extend_schema(
        request=form_or_json(PushedAuthorizationRequestSerializer),
        responses={
            201: PushedAuthorizationResponseSerializer,
            400: OAUTH_ERROR,
            401: OAUTH_ERROR,
            **BODY_ERRORS,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        params = self.parameters(request)
        # The body's client_id is the authorization request's (RFC 9126 §2.1): beside a Basic
        # header it names no second credential, and must be the header's client (push checks).
        basic = request.META.get("HTTP_AUTHORIZATION", "").strip().lower().startswith("basic ")
        client = named_client(request, {**params, "client_id": None} if basic else params)
        # The request's own parameters only: never the client's secret or assertion.
        values = {
            name: [params[name]] for name in (*PARAMETERS, "request_uri") if params.get(name) is not None
        }
        policy.stored_request(caller=caller_of(request), kind="par")
        answer = pushed.push(client=client, values=values)
        return Response(
            {"request_uri": answer.request_uri, "expires_in": answer.expires_in},
            status=HTTPStatus.CREATED,
            headers=NO_STORE,
        )
