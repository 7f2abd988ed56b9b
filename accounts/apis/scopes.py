"""Which scopes a request may have, and for which audience. No HTTP here.

A scope is an identity scope of OpenID Connect (`openid`, `profile`, `email`: the person's own
data, for any client) or a scope of a registered API. An API scope is asked for with the API's
identifier as `resource` (RFC 8707), and only by a client allowed it (`Client.api_scopes`);
the access token's `aud` is then the API. One API per request (a second `resource` is a
repeated parameter: invalid_request).

- `resolve`: the scopes and the resource of a request, or InvalidScope / InvalidTarget;
- `audience`: the `aud` of an access token of that request: the API's identifier (with this
  service's own audience beside it when `openid` was granted, so /userinfo still opens);
- `describe`: the consent page's line for each scope;
- `supported`: discovery's `scopes_supported`.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from accounts.apis.models import Api, ApiScope
from accounts.errors import InvalidScope, InvalidTarget

# Each identity scope, with the line the consent page shows for it.
IDENTITY_SCOPES = {
    "openid": "Know who you are: a stable identifier of your account.",
    "profile": "See your name and username.",
    "email": "See your email address.",
}
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")
MAX_SCOPE_LENGTH = 200  # what a session, a code or a client's token keeps of it


class InvalidApi(ValueError):
    """An API or scope that cannot be registered; the message says why."""


@dataclass(frozen=True)
class Requested:
    scope: str  # the scopes granted, space-separated, in the order asked (no repeats)
    resource: str  # the API's identifier, or "" (this service's own audience)


def resolve(*, client, scope: str | None, resource: str | None, all_when_none: bool = False) -> Requested:
    """The scopes and resource that `client` asked for. With `all_when_none` (client
    credentials), a request naming a resource and no scope gets every scope of that API the
    client is allowed. Raises InvalidTarget for an unknown resource, InvalidScope for a scope
    that is unknown, of another API, or not allowed to the client, and for a resource asked
    without any of its scopes (a token for an API carries what the client may do there: never
    an audience alone, which the consent page would not show)."""
    names = list(dict.fromkeys((scope or "").split()))
    asked = [name for name in names if name not in IDENTITY_SCOPES]
    malformed = [name for name in asked if not SCOPE_TOKEN.match(name)]  # a NUL, say: no lookup
    if malformed:
        raise InvalidScope(f"Unknown scope: {' '.join(malformed)}.")
    _check_length(names)
    if resource and (len(resource) > 200 or "\x00" in resource):
        raise InvalidTarget("Unknown resource: no API has this identifier.")
    if not resource:
        if asked:
            owner = ApiScope.objects.filter(name=asked[0]).values_list("api__identifier", flat=True).first()
            if owner is not None:
                raise InvalidScope(f"The scope {asked[0]!r} is an API's: send resource={owner}.")
            known = set(ApiScope.objects.filter(name__in=asked).values_list("name", flat=True))
            unknown = [name for name in asked if name not in known]
            raise InvalidScope(f"Unknown scope: {' '.join(unknown)}.")
        return Requested(" ".join(names), "")
    api = Api.objects.filter(identifier=resource).first()
    if api is None:
        raise InvalidTarget("Unknown resource: no API has this identifier.")
    of_api = set(api.scopes.values_list("name", flat=True))
    allowed = set(client.api_scopes.filter(api=api).values_list("name", flat=True))
    for name in asked:
        if name not in of_api:
            raise InvalidScope(f"Unknown scope of {api.identifier}: {name}.")
        if name not in allowed:
            raise InvalidScope(f"This client may not have the scope {name!r}.")
    if all_when_none and not asked:
        names += sorted(allowed)
        _check_length(names)
    if not any(name in allowed for name in names):
        raise InvalidScope(f"Ask for at least one scope of {api.identifier} that this client may have.")
    return Requested(" ".join(names), api.identifier)


def is_registered(resource: str) -> bool:
    """Whether `resource` is still a registered API's identifier ("" is this service's own)."""
    return not resource or Api.objects.filter(identifier=resource).exists()


def _check_length(names: list[str]) -> None:
    if len(" ".join(names)) > MAX_SCOPE_LENGTH:
        raise InvalidScope(f"Ask for at most {MAX_SCOPE_LENGTH} characters of scope.")


def audience(*, resource: str, scope: str) -> str | list[str]:
    """The `aud` of an access token for `resource` (none: this service's) with `scope`."""
    own = settings.ACCESS_TOKEN_AUDIENCE
    if not resource:
        return own
    return [resource, own] if "openid" in scope.split() else resource


def is_audience(aud: object, *, resource: str) -> bool:
    """Whether `aud` is what `audience` gives for `resource` (introspection's check)."""
    expected = resource or settings.ACCESS_TOKEN_AUDIENCE
    return aud == expected or (isinstance(aud, list) and expected in aud)


def describe(scope: str) -> list[tuple[str, str]]:
    """(scope, the consent page's line) for each scope of `scope`."""
    names = scope.split()
    of_apis = [name for name in names if name not in IDENTITY_SCOPES]
    lines = {
        row.name: f"{row.description} ({row.api.name})"
        for row in (ApiScope.objects.select_related("api").filter(name__in=of_apis) if of_apis else ())
    }
    return [(name, IDENTITY_SCOPES.get(name) or lines.get(name, name)) for name in names]


def supported() -> list[str]:
    """Every scope a client may ask for: the identity scopes, then the APIs'."""
    return [*IDENTITY_SCOPES, *ApiScope.objects.order_by("name").values_list("name", flat=True)]


def check_identifier(identifier: str) -> None:
    """RFC 8707 §2: an absolute URI, without a fragment."""
    parts = urlsplit(identifier)
    if (
        not parts.scheme
        or not (parts.netloc or parts.path)
        or "#" in identifier
        or identifier != identifier.strip()
    ):
        raise InvalidApi(f"{identifier!r}: an API's identifier is an absolute URI without a fragment")
    if len(identifier) > 200:
        raise InvalidApi("an API's identifier is at most 200 characters")


def check_scope_name(name: str) -> None:
    if not SCOPE_TOKEN.match(name):
        raise InvalidApi(
            f"{name!r}: a scope is 1 to 100 printable ASCII characters, without spaces, quotes or \\"
        )
    if name in IDENTITY_SCOPES:
        raise InvalidApi(f"{name!r} is an OpenID Connect scope of this service, not an API's")


def parse_scope_argument(argument: str) -> tuple[str, str]:
    """`NAME:DESCRIPTION` of create_api: the description starts after the first ':' followed by
    a space, else after the first ':' (so `orders:read: Read your orders` and `read:Read`)."""
    at = argument.find(": ")
    name, _, description = (argument[:at], None, argument[at + 2 :]) if at >= 0 else argument.partition(":")
    name, description = name.strip(), (description or "").strip()
    if not description:
        raise InvalidApi(f"{argument!r}: give each scope a description, NAME:DESCRIPTION")
    return name, description


def create_api(*, identifier: str, name: str, scopes: list[tuple[str, str]]) -> Api:
    """Register an API and its scopes, or raise InvalidApi."""
    check_identifier(identifier)
    if not name.strip():
        raise InvalidApi("an API needs a name")
    if Api.objects.filter(identifier=identifier).exists():
        raise InvalidApi(f"an API with the identifier {identifier!r} exists")
    for scope_name, _ in scopes:
        check_scope_name(scope_name)
    taken = list(ApiScope.objects.filter(name__in=[n for n, _ in scopes]).values_list("name", flat=True))
    if taken:
        raise InvalidApi(f"the scope {taken[0]!r} is another API's (scope names are unique)")
    if len({n for n, _ in scopes}) != len(scopes):
        raise InvalidApi("a scope is named twice")
    with transaction.atomic():
        api = Api.objects.create(identifier=identifier, name=name.strip())
        ApiScope.objects.bulk_create(
            [
                ApiScope(api=api, name=scope_name, description=description)
                for scope_name, description in scopes
            ]
        )
    return api


def representation(api: Api) -> dict:
    """create_api's JSON: the API and its scopes."""
    return {
        "identifier": api.identifier,
        "name": api.name,
        "scopes": [{"name": s.name, "description": s.description} for s in api.scopes.order_by("name")],
    }
