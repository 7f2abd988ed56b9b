"""RFC 8725: forged tokens are refused everywhere, with the contract's answer, never a 500.

Each forgery is made from a real token and, where it matters, signed with the service's real
key, so that only the property under test is wrong.
"""

import hashlib
import hmac
from http import HTTPStatus

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from accounts import signing
from accounts.keys import ring
from accounts.models import Session
from tests.helpers import b64url, forge, jwt_parts

CREDENTIALS_ERROR = {"detail": "Could not validate credentials"}


def resign(token: str, *, header: dict | None = None, payload: dict | None = None) -> str:
    """`token` with a changed header or payload, signed again with the service's own key for it."""
    old_header, old_payload = jwt_parts(token)
    header = header if header is not None else old_header
    payload = payload if payload is not None else old_payload
    if old_header["typ"] == "at+jwt":
        key = ring.signing_key()[1]
        algorithm = "RS256"
    else:
        key = signing.refresh_token_backend().signing_key
        algorithm = "HS256"
    extra = {name: value for name, value in header.items() if name not in ("alg",)}
    return jwt.encode(payload, key, algorithm=algorithm, headers=extra)


def hmac_with_public_key(token: str) -> str:
    header, _ = jwt_parts(token)
    public_pem = ring.signing_key()[0].verifying_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unsigned = forge(token, header={**header, "alg": "HS256"}).rsplit(".", 1)[0]
    return f"{unsigned}.{b64url(hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest())}"


def forgeries(token: str) -> dict[str, str]:
    header, payload = jwt_parts(token)
    other_typ = "rt+jwt" if header["typ"] == "at+jwt" else "at+jwt"
    other_type = "refresh" if payload["token_type"] == "access" else "access"
    forged = {
        "alg none": forge(token, header={**header, "alg": "none"}, signature=""),
        "alg None": forge(token, header={**header, "alg": "None"}, signature=""),
        "alg HS512": forge(token, header={**header, "alg": "HS512"}),
        "tampered payload": forge(token, payload={**payload, "sub": "admin"}),
        "swapped typ": resign(token, header={**header, "typ": other_typ}),
        "swapped token_type": resign(token, payload={**payload, "token_type": other_type}),
        "no typ": resign(token, header={k: v for k, v in header.items() if k != "typ"}),
        "jku header": resign(token, header={**header, "jku": "https://evil.example/jwks.json"}),
        "x5u header": resign(token, header={**header, "x5u": "https://evil.example/cert.pem"}),
        "jwk header": resign(token, header={**header, "jwk": {"kty": "oct", "k": "AAAA"}}),
        "kid elsewhere": forge(token, header={**header, "kid": "https://evil.example/key"}),
        "kid path": forge(token, header={**header, "kid": "../../../../dev/null"}),
        "kid not a string": forge(token, header={**header, "kid": ["a", 1]}),
        "oversized": forge(token, payload={**payload, "pad": "x" * 10_000}),
        "non-ascii": token[:-3] + "é" + token[-2:],
        "nul byte": token[:20] + "\x00" + token[20:],
        "two dots only": "..",
        "garbage": "not.a.jwt",
        "empty segments": "e30.e30.",
    }
    # Signed for real, with the service's own key, under an algorithm outside the allow-list:
    hmac_key = signing.hmac_keys("access" if header["typ"] == "at+jwt" else "refresh")[0]
    forged["HS512 with the real HMAC key"] = jwt.encode(
        payload, hmac_key, algorithm="HS512", headers={"typ": header["typ"]}
    )
    forged["HS256 with the real HMAC key but a kid elsewhere"] = jwt.encode(
        payload,
        hmac_key,
        algorithm="HS256",
        headers={"typ": header["typ"], "kid": "https://evil.example/key"},
    )
    for claim in ("exp", "jti", "sub", "sid", "iat"):
        forged[f"no {claim}"] = resign(token, payload={k: v for k, v in payload.items() if k != claim})
    if header["typ"] == "at+jwt":
        forged["hmac with the public key"] = hmac_with_public_key(token)
    return forged


@pytest.fixture
def forged(tokens):
    return {"access": forgeries(tokens["access_token"]), "refresh": forgeries(tokens["refresh_token"])}


def test_forged_access_tokens_are_401_at_users_me(me, forged):
    for name, token in forged["access"].items():
        response = me(token)
        assert response.status_code == HTTPStatus.UNAUTHORIZED, name
        assert response.json() == CREDENTIALS_ERROR, name


def test_forged_refresh_tokens_are_invalid_grant_at_token(refresh, forged, tokens):
    for name, token in forged["refresh"].items():
        response = refresh(token)
        assert response.status_code == HTTPStatus.BAD_REQUEST, name
        assert response.json()["error"] == "invalid_grant", name
    assert Session.objects.get().revoked_at is None
    assert refresh(tokens["refresh_token"]).status_code == HTTPStatus.OK  # nothing was spent


def test_forged_tokens_revoke_nothing(api_client, forged):
    for kind in ("access", "refresh"):
        for name, token in forged[kind].items():
            response = api_client.post("/revoke", {"token": token})
            assert response.status_code == HTTPStatus.OK, name
    assert Session.objects.get().revoked_at is None


def test_the_control_unforged_tokens_still_work(me, refresh, tokens):
    """Guards the tests above: `resign` itself makes tokens the service accepts."""
    assert me(resign(tokens["access_token"])).status_code == HTTPStatus.OK
    assert refresh(resign(tokens["refresh_token"])).status_code == HTTPStatus.OK
