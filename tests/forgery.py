"""Forged tokens, each wrong in exactly one property and right in every other.

A forgery starts from a real token of the service (`Genuine.of`) and is signed again with the key
the service itself signs that kind with: the access signing key with its real `kid` (or the access
HMAC key under HS256), the refresh HMAC key. So the only reason left to refuse a forgery is the
property its name gives; `Genuine.signed()` with nothing changed is a token the service accepts,
the control that keeps every forgery of this table honest.

The one table, FORGERIES, is used by tests/test_forged_tokens.py (every forgery at every endpoint)
and tests/test_token_claims.py (the claims and typing rules). `params(...)` turns a slice of it
into pytest parameters, one test id per forgery.
"""

import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from accounts import signing
from accounts.keys import ring
from tests.helpers import b64url, jwt_parts

ACCESS_MODES = ("RS256", "HS256")  # the two verification paths: a published key by kid, or HMAC

# The claims every token carries (README, "Choices"), written out here rather than taken from
# accounts.signing.REQUIRED_CLAIMS: a claim dropped from that tuple must not drop its forgery too.
CLAIMS = ("exp", "iat", "jti", "sub", "sid", "iss", "token_type")


def sign(header: dict, payload: dict, key: Any, algorithm: str) -> str:
    """A compact JWT with exactly this header (its `alg` included) and payload, signed by `key`
    under `algorithm`. HMAC takes any bytes as its secret (a PEM public key too, which PyJWT
    refuses to do: the algorithm confusion needs it)."""
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    if algorithm.startswith("HS"):
        secret = key if isinstance(key, bytes) else str(key).encode()
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
        signature = hmac.new(secret, signing_input.encode(), digest).digest()
    else:
        signature = jwt.algorithms.get_default_algorithms()[algorithm].sign(signing_input.encode(), key)
    return f"{signing_input}.{b64url(signature)}"


def _segment(part: dict) -> str:
    return b64url(json.dumps(part, separators=(",", ":")).encode())


@functools.cache
def foreign_rsa_key() -> rsa.RSAPrivateKey:
    """An RSA key the service has never seen (one per test run: generating one is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class Genuine:
    """A real token of the service, and what the service signs a token of its kind with."""

    kind: str  # "access" or "refresh"
    token: str
    header: dict
    payload: dict
    key: Any
    algorithm: str

    @classmethod
    def of(cls, token: str) -> "Genuine":
        header, payload = jwt_parts(token)
        if header["typ"] == "rt+jwt":
            return cls("refresh", token, header, payload, signing.hmac_keys("refresh")[0], "HS256")
        current = ring.signing_key()
        if current is None:  # ACCESS_TOKEN_ALGORITHM is HS256
            return cls("access", token, header, payload, signing.hmac_keys("access")[0], "HS256")
        key, private = current
        assert header.get("kid") == key.kid, "the token is not signed by the current signing key"
        return cls("access", token, header, payload, private, key.algorithm)

    def signed(
        self,
        *,
        header: dict | None = None,
        payload: dict | None = None,
        without_header: tuple[str, ...] = (),
        without_claims: tuple[str, ...] = (),
        key: Any = None,
        algorithm: str | None = None,
    ) -> str:
        """This token with some header fields or claims changed (or left out), signed again with
        the service's own key and algorithm unless `key` or `algorithm` say otherwise."""
        algorithm = algorithm or self.algorithm
        new_header = {**self.header, "alg": algorithm, **(header or {})}
        new_payload = {**self.payload, **(payload or {})}
        for name in without_header:
            del new_header[name]
        for name in without_claims:
            del new_payload[name]
        return sign(new_header, new_payload, self.key if key is None else key, algorithm)

    def unsigned(self, *, header: dict) -> str:
        """This token's payload under `header` (with its `alg`), and an empty signature."""
        return f"{_segment({**self.header, **header})}.{self.token.split('.')[1]}."

    @property
    def other_typ(self) -> str:
        return "rt+jwt" if self.kind == "access" else "at+jwt"

    @property
    def other_type(self) -> str:
        return "refresh" if self.kind == "access" else "access"


def _hmac_with_the_public_key(genuine: Genuine) -> str:
    """HS256 whose secret is the PEM of the published key the token's real `kid` names."""
    public = ring.published_key(genuine.header["kid"]).verifying_key
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return genuine.signed(key=pem, algorithm="HS256")


def _tampered(genuine: Genuine) -> str:
    """The payload changed (another subject), the genuine signature kept."""
    header, _payload, signature = genuine.token.split(".")
    return f"{header}.{_segment({**genuine.payload, 'sub': 'admin'})}.{signature}"


def _expired(genuine: Genuine) -> str:
    lifetime = genuine.payload["exp"] - genuine.payload["iat"]
    iat = int(time.time()) - lifetime - 60
    return genuine.signed(payload={"iat": iat, "exp": iat + lifetime})


def _too_long(genuine: Genuine) -> str:
    return genuine.signed(
        payload={"exp": genuine.payload["iat"] + settings.ACCESS_TOKEN_LIFETIME_SECONDS + 1}
    )


@dataclass(frozen=True)
class Forgery:
    name: str
    rule: str  # the rule that alone refuses it
    make: Callable[[Genuine], str]
    kinds: tuple[str, ...]  # "access RS256", "access HS256", "refresh"

    def __call__(self, genuine: Genuine) -> str:
        return self.make(genuine)


ACCESS = ("access RS256", "access HS256")
EVERY = (*ACCESS, "refresh")
ASYMMETRIC = ("access RS256",)
HMAC = ("access HS256", "refresh")

FORGERIES = (
    # The signature and the algorithm allow-list (one algorithm per key, RFC 8725 §3.1).
    Forgery("tampered payload", "signature", _tampered, EVERY),
    Forgery("another key", "signature", lambda g: g.signed(key=foreign_rsa_key()), ASYMMETRIC),
    Forgery("another key", "signature", lambda g: g.signed(key="another secret of 32 bytes or more"), HMAC),
    Forgery(
        "the other kind's HMAC key",
        "signature",
        lambda g: g.signed(key=signing.hmac_keys(g.other_type)[0]),
        HMAC,
    ),
    Forgery("alg none", "algorithm", lambda g: g.unsigned(header={"alg": "none"}), EVERY),
    Forgery("alg None", "algorithm", lambda g: g.unsigned(header={"alg": "None"}), EVERY),
    Forgery(
        "HS512 with the real HMAC key",
        "algorithm",
        lambda g: g.signed(key=signing.hmac_keys(g.kind)[0], algorithm="HS512"),
        EVERY,
    ),
    Forgery("HS256 with the public key as secret", "algorithm", _hmac_with_the_public_key, ASYMMETRIC),
    Forgery("RS384 with the real key", "algorithm", lambda g: g.signed(algorithm="RS384"), ASYMMETRIC),
    Forgery("PS256 with the real key", "algorithm", lambda g: g.signed(algorithm="PS256"), ASYMMETRIC),
    Forgery(
        "RS256 with the access signing key",
        "algorithm",
        lambda g: g.signed(key=ring.signing_key()[1], algorithm="RS256"),
        ("refresh",),
    ),
    # Typing: each kind only with its own `typ` header and `token_type` claim.
    Forgery("typ of the other kind", "typ", lambda g: g.signed(header={"typ": g.other_typ}), EVERY),
    Forgery("typ JWT", "typ", lambda g: g.signed(header={"typ": "JWT"}), EVERY),
    Forgery("no typ", "typ", lambda g: g.signed(without_header=("typ",)), EVERY),
    Forgery(
        "token_type of the other kind",
        "token_type",
        lambda g: g.signed(payload={"token_type": g.other_type}),
        EVERY,
    ),
    # Required claims.
    *(
        Forgery(f"no {claim}", "claims", lambda g, claim=claim: g.signed(without_claims=(claim,)), EVERY)
        for claim in CLAIMS
    ),
    Forgery(
        "another issuer", "issuer", lambda g: g.signed(payload={"iss": "https://elsewhere.example"}), EVERY
    ),
    Forgery(
        "another audience",
        "audience",
        lambda g: g.signed(payload={"aud": "https://elsewhere.example"}),
        ACCESS,
    ),
    Forgery("no aud", "audience", lambda g: g.signed(without_claims=("aud",)), ACCESS),
    Forgery(
        "an audience list without ours",
        "audience",
        lambda g: g.signed(payload={"aud": ["https://elsewhere.example"]}),
        ACCESS,
    ),
    Forgery("expired", "exp", _expired, EVERY),
    Forgery("lifetime longer than an access token's", "lifetime", _too_long, ACCESS),
    # Headers that point at a key of the sender's choosing (RFC 8725 §3.10), or `crit`.
    Forgery(
        "jku header", "headers", lambda g: g.signed(header={"jku": "https://evil.example/jwks.json"}), EVERY
    ),
    Forgery(
        "x5u header", "headers", lambda g: g.signed(header={"x5u": "https://evil.example/cert.pem"}), EVERY
    ),
    Forgery("jwk header", "headers", lambda g: g.signed(header={"jwk": {"kty": "oct", "k": "AAAA"}}), EVERY),
    Forgery("x5c header", "headers", lambda g: g.signed(header={"x5c": ["MIIB"]}), EVERY),
    # `b64` is the one critical extension PyJWT understands: only our rule refuses this `crit`.
    Forgery("crit header", "headers", lambda g: g.signed(header={"b64": True, "crit": ["b64"]}), EVERY),
    # The `kid`: an access token is verified only by the published key it names.
    Forgery("no kid", "kid", lambda g: g.signed(without_header=("kid",)), ASYMMETRIC),
    Forgery("kid unknown", "kid", lambda g: g.signed(header={"kid": "unknown"}), ACCESS),
    Forgery("kid elsewhere", "kid", lambda g: g.signed(header={"kid": "https://evil.example/key"}), ACCESS),
    Forgery("kid path", "kid", lambda g: g.signed(header={"kid": "../../../../dev/null"}), ACCESS),
    Forgery("kid not a string", "kid", lambda g: g.signed(header={"kid": ["a", 1]}), ACCESS),
    Forgery("a kid", "kid", lambda g: g.signed(header={"kid": ring.signing_key()[0].kid}), ("refresh",)),
    # Not a token of this service at all.
    Forgery("oversized", "parsing", lambda g: g.signed(payload={"pad": "x" * 10_000}), EVERY),
    Forgery("non-ascii", "parsing", lambda g: g.token[:-3] + "é" + g.token[-2:], EVERY),
    Forgery("nul byte", "parsing", lambda g: g.token[:20] + "\x00" + g.token[20:], EVERY),
    Forgery("two dots only", "parsing", lambda g: "..", EVERY),
    Forgery("garbage", "parsing", lambda g: "not.a.jwt", EVERY),
    Forgery("empty segments", "parsing", lambda g: "e30.e30.", EVERY),
)


def params(kind: str, *, rules: tuple[str, ...] | None = None) -> list:
    """pytest parameters of the forgeries of one kind ("access RS256", "access HS256",
    "refresh"), optionally only those of some rules; one test id per forgery."""
    return [
        pytest.param(forgery, id=forgery.name)
        for forgery in FORGERIES
        if kind in forgery.kinds and (rules is None or forgery.rule in rules)
    ]


def access_params(*, rules: tuple[str, ...] | None = None) -> list:
    """(mode, forgery) parameters of the access token forgeries under both ACCESS_MODES."""
    return [
        pytest.param(mode, param.values[0], id=f"{mode}: {param.id}")
        for mode in ACCESS_MODES
        for param in params(f"access {mode}", rules=rules)
    ]
