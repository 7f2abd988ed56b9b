"""A WebAuthn authenticator in software, for the tests that do not need a browser.

It answers the options of the service's ceremonies as navigator.credentials.create() and .get()
would, serialized as the service's page script sends them (accounts/static/accounts/passkeys.js):
an ES256 key, "none" attestation, a signature counter, and the flags it is told to set. The
browser flows themselves run in Chromium with its own virtual authenticator
(tests/test_passkeys_in_chromium.py); this one lets each WebAuthn rule be broken on purpose.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40  # authenticator data flags (WebAuthn §6.1)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Authenticator:
    """One discoverable credential: the options' RP ID and the page's origin are what it signs."""

    origin: str = "http://localhost:8000"
    user_verified: bool = True
    synced: bool = False  # backup eligible and backed up: a synced passkey
    discoverable: bool | None = True  # what credProps says (None: says nothing)
    public_key: bytes | None = None  # a COSE key to send in place of the real one
    counting: bool = True  # False: the counter stays 0 (as synced passkeys keep it)
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    sign_count: int = 0
    user_handle: bytes | None = None
    rp_id: str | None = None

    def clone(self) -> "Authenticator":
        """A copy of the key and its counter as they are now (a cloned authenticator)."""
        return Authenticator(
            origin=self.origin,
            user_verified=self.user_verified,
            synced=self.synced,
            discoverable=self.discoverable,
            counting=self.counting,
            key=self.key,
            credential_id=self.credential_id,
            sign_count=self.sign_count,
            user_handle=self.user_handle,
            rp_id=self.rp_id,
        )

    def _flags(self) -> int:
        return UP | (UV if self.user_verified else 0) | ((BE | BS) if self.synced else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def create(self, options: dict, *, origin: str | None = None) -> str:
        """The answer of navigator.credentials.create(options), as JSON."""
        self.rp_id = options["rp"]["id"]
        self.user_handle = unb64(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([self._flags() | AT])
            + self.sign_count.to_bytes(4, "big")
            + bytes(16)  # AAGUID
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + (self.public_key if self.public_key is not None else self._cose_key())
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64(self.credential_id),
                "rawId": b64(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {}
                if self.discoverable is None
                else {"credProps": {"rk": self.discoverable}},
                "response": {
                    "clientDataJSON": b64(client_data),
                    "attestationObject": b64(attestation),
                    "transports": ["internal"],
                },
            }
        )

    def get(
        self, options: dict, *, origin: str | None = None, user_handle: bytes | None = None, no_handle=False
    ) -> str:
        """The answer of navigator.credentials.get(options), as JSON (the counter goes up first)."""
        if self.counting:
            self.sign_count += 1
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([self._flags()])
            + self.sign_count.to_bytes(4, "big")
        )
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        handle = None if no_handle else user_handle if user_handle is not None else self.user_handle
        return json.dumps(
            {
                "id": b64(self.credential_id),
                "rawId": b64(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64(client_data),
                    "authenticatorData": b64(auth_data),
                    "signature": b64(signature),
                    "userHandle": b64(handle) if handle else None,
                },
            }
        )
