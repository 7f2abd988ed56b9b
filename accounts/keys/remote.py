"""Fetching a JSON document from another server (an identity provider's discovery document and
keys): a timeout on every read, and a bound on the body, so a slow or hostile server can neither
hold a worker nor fill its memory."""

import json

import requests

MAX_DOCUMENT_BYTES = 256 * 1024  # Google's discovery document and JWKS are under 4 KiB


class FetchFailed(Exception):
    """The document could not be had: unreachable, an error status, too large, or not JSON."""


def fetch_json(url: str, *, timeout: float) -> object:
    """The JSON document at `url`. Raises FetchFailed, with the reason, for anything else."""
    try:
        with requests.get(
            url, timeout=timeout, headers={"Accept": "application/json"}, stream=True
        ) as response:
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_content(chunk_size=16384):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchFailed(f"the document at {url} is over {MAX_DOCUMENT_BYTES} bytes")
        return json.loads(body)
    except requests.RequestException as e:
        raise FetchFailed(str(e)) from None
    except ValueError as e:  # not JSON (json.JSONDecodeError and UnicodeDecodeError are ValueErrors)
        raise FetchFailed(f"the document at {url} is not JSON: {e}") from None
