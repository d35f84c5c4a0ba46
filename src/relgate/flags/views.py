"""What the flag administration use cases return: plain data for the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FlagEnvironmentView:
    """A flag's configuration in one environment."""

    enabled: bool
    strategies: list[dict[str, Any]]
    variants: list[dict[str, Any]]
    updated_at: datetime
    fully_rolled_out_since: datetime | None


@dataclass(frozen=True)
class FlagUsageView:
    """What SDKs reported for a flag in one environment, all hours summed."""

    yes: int
    no: int
    last_seen_at: datetime | None


@dataclass(frozen=True)
class FlagView:
    key: str
    type: str
    description: str
    owner: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    archived_at: datetime | None
    impression_data: bool
    dependencies: list[dict[str, Any]]
    stale: bool
    stale_reasons: list[str]
    environments: dict[str, FlagEnvironmentView] = field(default_factory=dict)
    metrics: dict[str, FlagUsageView] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentView:
    id: int
    name: str
    description: str
    constraints: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    # keys of the non-archived flags whose strategies use the segment
    used_by: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed: flag keys created and updated, segments created."""

    created: list[str]
    updated: list[str]
    segments_created: list[str]
    environments: list[str]


@dataclass(frozen=True)
class FlagBoardRow:
    """One flag on the flags page, and whether the caller may kill it."""

    flag: FlagView
    # why the caller may not turn the flag off everywhere (None: it may)
    kill_refused: str | None


@dataclass(frozen=True)
class FlagBoard:
    """Every flag against every environment the caller's scope admits.

    ``environments``: those of the pipelines (in pipeline order) and those any
    flag is configured in (after them, by name). ``segments``: names by id,
    for strategies that refer to segments.
    """

    environments: list[str]
    rows: list[FlagBoardRow]
    segments: dict[int, str] = field(default_factory=dict)
