"""The grants of POST /token, one class each: a new grant is a new class, registered with
`register_grant` (accounts.apps registers them: the refresh grant here, the authorization code
in accounts.oauth.grants, the token exchange in accounts.federation.grants), not a new branch.

A grant checks its own parameters (invalid_request), knows whether it needs a client, and issues
the token pair through the services. The view has already checked grant_type and authenticated
the client, in the contract's order.
"""

from collections.abc import Callable, Iterator, Mapping

from accounts import services
from accounts.callers import Caller
from accounts.errors import InvalidClient, InvalidRequest, UnauthorizedClient, UnsupportedGrantType
from accounts.models import Client
from accounts.serializers import NOT_A_STRING, required_string


class Grant:
    grant_type: str
    parameters: tuple[str, ...] = ()
    needs_client = False  # a request naming no client is invalid_client
    issued_token_type: str | None = None  # RFC 8693's issued_token_type, for a token exchange

    def __init__(self, params: dict, *, client: Client | None, caller: Caller) -> None:
        if self.needs_client and client is None:
            raise InvalidClient(
                "This grant needs the client's authentication (a public client: its client_id)."
            )
        if client is not None and not client.may_use(self.grant_type):
            raise UnauthorizedClient(f"This client may not use the {self.grant_type} grant.")
        self.client = client
        self.caller = caller
        self.params = {name: required_string(params, name) for name in self.parameters}
        scope, resource = params.get("scope"), params.get("resource")
        if resource is NOT_A_STRING:
            raise InvalidRequest("The parameter 'resource' must be a string.")
        self.scope = None if scope is None or scope is NOT_A_STRING else scope
        self.resource = resource  # RFC 8707: an API's identifier, or None

    def issue(self) -> services.IssuedTokens:
        raise NotImplementedError


class RefreshTokenGrant(Grant):
    """RFC 6749 §6: spend a refresh token for a new pair of its session."""

    grant_type = "refresh_token"
    parameters = ("refresh_token",)

    def issue(self) -> services.IssuedTokens:
        return services.refresh_token_rotate(
            refresh_token=self.params["refresh_token"],
            caller=self.caller,
            client=self.client,
            scope=self.scope,
            resource=self.resource,
        )


_registered: dict[str, tuple[type[Grant], Callable[[], bool]]] = {}


def register_grant(grant: type[Grant], *, enabled: Callable[[], bool] = lambda: True) -> type[Grant]:
    """Make /token accept `grant` (while `enabled()` says so): authlib's register_grant, as a
    registry rather than a list in the view. Registered in accounts.apps, in the order that
    discovery lists them. `enabled` may be a `SomeClientMayUse`: then a request whose client is
    allowed the grant proves it enabled without asking."""
    _registered[grant.grant_type] = (grant, enabled)
    return grant


class SomeClientMayUse:
    """`enabled` for a grant given per client: accepted (and named in discovery) once an active
    client is allowed it, so a service without such clients answers unsupported_grant_type, as
    before there was one. Asking costs a query over the clients, so /token asks only when the
    request's own client does not already prove it (Grants.settle)."""

    def __init__(self, grant_type: str) -> None:
        self.grant_type = grant_type

    def __call__(self) -> bool:
        return any(
            self.grant_type in allowed
            for allowed in Client.objects.filter(is_active=True).values_list("grant_types", flat=True)
        )

    def proven_by(self, client: Client | None) -> bool:
        return client is not None and client.is_active and client.may_use(self.grant_type)


class Grants(Mapping):
    """The grants /token accepts now, by grant_type. Asking for one (`in`, `[]`) asks only its own
    `enabled()`, so a grant whose availability costs a query costs nothing to the requests of
    other grants; listing them (discovery) asks all.

    At /token, `accepts` is asked before the client is authenticated (the contract's order:
    unsupported_grant_type first) and leaves a `SomeClientMayUse` grant to `settle`, after: the
    allowed client of a well-formed request proves the grant enabled, and only a request that
    fails (no client, a wrong secret, a client not allowed it) pays the query, to answer
    unsupported_grant_type before its own error when no client is allowed the grant."""

    def __init__(self) -> None:
        self._asked: dict[str, bool] = {}  # each grant's enabled(), asked once per request

    def _enabled(self, grant_type: str) -> bool:
        if grant_type not in self._asked:
            self._asked[grant_type] = _registered[grant_type][1]()
        return self._asked[grant_type]

    def __getitem__(self, grant_type: str) -> type[Grant]:
        if grant_type not in _registered or not self._enabled(grant_type):
            raise KeyError(grant_type)
        return _registered[grant_type][0]

    def __iter__(self) -> Iterator[str]:
        return (grant_type for grant_type in list(_registered) if grant_type in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def accepts(self, grant_type: str) -> bool:
        """Before client authentication: a grant /token may take (a per-client one, provisionally)."""
        if grant_type not in _registered:
            return False
        return isinstance(_registered[grant_type][1], SomeClientMayUse) or self._enabled(grant_type)

    def unsupported(self) -> UnsupportedGrantType:
        supported = ", ".join(f'"{name}"' for name in self)
        return UnsupportedGrantType(f"The grant types at /token are {supported}.")

    def settle(self, grant_type: str, client: Client | None) -> type[Grant]:
        """After client authentication (or its failure, `client` None): the grant, or
        unsupported_grant_type for a provisional one that no client is allowed."""
        grant, enabled = _registered[grant_type]
        provisional = isinstance(enabled, SomeClientMayUse) and not enabled.proven_by(client)
        if provisional and not self._enabled(grant_type):
            raise self.unsupported()
        return grant


def grants() -> Grants:
    """The grants /token accepts now (which clients may use each is theirs:
    accounts.oauth.models.Client.may_use)."""
    return Grants()
