"""Releases and artifact references (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from relgate.errors import BadInput

# name@sha256:<64 hex> (or sha512:<128 hex>); the name may carry a registry and a tag
_ARTIFACT = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._/:@+-]*?)@(?P<digest>sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$"
)


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    digest: str

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}"


def parse_artifact(reference: str) -> ArtifactRef:
    """Return the artifact reference; raise BadInput unless it is pinned by a content digest."""
    match = _ARTIFACT.match(reference.strip())
    if match is None:
        if "@sha256:" in reference or "@sha512:" in reference:
            raise BadInput(
                f"artifact {reference!r}: the digest must be sha256:<64 lowercase hex> "
                "(or sha512:<128 hex>)"
            )
        raise BadInput(
            f"artifact {reference!r} is not pinned by digest: use an immutable reference such as "
            "registry.example.com/payments@sha256:<64 hex> (a tag like :latest can change; "
            "a server that configures the artifact's registry resolves a tag to its digest)"
        )
    return ArtifactRef(name=match["name"], digest=match["digest"])


@dataclass(frozen=True)
class Release:
    id: int
    service: str
    version: str
    artifact: str
    digest: str
    commit: str | None
    changelog: str | None
    author: str | None
    created_by: str
    created_at: datetime
    author_email: str | None = None
    # "Name <email>" of the commit's Co-authored-by trailers
    co_authors: tuple[str, ...] = ()
    # when the release's commit was made, and how many commits it brought since the
    # previous release tag (None: not sent); relgate.delivery measures lead time from them
    committed_at: datetime | None = None
    commit_count: int | None = None

    def authors(self) -> list[str]:
        """Every name and email of the release's authors: who may not approve it."""
        return [t for t in (self.author, self.author_email, *self.co_authors) if t]

    @property
    def ref(self) -> str:
        return f"{self.service}@{self.version}"


def parse_release_ref(ref: str) -> tuple[str, str]:
    """Split ``service@version``; raise BadInput naming the expected form."""
    service, sep, version = ref.rpartition("@")
    if not sep or not service or not version:
        raise BadInput(f"release {ref!r}: write it as SERVICE@VERSION, e.g. payments-service@1.4.2")
    return service, version
