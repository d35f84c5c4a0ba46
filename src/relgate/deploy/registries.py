"""The server's artifact registries (RELGATE_REGISTRIES_FILE) and OCI image references.

A registry is *configured* when the registry host of an artifact reference
has an entry in the server's registries file. Only then does relgate talk to
it: ``release create`` checks the digest (and resolves a tag to its digest),
and a verified deployment moves the environment's stable tag. An artifact on
a host without an entry is recorded as given, with no check, as before. So a
reference names only hosts an admin listed: no user input can make the server
call another address.

The file (YAML or JSON)::

    registries:
      - host: registry.example.com          # as artifact references write it
        url: https://registry.example.com   # default https://<host>
        auth: {type: basic, username_env: REG_USER, password_env: REG_PASSWORD}
        ca_file: /etc/relgate/registry-ca.pem
      - host: 127.0.0.1:5000
        url: http://127.0.0.1:5000          # plain http: a loopback host, or insecure: true

Credentials are never in the file: it names the server's environment
variables that hold them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relgate.errors import BadInput, ExternalError, InvalidConfig

# the distribution spec's grammar: path components of lowercase alphanumerics and separators
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\Z")
DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})\Z")
_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?\Z")

DOCKER_HUB = "docker.io"
MAX_TIMEOUT_SECONDS = 120.0


class BasicAuth(BaseModel):
    """HTTP basic credentials, read from two server environment variables."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["basic"]
    username_env: str = Field(min_length=1, description="variable holding the user name")
    password_env: str = Field(min_length=1, description="variable holding the password")


class BearerAuth(BaseModel):
    """A static bearer token (e.g. a registry's access token), read from a variable."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["bearer"]
    token_env: str = Field(min_length=1, description="variable holding the token")


RegistryAuth = Annotated[BasicAuth | BearerAuth, Field(discriminator="type")]


class RegistryConfig(BaseModel):
    """One registry the server may talk to."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(description="the registry host as references write it, e.g. ghcr.io")
    url: str = Field(default="", description="base URL; default https://<host>")
    auth: RegistryAuth | None = None
    ca_file: Path | None = Field(default=None, description="CA bundle that signs its TLS cert")
    insecure: bool = Field(default=False, description="skip TLS verification, allow plain http")
    timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_TIMEOUT_SECONDS)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.match(value):
            raise ValueError("must be a host name, optionally with :port (no scheme, no path)")
        return value.lower()

    @model_validator(mode="after")
    def _url(self) -> RegistryConfig:
        url = self.url.rstrip("/") or f"https://{self.host}"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url {url!r}: must be an http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError(f"url {url!r}: no query or fragment")
        if parts.scheme == "http" and not (self.insecure or _loopback(parts.hostname or "")):
            raise ValueError(
                f"url {url!r}: plain http only for a loopback registry (127.0.0.1, localhost) "
                "or with insecure: true; credentials and digests would travel unprotected"
            )
        self.url = url
        return self

    def credentials(self, environ: Mapping[str, str]) -> tuple[str, str] | str | None:
        """Return (user, password) for basic auth, the token for bearer, None without auth.

        Raises ExternalError naming the variable that is not set in the server's
        environment (the server's configuration is at fault, not the caller).
        """
        if self.auth is None:
            return None

        def read(name: str) -> str:
            value = environ.get(name)
            if not value:
                raise ExternalError(
                    f"registry {self.host}: the server variable {name} (named by its auth in "
                    "the registries file) is not set"
                )
            return value

        if isinstance(self.auth, BasicAuth):
            return read(self.auth.username_env), read(self.auth.password_env)
        return read(self.auth.token_env)


class RegistriesFile(BaseModel):
    """The registries file: ``registries: [...]``."""

    model_config = ConfigDict(extra="forbid")

    registries: list[RegistryConfig] = Field(default_factory=list)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_registries_file(path: Path) -> list[RegistryConfig]:
    """Read the registries file; raises InvalidConfig naming file, line and field.

    A host listed twice, or a ``ca_file`` that does not exist, is refused.
    """
    from relgate.manifest.loader import load_file

    loaded = load_file(RegistriesFile, path)
    seen: set[str] = set()
    for index, registry in enumerate(loaded.registries):
        where = f"registries[{index}]"
        if registry.host in seen:
            raise InvalidConfig(
                f"registry {registry.host!r} is listed twice", file=str(path), field=f"{where}.host"
            )
        seen.add(registry.host)
        if registry.ca_file is not None:
            if not registry.ca_file.is_absolute():
                registry.ca_file = path.parent / registry.ca_file
            if not registry.ca_file.is_file():
                raise InvalidConfig(
                    f"{registry.ca_file} is not a file", file=str(path), field=f"{where}.ca_file"
                )
    return loaded.registries


@dataclass(frozen=True)
class ImageRef:
    """An OCI image reference split as the distribution API addresses it."""

    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """``host/repository``, as a reference writes it before ``:tag`` or ``@digest``."""
        return f"{self.host}/{self.repository}"

    def pinned(self, digest: str) -> str:
        """The digest-pinned reference ``host/repository@digest`` (without the tag)."""
        return f"{self.name}@{digest}"

    def with_tag(self, tag: str) -> str:
        return f"{self.name}:{tag}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def split_host(reference: str) -> tuple[str, str]:
    """Split a reference into (registry host, the rest) as docker does.

    The first path component is a host when it has a dot or a port, or is
    ``localhost``; otherwise the reference is on Docker Hub (``docker.io``).
    """
    first, slash, rest = reference.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        return first.lower(), rest
    return DOCKER_HUB, reference


def parse_image(reference: str) -> ImageRef:
    """Parse ``[host/]repository[:tag][@digest]``; raises BadInput naming the reference."""
    text = reference.strip()
    host, rest = split_host(text)
    rest, at, digest = rest.partition("@")
    name, tag = rest, None
    last = rest.rfind(":")
    if last > rest.rfind("/"):
        name, tag = rest[:last], rest[last + 1 :]
    if host == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if not REPOSITORY.match(name):
        raise BadInput(
            f"artifact {reference!r}: {name!r} is not a repository name (lowercase letters, "
            "digits and . _ - separated by /)"
        )
    if tag is not None and not TAG.match(tag):
        raise BadInput(f"artifact {reference!r}: {tag!r} is not a valid tag")
    if at and not DIGEST.match(digest):
        raise BadInput(
            f"artifact {reference!r}: the digest must be sha256:<64 lowercase hex> "
            "(or sha512:<128 hex>)"
        )
    if tag is None and not at:
        raise BadInput(f"artifact {reference!r} names neither a tag nor a digest")
    return ImageRef(host=host, repository=name, tag=tag, digest=digest if at else None)


class Registries:
    """The configured registries, looked up by an artifact reference's host."""

    def __init__(self, configs: Sequence[RegistryConfig] = ()) -> None:
        self._by_host = {config.host: config for config in configs}

    def __bool__(self) -> bool:
        return bool(self._by_host)

    @property
    def hosts(self) -> list[str]:
        return sorted(self._by_host)

    def for_reference(self, reference: str) -> RegistryConfig | None:
        """Return the configuration of the reference's registry host; None when unconfigured."""
        host, _ = split_host(reference.strip())
        return self._by_host.get(host)
