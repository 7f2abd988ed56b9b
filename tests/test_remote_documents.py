"""A document fetched from another server (an identity provider's discovery document and keys)
is bounded in size and must be JSON: a real HTTP server on loopback serves each case."""

import gzip
import json

import pytest

from accounts.federation import providers
from accounts.keys import remote
from tests.conftest import free_port
from tests.documents import DocumentServer

BODIES = {
    "/small": (json.dumps({"keys": []}).encode(), {}),
    "/huge": (b'{"keys": [' + b'"x",' * 600_000 + b'"x"]}', {}),
    # Small on the wire, 4 MiB once decoded: the bound counts the decoded bytes.
    "/bomb": (gzip.compress(b" " * (4 * 1024 * 1024) + b"{}"), {"Content-Encoding": "gzip"}),
    "/not-json": (b"<html>maintenance</html>", {}),
    "/list": (b"[1, 2]", {}),
}


@pytest.fixture(scope="module")
def server():
    documents = DocumentServer()
    documents.documents.update(BODIES)
    documents.documents["/slow"] = (json.dumps({"keys": []}).encode(), {})
    documents.drip["/slow"] = 0.1  # each byte within a 1 s timeout, the whole over it
    yield documents.url
    documents.stop()


def test_a_document_within_the_bound_is_read(server):
    assert remote.fetch_json(f"{server}/small", timeout=5) == {"keys": []}


@pytest.mark.parametrize("path", ["/huge", "/bomb"])
def test_a_document_over_the_bound_is_refused_before_it_is_read_whole(server, path):
    with pytest.raises(remote.FetchFailed, match="over"):
        remote.fetch_json(f"{server}{path}", timeout=5)


@pytest.mark.parametrize("path", ["/not-json", "/missing"])
def test_a_page_that_is_not_a_json_document_fails(server, path):
    with pytest.raises(remote.FetchFailed):
        remote.fetch_json(f"{server}{path}", timeout=5)


def test_a_server_that_sends_a_byte_at_a_time_is_given_up_on_at_the_deadline(server):
    with pytest.raises(remote.FetchFailed, match="took over 1 s"):
        remote.fetch_json(f"{server}/slow", timeout=1)


def test_an_unreachable_server_fails():
    with pytest.raises(remote.FetchFailed):
        remote.fetch_json(f"http://127.0.0.1:{free_port()}/", timeout=1)


@pytest.mark.parametrize("path", ["/huge", "/not-json", "/list"])
def test_a_providers_oversized_or_malformed_document_is_a_503_not_a_500(server, path):
    with pytest.raises(providers.ProviderUnavailable):
        providers._get_json(f"{server}{path}", "keys")
