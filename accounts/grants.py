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
from accounts.errors import InvalidClient, UnauthorizedClient
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
        scope = params.get("scope")
        self.scope = None if scope is None or scope is NOT_A_STRING else scope

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
        )


_registered: dict[str, tuple[type[Grant], Callable[[], bool]]] = {}


def register_grant(grant: type[Grant], *, enabled: Callable[[], bool] = lambda: True) -> type[Grant]:
    """Make /token accept `grant` (while `enabled()` says so): authlib's register_grant, as a
    registry rather than a list in the view. Registered in accounts.apps, in the order that
    discovery lists them."""
    _registered[grant.grant_type] = (grant, enabled)
    return grant


class Grants(Mapping):
    """The grants /token accepts now, by grant_type. Asking for one (`in`, `[]`) asks only its own
    `enabled()`, so a grant whose availability costs a query (client credentials: some client
    must be allowed it) costs nothing to the requests of other grants; listing them asks all."""

    def __init__(self) -> None:
        self._asked: dict[str, bool] = {}  # each grant's enabled(), asked once per request

    def __getitem__(self, grant_type: str) -> type[Grant]:
        grant, enabled = _registered[grant_type]
        if grant_type not in self._asked:
            self._asked[grant_type] = enabled()
        if not self._asked[grant_type]:
            raise KeyError(grant_type)
        return grant

    def __iter__(self) -> Iterator[str]:
        return (grant_type for grant_type in list(_registered) if grant_type in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def grants() -> Grants:
    """The grants /token accepts now (which clients may use each is theirs:
    accounts.oauth.models.Client.may_use)."""
    return Grants()


def some_client_may_use(grant_type: str) -> Callable[[], bool]:
    """`enabled` for a grant given per client: accepted (and named in discovery) once an active
    client is allowed it, so a service without such clients answers unsupported_grant_type, as
    before there was one."""

    def enabled() -> bool:
        return any(
            grant_type in allowed
            for allowed in Client.objects.filter(is_active=True).values_list("grant_types", flat=True)
        )

    return enabled
