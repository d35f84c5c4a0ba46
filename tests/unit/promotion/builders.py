"""Small builders for gate tests: a GateContext with sensible defaults, evidence items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter

from relgate.promotion.gates import ApprovalItem, EvidenceItem, GateContext, GateSpec
from relgate.promotion.reports import EvidenceKind, PerformanceReport, Report

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday

_SPEC = TypeAdapter(GateSpec)


def gate(**fields: object) -> GateSpec:
    """Return the gate spec ``fields`` describe, validated as relgate.yaml would be."""
    return _SPEC.validate_python(fields)


def evidence(
    kind: EvidenceKind,
    report: Report,
    *,
    environment: str | None = None,
    age_minutes: int = 0,
) -> EvidenceItem:
    return EvidenceItem(
        kind=kind,
        environment=environment,
        report=report,
        created_at=NOW - timedelta(minutes=age_minutes),
    )


def approval(
    approver: str, decision: str = "approved", comment: str = "", age_minutes: int = 0
) -> ApprovalItem:
    assert decision in ("approved", "rejected")
    return ApprovalItem(
        approver=approver,
        decision="approved" if decision == "approved" else "rejected",
        comment=comment,
        created_at=NOW - timedelta(minutes=age_minutes),
    )


def context(
    *,
    environment: str = "production",
    previous_environment: str | None = "staging",
    release_author: str | None = "alice",
    requested_by: str | None = "ci-bot",
    evidence: Sequence[EvidenceItem] = (),
    baselines: Mapping[str, PerformanceReport | None] | None = None,
    verified_in: frozenset[str] = frozenset(),
    approvals: Sequence[ApprovalItem] = (),
    now: datetime = NOW,
    release: str | None = None,
    artifact_digest: str | None = None,
) -> GateContext:
    return GateContext(
        environment=environment,
        previous_environment=previous_environment,
        release_author=release_author,
        requested_by=requested_by,
        evidence=evidence,
        baselines=baselines or {},
        verified_in=verified_in,
        approvals=approvals,
        now=now,
        release=release,
        artifact_digest=artifact_digest,
    )
