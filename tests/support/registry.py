"""A real OCI registry for tests: Debian's ``docker-registry`` on 127.0.0.1, images pushed.

The binary is installed with apt the first time a test needs it (``apt-get
install -y docker-registry``, after ``apt-get update`` when the package lists
are empty), once per machine, under a lock so parallel sessions wait for one
install. Each :func:`running_registry` has its own storage folder and port.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port

BINARY = Path("/usr/bin/docker-registry")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_LOCK = Path("/tmp/relgate-test-apt.lock")


def ensure_docker_registry() -> Path:
    """Return the registry binary, installing Debian's package when it is missing.

    Fails the test (never skips it silently) when it cannot be installed.
    """
    if BINARY.exists():
        return BINARY
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.fail(
            f"{BINARY} is missing and cannot be installed here: run "
            "`apt-get install -y docker-registry` as root"
        )
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not BINARY.exists():
            install = ["apt-get", "install", "-y", "--no-install-recommends", "docker-registry"]
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            if subprocess.run(install, env=env, capture_output=True, check=False).returncode:
                subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
                done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
                if done.returncode:
                    pytest.fail(f"apt-get install docker-registry failed:\n{done.stderr[-2000:]}")
    return BINARY


@dataclass
class RegistryServer:
    """A running registry: ``host`` as references write it, ``url`` to call it."""

    host: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    auth: tuple[str, str] | None = None
    tokens: TokenService | None = None
    """The token service of a registry with token auth (the tests' own calls use it)."""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, repository: str = "") -> httpx.Client:
        token = self.tokens.issue([f"repository:{repository}:pull,push"]) if self.tokens else ""
        return httpx.Client(
            base_url=self.url,
            auth=httpx.BasicAuth(*self.auth) if self.auth else None,
            headers={"Authorization": f"Bearer {token}"} if token else None,
            timeout=10,
            trust_env=False,
        )

    def push_image(self, repository: str, tag: str | None = None, *, layer: bytes) -> str:
        """Push a config blob, one layer and an OCI image manifest; return its digest.

        With ``tag`` the manifest is pushed under the tag, else by digest only.
        """
        with self.client(repository) as client:
            config = json.dumps(
                {
                    "architecture": "amd64",
                    "os": "linux",
                    "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
                },
                sort_keys=True,
            ).encode()
            for blob in (config, layer):
                _push_blob(client, repository, blob)
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": _digest(config),
                        "size": len(config),
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.image.layer.v1.tar",
                            "digest": _digest(layer),
                            "size": len(layer),
                        }
                    ],
                },
                sort_keys=True,
            ).encode()
            digest = _digest(manifest)
            response = client.put(
                f"/v2/{repository}/manifests/{tag or digest}",
                content=manifest,
                headers={"Content-Type": OCI_MANIFEST},
            )
            assert response.status_code == 201, response.text
            assert response.headers["docker-content-digest"] == digest
            return digest

    def tag_digest(self, repository: str, tag: str) -> str | None:
        """Return the digest ``repository:tag`` points to now, None when there is no such tag."""
        with self.client(repository) as client:
            response = client.head(
                f"/v2/{repository}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}
            )
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.status_code
        return str(response.headers["docker-content-digest"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_blob(client: httpx.Client, repository: str, blob: bytes) -> None:
    started = client.post(f"/v2/{repository}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    separator = "&" if "?" in location else "?"
    done = client.put(
        f"{location}{separator}digest={_digest(blob)}",
        content=blob,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 201, done.text


def _config(
    folder: Path, port: int, htpasswd: Path | None, tokens: TokenService | None = None
) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "  accesslog: {disabled: true}",
        "storage:",
        f"  filesystem: {{rootdirectory: {json.dumps(str(folder / 'storage'))}}}",
        "  delete: {enabled: true}",
        "http:",
        f"  addr: 127.0.0.1:{port}",
    ]
    if htpasswd is not None:
        lines += [
            "auth:",
            "  htpasswd:",
            "    realm: relgate-test",
            f"    path: {json.dumps(str(htpasswd))}",
        ]
    if tokens is not None:
        lines += [
            "auth:",
            "  token:",
            f"    realm: {tokens.realm}",
            f"    service: {tokens.service}",
            f"    issuer: {tokens.issuer}",
            f"    rootcertbundle: {json.dumps(str(tokens.certificate))}",
        ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_registry(
    folder: Path,
    *,
    credentials: tuple[str, str] | None = None,
    tokens: TokenService | None = None,
    timeout: float = 30,
) -> Iterator[RegistryServer]:
    """Start a registry with its storage in ``folder``.

    With ``credentials``: htpasswd basic auth. With ``tokens``: the distribution
    token flow, tokens issued by that :class:`TokenService`.

    Waits (bounded) until ``/v2/`` answers; stops it afterwards.
    """
    binary = ensure_docker_registry()
    folder.mkdir(parents=True, exist_ok=True)
    htpasswd: Path | None = None
    if credentials is not None:
        import bcrypt

        htpasswd = folder / "htpasswd"
        hashed = bcrypt.hashpw(credentials[1].encode(), bcrypt.gensalt(rounds=5)).decode()
        htpasswd.write_text(f"{credentials[0]}:{hashed}\n")
    server: RegistryServer | None = None
    for _ in range(3):  # another process may take the free port before the registry binds it
        port = free_port()
        config = folder / f"config-{port}.yml"
        config.write_text(_config(folder, port, htpasswd, tokens))
        log_path = folder / f"registry-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(binary), "serve", str(config)], stdout=log, stderr=log, cwd=folder
            )
        candidate = RegistryServer(
            host=f"127.0.0.1:{port}",
            url=f"http://127.0.0.1:{port}",
            process=process,
            log_path=log_path,
            auth=credentials,
            tokens=tokens,
        )
        if _wait_ready(candidate, timeout):
            server = candidate
            break
        candidate.stop()
    if server is None:
        raise RuntimeError(f"docker-registry did not start:\n{candidate.log()}")
    try:
        yield server
    finally:
        server.stop()


def _wait_ready(server: RegistryServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            status = httpx.get(server.url + "/v2/", timeout=1, trust_env=False).status_code
            if status in (200, 401):
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def write_registries_file(path: Path, *entries: dict[str, object]) -> Path:
    """Write a server registries file (JSON, which the YAML loader reads too)."""
    path.write_text(json.dumps({"registries": list(entries)}, indent=2))
    return path


class TokenService:
    """The token service of a registry in token-auth mode (the distribution token flow).

    A real HTTP server on 127.0.0.1 that answers ``GET /token?service=&scope=`` with a
    JWT (RS256, the signing certificate in the ``x5c`` header) granting the scopes
    asked for, to a caller with the basic ``credentials``; it records each scope asked.
    """

    service = "relgate-test-registry"
    issuer = "relgate-test-tokens"

    def __init__(self, folder: Path, credentials: tuple[str, str]) -> None:
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relgate test tokens")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        self.certificate = folder / "token-cert.pem"
        self.certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self._credentials = credentials
        self.scopes: list[str] = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def issue(self, scopes: list[str]) -> str:
        """Return a signed token granting ``scopes`` (``repository:NAME:ACTIONS``)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            repository, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": repository, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": self.issuer,
            "sub": self._credentials[0],
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        signed = ".".join(_b64url(json.dumps(part).encode()) for part in (header, claims))
        signature = self._key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signed}.{_b64url(signature)}"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        service = self
        expected = "Basic " + base64.b64encode(":".join(self._credentials).encode()).decode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                scopes = query.get("scope", [])
                service.scopes.extend(scopes)
                body = json.dumps({"token": service.issue(scopes), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
