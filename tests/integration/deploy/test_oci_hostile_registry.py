"""The registry client against a hostile registry: a small HTTP server of the test's own on
127.0.0.1 (a fake: the real registry never misbehaves like this) that sends a huge manifest,
bytes that do not match their digest, or trickles an answer; each is refused, bounded."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from relgate.deploy.oci import MAX_MANIFEST_BYTES, RegistryClient
from relgate.deploy.registries import RegistryConfig
from relgate.errors import ExternalError

OCI = "application/vnd.oci.image.manifest.v1+json"
BODY = b'{"schemaVersion": 2}'
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()


class _Hostile(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        mode = self.path.rsplit("/", 1)[-1]
        if mode == "huge":
            self.send_response(200)
            self.send_header("Content-Type", OCI)
            self.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(MAX_MANIFEST_BYTES // len(chunk) + 2):
                    self.wfile.write(chunk)
            except OSError:
                pass  # the client hung up, as it should
            return
        if mode == "trickle":
            self.send_response(200)
            self.send_header("Content-Type", OCI)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return
        body = BODY + b" " if mode == "forged" else BODY
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if mode == "html" else OCI)
        self.send_header("Docker-Content-Digest", DIGEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.server_address[1]}"
    config = RegistryConfig(host=host, url=f"http://{host}", timeout_seconds=0.5)
    try:
        yield RegistryClient(config, {})
    finally:
        server.shutdown()
        server.server_close()


def test_a_manifest_larger_than_the_bound_is_refused(client: RegistryClient) -> None:
    with pytest.raises(ExternalError, match="larger than 4096 KiB"):
        client.get("app", "huge")


def test_bytes_that_do_not_hash_to_the_digest_sent_are_refused(client: RegistryClient) -> None:
    assert client.get("app", "honest") is not None
    with pytest.raises(ExternalError, match=f"not {DIGEST}"):
        client.get("app", "forged")


def test_an_answer_that_is_no_manifest_is_refused(client: RegistryClient) -> None:
    with pytest.raises(ExternalError, match="'text/html', not a manifest"):
        client.get("app", "html")


def test_an_answer_trickled_past_the_deadline_is_abandoned(client: RegistryClient) -> None:
    with pytest.raises(ExternalError, match=r"did not end in time|no answer within"):
        client.get("app", "trickle")
