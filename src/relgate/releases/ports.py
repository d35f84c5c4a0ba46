"""The seam between the release registry and the artifact registries it may check."""

from __future__ import annotations

from typing import Protocol


class ArtifactResolver(Protocol):
    """Checks an artifact reference against its registry before a release binds it."""

    def resolve(self, artifact: str) -> str | None:
        """Return the digest-pinned reference to record for ``artifact``.

        None when the artifact's registry is not configured on the server: the
        reference is then recorded as given (it must carry a digest). Raises
        BadInput naming the artifact when its digest or tag is not in the
        registry, ExternalError when the registry cannot be asked.
        """
        ...
