"""Fetching a JSON document from another server (an identity provider's discovery document and
keys, a client's `jwks_uri`): a deadline on the whole read, and a bound on the body, so a slow or
hostile server can neither hold a worker nor fill its memory.

`RemoteKeySets` keeps the key sets it fetched in this process, by URL: each is refetched once it
is older than `max_age`, and a token signed with a key the cache does not know refetches it at
most once per `refresh_interval` (a key rotation is seen at once; a flood of made-up `kid`s costs
one fetch per interval). Keys already known stay in use through an outage of their server.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from accounts import clock

logger = logging.getLogger("accounts.keys")

MAX_DOCUMENT_BYTES = 256 * 1024  # Google's discovery document and JWKS are under 4 KiB


class FetchFailed(Exception):
    """The document could not be had: unreachable, an error status, too large, too slow, or not
    JSON (or, for a key set, no key set)."""


def fetch_json(url: str, *, timeout: float) -> object:
    """The JSON document at `url`, read within `timeout` seconds in all (connecting, and every
    byte of the body). Raises FetchFailed, with the reason, for anything else."""
    deadline = time.monotonic() + timeout
    try:
        with requests.get(
            url, timeout=timeout, headers={"Accept": "application/json"}, stream=True
        ) as response:
            response.raise_for_status()
            body = bytearray()
            # read1: what has arrived (decoded), without waiting for a whole chunk, so the
            # deadline is checked as a slow body trickles in.
            while chunk := response.raw.read1(16384, decode_content=True):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchFailed(f"the document at {url} is over {MAX_DOCUMENT_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise FetchFailed(f"the document at {url} took over {timeout} s to read")
        return json.loads(body)
    except requests.RequestException as e:
        raise FetchFailed(str(e)) from None
    except ValueError as e:  # not JSON (json.JSONDecodeError and UnicodeDecodeError are ValueErrors)
        raise FetchFailed(f"the document at {url} is not JSON: {e}") from None


def key_set(document: object) -> list[PyJWK]:
    """The signing keys of a JWKS document (RFC 7517 §5). Raises FetchFailed when it is none."""
    try:
        keys = PyJWKSet.from_dict(document).keys
    except (PyJWKSetError, PyJWKError, TypeError, ValueError, AttributeError, KeyError) as e:
        raise FetchFailed(f"not a key set: {e}") from None
    return [key for key in keys if key.public_key_use in (None, "sig")]


def matching_key(keys: list[PyJWK], *, kid: str | None, algorithm: str) -> PyJWK | None:
    """The key of `keys` that verifies a token of this `kid` and `algorithm`, or None. A token
    without a `kid` is verified only by a key set of exactly one key; the key's own algorithm (its
    `alg`, or the one its type implies) must be the token's."""
    if kid is None:
        candidates = keys if len(keys) == 1 else []
    else:
        candidates = [key for key in keys if key.key_id == kid]
    return next((key for key in candidates if key.algorithm_name == algorithm), None)


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: list[PyJWK] | None = None
    fetched_at: float = 0.0  # when the keys were last fetched
    tried_at: float = float("-inf")  # when a fetch was last attempted, successful or not


class RemoteKeySets:
    """Key sets fetched from their URLs and kept in this process (see the module's docstring).
    The three settings are read at each use, as callables, so tests can change them."""

    def __init__(
        self,
        *,
        timeout: Callable[[], float],
        max_age: Callable[[], float],
        refresh_interval: Callable[[], float],
    ) -> None:
        self.timeout, self.max_age, self.refresh_interval = timeout, max_age, refresh_interval
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def key(self, url: str, *, kid: str | None, algorithm: str) -> PyJWK | None:
        """The key at `url` that verifies a token of `kid` and `algorithm`, or None.
        Raises FetchFailed when the key set cannot be had: at all, or when a refetch for an unknown
        `kid` fails."""
        with self._lock:
            entry = self._entries.setdefault(url, _Entry())
        with entry.lock:
            if entry.keys is None or clock.monotonic() - entry.fetched_at >= self.max_age():
                self._refresh(url, entry, keep_stale=True)
            key = matching_key(entry.keys, kid=kid, algorithm=algorithm)
            if key is None and clock.monotonic() - entry.tried_at >= self.refresh_interval():
                self._refresh(url, entry, keep_stale=False)
                key = matching_key(entry.keys, kid=kid, algorithm=algorithm)
            return key

    def reset(self) -> None:
        """Forget every key set (tests; a process starts empty anyway)."""
        with self._lock:
            self._entries.clear()

    def _refresh(self, url: str, entry: _Entry, *, keep_stale: bool) -> None:
        """Fetch the key set again (entry.lock held). A failed fetch counts as an attempt too, so an
        outage does not turn every unknown kid into a fetch."""
        entry.tried_at = clock.monotonic()
        try:
            keys = key_set(fetch_json(url, timeout=self.timeout()))
        except FetchFailed as e:
            if keep_stale and entry.keys is not None:
                logger.warning("keys at %s could not be refreshed (%s); the cached keys stay in use", url, e)
                return
            raise
        entry.keys, entry.fetched_at = keys, clock.monotonic()
