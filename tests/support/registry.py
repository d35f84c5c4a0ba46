"""A real OCI registry for tests: Debian's ``docker-registry`` on 127.0.0.1, images pushed.

The binary is installed with apt the first time a test needs it (``apt-get
install -y docker-registry``, after ``apt-get update`` when the package lists
are empty), once per machine, under a lock so parallel sessions wait for one
install. Each :func:`running_registry` has its own storage folder and port.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
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

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            auth=httpx.BasicAuth(*self.auth) if self.auth else None,
            timeout=10,
            trust_env=False,
        )

    def push_image(self, repository: str, tag: str | None = None, *, layer: bytes) -> str:
        """Push a config blob, one layer and an OCI image manifest; return its digest.

        With ``tag`` the manifest is pushed under the tag, else by digest only.
        """
        with self.client() as client:
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
        with self.client() as client:
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


def _config(folder: Path, port: int, htpasswd: Path | None) -> str:
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
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_registry(
    folder: Path, *, credentials: tuple[str, str] | None = None, timeout: float = 30
) -> Iterator[RegistryServer]:
    """Start a registry with its storage in ``folder`` (htpasswd auth with ``credentials``).

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
        config.write_text(_config(folder, port, htpasswd))
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
