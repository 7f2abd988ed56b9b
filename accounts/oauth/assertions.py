"""private_key_jwt: a client proves itself with a JWT it signed with its own private key
(RFC 7523 §2.2 and §3, RFC 7521 §4.2, OpenID Connect Core §9). No HTTP here.

The client registers its public keys: a JWKS kept in the database (`Client.jwks`), or a
`jwks_uri` this service reads (accounts.keys.remote: a deadline and a size bound, kept in this
process for CLIENT_JWKS_CACHE_SECONDS, an unknown `kid` refetching at most once per
CLIENT_JWKS_REFRESH_SECONDS). Such a client is confidential and has no secret.

The assertion (`client_assertion`, with `client_assertion_type`
urn:ietf:params:oauth:client-assertion-type:jwt-bearer) is accepted when:
- it is signed with an asymmetric algorithm (ASYMMETRIC_ALGORITHMS; never `none` or an HMAC,
  which would need a secret this service keeps) by one of the client's keys;
- `iss` and `sub` are the client's id (and a `client_id` parameter, when sent, is too);
- `aud` names this service: its issuer, its token endpoint, or the endpoint that receives it;
- `exp` has not passed and is at most MAX_LIFETIME_SECONDS ahead (RFC 7523 §3 lets a server refuse
  an `exp` "unreasonably far in the future": an hour is authlib's default lifetime and FAPI's
  longest window), `nbf` and `iat` are not in the future (LEEWAY_SECONDS of clock skew either way);
- its `jti` has not been seen before: the first use of a `jti` is recorded in the throttling
  counters (the database or Redis, shared by every host), and a second use is refused.
Each failure is invalid_client, with a description that says which rule.
"""

import json
import logging

import jwt
from django.conf import settings

from accounts import clock
from accounts.errors import InvalidClient
from accounts.keys import remote
from accounts.oauth.models import Client
from accounts.throttling import counters

logger = logging.getLogger("accounts.oauth")

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
MAX_LIFETIME_SECONDS = 3600
LEEWAY_SECONDS = 30
MAX_ASSERTION_LENGTH = 8192

_remote_keys = remote.RemoteKeySets(
    timeout=lambda: settings.CLIENT_JWKS_TIMEOUT_SECONDS,
    max_age=lambda: settings.CLIENT_JWKS_CACHE_SECONDS,
    refresh_interval=lambda: settings.CLIENT_JWKS_REFRESH_SECONDS,
)


def claimed_client_id(assertion: str) -> str | None:
    """The client an assertion says it is from (its `sub`, else its `iss`), read before any
    check, to find the client whose keys then check it; None when it says none."""
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    claimed = claims.get("sub", claims.get("iss"))
    return claimed if isinstance(claimed, str) and claimed else None


def check(client: Client, assertion: str, assertion_type: str | None, *, endpoint: str) -> None:
    """Raise InvalidClient unless `assertion` proves `client` at `endpoint` (its URL), by the
    rules of the module's docstring; accept its `jti` once."""
    if assertion_type != JWT_BEARER:
        raise InvalidClient(f"client_assertion_type must be {JWT_BEARER}.")
    if not client.jwks and not client.jwks_uri:
        raise InvalidClient("This client has registered no keys: it cannot use private_key_jwt.")
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise InvalidClient("The client_assertion is too long.")
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise InvalidClient("The client_assertion is not a signed JWT.") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        raise InvalidClient(
            f"The client_assertion must be signed with one of {', '.join(ASYMMETRIC_ALGORITHMS)}."
        )
    if kid is not None and not isinstance(kid, str):
        raise InvalidClient("The client_assertion's kid is not a string.")
    key = _key(client, kid=kid, algorithm=algorithm)
    if key is None:
        raise InvalidClient(f"No key of the client verifies {algorithm} with kid {kid!r}.")
    issuer = settings.TOKEN_ISSUER.rstrip("/")
    audiences = list(dict.fromkeys([issuer, f"{issuer}/token", endpoint]))
    try:
        claims = jwt.decode(
            assertion,
            key,
            algorithms=[algorithm],
            audience=[settings.TOKEN_ISSUER, *audiences],
            issuer=client.client_id,
            # The times are checked below, on the service's clock (accounts.clock).
            options={
                "require": ["iss", "sub", "aud", "exp", "jti"],
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise InvalidClient("The client_assertion's signature does not verify.") from None
    except jwt.InvalidAudienceError:
        raise InvalidClient(f"The client_assertion's aud must be {' or '.join(audiences)}.") from None
    except jwt.InvalidIssuerError:
        raise InvalidClient("The client_assertion's iss must be the client_id.") from None
    except jwt.MissingRequiredClaimError as e:
        raise InvalidClient(f"The client_assertion has no {e.claim} claim.") from None
    except jwt.PyJWTError as e:
        raise InvalidClient(f"The client_assertion is not valid: {e}.") from None
    if claims["sub"] != client.client_id:
        raise InvalidClient("The client_assertion's sub must be the client_id.")
    _check_times(claims)
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidClient("The client_assertion's jti must be a string of 1 to 256 characters.")
    # Recorded for as long as the assertion could still be accepted.
    window = int(claims["exp"] - clock.time()) + LEEWAY_SECONDS + 1
    if not counters.first_use(json.dumps(["client-assertion", client.client_id, jti]), window=max(window, 1)):
        raise InvalidClient("The client_assertion was used before: make a new one (jti) for each request.")


def _check_times(claims: dict) -> None:
    """exp, nbf and iat (RFC 7519 §4.1.4-6) on the service's clock, with LEEWAY_SECONDS of skew."""
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidClient(f"The client_assertion's {name} is not a number of seconds (NumericDate).")
    now = clock.time()
    if claims["exp"] <= now - LEEWAY_SECONDS:
        raise InvalidClient("The client_assertion has expired.")
    if claims["exp"] > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise InvalidClient(
            f"The client_assertion's exp is more than {MAX_LIFETIME_SECONDS} seconds ahead: "
            "make a short-lived one for each request."
        )
    if any(claims.get(name, now) > now + LEEWAY_SECONDS for name in ("nbf", "iat")):
        raise InvalidClient("The client_assertion is not valid yet (nbf or iat in the future).")


def _key(client: Client, *, kid: str | None, algorithm: str):
    if client.jwks:
        try:
            keys = remote.key_set(client.jwks)
        except remote.FetchFailed as e:  # registration checks the keys: an edit in the admin broke them
            logger.warning("client %s has unreadable keys: %s", client.client_id, e)
            raise InvalidClient("The client's registered keys cannot be read.") from None
        return remote.matching_key(keys, kid=kid, algorithm=algorithm)
    try:
        return _remote_keys.key(client.jwks_uri, kid=kid, algorithm=algorithm)
    except remote.FetchFailed as e:
        logger.warning("client %s keys unavailable at %s: %s", client.client_id, client.jwks_uri, e)
        raise InvalidClient("The client's keys at its jwks_uri cannot be read now.") from None


def reset() -> None:
    """Forget the keys read from clients' jwks_uri (tests; a process starts empty anyway)."""
    _remote_keys.reset()
