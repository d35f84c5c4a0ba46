"""The OCI distribution API (manifests only), the digest check of releases and the stable tag.

Through httpx rather than an OCI library such as ``oras``: relgate needs four
calls on manifests (HEAD and GET by tag or digest, PUT under a tag), httpx is
already a dependency, and owning the calls lets each response be bounded in
size and time and each digest be checked against the bytes received.

- :class:`RegistryClient` speaks to one configured registry, with basic
  credentials, a static bearer token, or the distribution token flow
  (``WWW-Authenticate: Bearer realm=...``, with the basic credentials if any).
- :class:`RegistryArtifactResolver` is the releases' ``ArtifactResolver``: a
  digest must exist in its registry, a tag is resolved to its digest.
- :class:`RegistryStableTagger` moves an environment's stable tag to the
  digest just verified (a rollback's artifact is the old digest, so the tag
  moves back), and audits the move.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from relgate.deploy.ports import DeployRequest, LogSink, StepOutcome
from relgate.deploy.registries import ImageRef, Registries, RegistryConfig, parse_image
from relgate.errors import BadInput, ExternalError, RelgateError

if TYPE_CHECKING:
    from relgate.clock import Clock
    from relgate.store.uow import UnitOfWorkFactory

_log = logging.getLogger("relgate.registry")

# the distribution reference implementation refuses manifests over 4 MiB
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_SMALL_BODY = 64 * 1024
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_ACCEPT = ", ".join(MANIFEST_TYPES)
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Manifest:
    """A manifest's exact bytes, its media type and its content digest."""

    digest: str
    media_type: str
    content: bytes


def digest_of(content: bytes, algorithm: str = "sha256") -> str:
    """Return ``<algorithm>:<hex>`` of ``content`` (sha256 or sha512)."""
    return f"{algorithm}:{hashlib.new(algorithm, content).hexdigest()}"


class RegistryClient:
    """Manifest calls on one registry; every failure is ExternalError naming host and reference."""

    def __init__(
        self,
        config: RegistryConfig,
        environ: Mapping[str, str],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self._environ = environ
        self._transport = transport
        self._tokens: dict[str, tuple[str, float]] = {}
        self._basic_preferred = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ calls

    def head(self, repository: str, reference: str) -> str | None:
        """Return the digest the registry reports for ``repository:reference``; None if absent.

        A HEAD answer without ``Docker-Content-Digest`` is followed by a GET whose
        bytes are hashed.
        """
        where = self._where(repository, reference)
        response, _ = self._call("HEAD", repository, reference, where, limit=0)
        if response.status_code == 404:
            return None
        self._expect(response, where, 200)
        header = response.headers.get("docker-content-digest")
        if header:
            return str(header)
        manifest = self.get(repository, reference)
        return manifest.digest if manifest else None

    def get(self, repository: str, reference: str) -> Manifest | None:
        """Return the manifest ``repository`` names by tag or digest; None when absent.

        Raises ExternalError when the bytes do not hash to the digest asked for,
        or to the ``Docker-Content-Digest`` the registry sent.
        """
        where = self._where(repository, reference)
        response, content = self._call("GET", repository, reference, where, MAX_MANIFEST_BYTES)
        if response.status_code == 404:
            return None
        self._expect(response, where, 200)
        media_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        if media_type not in MANIFEST_TYPES:
            raise ExternalError(f"{where}: the registry sent a {media_type!r}, not a manifest")
        claimed = response.headers.get("docker-content-digest") or (
            reference if reference.startswith(("sha256:", "sha512:")) else ""
        )
        algorithm = claimed.split(":", 1)[0] if claimed else "sha256"
        actual = digest_of(content, algorithm if algorithm in ("sha256", "sha512") else "sha256")
        for expected in {claimed, reference} - {""}:
            if expected.startswith(("sha256:", "sha512:")) and expected != actual:
                raise ExternalError(
                    f"{where}: the manifest received hashes to {actual}, not {expected}"
                )
        return Manifest(digest=actual, media_type=media_type, content=content)

    def put(self, repository: str, tag: str, manifest: Manifest) -> str:
        """Store ``manifest``'s exact bytes under ``tag`` (a tag moves); return the digest.

        Raises ExternalError when the registry refuses, or reports another digest.
        """
        where = self._where(repository, tag)
        response, _ = self._call(
            "PUT",
            repository,
            tag,
            where,
            MAX_SMALL_BODY,
            content=manifest.content,
            content_type=manifest.media_type,
        )
        self._expect(response, where, 201, 200)
        reported = response.headers.get("docker-content-digest")
        if reported and reported != manifest.digest:
            raise ExternalError(f"{where}: stored as {reported}, expected {manifest.digest}")
        return manifest.digest

    # ------------------------------------------------------------------ transport

    def _where(self, repository: str, reference: str) -> str:
        sep = "@" if reference.startswith(("sha256:", "sha512:")) else ":"
        return f"registry {self.config.host}: {self.config.host}/{repository}{sep}{reference}"

    def _deadline(self) -> float:
        """When a whole call (all its reads) must have ended: twice the configured timeout."""
        return time.monotonic() + 2 * self.config.timeout_seconds

    def _client(self) -> httpx.Client:
        verify: ssl.SSLContext | bool
        if self.config.insecure:
            verify = False
        elif self.config.ca_file is not None:
            verify = ssl.create_default_context(cafile=str(self.config.ca_file))
        else:
            verify = True
        return httpx.Client(
            timeout=httpx.Timeout(self.config.timeout_seconds),
            verify=verify,
            transport=self._transport,
            follow_redirects=False,
            trust_env=False,
        )

    def _call(
        self,
        method: str,
        repository: str,
        reference: str,
        where: str,
        limit: int,
        *,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """Send one manifest request, answering an auth challenge once; read at most ``limit``."""
        url = f"{self.config.url}/v2/{repository}/manifests/{reference}"
        scope = f"repository:{repository}:{'pull,push' if method == 'PUT' else 'pull'}"
        headers = {"Accept": _ACCEPT}
        if content_type:
            headers["Content-Type"] = content_type
        deadline = self._deadline()
        try:
            with self._client() as client:
                auth = self._preemptive(scope)
                for attempt in range(2):
                    sent = dict(headers)
                    if auth:
                        sent["Authorization"] = auth
                    request = client.build_request(method, url, headers=sent, content=content)
                    response = client.send(request, stream=True)
                    try:
                        if response.status_code == 401 and attempt == 0:
                            challenge = response.headers.get("www-authenticate", "")
                            auth = self._answer(client, challenge, scope, where)
                            continue
                        body = _read_bounded(response, limit, where, deadline)
                        return response, body
                    finally:
                        response.close()
        except httpx.TimeoutException:
            raise ExternalError(
                f"{where}: no answer within {self.config.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise ExternalError(f"{where}: cannot reach {self.config.url}: {exc}") from None
        raise AssertionError("unreachable: the second attempt returns")

    def _preemptive(self, scope: str) -> str | None:
        credentials = self.config.credentials(self._environ)
        if isinstance(credentials, str):
            return f"Bearer {credentials}"
        with self._lock:
            token = self._tokens.get(scope)
            if token is not None and token[1] > time.monotonic():
                return f"Bearer {token[0]}"
            if self._basic_preferred and isinstance(credentials, tuple):
                return _basic(credentials)
        return None

    def _answer(self, client: httpx.Client, challenge: str, scope: str, where: str) -> str:
        """Return the Authorization header a 401's challenge asks for, or raise ExternalError."""
        credentials = self.config.credentials(self._environ)
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            if not isinstance(credentials, tuple):
                raise ExternalError(
                    f"{where}: the registry asks for a user name and password; give the registry "
                    "`auth: {type: basic, ...}` in the server's registries file"
                )
            with self._lock:
                self._basic_preferred = True
            return _basic(credentials)
        if scheme != "bearer":
            raise ExternalError(f"{where}: the registry refused access (401) without a challenge")
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise ExternalError(f"{where}: the registry's token challenge has no http(s) realm")
        query = {"scope": params.get("scope") or scope}
        if params.get("service"):
            query["service"] = params["service"]
        headers = {"Authorization": _basic(credentials)} if isinstance(credentials, tuple) else {}
        response = client.send(
            client.build_request("GET", realm, params=query, headers=headers), stream=True
        )
        try:
            body = _read_bounded(response, MAX_SMALL_BODY, where, self._deadline())
        finally:
            response.close()
        if response.status_code != 200:
            raise ExternalError(
                f"{where}: the token service {realm} answered {response.status_code}"
                + ("" if credentials else "; the registry may need credentials (auth:)")
            )
        try:
            data = json.loads(body)
            token = str(data.get("token") or data.get("access_token") or "")
            lifetime = float(data.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            token, lifetime = "", 0.0
        if not token:
            raise ExternalError(f"{where}: the token service {realm} sent no token")
        with self._lock:
            # Cached under the scope this client asks for: a registry may word the same
            # scope with its actions in another order ("push,pull").
            self._tokens[scope] = (token, time.monotonic() + max(0.0, lifetime - 5))
        return f"Bearer {token}"

    @staticmethod
    def _expect(response: httpx.Response, where: str, *statuses: int) -> None:
        if response.status_code in statuses:
            return
        if response.status_code == 401:
            raise ExternalError(
                f"{where}: the registry refused the credentials (401); check the variables "
                "its auth names in the server's registries file"
            )
        if response.status_code == 403:
            raise ExternalError(f"{where}: the registry denied access (403)")
        raise ExternalError(f"{where}: the registry answered {response.status_code}")


def _basic(credentials: tuple[str, str]) -> str:
    pair = f"{credentials[0]}:{credentials[1]}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _read_bounded(response: httpx.Response, limit: int, where: str, deadline: float) -> bytes:
    """Read a streamed body, refusing more than ``limit`` bytes or past ``deadline``.

    The per-read timeout alone would let a registry trickle a byte every few
    seconds for ever; the size bound keeps a registry from exhausting memory.
    """
    if limit == 0 or response.request.method == "HEAD":
        return b""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise ExternalError(f"{where}: the answer is larger than {limit // 1024} KiB")
        if time.monotonic() > deadline:
            raise ExternalError(f"{where}: the answer did not end in time")
        chunks.append(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------------------- the two ports


class RegistryClients:
    """One :class:`RegistryClient` per configured host, built once."""

    def __init__(
        self,
        registries: Registries,
        environ: Mapping[str, str],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.registries = registries
        self._environ = environ
        self._transport = transport
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def for_reference(self, reference: str) -> tuple[RegistryClient, ImageRef] | None:
        """Return the client and the parsed reference; None when the host is not configured.

        Raises BadInput when the reference on a configured host is malformed.
        """
        config = self.registries.for_reference(reference)
        if config is None:
            return None
        image = parse_image(reference)
        with self._lock:
            client = self._clients.get(config.host)
            if client is None:
                client = RegistryClient(config, self._environ, transport=self._transport)
                self._clients[config.host] = client
        return client, image


class RegistryArtifactResolver:
    """The releases' ArtifactResolver over the configured registries.

    A down or refusing registry refuses the release (ExternalError): a release
    binds a version to an artifact for good, and an unchecked binding is what
    the check exists to prevent.
    """

    def __init__(self, clients: RegistryClients) -> None:
        self._clients = clients

    def resolve(self, artifact: str) -> str | None:
        """Return the digest-pinned reference to record for ``artifact``.

        None when its registry is not configured (the reference is kept as given
        and checked by the release model alone). Raises BadInput naming the
        artifact when its digest or tag is not in the registry, ExternalError
        when the registry cannot be asked.
        """
        found = self._clients.for_reference(artifact)
        if found is None:
            return None
        client, image = found
        if image.digest is not None:
            manifest = client.get(image.repository, image.digest)
            if manifest is None:
                raise BadInput(
                    f"artifact {artifact.strip()!r}: the digest {image.digest} is not in the "
                    f"registry {image.host} (repository {image.repository}); push the image first"
                )
            return str(image)
        assert image.tag is not None
        digest = client.head(image.repository, image.tag)
        if digest is None:
            raise BadInput(
                f"artifact {artifact.strip()!r}: the tag {image.tag!r} is not in the registry "
                f"{image.host} (repository {image.repository})"
            )
        return image.pinned(digest)


StableRecorder = Callable[[str, DeployRequest, str, str | None, str], None]
"""Called with (action, request, tag reference, previous digest, outcome text) to audit a move."""


class RegistryStableTagger:
    """The worker's StableTagger: moves ``<repository>:<tag>`` to the verified artifact's digest.

    Never raises: a registry that refuses, is down, or is not configured gives
    an outcome (and an audit entry) and the deployment stays succeeded; the
    stable anchor in relgate's store moves either way.
    """

    def __init__(self, clients: RegistryClients, record: StableRecorder | None = None) -> None:
        self._clients = clients
        self._record = record

    def move_stable(self, request: DeployRequest, tag: str, log: LogSink) -> StepOutcome:
        """Move the tag; log and return the outcome (succeeded False when it did not move)."""
        try:
            found = self._clients.for_reference(request.artifact)
        except RelgateError as exc:
            return self._failed(request, tag, None, f"stable tag {tag!r} not moved: {exc}", log)
        if found is None:
            reason = (
                f"stable tag {tag!r}: the registry of {request.artifact} is not configured on "
                "this server; no tag moved"
            )
            log(reason)
            return StepOutcome(True, reason)
        client, image = found
        target = image.with_tag(tag)
        previous: str | None = None
        try:
            if image.digest is None:
                raise BadInput(f"{request.artifact} is not pinned by digest")
            previous = client.head(image.repository, tag)
            if previous == image.digest:
                reason = f"stable tag: {target} already points to {image.digest}"
                log(reason)
                self._audit("registry.stable_moved", request, target, previous, reason)
                return StepOutcome(True, reason)
            manifest = client.get(image.repository, image.digest)
            if manifest is None:
                raise BadInput(f"the digest {image.digest} is no longer in {image.name}")
            client.put(image.repository, tag, manifest)
        except RelgateError as exc:
            return self._failed(
                request, target, previous, f"stable tag {target} not moved: {exc}", log
            )
        reason = f"stable tag: {target} moved to {image.digest} (was {previous or 'absent'})"
        log(reason)
        self._audit("registry.stable_moved", request, target, previous, reason)
        return StepOutcome(True, reason)

    def _failed(
        self, request: DeployRequest, target: str, previous: str | None, reason: str, log: LogSink
    ) -> StepOutcome:
        log(reason)
        self._audit("registry.stable_failed", request, target, previous, reason)
        return StepOutcome(False, reason)

    def _audit(
        self, action: str, request: DeployRequest, target: str, previous: str | None, text: str
    ) -> None:
        if self._record is None:
            return
        try:
            self._record(action, request, target, previous, text)
        except Exception:  # the audit store failing must not undo a verified deployment
            _log.exception("auditing %s of deployment %s failed", action, request.deployment_id)


def audit_recorder(uow: UnitOfWorkFactory, clock: Clock) -> StableRecorder:
    """Return a StableRecorder that appends ``registry.stable_moved|failed`` audit events."""
    from relgate.audit import store as audit

    def record(
        action: str, request: DeployRequest, target: str, previous: str | None, text: str
    ) -> None:
        digest = request.artifact.rpartition("@")[2]
        with uow() as unit:
            audit.append(
                unit,
                actor="relgate",
                action=action,
                subject=f"deployment/{request.deployment_id}",
                at=clock.now(),
                before={"tag": target, "digest": previous},
                after={
                    "tag": target,
                    "digest": digest if action == "registry.stable_moved" else previous,
                    "service": request.service,
                    "environment": request.environment,
                    "version": request.version,
                    "reason": request.reason,
                    "outcome": text,
                },
            )
            unit.commit()

    return record
