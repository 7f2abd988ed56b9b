"""What the authorization server rows of `make bench` need, made in the benchmark's database.

Run inside `manage.py shell` (bench/run.py does): a signed-in browser session of the bench user,
a third-party public client whose consent is remembered, a confidential client, services with
the client credentials grant (a secret; keys for private_key_jwt), and CODES
authorization codes for each client and approved device codes of a TV (made with bulk inserts: issuing them through /authorize
would measure /authorize twice).
"""

import base64
import hashlib
import json
import secrets
from datetime import timedelta
from importlib import import_module

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.utils import timezone
from jwt.algorithms import ECAlgorithm

from accounts.models import AuthorizationCode, Client, Consent, DeviceAuthorization, User
from accounts.oauth.clients import Registration, register

REDIRECT_URI = "http://127.0.0.1/cb"
VERIFIER = "bench-verifier-" + "x" * 40


def challenge() -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def prepare(codes: int) -> str:
    """Make the fixtures; return what bench/run.py needs, as JSON."""
    user = User.objects.get(username="bench")
    clients = {}
    for name, confidential in (("bench-app", False), ("bench-server", True)):
        Client.objects.filter(pk=name).delete()
        client, secret = register(
            Registration(name=name, redirect_uris=(REDIRECT_URI,), confidential=confidential, client_id=name)
        )
        clients[name] = {"client_id": client.client_id, "client_secret": secret}
        Consent.objects.create(user=user, client=client, scopes=["openid", "profile"])
    # A first-party public app whose sessions the DPoP rows bind to a key (its tokens open /users/me/).
    Client.objects.filter(pk="bench-own").delete()
    register(
        Registration(name="bench-own", redirect_uris=(REDIRECT_URI,), client_id="bench-own", first_party=True)
    )
    # A service with the client credentials grant (its own tokens: no codes, no consent).
    Client.objects.filter(pk="bench-machine").delete()
    machine, machine_secret = register(
        Registration(
            name="bench-machine",
            redirect_uris=(),
            confidential=True,
            client_id="bench-machine",
            grant_types=("client_credentials",),
        )
    )
    machine_client = {"client_id": machine.client_id, "client_secret": machine_secret}
    # A service that signs its own assertions (private_key_jwt), with the same grant.
    Client.objects.filter(pk="bench-signer").delete()
    signing_key = ec.generate_private_key(ec.SECP256R1())
    register(
        Registration(
            name="bench-signer",
            redirect_uris=(),
            client_id="bench-signer",
            grant_types=("client_credentials",),
            jwks={"keys": [{**json.loads(ECAlgorithm.to_jwk(signing_key.public_key())), "kid": "bench"}]},
        )
    )
    signer = {
        "client_id": "bench-signer",
        "private_key_pem": signing_key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        ).decode(),
    }
    # A TV (public, the device grant) with CODES device authorizations its person has approved.
    Client.objects.filter(pk="bench-tv").delete()
    register(
        Registration(
            name="bench-tv",
            redirect_uris=(),
            client_id="bench-tv",
            grant_types=("urn:ietf:params:oauth:grant-type:device_code",),
        )
    )
    now = timezone.now()
    device_codes = [secrets.token_urlsafe(32) for _ in range(codes)]
    DeviceAuthorization.objects.bulk_create(
        [
            DeviceAuthorization(
                device_code_hash=hashlib.sha256(code.encode()).hexdigest(),
                user_code=f"{index:08d}",  # not typed by anyone here: only unique
                client_id="bench-tv",
                scope="openid profile",
                status=DeviceAuthorization.Status.APPROVED,
                created_at=now,
                expires_at=now + timedelta(hours=1),
                interval=5,
                next_poll_at=now,
                user=user,
                auth_time=now,
                amr=["pwd"],
            )
            for index, code in enumerate(device_codes)
        ],
        batch_size=2000,
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "accounts.throttling.backends.ThrottledModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store["accounts.auth_time"] = int(now.timestamp())
    store.create()
    plain = {name: [secrets.token_urlsafe(32) for _ in range(codes)] for name in clients}
    # Sessions of bench-own: one per chain of the DPoP rotation, one per chain of its bearer twin.
    plain["bench-own"] = [secrets.token_urlsafe(32) for _ in range(24)]
    for name, values in plain.items():
        AuthorizationCode.objects.bulk_create(
            [
                AuthorizationCode(
                    code_hash=hashlib.sha256(code.encode()).hexdigest(),
                    client_id=name,
                    user=user,
                    redirect_uri=REDIRECT_URI,
                    code_challenge=challenge(),
                    scope="openid profile",
                    auth_time=now,
                    created_at=now,
                    expires_at=now + timedelta(hours=1),
                )
                for code in values
            ],
            batch_size=2000,
        )
    return json.dumps(
        {
            "machine": machine_client,
            "signer": signer,
            "device_codes": device_codes,
            "session_cookie": f"{settings.SESSION_COOKIE_NAME}={store.session_key}",
            "clients": clients,
            "codes": plain,
            "redirect_uri": REDIRECT_URI,
            "verifier": VERIFIER,
            "challenge": challenge(),
        }
    )
