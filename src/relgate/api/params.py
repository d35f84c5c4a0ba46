"""Path and query parameters of the REST API, bounded by ``relgate.limits``.

A value longer than its limit gets 400 naming the parameter before any
service is called; the OpenAPI document shows each ``maxLength``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from relgate import limits

ServicePath = Annotated[str, Path(max_length=limits.SERVICE, description="The service's name.")]
VersionPath = Annotated[str, Path(max_length=limits.VERSION, description="A SemVer version.")]
EnvironmentPath = Annotated[
    str, Path(max_length=limits.ENVIRONMENT, description="An environment's name.")
]
FlagKeyPath = Annotated[str, Path(max_length=limits.FLAG_KEY, description="A flag's key.")]
SegmentPath = Annotated[str, Path(max_length=limits.SEGMENT_NAME, description="A segment's name.")]
TokenNamePath = Annotated[str, Path(max_length=limits.TOKEN_NAME, description="A token's name.")]
# no bound in the schema: an id no row can have is 404 (see relgate.limits.MAX_ID)
DeploymentIdPath = Annotated[int, Path(description="A deployment's id.")]
EvidenceIdPath = Annotated[int, Path(description="The id of a release's evidence.")]

ServiceQuery = Annotated[str | None, Query(max_length=limits.SERVICE)]
EnvironmentQuery = Annotated[str | None, Query(max_length=limits.ENVIRONMENT)]
RequiredEnvironmentQuery = Annotated[str, Query(max_length=limits.ENVIRONMENT)]
