"""Issuing tokens: the one seam every token response goes through. No HTTP here.

`issue` makes the access token (RFC 9068's claims: `aud`, and for a client `client_id` and
`scope`) and the token response around it; extensions registered here add to both, so the
grants and the services never name them:

- `register_claims(fn)`: `fn(issue) -> dict` of claims added to the access token (DPoP's `cnf`);
- `register_response(fn)`: `fn(issue) -> dict` of fields added to the token response (the OpenID
  Connect package's `id_token`, accounts.oidc.idtokens).

Extensions add names of their own: one that would replace a claim or field of this service
(`RESERVED_CLAIMS`, `RESERVED_FIELDS`) is a programming error, refused with ValueError.

Issuing needs no person's session: `session` may be None for a token a client gets for itself
(the subject is then the client). Such a token carries no `sid`; verifying it is the business of
the grant that issues it (AccessToken.verify, today, requires a session's `sid`).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from accounts.tokens import AccessToken, RefreshToken


@dataclass(frozen=True)
class Issue:
    """What is being issued, as extensions see it."""

    subject: str  # the access token's `sub`: the username, or a client's id
    session: object | None  # the accounts.models.Session the tokens belong to, if any
    client_id: str | None
    scope: str | None  # the access token's scope (None: a session without scope)
    now: datetime


@dataclass(frozen=True)
class IssuedTokens:
    """A token response as handed to the client."""

    access_token: str
    expires_in: int
    session: object | None
    refresh_token: str | None = None
    refresh_expires_in: int | None = None
    scope: str | None = None  # named in the response (a client's session: maybe narrowed)
    extra: dict = field(default_factory=dict)  # the extensions' fields (id_token, ...)
    token_type: str = "bearer"  # "DPoP" for an access token bound to a key (RFC 9449 §5)


RESERVED_CLAIMS = frozenset(
    {"token_type", "exp", "iat", "jti", "sub", "sid", "iss", "aud", "client_id", "scope", "cnf"}
)
RESERVED_FIELDS = frozenset(
    {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "scope",
        "issued_token_type",
    }
)

Extension = Callable[[Issue], dict]
_claims: list[Extension] = []
_response: list[Extension] = []


def register_claims(extension: Extension) -> None:
    """Add `extension`'s claims to every access token."""
    if extension not in _claims:
        _claims.append(extension)


def register_response(extension: Extension) -> None:
    """Add `extension`'s fields to every token response."""
    if extension not in _response:
        _response.append(extension)


def unregister(extension: Extension) -> None:
    """Take `extension` off both registries (an extension switched off, a test's own)."""
    for registry in (_claims, _response):
        if extension in registry:
            registry.remove(extension)


def issue(
    *,
    subject: str,
    session,
    client_id: str | None,
    scope: str | None,
    scope_in_response: bool,
    now: datetime,
    not_after: datetime,
    refresh: RefreshToken | None = None,
    refresh_string: str | None = None,
    audience: str | list[str] | None = None,
    jkt: str | None = None,
) -> IssuedTokens:
    """The access token for `subject` (of `session`, if any; for `client_id`, with `scope`),
    living at most until `not_after`, beside `refresh` (if any), and the extensions' additions.
    Its `aud` is `audience` (an API's, accounts.apis.scopes.audience), by default this service's;
    with `jkt` (a DPoP proof's key, RFC 9449 §6) it is bound to that key: `cnf.jkt`, token_type DPoP.

    The access token is signed here, before the caller writes anything: a signing key that cannot
    sign (a 503) changes nothing.
    """
    what = Issue(subject=subject, session=session, client_id=client_id, scope=scope, now=now)
    claims = {"aud": audience or settings.ACCESS_TOKEN_AUDIENCE, **({"cnf": {"jkt": jkt}} if jkt else {})}
    if client_id is not None:
        claims["client_id"] = client_id
        if scope:
            claims["scope"] = scope
    for extension in _claims:
        claims.update(_own_names(extension(what), RESERVED_CLAIMS, extension))
    access = AccessToken.issue(
        session_id=str(session.pk) if session is not None else None,
        subject=subject,
        jti=uuid.uuid4().hex,
        issued_at=now,
        not_after=not_after,
        claims=claims,
    )
    extra: dict = {}
    for extension in _response:
        extra.update(_own_names(extension(what), RESERVED_FIELDS, extension))
    return IssuedTokens(
        access_token=str(access),
        expires_in=access.expires_in,
        session=session,
        refresh_token=refresh_string,
        refresh_expires_in=(
            max(0, refresh.payload["exp"] - int(now.timestamp())) if refresh is not None else None
        ),
        scope=scope if scope_in_response else None,
        extra=extra,
        token_type="DPoP" if jkt else "bearer",
    )


def _own_names(added: dict, reserved: frozenset, extension: Extension) -> dict:
    taken = reserved & set(added)
    if taken:
        raise ValueError(f"{extension!r} would replace {sorted(taken)}: extensions add names of their own")
    return added
